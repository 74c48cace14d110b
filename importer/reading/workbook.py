"""Workbooks: XLSX/XLSM streamed with openpyxl, XLS/XLSB/ODS through calamine."""

from __future__ import annotations

import zipfile
from collections.abc import Generator, Iterator, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from importer.errors import ImporterError, SourceError
from importer.reading import xlsx
from importer.reading.guards import SUFFIXES, WORKBOOK_SUFFIXES, failure_reason
from importer.reading.rows import EXCEL_CELL_LIMIT, Cell, ReadOptions, SourceRow, Table, present


def _parser_failure(exc: BaseException) -> bool:
    """Whether a parser's exception is the file's fault, not an interrupt or our own error.

    calamine is Rust: a panic on a malformed file surfaces as pyo3's PanicException, which
    derives from BaseException, so it is named here rather than caught with the interrupts.
    """
    if isinstance(exc, ImporterError):  # SourceError, or Interrupted by SIGINT/SIGTERM
        return False
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


class _Workbook(Table):
    """Shared by the workbook readers: sheet choice, typed cells, row problems."""

    kind: str
    _cell_limit: int | None = EXCEL_CELL_LIMIT

    def _pick_sheet(self, names: list[str], visible: list[str], wanted: str | None) -> str:
        if wanted is not None:
            if wanted not in names:
                raise SourceError(
                    f"{self.path.name} has no sheet {wanted!r}.",
                    f"Its sheets are: {', '.join(repr(n) for n in names)}.",
                )
            return wanted
        if not visible:
            raise SourceError(f"{self.path.name} has no visible sheet.")
        return visible[0]

    def _unreadable(self, exc: BaseException) -> SourceError:
        return SourceError(
            f"{self.path.name} is not a readable {self.kind} workbook ({failure_reason(exc)}).",
            "Open it in Excel or LibreOffice and save it again as .xlsx.",
        )

    def _damaged(self, last: int, exc: BaseException) -> SourceError:
        return SourceError(
            f"{self._where} is damaged after row {last} ({failure_reason(exc)}).",
            "Open it in Excel or LibreOffice and save it again as .xlsx.",
        )

    def _row(self, number: int, values: Sequence[Any], width: int) -> SourceRow:
        """Cells past the header's width are kept up to the last one with a value (see
        CsvSource._row); the row is then an error."""
        last = width
        for i in range(len(values) - 1, width - 1, -1):
            if present(values[i]):
                last = i + 1
                break
        cells = tuple(v if present(v) else None for v in values[:last])
        if len(cells) < width:
            cells += (None,) * (width - len(cells))
        problems = []
        extra = next((v for v in values[width:] if present(v)), None)
        if extra is not None:
            problems.append(
                f"row has a value beyond the last header column ({str(extra)[:40]!r}); "
                "give that column a header or remove the value"
            )
        if self._cell_limit is not None:
            for column, v in enumerate(values, 1):
                if isinstance(v, str) and len(v) > self._cell_limit:
                    problems.append(
                        f"the cell in column {_column_letter(column)} holds {len(v):,} "
                        f"characters, more than Excel's limit of {self._cell_limit:,} "
                        "(the file was not saved by Excel, or is damaged)"
                    )
                    break
        return SourceRow(number, cells, "; ".join(problems) or None)


def _column_letter(index: int) -> str:
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


class XlsxSource(_Workbook):
    """XLSX/XLSM streamed from the sheet's XML (xlsx.py): cached formula values, flat memory
    but for the shared-strings table, which the workbook stores apart from its sheets."""

    kind = "XLSX"

    def __init__(self, path: Path, options: ReadOptions) -> None:
        self.path = path
        self._number = 0
        self._rows: Generator[tuple[Cell, ...], None, None] | None = None
        self._archive = zipfile.ZipFile(path)
        try:
            book = xlsx.read_book(self._archive)
            sheets = [s for s in book.sheets if s.path]
            visible = [s.name for s in sheets if s.visible]
            name = self._pick_sheet([s.name for s in book.sheets], visible, options.sheet)
            sheet = next((s for s in sheets if s.name == name), None)
            if sheet is None or sheet.path not in self._archive.NameToInfo:
                raise SourceError(
                    f"{path.name}: sheet {name!r} is a chart or is missing from the file.",
                    "Pick a sheet of data with --sheet.",
                )
            strings = xlsx.read_strings(self._archive, book.strings)
            styles = xlsx.read_date_styles(self._archive, book.styles)
            self._rows = xlsx.sheet_rows(self._archive, sheet.path, strings, styles, book.date1904)
            self._where = f"{path.name}: sheet {name!r}"
            self.description = f"{path.name} (XLSX, sheet {name!r})"
            self._open(self._guarded(self._rows), options)
        except BaseException as exc:
            self.close()
            if _parser_failure(exc):
                raise self._unreadable(exc) from None
            raise

    def _guarded(self, rows: Iterator[tuple[Cell, ...]]) -> Iterator[tuple[Cell, ...]]:
        """Any exception from the parser is the file's fault (zip, zlib, XML, a bad
        number...): it ends the run naming the last row read."""
        while True:
            try:
                values = next(rows, None)
            except BaseException as exc:
                if not _parser_failure(exc):
                    raise
                if not self._number:
                    raise self._unreadable(exc) from None
                raise self._damaged(self._number, exc) from None
            if values is None:
                return
            self._number += 1
            yield values

    def close(self) -> None:
        if self._rows is not None:
            self._rows.close()  # a generator holding the sheet's zip member open
        self._archive.close()


class CalamineSource(_Workbook):
    """XLS, XLSB and ODS through calamine: the first visible sheet unless --sheet.

    calamine loads the whole workbook when it opens it, so memory grows with the file:
    fine for XLS (65,536 rows at most) and for ODS of the sizes people keep as ODS, which
    `zip_kind` has measured before this runs. Large lists belong in CSV or XLSX.
    """

    _DAMAGED_HINT = "Open it in Excel or LibreOffice and save it again as .xlsx."

    def __init__(self, path: Path, options: ReadOptions, kind: str) -> None:
        try:  # imported here: CSV and XLSX users never load it
            from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum
        except ImportError:
            raise SourceError(
                f"{path.name} is an {kind} workbook, and reading those needs the "
                "python-calamine package, which is not installed.",
                "Install it (pip install python-calamine), or save the file as .xlsx or .csv.",
            ) from None

        self.path = path
        self.kind = kind
        if kind == "ODS":
            self._cell_limit = None  # LibreOffice has no 32,767-character limit
        self._number = 0
        self._wb: Any = None
        try:
            suffix = path.suffix.lower()
            if suffix in SUFFIXES[kind] or suffix not in WORKBOOK_SUFFIXES:
                self._wb = CalamineWorkbook.from_path(path)
            else:  # calamine picks its parser by the name: a misnamed file goes by content
                with path.open("rb") as fh:
                    self._wb = CalamineWorkbook.from_filelike(fh)
            sheets = self._wb.sheets_metadata
            visible = [
                s.name
                for s in sheets
                if s.visible == SheetVisibleEnum.Visible and s.typ == SheetTypeEnum.WorkSheet
            ]
            name = self._pick_sheet([s.name for s in sheets], visible, options.sheet)
            sheet = self._wb.get_sheet_by_name(name)
            self._where = f"{path.name}: sheet {name!r}"
            self.description = f"{path.name} ({kind}, sheet {name!r})"
            self._open(self._converted(sheet), options)
        except BaseException as exc:
            self.close()
            if not _parser_failure(exc):
                raise
            if _password_protected(path, exc):
                raise SourceError(
                    f"{path.name} is protected by a password.",
                    "Open it in Excel or LibreOffice, remove the password and save it again "
                    "(or export it as CSV).",
                ) from None
            raise self._unreadable(exc) from None

    def _converted(self, sheet: Any) -> Iterator[tuple[Cell, ...]]:
        """Rows as the XLSX reader gives them, aligned to column A.

        calamine yields the rows from the first (blank ones included) but its columns start
        at the first used one; empty cells are "", numbers floats, dates `date`s.
        """
        if sheet.start is None:  # an empty sheet: calamine has no rows to iterate
            return
        pad = (None,) * sheet.start[1]
        rows = sheet.iter_rows()
        while True:
            try:
                values = next(rows, None)
            except BaseException as exc:
                if not _parser_failure(exc):
                    raise
                raise self._damaged(self._number, exc) from None
            if values is None:
                return
            self._number += 1
            yield pad + tuple(_calamine_cell(v) for v in values)

    def close(self) -> None:
        if self._wb is not None:
            self._wb.close()
            self._wb = None


def _calamine_cell(value: Any) -> Cell:
    if isinstance(value, str):
        return value or None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, timedelta):  # a duration format ([h]:mm): shown as Excel shows it
        seconds = int(value.total_seconds())
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return value  # type: ignore[no-any-return]


def _password_protected(path: Path, exc: BaseException) -> bool:
    """An encrypted OOXML file is an OLE container holding an `EncryptedPackage` stream."""
    if type(exc).__name__ == "PasswordError":
        return True
    needle = "EncryptedPackage".encode("utf-16-le")
    try:
        with path.open("rb") as fh:
            tail = b""
            while chunk := fh.read(1 << 20):
                if needle in tail + chunk:
                    return True
                tail = chunk[-len(needle) :]
    except OSError:
        return False
    return False
