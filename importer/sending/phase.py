"""The send phase of a run: the pre-flight request, the journal's bookkeeping around
delivery (attempts, the account's `known`, --skip-unchanged), Minimo's custom-field
definitions, the look-ups that classify rows, and the sender it needs.

    fold attempts → catch up `known` → skip unchanged → unsettle `known` → custom fields
    → look-ups → deliver → `known`

A predictive dry run (`predict`) shares the custom fields and the look-ups, and sends
nothing: the rows are reported would_create, would_update or no_change.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from importer.errors import AbortError
from importer.journal import Journal
from importer.lookups import LookupPlan, LookupResult, MinimoReader, NotifuseReader, look_up
from importer.lookups import fields as custom_fields
from importer.lookups.rules import Rules
from importer.lookups.stage import Queue
from importer.mapping import Mapping
from importer.progress import Progress, duration
from importer.sending import minimo, notifuse
from importer.sending.client import ApiClient, RequestFailed, RetryPolicy, Stats
from importer.sending.engine import ErrorBudget, Sender, deliver
from importer.settings import Credentials, RunSettings
from importer.wording import counted

AUTO_CLASSIFY_LIMIT = 2000


@dataclass
class SendState:
    """What one run learns as it sends, for the summary."""

    notes: list[str] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    saved_requests: int = 0
    lookups: LookupResult | None = None


def sent_how(settings: RunSettings, creds: Credentials) -> str:
    """How a row is sent, beside its payload: the same contact sent another way (another
    list, import instead of upsert) is not unchanged (SPEC §6)."""
    if creds.target == "minimo":
        return "minimo"
    lists = f":lists={settings.list_id}" if settings.list_id else ""
    return f"notifuse:{settings.notifuse_mode}{lists}"


@dataclass(frozen=True)
class Phase:
    """What the send phase (or a prediction) is given."""

    journal: Journal
    settings: RunSettings
    mapping: Mapping
    creds: Credentials
    transport: httpx.AsyncBaseTransport | None
    progress: Progress
    state: SendState
    stopped: Callable[[], int | None]  # the signal received, if any


async def send(phase: Phase) -> None:
    """Deliver every pending row; a signal that `stopped` returns stops the workers."""
    journal, settings, creds, state = phase.journal, phase.settings, phase.creds, phase.state
    how = sent_how(settings, creds)
    if journal.get("send_started") is None:  # undo: a contact created before it was not ours
        journal.set("send_started", datetime.now(UTC).isoformat())
    journal.fold_attempts()  # what a killed run sent without an answer
    journal.sync_known(how)  # what a killed run acknowledged
    if settings.skip_unchanged:
        _skip_unchanged(journal, settings, creds, how, state)
    journal.unsettle_known(how)
    budget = ErrorBudget(settings.max_error_rate, journal.counts())
    budget.check_staging()  # a wrong mapping stops the run before any request
    client = new_client(creds, settings, phase.transport, settings.concurrency)
    state.stats = client.stats
    phase.progress.watch(client.stats)
    try:
        await _custom_fields(phase, client, create=settings.create_fields)
        classify = _classify(journal, settings, creds, state)
        options = phase.mapping.options
        queue = Queue(
            unknown=classify,
            every=bool(Rules.of(phase.mapping)) or options.snapshot,
            phones=creds.target == "minimo" and options.phone_match == "protect",
        )
        if queue:
            await _look_up(phase, client, queue, live=True)
            if phase.stopped() is not None:
                return
        sender = _sender(client, settings, phase.mapping, creds, classify, journal)
        progress = phase.progress
        progress.start("sending", journal.counts().get("pending", 0))
        gc.freeze()  # what exists now lives all run: collections while sending skip it
        await deliver(
            journal, sender, settings.concurrency, progress, budget, phase.stopped, client.gate
        )
        progress.close()
        _held_back(phase)
    finally:
        gc.unfreeze()
        await client.aclose()
        journal.sync_known(how)


# a prediction's would_create row with a phone: Minimo matches by phone when the email is new
PHONE_MATCH = (
    "no contact has this email, but Minimo matches a new email by phone: a contact with ",
    " would be updated instead (phones cannot be looked up)",
)


async def predict(phase: Phase) -> None:
    """A predictive dry run: read-only requests only, through the same limiter."""
    client = new_client(phase.creds, phase.settings, phase.transport, phase.settings.concurrency)
    phase.state.stats = client.stats
    phase.progress.watch(client.stats)
    try:
        await _custom_fields(phase, client, create=False)
        await _look_up(phase, client, Queue(every=True), live=False)
    finally:  # stopped or failing, what was looked up is reported; the rest stays pending
        await client.aclose()
        guarded = phase.mapping.options.phone_match == "protect"
        minimo = phase.creds.target == "minimo"
        phase.journal.predicted(PHONE_MATCH if minimo and not guarded else None)
        _held_back(phase)


async def _custom_fields(phase: Phase, client: ApiClient, create: bool) -> None:
    """Minimo: the mapped custom fields against the account's definitions (SPEC §8)."""
    mapping, state = phase.mapping, phase.state
    if (
        phase.creds.target != "minimo"
        or not any(f.name.startswith(custom_fields.PREFIX) for f in mapping.fields)
        or not phase.journal.counts().get("pending")
    ):
        return
    try:
        defined = await custom_fields.definitions(client)
    except RequestFailed as exc:
        defined = str(exc)
    if isinstance(defined, str):
        state.notes.append(f"custom-field definitions could not be read ({defined}): not checked")
        return
    checked = custom_fields.check(mapping, defined)
    refused = custom_fields.refuse_contradicting(phase.journal, checked.typed)
    if refused:
        state.notes.append(
            f"{refused:,} row{'s' if refused > 1 else ''} not sent: a value contradicts its "
            "custom field's type"
        )
    if not checked.missing:
        return
    if create:
        try:
            state.notes.extend(await custom_fields.create(client, mapping, checked.missing))
        except RequestFailed as exc:
            state.notes.append(f"custom fields not created ({exc})")
    elif phase.settings.create_fields:
        keys = ", ".join(k.upper() for k in checked.missing)
        state.notes.append(f"--create-fields would define {keys} (a prediction defines nothing)")
    else:
        state.notes.extend(checked.notes)


async def _look_up(phase: Phase, client: ApiClient, queue: Queue, live: bool) -> None:
    """The look-up stage: in a live run the rows to classify, those whose update rules or
    phone guard need their contact, or every row (snapshot); in a prediction every row."""
    creds, settings, mapping = phase.creds, phase.settings, phase.mapping
    reader = (
        MinimoReader(client)
        if creds.target == "minimo"
        else NotifuseReader(client, creds.workspace_id)
    )
    plan = LookupPlan(
        phase.journal,
        reader,
        creds.target,
        settings.concurrency,
        phase.progress,
        phase.stopped,
        queue=queue,
        live=live,
        refusals_are_errors=not live,
        every_row_list=settings.list_id,
        rules=Rules.of(mapping),
        keep_created_at=creds.target == "notifuse" and settings.notifuse_mode == "import",
        announce=_announcer(phase) if live and (queue.every or queue.phones) else None,
    )
    result = await look_up(plan)
    if result.requests or not live:  # a prediction always says what it looked up
        phase.state.lookups = result
    phase.state.notes.extend(result.notes)
    if result.left and phase.stopped() is None:
        if live:
            phase.state.notes.append(
                f"{result.left:,} row{'s' if result.left > 1 else ''} could not be looked up "
                f"({result.cause}): sent as if their contact were unknown"
            )
        else:
            raise LookupsFailed(result.left, result.cause)


def _announcer(phase: Phase) -> Callable[[int], None]:
    """Before the look-ups that update rules, the phone guard or a snapshot need: how many,
    and about how long at the current rate (SPEC §9)."""
    options, rate = phase.mapping.options, phase.settings.rate
    why = [
        name
        for name, used in (
            ("update rules", bool(Rules.of(phase.mapping))),
            ('phone_match = "protect"', options.phone_match == "protect"),
            ("snapshot = true", options.snapshot),
        )
        if used
    ]

    def announce(count: int) -> None:
        if rate:
            when = f"about {duration(count / rate)} at --rate {rate:g}/s"
        else:
            when = f"the API's rate limit decides how long: {duration(count / 10)} at 10/s"
        named = ", ".join(why[:-1]) + " and " + why[-1] if len(why) > 1 else why[0]
        text = f"{named}: {counted(count, 'contact')} to look up before sending ({when})"
        phase.progress.say(text)
        phase.state.notes.append(text)

    return announce


def _held_back(phase: Phase) -> None:
    """The summary counts the values update rules held back (each named in its row)."""
    held = phase.journal.held_back()
    if held:
        total = sum(held.values())
        parts = ", ".join(f"{n:,} {rule}" for rule, n in held.items())
        phase.state.notes.append(
            f"update rules held back {total:,} value{'s' if total > 1 else ''} ({parts}): "
            "each is named in its row's warning"
        )


class LookupsFailed(AbortError):
    """Look-ups still failing after the stage's last pass, for transient reasons (exit 3):
    their rows stay `pending`, and the same command asks again."""

    def __init__(self, rows: int, cause: str) -> None:
        super().__init__(
            f"{rows:,} row{'s' if rows != 1 else ''} could not be looked up, even when asked "
            f"again at the end; the last reason: {cause}.",
            "They are reported `pending`: run the same command again to look them up (what "
            "was already looked up is not asked again).",
        )


def _skip_unchanged(
    journal: Journal, settings: RunSettings, creds: Credentials, how: str, state: SendState
) -> None:
    unchanged = journal.skip_unchanged(how)
    per_contact = creds.target == "notifuse" and settings.notifuse_mode == "upsert"
    state.saved_requests = unchanged if per_contact else -(-unchanged // settings.batch_size)
    if unchanged:
        state.notes.append(
            f"{counted(unchanged, 'row')} unchanged since the last import: "
            f"{counted(state.saved_requests, 'request')} saved"
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
    client: ApiClient,
    settings: RunSettings,
    mapping: Mapping,
    creds: Credentials,
    classify: bool,
    journal: Journal,
) -> Sender:
    if creds.target == "minimo":
        guard = mapping.options.phone_match == "protect"
        return minimo.MinimoSender(client, settings.batch_size, classify, journal, guard)
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
    client = ApiClient(
        creds, rate=None, concurrency=1, timeout=15.0, transport=transport,
        then="run importer check again",
    )  # fmt: skip
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
