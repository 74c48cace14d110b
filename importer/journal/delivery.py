"""The send phase's reads and writes: pending rows a page at a time, acknowledgements
committed, and the attempt log of requests sent."""

from __future__ import annotations

import os
import sqlite3
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from importer.journal.base import SUCCESS, Base, begin, connect, with_warning


class PendingRow(NamedTuple):
    """A row to send (a tuple: one per row sent)."""

    row: int
    email: str
    payload: bytes  # the contact as stored (JSON): spliced into request bodies as it is
    attempted: int  # 1: a previous run may have sent it, its outcome is unknown
    prior: str | None  # created/updated, as looked up before the first attempt
    lists: str | None  # Notifuse: {"list": consent} (JSON)


class Outcome(NamedTuple):
    """What the API said about one row (a tuple: one per row sent). `pending`: not
    delivered for a transient reason (`error` says which), sent again later; `uncertain`:
    a write of it may have been applied all the same."""

    row: int
    status: str
    contact_id: str | None = None
    error: str | None = None
    warning: str | None = None
    uncertain: bool = False


class Delivery(Base):
    attempts: AttemptLog

    def pending(self, page: int) -> Iterator[list[PendingRow]]:
        """Pending rows in source order, a page at a time. Keyset paging, so
        acknowledgements commit while the pages are read."""
        after = 0
        while found := self.db.execute(
            "SELECT row, email, payload, attempted, prior, lists FROM rows "
            "WHERE status = 'pending' AND row > ? ORDER BY row LIMIT ?",
            (after, page),
        ).fetchall():
            yield list(map(PendingRow._make, found))
            after = found[-1][0]

    def remember_prior(self, statuses: Iterable[tuple[int, str]]) -> None:
        """Commit what a look-up found before the write: a re-sent row reports the same."""
        with self._transaction():
            self.db.executemany(
                "UPDATE rows SET prior = ? WHERE row = ?", ((s, r) for r, s in statuses)
            )

    def fold_attempts(self) -> None:
        """What a killed run's attempt log says was sent: those rows' outcome is unknown."""
        sent = set(self.attempts.read())
        if sent:  # most were acknowledged: only the pending ones among them are updated
            pending = self.db.execute(
                "SELECT row FROM rows WHERE row BETWEEN ? AND ? AND status = 'pending'",
                (min(sent), max(sent)),
            )
            uncertain = [found for found in pending if found[0] in sent]
            with self._transaction():
                self.db.executemany("UPDATE rows SET attempted = 1 WHERE row = ?", uncertain)
        self.attempts.clear()

    def recorder(self) -> Recorder:
        return Recorder(self)


class Recorder:
    """A second connection to a journal, for the writes of the send phase: a commit of
    acknowledgements may run in a thread while the event loop goes on sending (SQLite does
    the work without the GIL)."""

    def __init__(self, journal: Base) -> None:
        self.db = connect(journal.path, journal.durable, check_same_thread=False)

    def record(self, outcomes: Iterable[Outcome]) -> None:
        """Commit acknowledgements; from here on these rows are never sent again by this job.
        Called from one thread at a time."""
        _record(self.db, outcomes)

    def close(self) -> None:
        self.db.close()


def _record(db: sqlite3.Connection, outcomes: Iterable[Outcome]) -> None:
    """Successes are also queued for the account's `known` (Journal.sync_known)."""
    outcomes = list(outcomes)
    with begin(db):
        db.executemany(
            "UPDATE rows SET status = ?1, contact_id = ?2, error = ?3, "
            f"warnings = {with_warning('?4')}, attempted = MAX(attempted, ?5) WHERE row = ?6",
            [(o.status, o.contact_id, o.error, o.warning, o.uncertain, o.row) for o in outcomes],
        )
        db.executemany(
            "INSERT OR IGNORE INTO acked VALUES (?)",
            [(o.row,) for o in outcomes if o.status in SUCCESS],
        )


class AttemptLog:
    """The rows whose write request is about to go out, appended to a plain file (a
    commit per request cost 17 µs and waited for the acknowledgements' commits; an
    append, 1 µs). A write() outlives a killed process: the next run folds the log into
    `rows.attempted` before it sends (Journal.fold_attempts), so a row is `attempted` only
    when its request was actually sent."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def mark(self, rows: Iterable[PendingRow]) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.write(self._fd, array("q", [r.row for r in rows]).tobytes())

    def read(self) -> list[int]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        rows = array("q")
        rows.frombytes(data[: len(data) - len(data) % rows.itemsize])  # a cut last write
        return rows.tolist()

    def clear(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
