"""Planning's writes: groups of pending rows read, and the changes planned for them (merges,
dropped phones) written back in row order."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import orjson

from importer.journal.base import Base, with_warning
from importer.normalizing import encode, encode_lists

APPLY_BATCH = 2000  # planned changes written per transaction
# a planned change: row, status, merged_into, payload, digest, phone, warning (None: unchanged)
_CHANGE = (
    "status TEXT, merged_into INTEGER, payload BLOB, digest BLOB, phone TEXT, warning TEXT, "
    "dropped INTEGER, lists TEXT"
)
_Change = tuple[
    int, str | None, int | None, bytes | None, bytes | None, str | None, str, int | None,
    str | None,
]  # fmt: skip


class GroupedRow(NamedTuple):
    """A pending row in a group that planning merges or splits."""

    row: int
    email: str
    payload: dict[str, Any]
    lists: dict[str, bool] | None  # Notifuse list → the row's consent


class Changes(Base):
    def duplicate_groups(self) -> Iterator[list[GroupedRow]]:
        """Pending rows sharing a normalized email, grouped, in source order within a group."""
        return self._groups("email")

    def shared_phone_groups(self) -> Iterator[list[GroupedRow]]:
        """Pending rows with different emails and one phone, grouped, in source order."""
        return self._groups("phone")

    def _groups(self, column: str) -> Iterator[list[GroupedRow]]:
        """Groups of pending rows sharing `column`, copied first into a temporary table (on
        disk): the rows table can then be rewritten while the groups are read. The one sort
        (GROUP BY) lists each group's rows, fetched then by number: looking every row of
        the file up in the list of shared values cost as much again (2M rows: 2.7 → 2.0 s)."""
        self.db.execute("DROP TABLE IF EXISTS temp.grouped")
        self.db.execute(
            f"CREATE TEMP TABLE grouped AS SELECT r.row, r.email, r.payload, r.lists, g.k FROM "
            f"(SELECT {column} AS k, group_concat(row) AS rs FROM rows WHERE status = 'pending' "
            f"AND {column} IS NOT NULL GROUP BY {column} HAVING COUNT(*) > 1) g, "
            f"json_each('[' || g.rs || ']') e, rows r WHERE r.row = e.value ORDER BY g.k, r.row"
        )
        yield from _grouped(self.db.execute("SELECT * FROM temp.grouped ORDER BY rowid"), key=4)
        self.db.execute("DROP TABLE temp.grouped")

    def merge(self, merges: Iterable[tuple[GroupedRow, list[int]]]) -> None:
        """Fold each `merged` row list into its survivor (the merged contact and consents),
        which is sent once for all of them. Recorded as changes: `apply_changes` writes them."""
        changes: list[_Change] = []
        for survivor, merged in merges:
            payload, lists = survivor.payload, encode_lists(survivor.lists)
            phone = payload.get("phone")
            phone = phone if isinstance(phone, str) else None
            also = f"row{'s' if len(merged) > 1 else ''} {', '.join(map(str, merged))}"
            warning = f"merged with {also} (same email)"
            change = (
                survivor.row,
                None,
                None,
                *encode(payload, lists),
                phone,
                warning,
                None,
                lists,
            )
            changes.append(change)
            warning = f"same email as row {survivor.row}: merged into it"
            changes.extend(
                (r, "duplicate", survivor.row, None, None, None, warning, None, None)
                for r in merged
            )
        self._change(changes)

    def drop_phones(self, drops: Iterable[tuple[GroupedRow, str]]) -> None:
        """Send these rows without their phone, each with its warning (recorded as changes)."""
        self._change(
            (
                row.row, None, None, *encode(row.payload, encode_lists(row.lists)), None,
                warning, 1, None,
            )
            for row, warning in drops
        )  # fmt: skip

    def _change(self, changes: Iterable[_Change]) -> None:
        self.db.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS changes (row INTEGER NOT NULL, {_CHANGE})"
        )  # appended in the planner's order (by row, each insert was a random write: 8 µs)
        with self._transaction():
            self.db.executemany(
                "INSERT INTO temp.changes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", changes
            )

    def apply_changes(self) -> None:
        """Write the recorded changes in row order, APPLY_BATCH rows a transaction: the rows
        they touch are scattered over the table, and in order each page is rewritten once
        (in the order the planner found them, 3 times slower at 2M rows)."""
        self._change(())
        self.db.execute(f"CREATE TEMP TABLE ordered (row INTEGER PRIMARY KEY, {_CHANGE})")
        self.db.execute("INSERT INTO temp.ordered SELECT * FROM temp.changes ORDER BY row")
        self.db.execute("DROP TABLE temp.changes")
        bounds = self.db.execute(
            "SELECT row FROM (SELECT row, ROW_NUMBER() OVER (ORDER BY row) AS n "
            "FROM temp.ordered) WHERE n % ? = 0",
            (APPLY_BATCH,),
        ).fetchall()
        start = 0
        for (end,) in [*bounds, (None,)]:
            with self._transaction():
                self.db.execute(
                    "UPDATE rows SET status = COALESCE(c.status, rows.status), "
                    "merged_into = COALESCE(c.merged_into, rows.merged_into), "
                    "payload = COALESCE(c.payload, rows.payload), "
                    "digest = COALESCE(c.digest, rows.digest), "
                    "phone = CASE WHEN c.payload IS NULL THEN rows.phone ELSE c.phone END, "
                    "dropped = COALESCE(c.dropped, rows.dropped), "
                    "lists = COALESCE(c.lists, rows.lists), "
                    f"warnings = {with_warning('c.warning')} "
                    "FROM temp.ordered c WHERE c.row = rows.row AND c.row > ?1 "
                    "AND (?2 IS NULL OR c.row <= ?2)",
                    (start, end),
                )
            start = end
        self.db.execute("DROP TABLE temp.ordered")


def _grouped(cursor: sqlite3.Cursor, key: int) -> Iterator[list[GroupedRow]]:
    group: list[GroupedRow] = []
    current: Any = None
    for found in cursor:
        if group and found[key] != current:
            yield group
            group = []
        current = found[key]
        lists = orjson.loads(found[3]) if found[3] else None
        group.append(GroupedRow(found[0], found[1], orjson.loads(found[2]), lists))
    if group:
        yield group
