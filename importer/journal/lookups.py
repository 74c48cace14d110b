"""What the look-up stage saw (SPEC §8): per row looked up, whether a contact had its email
and that contact's values before the write, kept in the job database so a killed run
resumes without repeating a look-up, and later stages (changes, classification, undo)
read one answer per contact."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from importer.journal.base import Base, with_warning

SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    row INTEGER PRIMARY KEY,       -- the row looked up (planning left one per email)
    email TEXT NOT NULL,
    found INTEGER,                 -- 1: a contact has this email; 0: none; -1: the look-up was
                                   -- refused; NULL: not looked up yet
    contact_id TEXT,
    contact BLOB                   -- its values before the write (JSON)
);
CREATE INDEX IF NOT EXISTS seen_email ON seen (email);
"""


class Wanted(NamedTuple):
    """A row to look up, with what it would send (to tell what would change)."""

    row: int
    email: str
    payload: bytes
    lists: str | None


class Seen(NamedTuple):
    """One look-up's answer: `found` None when the server answered neither yes nor no
    (`refused` says what it answered)."""

    row: int
    found: bool | None
    contact_id: str | None = None
    contact: bytes | None = None  # the contact's values of what the row writes (JSON)
    changes: str = ""
    refused: str | None = None
    payload: bytes | None = None  # what the row now sends, when update rules changed it
    lists: str | None = None  # ... and its lists (Notifuse), when `lists_changed`
    lists_changed: bool = False
    warning: str | None = None  # the values the rules held back
    phone_gone: bool = False  # its phone was one of them


class Lookups(Base):
    def queue_lookups(self, unknown: bool, every: bool, phones: bool) -> int:
        """Queue the pending rows not looked up yet: every one, or those whose email the
        account never acknowledged (`unknown`: classification needs no look-up for the
        others), or those with a phone; returns how many are left to look up."""
        which = ["true"] if every else []
        if unknown:
            which.append("email NOT IN (SELECT email FROM account.known)")
        if phones:
            which.append("phone IS NOT NULL")
        if not which:
            return 0
        with self._transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO seen (row, email) SELECT row, email FROM rows "
                f"WHERE status = 'pending' AND ({' OR '.join(which)}) ORDER BY row"
            )
        return self.lookups_left()

    def lookups_left(self) -> int:
        return int(
            self.db.execute(
                "SELECT COUNT(*) FROM seen s JOIN rows r USING (row) "
                "WHERE s.found IS NULL AND r.status = 'pending'"
            ).fetchone()[0]
        )

    def to_look_up(self, page: int) -> Iterator[list[Wanted]]:
        """Rows still to look up, in source order, a page at a time (keyset paging: the
        answers commit while the pages are read)."""
        after = 0
        while found := self.db.execute(
            "SELECT s.row, s.email, r.payload, r.lists FROM seen s JOIN rows r USING (row) "
            "WHERE s.found IS NULL AND r.status = 'pending' AND s.row > ? ORDER BY s.row "
            "LIMIT ?",
            (after, page),
        ).fetchall():
            yield list(map(Wanted._make, found))
            after = found[-1][0]

    def wanted(self, emails: list[str]) -> list[Wanted]:
        """The rows still to look up among these emails (a page of a workspace listing)."""
        marks = ",".join("?" * len(emails))
        return list(
            map(
                Wanted._make,
                self.db.execute(
                    "SELECT s.row, s.email, r.payload, r.lists FROM seen s JOIN rows r "
                    f"USING (row) WHERE s.found IS NULL AND s.email IN ({marks})",
                    emails,
                ),
            )
        )

    def record_seen(self, answers: Iterable[Seen], prior: bool, refused_is_error: bool) -> None:
        """Commit answers; `prior`: they also classify the rows (created/updated);
        `refused_is_error`: a refused look-up makes its row `error`."""
        answers = list(answers)
        done = [a for a in answers if a.found is not None]
        refused = [a for a in answers if a.found is None]
        with self._transaction():
            self.db.executemany(
                "UPDATE seen SET found = ?, contact_id = ?, contact = ? WHERE row = ?",
                [(a.found, a.contact_id, a.contact, a.row) for a in done],
            )
            self.db.executemany(
                "UPDATE seen SET found = -1 WHERE row = ?", [(a.row,) for a in refused]
            )
            self.db.executemany(
                "UPDATE rows SET changes = ?1, prior = CASE WHEN ?2 THEN ?3 ELSE prior END, "
                "payload = COALESCE(?4, payload), lists = CASE WHEN ?5 THEN ?6 ELSE lists END, "
                f"phone = CASE WHEN ?7 THEN NULL ELSE phone END, warnings = {with_warning('?8')} "
                "WHERE row = ?9",
                [
                    (
                        a.changes or None, prior, "updated" if a.found else "created",
                        a.payload, a.lists_changed, a.lists, a.phone_gone, a.warning, a.row,
                    )
                    for a in done
                ],
            )  # fmt: skip
            if refused_is_error:
                self.db.executemany(
                    "UPDATE rows SET status = 'error', error = ? WHERE row = ?",
                    [(f"look-up refused: {a.refused}", a.row) for a in refused],
                )

    def none_found_left(self, prior: bool) -> int:
        """After a whole workspace was listed: the rows it did not hold have no contact."""
        with self._transaction():
            left = self.db.execute(
                "UPDATE seen SET found = 0 WHERE found IS NULL "
                "AND row IN (SELECT row FROM rows WHERE status = 'pending')"
            ).rowcount
            if prior:
                self.db.execute(
                    "UPDATE rows SET prior = 'created' FROM seen s "
                    "WHERE s.row = rows.row AND s.found = 0 AND rows.prior IS NULL"
                )
        return int(left)

    def predicted(self, phone_warning: tuple[str, str] | None) -> None:
        """A predictive dry run's statuses, from what was seen: would_create (with the
        phone between the two parts of `phone_warning` on such a row that has a phone),
        would_update, no_change."""
        with self._transaction():
            self.db.execute(
                "UPDATE rows SET status = CASE WHEN s.found = 0 THEN 'would_create' "
                "WHEN COALESCE(rows.changes, '') != '' THEN 'would_update' ELSE 'no_change' END "
                "FROM seen s WHERE s.row = rows.row AND rows.status = 'pending' "
                "AND s.found IS NOT NULL"
            )
            if phone_warning is not None:
                self.db.execute(
                    f"UPDATE rows SET warnings = {with_warning('?1 || phone || ?2')} "
                    "WHERE status = 'would_create' AND phone IS NOT NULL",
                    phone_warning,
                )

    def refuse(self, errors: Iterable[tuple[int, str]]) -> None:
        """These pending rows are `error`, before anything is sent: (row, why)."""
        with self._transaction():
            self.db.executemany(
                "UPDATE rows SET status = 'error', error = ?2 WHERE row = ?1 "
                "AND status = 'pending'",
                errors,
            )

    def held_back(self) -> dict[str, int]:
        """Values update rules held back, per rule (named in the rows' warnings)."""
        found = {}
        for rule in ("if_empty", "on_create", "protect_opt_out"):
            mark = f"(update = {rule})"
            count = self.db.execute(
                "SELECT COALESCE(SUM((LENGTH(warnings) - LENGTH(REPLACE(warnings, ?1, ''))) "
                "/ LENGTH(?1)), 0) FROM rows WHERE warnings LIKE '%' || ?1 || '%'",
                (mark,),
            ).fetchone()[0]
            if count:
                found[rule] = int(count)
        return found

    def seen_counts(self) -> dict[str, int]:
        """Rows looked up: found, not found, not yet known."""
        found = self.db.execute(
            "SELECT CASE found WHEN 1 THEN 'found' WHEN 0 THEN 'not_found' ELSE 'unknown' END, "
            "COUNT(*) FROM seen GROUP BY 1"
        )
        return {str(k): int(n) for k, n in found}
