"""The rejects file: the source rows to fix and import again, as they were (SPEC §6).

Every cell the row held (cells past the header's width in columns of their own), its
source `row` first and one `error` column; a rejects file imported again keeps its `row`
and `error` columns where they are and refills them, never adding a second of either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from importer.cells import cell_text
from importer.mapping import header_key
from importer.reading import Source
from importer.reporting.tables import Table, open_table


def write_rejects(
    source: Callable[[], Source],
    rejected: Callable[[], Iterable[tuple[int, str]]],
    path: Path,
    delimiter: str = ",",
) -> Path | None:
    """The rows that `rejected` numbers (row, why), in source order, read from the source
    that `source` opens. An XLSX cell holds 32,767 characters at most: when a row holds a
    longer one, the file is also written whole as CSV beside it, and that path returned
    (nothing typed is lost)."""
    with source() as opened:
        table = _write(opened, rejected(), path, delimiter)
    if not table.overflowed:
        return None
    whole = path.with_name(f"{path.stem}.whole.csv")
    with source() as opened:
        _write(opened, rejected(), whole, delimiter)
    return whole


def _write(
    source: Source, rejected: Iterable[tuple[int, str]], path: Path, delimiter: str
) -> Table:
    keys = [header_key(h) for h in source.headers]
    at_row = keys.index("row") if "row" in keys else None
    at_error = keys.index("error") if "error" in keys else None
    columns = [
        *(["row"] if at_row is None else []),
        *source.headers,
        *(["error"] if at_error is None else []),
    ]
    width = len(source.headers)
    table = open_table(path, columns, delimiter=delimiter, title="Rejects")
    wanted = iter(rejected)
    want = next(wanted, None)
    for row in source.rows():
        if want is None:
            break
        if row.number != want[0]:
            continue
        cells: list[object] = [cell_text(c) for c in row.cells]
        cells += [""] * (width - len(cells))
        own, extra = cells[:width], cells[width:]
        if at_row is not None:
            own[at_row] = row.number
        if at_error is not None:
            own[at_error] = want[1]
        table.write(
            [
                *([row.number] if at_row is None else []),
                *own,
                *([want[1]] if at_error is None else []),
                *extra,
            ],
            True,
        )
        want = next(wanted, None)
    table.finish()
    return table
