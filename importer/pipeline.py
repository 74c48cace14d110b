"""run(settings): stage, then send, then report — the one place that knows the order.

source ─reading─▶ rows ─mapping+normalizing─▶ journal ─planning─▶ sending ─▶ journal
                                                              report ◀─────┘
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import anyio
import httpx
import orjson

from importer import planning
from importer.errors import AbortError, ImporterError, SourceError, UsageError
from importer.journal import Journal, account_path, journal_path, remove
from importer.mapping import Mapping, bind, load_mapping
from importer.normalizing import Normalizer
from importer.progress import NullProgress, Progress
from importer.reading import ReadOptions, open_source
from importer.reporting import check_report_path, summary_text, write_report
from importer.sending.client import ApiClient, RequestFailed, RetryPolicy
from importer.sending.engine import Sender, deliver
from importer.sending.minimo import MinimoSender
from importer.sending.notifuse import NotifuseSender
from importer.settings import Credentials, RunSettings, credentials_from_env

STAGE_BATCH = 2000
AUTO_CLASSIFY_LIMIT = 2000


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


def run(settings: RunSettings, context: Context) -> RunResult:
    started = context.clock()
    mapping = load_mapping(settings.mapping, settings.target)
    _check_modes(settings, mapping)
    report = settings.report_path()
    check_report_path(report)
    creds = (
        None
        if settings.dry_run
        else credentials_from_env(mapping.target, settings.base_url, context.env)
    )
    read = ReadOptions(settings.sheet, settings.header_row, settings.delimiter, settings.encoding)
    with open_source(settings.source, read) as source:
        # a bad mapping fails here, before anything is sent
        Normalizer(bind(mapping, source.headers, settings.source.name), clear_empty=False)
    notes: list[str] = []
    if creds is None:
        with (
            tempfile.TemporaryDirectory(prefix="importer-dry-run-") as tmp,
            Journal(Path(tmp) / "job.sqlite") as journal,
        ):
            _stage(journal, settings, mapping, read, context.progress)
            counts = write_report(journal.report_rows(dry_run=True), report)
        stats: dict[str, int] = {}
    else:
        job_id = job_identity(settings, mapping, creds)
        path = journal_path(settings.journal_dir(context.env), job_id)
        if settings.fresh:
            remove(path)
        account = account_path(settings.journal_dir(context.env), creds.account)
        with Journal(path, account) as journal:
            try:
                stats = anyio.run(_live, journal, settings, mapping, read, creds, context, notes)
            except ImporterError:
                if journal.get("staged") == "1":  # unsent rows are reported `pending`
                    write_report(journal.report_rows(dry_run=False), report)
                raise
            counts = write_report(journal.report_rows(dry_run=False), report)
    return _result(
        settings, mapping, creds, counts, stats, notes, report, context.clock() - started
    )


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
        normalize = Normalizer(bound, clear_empty=mapping.options.empty == "clear")
        progress.start("staging", None)
        staged: Iterator[Any] = (normalize(row) for row in source.rows())
        while batch := list(islice(staged, STAGE_BATCH)):
            journal.add_staged(batch)
            progress.advance(len(batch))
        progress.close()
        journal.set("headers", orjson.dumps(source.headers).decode())
    planning.plan(journal, mapping.target)
    journal.set("staged", "1")


async def _live(
    journal: Journal,
    settings: RunSettings,
    mapping: Mapping,
    read: ReadOptions,
    creds: Credentials,
    context: Context,
    notes: list[str],
) -> dict[str, int]:
    client = ApiClient(
        creds,
        rate=settings.rate,
        concurrency=settings.concurrency,
        timeout=settings.timeout,
        policy=RetryPolicy(attempts=settings.max_attempts),
        transport=context.transport,
    )
    try:
        sender = _sender(client, settings, creds, False, journal.known)
        await _preflight(sender, creds)
        _stage(journal, settings, mapping, read, context.progress)
        pending = journal.count("pending")
        if creds.target == "minimo":
            classify = settings.classify
            if classify is None:
                lookups = journal.count_unknown_pending()
                classify = lookups <= AUTO_CLASSIFY_LIMIT
                if not classify:
                    notes.append(
                        f"{lookups:,} look-ups would be needed to tell created from updated: "
                        "reported as upserted (pass --classify to look them up anyway)"
                    )
            sender = _sender(client, settings, creds, classify, journal.known)
        context.progress.start("sending", pending)
        await deliver(journal, sender, settings.concurrency, context.progress)
        context.progress.close()
    finally:
        await client.aclose()
    s = client.stats
    return {"requests": s.requests, "retries": s.retries, "throttled": s.throttled}


async def _preflight(sender: Sender, creds: Credentials) -> None:
    try:
        await sender.preflight()
    except RequestFailed as exc:
        raise AbortError(
            f"Cannot reach {creds.target.capitalize()} at {creds.base_url}: {exc}.",
            "Check the base URL and your network; nothing was sent.",
        ) from None


def _sender(
    client: ApiClient,
    settings: RunSettings,
    creds: Credentials,
    classify: bool,
    known: Callable[[list[str]], dict[str, str | None]],
) -> Sender:
    if creds.target == "minimo":
        return MinimoSender(client, settings.batch_size, classify, known)
    return NotifuseSender(
        client,
        creds.workspace_id,
        settings.notifuse_mode,
        settings.batch_size,
        settings.list_id,
        known,
    )


def _result(
    settings: RunSettings,
    mapping: Mapping,
    creds: Credentials | None,
    counts: dict[str, int],
    stats: dict[str, int],
    notes: list[str],
    report: Path,
    seconds: float,
) -> RunResult:
    rows = sum(counts.values())
    if rows == 0:
        notes.append("the file has a header but no data rows")
    errors = counts.get("error", 0)
    summary: dict[str, Any] = {
        "source": str(settings.source),
        "target": mapping.target,
        "base_url": creds.base_url if creds else None,
        "dry_run": settings.dry_run,
        "rows": rows,
        "counts": counts,
        "requests": stats.get("requests", 0),
        "retries": stats.get("retries", 0),
        "throttled": stats.get("throttled", 0),
        "seconds": round(seconds, 3),
        "rows_per_second": rows / seconds if seconds > 0 else 0.0,
        "notes": notes,
        "report": str(report),
        "exit_code": 1 if errors else 0,
    }
    if settings.summary_json:
        tmp = settings.summary_json.with_name(settings.summary_json.name + ".tmp")
        tmp.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
        os.replace(tmp, settings.summary_json)
    return RunResult(summary["exit_code"], summary, summary_text(summary))


async def preflight(creds: Credentials, transport: httpx.AsyncBaseTransport | None = None) -> None:
    """`importer check`: the live run's first request, on its own."""
    client = ApiClient(creds, rate=None, concurrency=1, timeout=15.0, transport=transport)
    try:
        sender = _sender(client, RunSettings(Path(), Path()), creds, False, lambda _: {})
        await _preflight(sender, creds)
    finally:
        await client.aclose()
