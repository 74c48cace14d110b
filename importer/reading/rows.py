"""Rows as every reader gives them: headers found, Excel's row numbers, trailing blanks
dropped. A reader (CSV, workbook) gives `Table` its raw rows; the rest is shared."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, NamedTuple

from importer.cells import cell_text
from importer.errors import SourceError

Cell = str | int | float | bool | datetime | date | time | None
EXCEL_CELL_LIMIT = 32_767
# Header detection looks at the first rows that hold anything, within these bounds.
_HEADER_WINDOW = 30
_HEADER_WINDOW_CELLS = 200_000
_HEADER_WINDOW_CHARS = 8 * 1024 * 1024


class SourceRow(NamedTuple):
    """A data row: a tuple, because every row of the file is one, and crosses to a worker
    process (a frozen dataclass cost a µs more to build, on each side)."""

    number: int
    cells: tuple[Cell, ...]
    problem: str | None = None

    @property
    def empty(self) -> bool:
        """On every row, twice: a plain loop (all() over a generator, or a cached_property
        with its lock, cost several times more than the check)."""
        for c in self.cells:
            if c is not None and (not isinstance(c, str) or c.strip()):
                return False
        return True


@dataclass(frozen=True)
class ReadOptions:
    sheet: str | None = None
    header_row: int | None = None
    delimiter: str | None = None
    encoding: str | None = None


class Source(AbstractContextManager["Source"]):
    """An open source file: `headers`, `header_row` and an iterator of data rows."""

    headers: tuple[str, ...]
    header_row: int
    description: str
    delimiter = ","  # a CSV source's own; what its CSV outputs use too

    def rows(self) -> Iterator[SourceRow]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the file."""

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- header and rows


@dataclass(frozen=True)
class _Header:
    number: int
    values: Sequence[Any]
    ahead: dict[int, Sequence[Any]]  # non-empty rows read past the header while looking
    scanned: int  # the last row read while looking


def _find_header(rows: Iterator[Sequence[Any]], wanted: int | None) -> _Header | None:
    """The header row: `wanted`, else the first row that looks like column names.

    Among the first non-empty rows, the header is the first with at least two text cells
    that is at least half as full as the rows after it, up to the next row with two text
    cells (the first data row, when it is the header). A title alone on its row never wins;
    nor does "Leads | Milano 2026" above a five-column header, nor a title above a sparse
    table (its header is full); one stray wide data row further down changes nothing. When
    no row qualifies (a one-column file), the first non-empty row is the header.
    """
    number = 0
    if wanted is not None:
        for values in rows:
            number += 1
            if number == wanted:
                return _Header(number, values, {}, number)
        return None
    window: list[tuple[int, Sequence[Any]]] = []
    cells = chars = 0
    for values in rows:
        number += 1
        if not any(present(v) for v in values):
            continue
        window.append((number, values))
        cells += len(values)
        chars += sum(len(v) for v in values if isinstance(v, str))
        if (
            len(window) == _HEADER_WINDOW
            or cells >= _HEADER_WINDOW_CELLS
            or chars >= _HEADER_WINDOW_CHARS
        ):
            break
    if not window:
        return None
    filled = [sum(1 for v in values if present(v)) for _, values in window]
    texts = [sum(1 for v in values if isinstance(v, str) and v.strip()) for _, values in window]
    chosen = 0
    for i in range(len(window)):
        if texts[i] < 2:
            continue
        following = 0
        for j in range(i + 1, len(window)):
            following = max(following, filled[j])
            if texts[j] >= 2:
                break
        if 2 * texts[i] >= following:
            chosen = i
            break
    header_number, header = window[chosen]
    return _Header(header_number, header, dict(window[chosen + 1 :]), number)


class Table(Source):
    """What every reader shares: the header, Excel row numbers, padding and trimming.

    A subclass gives `_open` its raw rows, numbered from 1 as the spreadsheet shows them,
    and says in `_row` how one becomes a `SourceRow`.
    """

    path: Path
    _where: str
    _no_header_hint = ""

    def _open(self, raw: Iterator[Sequence[Any]], options: ReadOptions) -> None:
        self._raw = raw
        found = _find_header(raw, options.header_row)
        if found is None:
            if options.header_row is None:
                raise SourceError(f"{self._where} has no header row.", self._no_header_hint)
            raise SourceError(
                f"{self._where} has no row {options.header_row}: --header-row is past the end.",
                "Give the number Excel shows for the row that holds the column names.",
            )
        if not any(present(v) for v in found.values):
            raise SourceError(
                f"{self._where}: row {found.number} is empty, so it cannot be the header.",
                "Give --header-row the number Excel shows for the row with the column names.",
            )
        names = [_header_text(v) for v in found.values]
        while names and not names[-1].strip():
            names.pop()
        self.headers = tuple(names)
        self.header_row = found.number
        self._ahead = found.ahead
        self._scanned = found.scanned

    def rows(self) -> Iterator[SourceRow]:
        return _skip_trailing_blanks(self._numbered())

    def _numbered(self) -> Iterator[SourceRow]:
        width = len(self.headers)
        for number in range(self.header_row + 1, self._scanned + 1):
            yield self._row(number, self._ahead.get(number, ()), width)
        self._ahead = {}
        number = self._scanned
        for values in self._raw:
            number += 1
            yield self._row(number, values, width)

    def _row(self, number: int, values: Sequence[Any], width: int) -> SourceRow:
        raise NotImplementedError


def _skip_trailing_blanks(rows: Iterator[SourceRow]) -> Iterator[SourceRow]:
    """Hold back a run of empty rows until a non-empty one follows (numbers are consecutive)."""
    first_blank: int | None = None
    for row in rows:
        if row.empty:
            if first_blank is None:
                first_blank = row.number
            continue
        if first_blank is not None:
            for number in range(first_blank, row.number):
                yield SourceRow(number, ())
            first_blank = None
        yield row


def present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _header_text(value: Any) -> str:
    """A header cell as the spreadsheet shows it: text as written (spaces kept, header_key
    ignores them), other cells as a person reads them (42, not 42.0; a date as 2021-01-01)."""
    return value if isinstance(value, str) else cell_text(value)
