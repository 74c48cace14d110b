"""The job database: one SQLite file per job, the one store every stage shares (SPEC §1, §6).

Staging writes every row here; planning rewrites duplicates and shared phones with SQL;
sending reads pending rows in batches and commits each acknowledgement as it arrives; the
report is read back from here in source order. A row stays `pending` until its
acknowledgement is committed, so a crash at any instant leaves a consistent journal.
Only this package writes SQL.
"""

from __future__ import annotations

import fcntl
import hashlib
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from importer.errors import JobLockedError
from importer.journal.account import Account
from importer.journal.base import add_column, begin, connect
from importer.journal.changes import Changes
from importer.journal.delivery import AttemptLog, Delivery
from importer.journal.lookups import SCHEMA as LOOKUPS_SCHEMA
from importer.journal.lookups import Lookups
from importer.journal.reports import Reports
from importer.journal.undoing import SCHEMA as UNDO_SCHEMA
from importer.journal.undoing import Undoing
from importer.normalizing import StagedRecord, cores

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    row INTEGER PRIMARY KEY,       -- the source row number, as Excel shows it
    status TEXT NOT NULL,          -- pending | error | skipped | duplicate | created | ...
    email TEXT,                    -- normalized, or the raw cell when invalid
    phone TEXT,                    -- the E.164 value to send
    payload BLOB,                  -- the contact to send (JSON)
    warnings TEXT NOT NULL DEFAULT '',
    error TEXT,
    contact_id TEXT,
    merged_into INTEGER,           -- a duplicate's survivor row
    digest BLOB,                   -- hash of the payload, compared with account.known
    attempted INTEGER NOT NULL DEFAULT 0,  -- a write of it was sent: its outcome may be unknown
    prior TEXT,                    -- created/updated as known before the first attempt
    dropped INTEGER NOT NULL DEFAULT 0,  -- sent without a value it had (--rejects-warnings)
    lists TEXT,                    -- Notifuse: {"list": consent} (JSON), from the mapping
    changes TEXT                   -- what the write changes, where the contact was looked up
);
-- no index on status: pages of pending rows are read by row number, and updating one
-- cost a quarter of each acknowledgement's commit
DROP INDEX IF EXISTS rows_status;
-- acknowledged successes not yet copied into account.known (see Journal.sync_known)
CREATE TABLE IF NOT EXISTS acked (row INTEGER PRIMARY KEY);
"""
# Per account, across jobs: what was last acknowledged for each email. Feeds classification
# (no look-up for a known email) and --skip-unchanged. `digest` is NULL while a write of
# that email is unsettled (sent, not acknowledged): such an email is never skipped.
_ACCOUNT_SCHEMA = """
CREATE TABLE IF NOT EXISTS account.known (
    email TEXT PRIMARY KEY,
    contact_id TEXT,
    digest BLOB,
    how TEXT                       -- how it was sent: mode and lists (see sending.phase.sent_how)
);
"""
_INSERT_STAGED = (
    "INSERT INTO rows "
    "(row, status, email, phone, payload, digest, warnings, error, dropped, lists) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class Journal(Changes, Account, Delivery, Lookups, Reports, Undoing):
    """An open, locked job database."""

    def __init__(self, path: Path, account: Path | None = None, durable: bool = True) -> None:
        """`durable=False` for a journal thrown away after the run (a dry run's): no fsync."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.account = account
        self.durable = durable
        self._lock = open(f"{path}.lock", "w")  # noqa: SIM115 - held for the journal's life
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise JobLockedError(
                "Another run of this same job is in progress (its journal is locked).",
                "Wait for it to finish, or stop it; then run again to resume.",
            ) from None
        self.db = connect(path, durable)
        self.db.execute(f"PRAGMA threads={cores()}")  # planning's sorts use the other cores too
        self.db.executescript(_SCHEMA)
        self.db.executescript(LOOKUPS_SCHEMA)
        self.db.executescript(UNDO_SCHEMA)
        add_column(self.db, "main", "rows", "dropped INTEGER NOT NULL DEFAULT 0")
        add_column(self.db, "main", "rows", "lists TEXT")
        add_column(self.db, "main", "rows", "changes TEXT")
        self.db.execute("ATTACH DATABASE ? AS account", (str(account or ":memory:"),))
        self.db.execute("PRAGMA account.journal_mode=WAL")
        self.db.execute("PRAGMA account.synchronous=NORMAL")
        self.db.executescript(_ACCOUNT_SCHEMA)
        add_column(self.db, "account", "known", "how TEXT")
        self.attempts = AttemptLog(path.with_name(path.name + ".attempts"))

    def close(self) -> None:
        self.attempts.close()
        self.db.close()
        self._lock.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta ---------------------------------------------------------------------------
    def get(self, key: str) -> str | None:
        found = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if found is None else str(found[0])

    def set(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- staging --------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every row (a fresh start, or an interrupted staging pass)."""
        with self._transaction():
            self.db.execute("DELETE FROM rows")
            self.db.execute("DELETE FROM meta")
            self.db.execute("DELETE FROM acked")
            self.db.execute("DELETE FROM seen")
            self.db.execute("DELETE FROM undone")
        self.attempts.clear()

    def add_staged(self, batch: Iterable[StagedRecord]) -> None:
        """One transaction per batch of rows (see normalizing.record)."""
        with self._transaction():
            self.db.executemany(_INSERT_STAGED, batch)

    def stager(self) -> Stager:
        return Stager(self.path, self.durable)

    def _transaction(self) -> sqlite3.Connection:
        return begin(self.db)

    def counts(self) -> dict[str, int]:
        """Rows per stored status (duplicates as such; the report resolves their outcome)."""
        found = self.db.execute("SELECT status, COUNT(*) FROM rows GROUP BY status")
        return {str(s): int(n) for s, n in found}


@dataclass(frozen=True)
class Stager:
    """Adds staged rows to a job database from the process that normalized them (it is
    sent to the staging workers: the main process neither receives nor inserts the rows).
    Its holder, who has the job's lock, resets the rows first and plans them after."""

    path: Path
    durable: bool

    def open(self) -> StagedRows:
        return StagedRows(self)


class StagedRows:
    """One connection of a Stager: one transaction per batch; the writers of one job take
    turns (SQLite's lock: a batch holds it for ~10 ms, normalizing it takes ~80)."""

    def __init__(self, stager: Stager) -> None:
        self.db = connect(stager.path, stager.durable)

    def add(self, batch: list[StagedRecord], locked: Callable[[], object]) -> None:
        with begin(self.db, "IMMEDIATE"):
            locked()
            self.db.executemany(_INSERT_STAGED, batch)

    def close(self) -> None:
        self.db.close()


def journal_path(state_dir: Path, job_id: str) -> Path:
    return state_dir / f"job-{job_id[:24]}.sqlite"


def account_path(state_dir: Path, account: str) -> Path:
    return state_dir / f"account-{hashlib.sha256(account.encode()).hexdigest()[:24]}.sqlite"
