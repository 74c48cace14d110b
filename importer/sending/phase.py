"""The send phase of a run: the pre-flight request, the journal's bookkeeping around
delivery (attempts, the account's `known`, --skip-unchanged), and the sender it needs.

    fold attempts → catch up `known` → skip unchanged → unsettle `known` → deliver → `known`
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from importer.errors import AbortError
from importer.journal import Journal
from importer.progress import Progress
from importer.sending import minimo, notifuse
from importer.sending.client import ApiClient, RequestFailed, RetryPolicy, Stats
from importer.sending.engine import ErrorBudget, Sender, deliver
from importer.settings import Credentials, RunSettings

AUTO_CLASSIFY_LIMIT = 2000


@dataclass
class SendState:
    """What one run learns as it sends, for the summary."""

    notes: list[str] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    saved_requests: int = 0


def sent_how(settings: RunSettings, creds: Credentials) -> str:
    """How a row is sent, beside its payload: the same contact sent another way (another
    list, import instead of upsert) is not unchanged (SPEC §6)."""
    if creds.target == "minimo":
        return "minimo"
    lists = f":lists={settings.list_id}" if settings.list_id else ""
    return f"notifuse:{settings.notifuse_mode}{lists}"


async def send(
    journal: Journal,
    settings: RunSettings,
    creds: Credentials,
    transport: httpx.AsyncBaseTransport | None,
    progress: Progress,
    state: SendState,
    stopped: Callable[[], int | None],
) -> None:
    """Deliver every pending row; a signal that `stopped` returns stops the workers."""
    how = sent_how(settings, creds)
    journal.fold_attempts()  # what a killed run sent without an answer
    journal.sync_known(how)  # what a killed run acknowledged
    if settings.skip_unchanged:
        _skip_unchanged(journal, settings, creds, how, state)
    journal.unsettle_known(how)
    counts = journal.counts()
    budget = ErrorBudget(settings.max_error_rate, counts)
    budget.check_staging()
    client = new_client(creds, settings, transport, settings.concurrency)
    state.stats = client.stats
    try:
        classify = _classify(journal, settings, creds, state)
        sender = _sender(client, settings, creds, classify, journal)
        progress.start("sending", counts.get("pending", 0))
        gc.freeze()  # what exists now lives all run: collections while sending skip it
        await deliver(journal, sender, settings.concurrency, progress, budget, stopped, client.gate)
        progress.close()
    finally:
        gc.unfreeze()
        await client.aclose()
        journal.sync_known(how)


def _skip_unchanged(
    journal: Journal, settings: RunSettings, creds: Credentials, how: str, state: SendState
) -> None:
    unchanged = journal.skip_unchanged(how)
    per_contact = creds.target == "notifuse" and settings.notifuse_mode == "upsert"
    state.saved_requests = unchanged if per_contact else -(-unchanged // settings.batch_size)
    if unchanged:
        state.notes.append(
            f"{unchanged:,} rows unchanged since the last import: "
            f"{state.saved_requests:,} requests saved"
        )


def _classify(
    journal: Journal, settings: RunSettings, creds: Credentials, state: SendState
) -> bool:
    """Minimo: look contacts up to tell created from updated, unless that costs too much."""
    if creds.target != "minimo":
        return False
    if settings.classify is not None:
        return settings.classify
    lookups = journal.count_unknown_pending()
    if lookups <= AUTO_CLASSIFY_LIMIT:
        return True
    state.notes.append(
        f"{lookups:,} look-ups would be needed to tell created from updated: reported as "
        "upserted (pass --classify to look them up anyway)"
    )
    return False


def new_client(
    creds: Credentials,
    settings: RunSettings,
    transport: httpx.AsyncBaseTransport | None,
    concurrency: int,
) -> ApiClient:
    return ApiClient(
        creds,
        rate=settings.rate,
        concurrency=concurrency,
        timeout=settings.timeout,
        policy=RetryPolicy(attempts=settings.max_attempts),
        transport=transport,
    )


def _sender(
    client: ApiClient, settings: RunSettings, creds: Credentials, classify: bool, journal: Journal
) -> Sender:
    if creds.target == "minimo":
        return minimo.MinimoSender(client, settings.batch_size, classify, journal)
    return notifuse.NotifuseSender(
        client,
        creds.workspace_id,
        settings.notifuse_mode,
        settings.batch_size,
        settings.list_id,
        journal,
    )


async def preflight_only(
    creds: Credentials, settings: RunSettings, transport: httpx.AsyncBaseTransport | None
) -> None:
    """A bad key or URL fails here, with one cheap request, before a large file is staged."""
    client = new_client(creds, settings, transport, concurrency=1)
    try:
        await _preflight(client, creds)
    finally:
        await client.aclose()


async def preflight(creds: Credentials, transport: httpx.AsyncBaseTransport | None = None) -> None:
    """`importer check`: the live run's first request, on its own."""
    client = ApiClient(creds, rate=None, concurrency=1, timeout=15.0, transport=transport)
    try:
        await _preflight(client, creds)
    finally:
        await client.aclose()


async def _preflight(client: ApiClient, creds: Credentials) -> None:
    try:
        if creds.target == "minimo":
            await minimo.preflight(client)
        else:
            await notifuse.preflight(client, creds.workspace_id)
    except RequestFailed as exc:
        raise AbortError(
            f"Cannot reach {creds.target.capitalize()} at {creds.base_url}: {exc}.",
            "Check the base URL and your network; nothing was sent.",
        ) from None
