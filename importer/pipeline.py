"""run(settings): stage, then send, then report — the one place that knows the order.

    source ─reading─▶ rows ─mapping+normalizing─▶ journal ─planning─▶ sending ─▶ journal
                                                                  report ◀─────┘

However a run ends — finished, aborted (exit 3), stopped by --max-error-rate (4), SIGINT
(130) or SIGTERM (143), a full disk — once staging is complete the report and summary are
written from the journal, with unsent rows `pending`, and the same command resumes. The
same command on a job that completed sends nothing and says so.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
import time
from collections.abc import Callable
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import orjson

from importer.errors import ImporterError, Interrupted, StateError, UsageError
from importer.journal import Journal, account_path, journal_path
from importer.mapping import Mapping, bind, load_mapping
from importer.normalizing import Normalizer, cores
from importer.progress import NullProgress, Progress
from importer.reading import ReadOptions, Source, open_source
from importer.reporting import (
    check_outputs,
    counts_text,
    source_columns,
    summary_text,
    write_job_report,
    write_rejects,
    write_summary,
)
from importer.sending import phase
from importer.sending.phase import SendState
from importer.settings import Credentials, RunSettings, credentials_from_env
from importer.signals import StopSignals
from importer.staging import job_identity, stage
from importer.state import KEEP_DAYS, completed_at, prune

__all__ = ["Context", "RunResult", "job_identity", "preflight", "run"]
preflight = phase.preflight  # `importer check`


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
    check_outputs(
        {"the source": settings.source, "the mapping": settings.mapping},
        {"--report": report, "--rejects": settings.rejects},
        {"--summary-json": settings.summary_json},
    )
    creds = (
        None
        if settings.dry_run and not settings.predict
        else credentials_from_env(mapping.target, settings.base_url, context.env)
    )
    read = ReadOptions(settings.sheet, settings.header_row, settings.delimiter, settings.encoding)
    with open_source(settings.source, read) as source:
        # a bad mapping or --report-columns fails here, before anything is sent
        Normalizer(bind(mapping, source.headers, settings.source.name), clear_empty=False)
        source_columns(source.headers, settings.report_columns)
    # a scheduler never reads yesterday's result as today's
    write_summary(settings.summary_json, {"status": "running", "source": str(settings.source)})
    job = _Job(settings, mapping, creds, read, report, context, started)
    with StopSignals() as signals:
        if creds is None:
            with (
                tempfile.TemporaryDirectory(prefix="importer-dry-run-") as tmp,
                Journal(Path(tmp) / "job.sqlite", durable=False) as journal,
            ):
                stage(journal, settings, mapping, read, context.progress)
                with signals.deferred():
                    return job.finish(journal, None, signals)
        state_dir = settings.journal_dir(context.env)
        _prune(state_dir)
        path = journal_path(state_dir, job_identity(settings, mapping, creds))
        with _open_journal(path, account_path(state_dir, creds.account)) as journal:
            if settings.fresh:  # only once the lock is ours: never under a running job
                journal.reset()
            if journal.get("completed"):
                if not settings.predict:
                    return job.replay(journal)
                journal.reset()  # a prediction is made afresh: the account may have changed
            failure: ImporterError | None = None
            try:
                anyio.run(phase.preflight_only, creds, settings, context.transport)
                stage(journal, settings, mapping, read, context.progress)
            except ImporterError as exc:
                if journal.get("staged") != "1":
                    raise
                failure = exc  # staged by an earlier run: its rows are reported `pending`
            except (sqlite3.Error, OSError) as exc:
                raise _state_error(exc, journal.path, sent=False) from None
            with signals.deferred():
                if failure is None:
                    failure = job.send(journal, creds, signals)
                return job.finish(journal, failure, signals)


@dataclass
class _Job:
    """One run of a job: what it was given, and what it learns as it goes."""

    settings: RunSettings
    mapping: Mapping
    creds: Credentials | None
    read: ReadOptions
    report: Path
    context: Context
    started: float
    state: SendState = field(default_factory=SendState)

    def send(
        self, journal: Journal, creds: Credentials, signals: StopSignals
    ) -> ImporterError | None:
        """The send phase (or a prediction's look-ups); what stopped it, if anything did."""
        work = phase.Phase(
            journal,
            self.settings,
            self.mapping,
            creds,
            self.context.transport,
            self.context.progress,
            self.state,
            signals.poll,
        )
        try:
            anyio.run(phase.predict if self.settings.predict else phase.send, work)
        except ImporterError as exc:
            return exc
        except (sqlite3.Error, OSError) as exc:
            return _state_error(exc, journal.path, sent=True)
        return None

    def finish(
        self, journal: Journal, failure: ImporterError | None, signals: StopSignals
    ) -> RunResult:
        """Outputs from the journal, however the run ended; then the exit (SPEC §2, §6)."""
        try:
            counts = self._write_outputs(journal, self.dry_run)
        except OSError as exc:
            raise StateError(
                f"The report could not be written ({exc.strerror or exc}).",
                "Free some space or choose another --report path; then run the same command "
                "again (nothing acknowledged is sent twice).",
                failure.exit_code if failure is not None else 3,
            ) from None
        if failure is None and signals.received is not None:
            failure = Interrupted(signals.received)
        code = self._exit_code(counts)
        done = "pending" not in counts and (failure is None or isinstance(failure, Interrupted))
        if done and not self.dry_run:
            journal.attempts.clear()
            info = {"at": completed_at(), "exit_code": code, "counts": counts}
            journal.set("completed", orjson.dumps(info).decode())
        result = self._result(
            counts, failure.exit_code if failure else code, "completed" if done else "stopped"
        )
        if failure is not None:
            failure.summary = result.text
            raise failure
        return result

    def replay(self, journal: Journal) -> RunResult:
        """The same command on a job that completed: nothing is sent, and it says so."""
        counts = self._write_outputs(journal, False)
        info = orjson.loads(journal.get("completed") or "{}")
        when = str(info.get("at", "")).replace("T", " ")[:16]
        undone = str(orjson.loads(journal.get("undone") or "{}").get("at", "")).replace("T", " ")
        then = f", and was undone on {undone[:16]} UTC" if undone else ""
        note = (
            f"nothing sent: this job already completed on {when} UTC "
            f"({counts_text(counts) or 'no rows'}){then}; "
            "run with --fresh to import the file again"
        )
        self.state.notes.append(note)
        result = self._result(counts, int(info.get("exit_code", 0)), "replayed")
        return RunResult(
            result.exit_code, result.summary, f"importer: {note}. Report: {self.report}"
        )

    @property
    def dry_run(self) -> bool:
        return self.creds is None

    def _write_outputs(self, journal: Journal, dry_run: bool) -> dict[str, int]:
        """The report and the rejects, in the CSV source's delimiter (a `;` file gets `;`
        output, as the Excel of its users expects)."""
        settings = self.settings

        def source() -> Source:
            return open_source(settings.source, self.read)

        with source() as opened:
            delimiter = opened.delimiter
            columns = source_columns(opened.headers, settings.report_columns)
            counts = write_job_report(
                journal, dry_run, self.report, cores(), delimiter, opened, columns
            )
        if settings.rejects is not None:
            whole = write_rejects(
                source,
                lambda: journal.rejects(dry_run, settings.rejects_warnings),
                settings.rejects,
                delimiter,
            )
            if whole is not None:
                self.state.notes.append(
                    f"a rejected row holds a cell longer than an XLSX cell (32,767 "
                    f"characters): cut in {settings.rejects}, whole in {whole}"
                )
        return counts

    def _exit_code(self, counts: dict[str, int]) -> int:
        errors = counts.get("error", 0)
        return 1 if errors and not self.settings.errors_ok else 0

    def _result(self, counts: dict[str, int], exit_code: int, status: str) -> RunResult:
        settings, state = self.settings, self.state
        rows = sum(counts.values())
        if rows == 0:
            state.notes.append("the file has a header but no data rows")
        seconds = self.context.clock() - self.started
        summary: dict[str, Any] = {
            "status": status,
            "source": str(settings.source),
            "target": self.mapping.target,
            "base_url": self.creds.base_url if self.creds else None,
            "dry_run": settings.dry_run,
            "predict": settings.predict,
            "rows": rows,
            "counts": counts,
            "requests": state.stats.requests,
            "retries": state.stats.retries,
            "throttled": state.stats.throttled,
            "requests_saved": state.saved_requests,
            "lookups": _lookups(state),
            "seconds": round(seconds, 3),
            "rows_per_second": rows / seconds if seconds > 0 else 0.0,
            "notes": state.notes,
            "report": str(self.report),
            "rejects": str(settings.rejects) if settings.rejects else None,
            "exit_code": exit_code,
        }
        write_summary(settings.summary_json, summary)
        return RunResult(exit_code, summary, summary_text(summary))


def _lookups(state: SendState) -> dict[str, Any] | None:
    """The look-ups of the summary: how many requests, rows answered, and how (SPEC §8)."""
    found = state.lookups
    if found is None:
        return None
    return {
        "method": found.method,
        "requests": found.requests,
        "rows": found.rows,
        "listed": found.listed,
        "left": found.left,
    }


def _check_modes(settings: RunSettings, mapping: Mapping) -> None:
    if settings.predict and not settings.dry_run:
        raise UsageError(
            "--predict only works with --dry-run: it looks contacts up and never writes.",
            "Add --dry-run to see what a run would change; run without both to import.",
        )
    if settings.create_fields and mapping.target != "minimo":
        raise UsageError(
            "--create-fields is for Minimo's custom fields; Notifuse's fields are fixed.",
            "Drop --create-fields.",
        )
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


def _open_journal(path: Path, account: Path) -> Journal:
    try:
        return Journal(path, account)
    except (sqlite3.Error, OSError) as exc:
        raise StateError(
            f"The state folder {path.parent} cannot be written ({_reason(exc)}).",
            "Pass --state with a writable folder (or set XDG_STATE_HOME); nothing was sent.",
            2,
        ) from None


def _state_error(exc: sqlite3.Error | OSError, path: Path, sent: bool) -> StateError:
    """A full disk or a folder made read-only while the job ran: named, never "a bug"."""
    if sent:
        hint = (
            "Free some space (or make the folder writable); then run the same command again "
            "to resume: nothing acknowledged is sent twice."
        )
    else:
        hint = "Free some space, or pass --state with another folder; nothing was sent."
    return StateError(
        f"The job database {path} cannot be written ({_reason(exc)}).", hint, 3 if sent else 2
    )


def _reason(exc: sqlite3.Error | OSError) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


def _prune(state_dir: Path) -> None:
    """Journals of jobs completed more than KEEP_DAYS ago go; a failure here stops nothing."""
    with contextlib.suppress(OSError, sqlite3.Error):
        prune(state_dir, timedelta(days=KEEP_DAYS))
