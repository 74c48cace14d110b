"""Output tables: CSV (UTF-8 with BOM, the source's delimiter, formula-injection guard),
XLSX (typed strings, header frozen, auto-filter, errors highlighted, a second sheet past
Excel's row limit) or JSONL (raw), chosen by the file's extension; always written
atomically (a temp file, then a rename).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import orjson

from importer.errors import UsageError

FORMATS = (".csv", ".xlsx", ".jsonl")
EXCEL_ROWS = 1_048_576  # per sheet, header included
EXCEL_CELL = 32_767  # characters an XLSX cell holds
_INJECTION = ("=", "+", "-", "@", "\t", "\r")


def check_format(path: Path) -> None:
    if path.suffix.lower() not in FORMATS:
        raise UsageError(
            f"Cannot write {path} as {path.suffix or 'a file without extension'}.",
            f"Use one of: {', '.join(FORMATS)}.",
        )


def _guarded(cells: Sequence[Any]) -> list[Any]:
    """Spreadsheet formula-injection guard: a leading `'` makes Excel show text, not run it."""
    return [
        ("'" + c if c.startswith(_INJECTION) else c) if c.__class__ is str else c for c in cells
    ]


class Table:
    """One output table; `write` takes a row of cells and whether it is an error row,
    `write_all` many rows whose cell `flag` says `error` when they are error rows."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.path = path
        self.columns = tuple(columns)
        self.tmp = path.with_name(path.name + ".tmp")
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, cells: Sequence[Any], highlight: bool) -> None:
        raise NotImplementedError

    def write_all(self, rows: Iterable[Sequence[Any]], flag: int) -> None:
        for cells in rows:
            self.write(cells, cells[flag] == "error")

    overflowed = False  # XLSX only: a cell longer than a spreadsheet cell holds was cut

    def finish(self) -> None:
        self.tmp.replace(self.path)


class _CsvTable(Table):
    def __init__(
        self, path: Path, columns: Sequence[str], head: bool = True, delimiter: str = ","
    ) -> None:
        """`head`: the BOM and the header line (not in the parts after the first)."""
        super().__init__(path, columns)
        encoding = "utf-8-sig" if head else "utf-8"
        self.fh: IO[str] = self.tmp.open("w", encoding=encoding, newline="")
        self.out = csv.writer(self.fh, delimiter=delimiter)
        if head:
            self.out.writerow(self.columns)

    def write(self, cells: Sequence[Any], highlight: bool) -> None:
        self.out.writerow(_guarded(cells))

    def write_all(self, rows: Iterable[Sequence[Any]], flag: int) -> None:
        self.out.writerows(map(_guarded, rows))  # the report's hot loop: no call per row

    def finish(self) -> None:
        self.fh.close()
        super().finish()


class _JsonlTable(Table):
    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        super().__init__(path, columns)
        self.fh: IO[bytes] = self.tmp.open("wb")

    def write(self, cells: Sequence[Any], highlight: bool) -> None:
        line = dict(zip(self.columns, cells, strict=False))
        if len(cells) > len(self.columns):  # a rejected row's cells past the header
            line["extra"] = list(cells[len(self.columns) :])
        self.fh.write(orjson.dumps(line) + b"\n")

    def finish(self) -> None:
        self.fh.close()
        super().finish()


class _XlsxTable(Table):
    """openpyxl's write-only mode streams rows to disk: memory stays flat."""

    def __init__(self, path: Path, columns: Sequence[str], title: str) -> None:
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Font, PatternFill

        super().__init__(path, columns)
        self.wb = Workbook(write_only=True)
        self.bold = Font(bold=True)
        self.red = PatternFill("solid", fgColor="FFC7CE")
        self.wrap = Alignment(wrap_text=True, vertical="top")
        self.sheets = 0
        self.rows = EXCEL_ROWS
        self.ws: Any = None
        self.overflowed = False  # a cell was cut at EXCEL_CELL characters
        self.title = title  # of its sheets
        self.widths: list[int] | None = None  # decided on the first WIDTH_SAMPLE rows
        self.sample: list[tuple[Sequence[Any], bool]] = []

    def _new_sheet(self) -> None:
        from openpyxl.utils import get_column_letter

        self._close_sheet()
        self.sheets += 1
        name = self.title if self.sheets == 1 else f"{self.title} ({self.sheets})"
        self.ws = self.wb.create_sheet(name)
        self.ws.freeze_panes = "A2"
        self.last_column = get_column_letter(len(self.columns))
        _printable(self.ws, self.widths or [])
        self.ws.append([self._cell(c, font=self.bold) for c in self.columns])
        self.rows = 1

    def _close_sheet(self) -> None:
        if self.ws is not None:
            self.ws.auto_filter.ref = f"A1:{self.last_column}{self.rows}"

    def _cell(self, value: Any, font: Any = None, fill: Any = None) -> Any:
        from openpyxl.cell import WriteOnlyCell

        if isinstance(value, str) and len(value) > EXCEL_CELL:
            value = value[:EXCEL_CELL]
            self.overflowed = True
        cell = WriteOnlyCell(self.ws, value=value)
        if isinstance(value, str):
            cell.data_type = "s"  # never a formula, whatever the text starts with
        if font is not None:
            cell.font = font
        if fill is not None:
            cell.fill = fill
        if isinstance(value, str) and len(value) > MAX_WIDTH:
            cell.alignment = self.wrap  # read whole within its column, not cut
        return cell

    def write(self, cells: Sequence[Any], highlight: bool) -> None:
        if self.widths is None:  # columns must be sized before the first row is written
            self.sample.append((cells, highlight))
            if len(self.sample) >= WIDTH_SAMPLE:
                self._flush_sample()
            return
        if self.rows >= EXCEL_ROWS:
            self._new_sheet()
        fill = self.red if highlight else None
        self.ws.append([self._cell(c, fill=fill) for c in cells])
        self.rows += 1

    def _flush_sample(self) -> None:
        self.widths = _widths(self.columns, [cells for cells, _ in self.sample])
        sample, self.sample = self.sample, []
        for cells, highlight in sample:
            self.write(cells, highlight)

    def finish(self) -> None:
        if self.widths is None:
            self._flush_sample()
        if self.ws is None:
            self._new_sheet()
        self._close_sheet()
        self.wb.save(self.tmp)
        super().finish()


WIDTH_SAMPLE = 1_000  # rows an XLSX table's column widths are measured on (memory stays flat)
MAX_WIDTH = 60  # characters: a longer cell wraps within it


def _widths(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[int]:
    """Each column as wide as its header and its widest cell in the sample (within 8 to
    MAX_WIDTH characters), so that emails, warnings and `contact_id` are not cut."""
    widths = [len(str(c)) for c in columns]
    for cells in rows:
        for i, cell in enumerate(cells[: len(widths)]):
            if cell is not None:
                widths[i] = max(widths[i], max(map(len, str(cell).splitlines() or [""])))
    return [min(max(w + 2, 8), MAX_WIDTH) for w in widths]


def _printable(ws: Any, widths: Sequence[int]) -> None:
    """Column widths, and a print layout a person can read: landscape, as wide as one page,
    the header row on every page, gridlines."""
    from openpyxl.utils import get_column_letter

    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.gridLines = True
    ws.print_title_rows = "1:1"


def open_table(
    path: Path,
    columns: Sequence[str],
    head: bool = True,
    delimiter: str = ",",
    title: str = "Report",
) -> Table:
    """`head`: a CSV's BOM and header line; `title`: an XLSX file's sheet name."""
    check_format(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _CsvTable(path, columns, head, delimiter)
    if suffix == ".jsonl":
        return _JsonlTable(path, columns)
    return _XlsxTable(path, columns, title)
