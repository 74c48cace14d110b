"""`importer undo SOURCE --mapping M` (SPEC §9): the last completed run of that job reversed,
from what its journal kept: contacts it created deleted, contacts it updated given back the
values its look-ups captured before the write; never blindly (a contact changed since, or
never captured, is `not_undone` with the reason).

The same job identity as `run` (the same file, mapping, reading options and account), the
same limiter, retries and redaction; its outcomes are committed as they come, so a killed
undo resumes with the same command, and an undo done says so when run again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
import orjson

from importer.errors import AbortError, ImporterError, Interrupted, UsageError
from importer.fanout import each
from importer.journal import Journal, Undone, Written, account_path, journal_path
from importer.lookups.compare import instant
from importer.mapping import load_mapping
from importer.progress import NullProgress, Progress
from importer.reading import ReadOptions, open_source
from importer.reporting import check_outputs, write_report, write_summary
from importer.sending import phase
from importer.sending.client import RequestFailed
from importer.settings import Credentials, RunSettings, Target, credentials_from_env
from importer.signals import StopSignals
from importer.staging import job_identity
from importer.state import completed_at
from importer.undo.apis import MinimoUndo, NotifuseUndo, Undoer
from importer.wording import counted

__all__ = ["UndoSettings", "summary_text", "undo"]

PAGE = 500
PASSES = 2  # the second one tries again what a transient failure left
STATUSES = ("deleted", "restored", "not_undone", "untouched", "pending")


@dataclass(frozen=True)
class UndoSettings:
    """What `importer undo` is given: the run's identity, and how to send."""

    source: Path
    mapping: Path
    target: Target | None = None
    sheet: str | None = None
    header_row: int | None = None
    delimiter: str | None = None
    encoding: str | None = None
    notifuse_mode: Literal["upsert", "import"] = "upsert"
    list_id: str | None = None
    base_url: str | None = None
    state_dir: Path | None = None
    report: Path | None = None
    summary_json: Path | None = None
    rate: float | None = None
    concurrency: int = 8
    timeout: float = 30.0
    max_attempts: int = 5

    def run_settings(self) -> RunSettings:
        """The run this undoes, as `run` was given it (its job identity, its client)."""
        return RunSettings(
            source=self.source,
            mapping=self.mapping,
            target=self.target,
            sheet=self.sheet,
            header_row=self.header_row,
            delimiter=self.delimiter,
            encoding=self.encoding,
            notifuse_mode=self.notifuse_mode,
            list_id=self.list_id,
            base_url=self.base_url,
            state_dir=self.state_dir,
            rate=self.rate,
            concurrency=self.concurrency,
            timeout=self.timeout,
            max_attempts=self.max_attempts,
        )

    def report_path(self) -> Path:
        return self.report or Path.cwd() / f"{self.source.stem}.undo.csv"


@dataclass
class _Progress:
    progress: Progress = field(default_factory=NullProgress)  # rows undone, as they go
    left: int = 0
    cause: str = ""
    requests: int = 0
    notes: list[str] = field(default_factory=list)


class NotUndoneYet(AbortError):
    """Rows whose undo still failed for a transient reason after the last pass (exit 3)."""

    def __init__(self, rows: int, cause: str) -> None:
        super().__init__(
            f"{rows:,} row{'s' if rows != 1 else ''} could not be undone yet, even when tried "
            f"again at the end; the last reason: {cause}.",
            "They are reported `pending`: run the same undo again (what is undone stays so).",
        )


def undo(
    settings: UndoSettings,
    env: Any,
    transport: Any = None,
    progress: Progress | None = None,
) -> tuple[int, dict[str, Any]]:
    """Undo the job's last completed run; (exit code, summary)."""
    started = time.monotonic()
    mapping = load_mapping(settings.mapping, settings.target)
    run = settings.run_settings()
    report = settings.report_path()
    check_outputs(
        {"the source": settings.source, "the mapping": settings.mapping},
        {"--report": report},
        {"--summary-json": settings.summary_json},
    )
    creds = credentials_from_env(mapping.target, settings.base_url, env)
    state_dir = run.journal_dir(env)
    path = journal_path(state_dir, job_identity(run, mapping, creds))
    if not path.exists():
        raise UsageError(
            f"No run of this job was found under {state_dir}.",
            "undo needs the very file, mapping, reading options (--sheet, --delimiter…), "
            "--notifuse-mode/--list and account of the run, and the same --state.",
        )
    with Journal(path, account_path(state_dir, creds.account)) as journal:
        if not journal.get("completed"):
            raise UsageError(
                "The last run of this job has not completed: nothing is undone before it is.",
                "Run the same `importer run` command to finish it, then undo it.",
            )
        state = _Progress(progress or NullProgress())
        failure: ImporterError | None = None
        if journal.get("undone"):
            when = str(orjson.loads(journal.get("undone") or "{}").get("at", ""))[:16]
            state.notes.append(f"already undone on {when.replace('T', ' ')} UTC: nothing sent")
        else:
            journal.mark_untouched()
            with StopSignals() as signals, signals.deferred():
                try:
                    anyio.run(_undo_rows, journal, run, creds, transport, signals, state)
                except AbortError as exc:
                    failure = exc
                if failure is None and signals.received is not None:
                    failure = Interrupted(signals.received)
            if failure is None and state.left:
                failure = NotUndoneYet(state.left, state.cause)
        counts = _write_report(journal, settings, report)
        code = 1 if counts.get("not_undone") else 0
        if failure is None and not journal.get("undone"):
            journal.set("undone", orjson.dumps({"at": completed_at(), "counts": counts}).decode())
    summary = {
        "status": "undone" if failure is None else "stopped",
        "source": str(settings.source),
        "target": mapping.target,
        "counts": counts,
        "requests": state.requests,
        "seconds": round(time.monotonic() - started, 3),
        "notes": state.notes,
        "report": str(report),
        "exit_code": failure.exit_code if failure is not None else code,
    }
    write_summary(settings.summary_json, summary)
    if failure is not None:
        failure.summary = summary_text(summary)
        raise failure
    return code, summary


def summary_text(summary: dict[str, Any]) -> str:
    counts = summary["counts"]
    shown = ", ".join(f"{counts[s]:,} {s}" for s in STATUSES if counts.get(s))
    lines = [
        f"importer: undo of {summary['source']} → {summary['target']}",
        f"  {counted(sum(counts.values()), 'row')}: {shown or 'none'}",
        f"  {counted(summary['requests'], 'request')}, {summary['seconds']:.1f} s",
        *(f"  note: {note}" for note in summary["notes"]),
        f"  report: {summary['report']}",
    ]
    return "\n".join(lines)


def _write_report(journal: Journal, settings: UndoSettings, report: Path) -> dict[str, int]:
    read = ReadOptions(settings.sheet, settings.header_row, settings.delimiter, settings.encoding)
    with open_source(settings.source, read) as source:
        delimiter = source.delimiter
    return write_report(journal.undo_report(), report, delimiter=delimiter)


async def _undo_rows(
    journal: Journal,
    run: RunSettings,
    creds: Credentials,
    transport: Any,
    signals: StopSignals,
    state: _Progress,
) -> None:
    client = phase.new_client(creds, run, transport, run.concurrency)
    undoer: Undoer = (
        MinimoUndo(client, instant(journal.get("send_started")))
        if creds.target == "minimo"
        else NotifuseUndo(client, creds.workspace_id, run.list_id)
    )
    state.progress.watch(client.stats)
    state.progress.start("undoing", journal.left_to_undo())
    try:
        for _ in range(PASSES):
            if signals.poll() is not None or journal.left_to_undo() == 0:
                break
            await _one_pass(journal, undoer, run.concurrency, signals, state)
    finally:
        state.progress.close()
        state.requests = client.stats.requests
        await client.aclose()
    state.left = journal.left_to_undo() if signals.poll() is None else 0


async def _one_pass(
    journal: Journal, undoer: Undoer, concurrency: int, signals: StopSignals, state: _Progress
) -> None:
    """One pass over the rows left to undo, `concurrency` at a time; each outcome is
    journaled (20 at a time, and however the pass ended)."""
    done: list[Undone] = []

    def flush() -> None:
        if done:
            journal.record_undone(done)
            state.progress.advance(len(done))
            done.clear()

    async def undo_one(row: Written) -> None:
        try:
            done.append(await undoer.undo(row))
        except RequestFailed as exc:
            state.cause = exc.cause
            return
        if len(done) >= 20:
            flush()

    await each(journal.to_undo(PAGE), undo_one, concurrency, signals.poll, flush)
