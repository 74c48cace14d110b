"""run(settings): stage, then send, then report — the one place that knows the order.

    source ─reading─▶ rows ─mapping+normalizing─▶ journal ─planning─▶ sending ─▶ journal
                                                                  report ◀─────┘

However a run ends — finished, aborted (exit 3), stopped by --max-error-rate (4), SIGINT
(130) or SIGTERM (143) — once staging is complete the report is written from the journal,
with unsent rows `pending`, and the same command resumes.
"""

from __future__ import annotations

import gc
import hashlib
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import anyio
import httpx
import orjson

from importer import planning
from importer.errors import AbortError, ImporterError, Interrupted, SourceError, UsageError
from importer.journal import Journal, account_path, journal_path
from importer.mapping import Mapping, bind, load_mapping
from importer.normalizing import Normalizer, cores, normalize_all, workers_for
from importer.progress import NullProgress, Progress
from importer.reading import ReadOptions, open_source
from importer.reporting import (
    check_report_path,
    check_writable,
    summary_text,
    write_job_report,
    write_rejects,
)
from importer.sending import minimo, notifuse
from importer.sending.client import ApiClient, RequestFailed, RetryPolicy, Stats
from importer.sending.engine import ErrorBudget, Sender, deliver
from importer.settings import Credentials, RunSettings, credentials_from_env

AUTO_CLASSIFY_LIMIT = 2000
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class RunResult:
    exit_code: int
    summary: dict[str, Any]
    text: str


@dataclass(frozen=True)
class Context:
    """What a run is given from outside: environment, transport, progress. Tests inject these."""

    env: AbcMapping[str, str]
    transport: httpx.AsyncBaseTransport | None = None
    progress: Progress = field(default_factory=NullProgress)
    clock: Callable[[], float] = time.monotonic


@dataclass
class _Run:
    """What one run learns as it goes, for the summary."""

    notes: list[str] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    saved_requests: int = 0


def run(settings: RunSettings, context: Context) -> RunResult:
    started = context.clock()
    mapping = load_mapping(settings.mapping, settings.target)
    _check_modes(settings, mapping)
    report = settings.report_path()
    for path in (report, settings.rejects):
        if path is not None:
            check_report_path(path)
    if settings.summary_json is not None:
        check_writable(settings.summary_json)
    creds = (
        None
        if settings.dry_run
        else credentials_from_env(mapping.target, settings.base_url, context.env)
    )
    read = ReadOptions(settings.sheet, settings.header_row, settings.delimiter, settings.encoding)
    with open_source(settings.source, read) as source:
        # a bad mapping fails here, before anything is sent
        Normalizer(bind(mapping, source.headers, settings.source.name), clear_empty=False)
    state = _Run()
    with _SignalsRaise() as signals:
        if creds is None:
            with (
                tempfile.TemporaryDirectory(prefix="importer-dry-run-") as tmp,
                Journal(Path(tmp) / "job.sqlite", durable=False) as journal,
            ):
                _stage(journal, settings, mapping, read, context.progress)
                counts = _write_outputs(journal, settings, read, report, dry_run=True)
        else:
            state_dir = settings.journal_dir(context.env)
            path = journal_path(state_dir, job_identity(settings, mapping, creds))
            with Journal(path, account_path(state_dir, creds.account)) as journal:
                if settings.fresh:  # only once the lock is ours: never under a running job
                    journal.reset()
                try:
                    anyio.run(_preflight_only, creds, settings, context)
                    signals.reinstall()
                    _stage(journal, settings, mapping, read, context.progress)
                    anyio.run(_send, journal, settings, creds, context, state)
                    signals.reinstall()
                except ImporterError as exc:
                    if journal.get("staged") == "1":  # unsent rows are reported `pending`
                        counts = _write_outputs(journal, settings, read, report, dry_run=False)
                        seconds = context.clock() - started
                        ended = _result(settings, mapping, creds, counts, state, report, seconds)
                        ended.summary["exit_code"] = exc.exit_code
                        _write_summary(settings, ended.summary)
                        exc.summary = ended.text
                    raise
                counts = _write_outputs(journal, settings, read, report, dry_run=False)
    return _result(settings, mapping, creds, counts, state, report, context.clock() - started)


class _SignalsRaise:
    """SIGINT/SIGTERM raise `Interrupted` in the synchronous phases (staging, reporting);
    the send phase listens to them itself and stops its workers cleanly."""

    def __enter__(self) -> _SignalsRaise:
        self._active = threading.current_thread() is threading.main_thread()
        self._old = {s: signal.getsignal(s) for s in STOP_SIGNALS} if self._active else {}
        self.reinstall()
        return self

    @staticmethod
    def _raise(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signum)

    def reinstall(self) -> None:
        """asyncio resets the handlers when the send phase's loop lets go of them."""
        for s in self._old:
            signal.signal(s, self._raise)

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._old.items():
            signal.signal(s, handler)


def _check_modes(settings: RunSettings, mapping: Mapping) -> None:
    if mapping.target == "notifuse" and settings.notifuse_mode == "import":
        if mapping.options.empty == "clear":
            raise UsageError(
                'empty = "clear" cannot be used with --notifuse-mode import: contacts.import '
                "keeps the old value when a field is null.",
                'Use the default upsert mode to clear fields, or set empty = "omit".',
            )
    elif settings.list_id:
        raise UsageError(
            "--list only works with --notifuse-mode import (contacts.import subscribes to lists).",
            "Add --notifuse-mode import, or drop --list.",
        )


def job_identity(settings: RunSettings, mapping: Mapping, creds: Credentials) -> str:
    """Source content, mapping, target and account (not the key, so a rotated key resumes)."""
    digest = hashlib.sha256()
    try:
        with settings.source.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise SourceError(
            f"Source file {settings.source} cannot be read: {exc.strerror}."
        ) from None
    parts = [
        mapping.text,
        mapping.target,
        creds.account,
        repr((settings.sheet, settings.header_row, settings.delimiter, settings.encoding)),
        repr((settings.notifuse_mode, settings.list_id)),
    ]
    for part in parts:
        digest.update(b"\0" + part.encode())
    return digest.hexdigest()


def _stage(
    journal: Journal, settings: RunSettings, mapping: Mapping, read: ReadOptions, progress: Progress
) -> None:
    """Read, map and normalize every row into the journal, then plan; skipped when done."""
    if journal.get("staged") == "1":
        return
    journal.reset()
    with open_source(settings.source, read) as source:
        bound = bind(mapping, source.headers, settings.source.name)
        clear = mapping.options.empty == "clear"
        workers = workers_for(settings.source.stat().st_size)
        progress.start("staging", None)
        for stored in normalize_all(source.rows(), bound, clear, workers, journal.stager()):
            progress.advance(stored)
        progress.close()
    planning.plan(journal, mapping.target)
    journal.set("staged", "1")


async def _preflight_only(creds: Credentials, settings: RunSettings, context: Context) -> None:
    """A bad key or URL fails here, with one cheap request, before a large file is staged."""
    client = _client(creds, settings, context, concurrency=1)
    try:
        await _preflight(client, creds)
    finally:
        await client.aclose()


async def _send(
    journal: Journal, settings: RunSettings, creds: Credentials, context: Context, state: _Run
) -> None:
    """Deliver every pending row; SIGINT/SIGTERM stop the workers and raise Interrupted."""
    journal.sync_known()  # what a killed run acknowledged
    if settings.skip_unchanged:
        unchanged = journal.skip_unchanged()
        state.saved_requests = (
            unchanged
            if creds.target == "notifuse" and (settings.notifuse_mode == "upsert")
            else -(-unchanged // settings.batch_size)
        )
        if unchanged:
            state.notes.append(
                f"{unchanged:,} rows unchanged since the last import: "
                f"{state.saved_requests:,} requests saved"
            )
    counts = journal.counts()
    budget = ErrorBudget(settings.max_error_rate, counts)
    budget.check_staging()
    client = _client(creds, settings, context, settings.concurrency)
    state.stats = client.stats
    try:
        classify = _classify(journal, settings, creds, state)
        sender = _sender(client, settings, creds, classify, journal)
        context.progress.start("sending", counts.get("pending", 0))
        signals = STOP_SIGNALS if threading.current_thread() is threading.main_thread() else ()
        gc.freeze()  # what exists now lives all run: collections while sending skip it
        stopped = await deliver(
            journal, sender, settings.concurrency, context.progress, budget, signals, client.gate
        )
        context.progress.close()
    finally:
        gc.unfreeze()
        await client.aclose()
        journal.sync_known()
    if stopped is not None:
        raise Interrupted(stopped)


def _classify(journal: Journal, settings: RunSettings, creds: Credentials, state: _Run) -> bool:
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


def _client(
    creds: Credentials, settings: RunSettings, context: Context, concurrency: int
) -> ApiClient:
    return ApiClient(
        creds,
        rate=settings.rate,
        concurrency=concurrency,
        timeout=settings.timeout,
        policy=RetryPolicy(attempts=settings.max_attempts),
        transport=context.transport,
    )


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


def _write_outputs(
    journal: Journal, settings: RunSettings, read: ReadOptions, report: Path, dry_run: bool
) -> dict[str, int]:
    counts = write_job_report(journal, dry_run, report, cores())
    if settings.rejects is not None:
        with open_source(settings.source, read) as source:
            write_rejects(source, journal.report_rows(dry_run), settings.rejects)
    return counts


def _result(
    settings: RunSettings,
    mapping: Mapping,
    creds: Credentials | None,
    counts: dict[str, int],
    state: _Run,
    report: Path,
    seconds: float,
) -> RunResult:
    rows = sum(counts.values())
    if rows == 0:
        state.notes.append("the file has a header but no data rows")
    errors = counts.get("error", 0)
    summary: dict[str, Any] = {
        "source": str(settings.source),
        "target": mapping.target,
        "base_url": creds.base_url if creds else None,
        "dry_run": settings.dry_run,
        "rows": rows,
        "counts": counts,
        "requests": state.stats.requests,
        "retries": state.stats.retries,
        "throttled": state.stats.throttled,
        "requests_saved": state.saved_requests,
        "seconds": round(seconds, 3),
        "rows_per_second": rows / seconds if seconds > 0 else 0.0,
        "notes": state.notes,
        "report": str(report),
        "rejects": str(settings.rejects) if settings.rejects else None,
        "exit_code": 1 if errors else 0,
    }
    _write_summary(settings, summary)
    return RunResult(summary["exit_code"], summary, summary_text(summary))


def _write_summary(settings: RunSettings, summary: dict[str, Any]) -> None:
    if settings.summary_json:
        tmp = settings.summary_json.with_name(settings.summary_json.name + ".tmp")
        tmp.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
        os.replace(tmp, settings.summary_json)


async def preflight(creds: Credentials, transport: httpx.AsyncBaseTransport | None = None) -> None:
    """`importer check`: the live run's first request, on its own."""
    client = ApiClient(creds, rate=None, concurrency=1, timeout=15.0, transport=transport)
    try:
        await _preflight(client, creds)
    finally:
        await client.aclose()
