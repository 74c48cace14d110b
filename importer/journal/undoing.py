"""What `importer undo` needs of a job's run and what it did (SPEC §9): the rows the run
wrote, with what it wrote and what its look-ups captured before, and per row the undo's own
outcome, committed as it comes so that a killed undo resumes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from importer.journal.base import Base

SCHEMA = """
CREATE TABLE IF NOT EXISTS undone (
    row INTEGER PRIMARY KEY,
    status TEXT NOT NULL,          -- deleted | restored | not_undone | untouched
    error TEXT,                    -- why not undone
    warning TEXT,
    changes TEXT                   -- what the undo wrote back: `field: now → before`
);
"""
# the rows a run did not write: nothing to undo
_UNTOUCHED = "status NOT IN ('created', 'updated', 'upserted')"


class Written(NamedTuple):
    """A row the run wrote: what it wrote, and what its look-up saw before (None: nothing
    captured)."""

    row: int
    email: str
    status: str  # created | updated | upserted
    contact_id: str | None
    payload: bytes
    lists: str | None
    before: bytes | None  # the captured values (seen.contact), for an update


class Undone(NamedTuple):
    row: int
    status: str
    error: str | None = None
    warning: str | None = None
    changes: str | None = None


class Undoing(Base):
    def mark_untouched(self) -> None:
        """Rows the run did not write are `untouched` (once: the rest is what undo does)."""
        with self._transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO undone (row, status) "
                f"SELECT row, 'untouched' FROM rows WHERE {_UNTOUCHED}"
            )

    def to_undo(self, page: int) -> Iterator[list[Written]]:
        """Rows written and not undone yet, in source order, a page at a time."""
        after = 0
        while found := self.db.execute(
            "SELECT r.row, r.email, r.status, r.contact_id, r.payload, r.lists, s.contact "
            "FROM rows r LEFT JOIN seen s ON s.row = r.row AND s.found = 1 "
            f"WHERE NOT ({_UNTOUCHED}) AND r.row > ? "
            "AND r.row NOT IN (SELECT row FROM undone) ORDER BY r.row LIMIT ?",
            (after, page),
        ).fetchall():
            yield list(map(Written._make, found))
            after = found[-1][0]

    def left_to_undo(self) -> int:
        return int(
            self.db.execute(
                f"SELECT COUNT(*) FROM rows WHERE NOT ({_UNTOUCHED}) "
                "AND row NOT IN (SELECT row FROM undone)"
            ).fetchone()[0]
        )

    def record_undone(self, done: Iterable[Undone]) -> None:
        """Commit outcomes; the account's record follows: a deleted contact's email is no
        longer known, a restored one is never skipped as unchanged."""
        done = list(done)
        with self._transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO undone VALUES (?, ?, ?, ?, ?)", [tuple(d) for d in done]
            )
            gone = [(d.row,) for d in done if d.status == "deleted"]
            self.db.executemany(
                "DELETE FROM account.known WHERE email = (SELECT email FROM rows WHERE row = ?)",
                gone,
            )
            back = [(d.row,) for d in done if d.status == "restored"]
            self.db.executemany(
                "UPDATE account.known SET digest = NULL "
                "WHERE email = (SELECT email FROM rows WHERE row = ?)",
                back,
            )

    def undo_report(self) -> Iterator[tuple[object, ...]]:
        """One line per source row: the undo's outcome (`pending` where it has none yet)."""
        return iter(
            self.db.execute(
                "SELECT r.row, COALESCE(r.email, ''), COALESCE(r.phone, ''), "
                "COALESCE(u.status, 'pending'), COALESCE(r.contact_id, ''), "
                "COALESCE(u.error, ''), COALESCE(u.warning, ''), COALESCE(u.changes, '') "
                "FROM rows r LEFT JOIN undone u USING (row) ORDER BY r.row"
            )
        )
