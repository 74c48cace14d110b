"""The report's rows, read back in source order (by the run, or by the processes that
write a long report in parts)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from importer.journal.base import Base


class ReportRow(NamedTuple):
    """One line of the report (a tuple: millions of them are written)."""

    row: int
    email: str
    phone: str
    status: str
    contact_id: str
    error: str
    warning: str
    changes: str  # `field: old → new; ...` where the contact was looked up (SPEC §8)


class Reports(Base):
    def report_rows(self, dry_run: bool) -> Iterator[ReportRow]:
        """Every row in source order, as reported (see `read_report`)."""
        return _report_rows(self.db, dry_run, 0, None)

    def rejects(self, dry_run: bool, warnings: bool) -> Iterator[tuple[int, str]]:
        """(row, why) of the rows for the rejects file, in source order: the rows reported
        `error`, and with `warnings` the rows sent without a value they had."""
        return iter(
            self.db.execute(
                "SELECT row, CASE WHEN status = 'error' THEN error ELSE warning END "
                f"FROM ({_REPORTED}) WHERE status = 'error' OR (?4 AND dropped) ORDER BY row",
                (dry_run, 0, None, warnings),
            )
        )

    def report_counts(self, dry_run: bool) -> dict[str, int]:
        """Rows per status as the report gives them (duplicates resolved)."""
        found = self.db.execute(
            f"SELECT status, COUNT(*) FROM ({_REPORTED}) GROUP BY status", (dry_run, 0, None)
        )
        return {str(s): int(n) for s, n in found}

    def reported_errors(self, dry_run: bool) -> Iterator[tuple[int, str]]:
        """(row, error) of the rows reported `error`, in source order."""
        return iter(
            self.db.execute(
                f"SELECT row, error FROM ({_REPORTED}) WHERE status = 'error' ORDER BY row",
                (dry_run, 0, None),
            )
        )

    def phones_dropped(self) -> tuple[int, int]:
        """Rows sent without their phone: because it was invalid, and (Minimo) because
        another row with another email has it (planning's warning)."""
        invalid, shared = self.db.execute(
            "SELECT COALESCE(SUM(warnings LIKE '%sent without phone%' "
            "AND warnings NOT LIKE '%is also on row%'), 0), "
            "COALESCE(SUM(warnings LIKE '%is also on row%sent without phone%'), 0) FROM rows"
        ).fetchone()
        return int(invalid), int(shared)

    def report_parts(self, parts: int) -> list[tuple[int, int | None]]:
        """`parts` ranges (after, up to) of row numbers, as many rows each."""
        total = int(self.db.execute("SELECT COUNT(*) FROM rows").fetchone()[0])
        if total < parts:
            return [(0, None)]
        cuts = [
            int(self.db.execute("SELECT row FROM rows ORDER BY row LIMIT 1 OFFSET ?", (n,))
                .fetchone()[0])
            for n in (total * i // parts - 1 for i in range(1, parts))
        ]  # fmt: skip
        starts = [0, *cuts]
        return list(zip(starts, [*cuts, None], strict=True))


def read_report(path: Path, dry_run: bool, after: int, upto: int | None) -> Iterator[ReportRow]:
    """The report's rows numbered after..upto, read by another process than the one that holds
    the job (read-only, without its lock): the report is written in parts on several cores."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        yield from _report_rows(db, dry_run, after, upto)
    finally:
        db.close()


# Every row as reported: a duplicate shares its survivor's id and any error (and is
# `pending` while its survivor is); a dry run's pending rows are `valid` (?1). Resolved in
# SQL: this runs once per row of the file. Its last column is `dropped`.
_REPORTED = (
    "SELECT r.row, COALESCE(r.email, '') AS email, COALESCE(r.phone, '') AS phone, "
    "CASE WHEN r.status = 'duplicate' AND s.status = 'error' THEN 'error' "
    "WHEN r.status = 'duplicate' AND s.status = 'pending' AND NOT ?1 THEN 'pending' "
    "WHEN r.status = 'pending' AND ?1 THEN 'valid' ELSE r.status END AS status, "
    "COALESCE(r.contact_id, s.contact_id, '') AS contact_id, "
    "CASE WHEN r.status = 'duplicate' AND s.status = 'error' "
    "THEN 'row ' || r.merged_into || ': ' || s.error ELSE COALESCE(r.error, '') END AS error, "
    "r.warnings AS warning, COALESCE(r.changes, '') AS changes, r.dropped "
    "FROM rows r LEFT JOIN rows s ON s.row = r.merged_into "
    "WHERE r.row > ?2 AND (?3 IS NULL OR r.row <= ?3)"
)


def _report_rows(
    db: sqlite3.Connection, dry_run: bool, after: int, upto: int | None
) -> Iterator[ReportRow]:
    """Rows in source order, as reported (see _REPORTED)."""
    cursor = db.execute(
        "SELECT row, email, phone, status, contact_id, error, warning, changes "
        f"FROM ({_REPORTED}) ORDER BY row",
        (dry_run, after, upto),
    )
    return map(ReportRow._make, cursor)
