"""The jobs kept under --state: list them, and remove the completed ones (SPEC §6).

A job's journal holds ~160 bytes a row: a nightly 2M-row export would add ~300 MB a night.
Journals of jobs that completed more than `KEEP_DAYS` ago are removed at the start of
every live run; `importer state list` / `importer state prune` show and remove them
earlier. The per-account `known` tables stay (they are what --skip-unchanged reads).
"""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

KEEP_DAYS = 30
_SUFFIXES = ("", "-wal", "-shm", ".attempts", ".lock")


@dataclass(frozen=True)
class Job:
    """One journal, as its meta table describes it."""

    path: Path
    source: str = ""
    target: str = ""
    staged: str = ""  # when its rows were staged (UTC, ISO 8601)
    completed: str = ""  # when its last run completed, else ""
    exit_code: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    running: bool = False
    size: int = 0  # bytes, all its files


def jobs(state_dir: Path) -> list[Job]:
    """The jobs under `state_dir`, oldest first."""
    found = [_read(path) for path in sorted(state_dir.glob("job-*.sqlite"))]
    return sorted(found, key=lambda j: (j.staged, j.path.name))


def prune(state_dir: Path, older_than: timedelta, now: datetime | None = None) -> list[Job]:
    """Remove the jobs that completed more than `older_than` ago (never a running one)."""
    limit = (now or datetime.now(UTC)) - older_than
    removed = []
    for job in jobs(state_dir):
        if not job.completed or datetime.fromisoformat(job.completed) > limit:
            continue
        with _locked(job.path) as ours:
            if not ours:
                continue  # a run of it has just started
            for suffix in _SUFFIXES:
                job.path.with_name(job.path.name + suffix).unlink(missing_ok=True)
        removed.append(job)
    return removed


def completed_at(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).isoformat(timespec="seconds")


def _read(path: Path) -> Job:
    running = False
    with _locked(path) as ours:
        running = not ours
    size = sum(_size(path.with_name(path.name + s)) for s in _SUFFIXES)
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        finally:
            db.close()
    except sqlite3.Error:
        return Job(path, running=running, size=size)  # being created, or not a journal
    done = orjson.loads(meta["completed"]) if meta.get("completed") else {}
    return Job(
        path,
        source=meta.get("source", ""),
        target=meta.get("target", ""),
        staged=meta.get("staged_at", ""),
        completed=done.get("at", ""),
        exit_code=done.get("exit_code"),
        counts=done.get("counts", {}),
        running=running,
        size=size,
    )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[bool]:
    """True inside when no run holds the job's lock (then neither can one start)."""
    lock = path.with_name(path.name + ".lock")
    try:
        fh = lock.open("a")
    except OSError:
        yield False
        return
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


HEADER = f"{'job':12}  {'target':8}  {'size':>9}  state  source"


def describe(job: Job) -> str:
    """One line of `importer state list`."""
    if job.running:
        state = "running"
    elif job.completed:
        counts = ", ".join(f"{n:,} {s}" for s, n in sorted(job.counts.items()))
        when = job.completed.replace("T", " ")[:16]
        state = f"completed {when} UTC, exit {job.exit_code}: {counts or 'no rows'}"
    else:
        state = "incomplete (the same command resumes it)"
    size = f"{job.size / 1e6:,.1f} MB"
    return f"{job.path.name[4:16]:12}  {job.target or '?':8}  {size:>9}  {state}  {job.source}"
