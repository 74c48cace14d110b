"""Reading: a spreadsheet file → headers and a stream of `SourceRow`s, at flat memory.

Each row carries the number Excel shows for it, so the report and the user's file line up.
Entirely empty rows are yielded (they are reported `skipped`) except trailing ones, which
spreadsheet tools leave behind after formatting and nobody counts as rows.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any

from importer.errors import SourceError

Cell = str | int | float | bool | datetime | date | time | None
DELIMITERS = (",", ";", "\t", "|")
_SAMPLE_BYTES = 64 * 1024
# Python's csv module refuses fields over 128 KiB by default; a spreadsheet cell holds at most
# 32,767 characters, so anything much larger is a broken file, reported as such.
_FIELD_LIMIT = 1024 * 1024
csv.field_size_limit(_FIELD_LIMIT)


@dataclass(frozen=True)
class SourceRow:
    number: int
    cells: tuple[Cell, ...]
    problem: str | None = None

    @property
    def empty(self) -> bool:
        return all(c is None or (isinstance(c, str) and not c.strip()) for c in self.cells)


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

    def rows(self) -> Iterator[SourceRow]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the file."""

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(path: Path, options: ReadOptions) -> Source:
    """Open a CSV/TSV/TXT or XLSX/XLSM file, chosen by its content first, then its name."""
    try:
        with path.open("rb") as fh:
            head = fh.read(_SAMPLE_BYTES)
    except FileNotFoundError:
        raise SourceError(f"Source file {path} does not exist.", "Check the path.") from None
    except IsADirectoryError:
        raise SourceError(f"Source {path} is a directory, not a file.") from None
    except OSError as exc:
        raise SourceError(f"Source file {path} cannot be read: {exc.strerror}.") from None
    if not head:
        raise SourceError(f"Source file {path} is empty.", "Export the spreadsheet again.")
    suffix = path.suffix.lower()
    if head.startswith(b"PK\x03\x04") or suffix in (".xlsx", ".xlsm"):
        return XlsxSource(path, options)
    if suffix in (".xls", ".ods", ".xlsb"):
        raise SourceError(
            f"{path.name}: {suffix} files are not supported yet.",
            "Save it as .xlsx or .csv from Excel or LibreOffice and import that.",
        )
    return CsvSource(path, options, head)


def _detect_encoding(head: bytes, path: Path) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        raise SourceError(
            f"{path.name} is not a text spreadsheet (it contains binary data).",
            "Check that you picked the right file; export it as CSV or XLSX.",
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def sniff_delimiter(sample: str) -> str:
    """The candidate that splits the first lines into the most consistent number of cells."""
    lines = sample.splitlines()[:-1] or sample.splitlines()
    text = "\n".join(lines[:50])
    best, best_score = ",", (0, 0)
    for d in DELIMITERS:
        counts = [len(r) for r in csv.reader(io.StringIO(text), delimiter=d) if any(r)]
        if not counts:
            continue
        mode = max(set(counts), key=counts.count)
        if mode < 2:
            continue
        score = (counts.count(mode), mode)
        if score > best_score:
            best, best_score = d, score
    return best


class CsvSource(Source):
    def __init__(self, path: Path, options: ReadOptions, head: bytes) -> None:
        self.path = path
        self.encoding = options.encoding or _detect_encoding(head, path)
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise SourceError(
                f"Unknown encoding {self.encoding!r}.", "Try utf-8 or cp1252."
            ) from None
        self._fh: IO[str] = path.open(encoding=self.encoding, newline="", errors="strict")
        try:
            sample = self._fh.read(_SAMPLE_BYTES)
        except UnicodeDecodeError:
            self._fh.close()
            raise self._decode_error(1) from None
        self._fh.seek(0)
        self.delimiter = options.delimiter or sniff_delimiter(sample)
        self.description = f"{path.name} (CSV, {self.encoding}, delimiter {self.delimiter!r})"
        # strict: an unterminated quote is a file fault naming its row, not the rest of the
        # file silently swallowed into one cell
        self._reader = csv.reader(self._fh, delimiter=self.delimiter, strict=True)
        self._records = 0
        wanted = options.header_row
        header: list[str] | None = None
        for record in self._next_records():
            self._records += 1
            if (wanted is None and any(c.strip() for c in record)) or self._records == wanted:
                header = record
                break
        if header is None:
            self._fh.close()
            raise SourceError(f"{path.name} has no header row.", "Export the spreadsheet again.")
        self.header_row = self._records
        while header and not header[-1].strip():
            header.pop()
        self.headers = tuple(header)

    def _decode_error(self, row: int) -> SourceError:
        return SourceError(
            f"{self.path.name}: bytes that are not valid {self.encoding} at or after row {row}.",
            "Pass --encoding with the file's real encoding (e.g. cp1252, latin-1, utf-16), "
            "or re-export it as UTF-8.",
        )

    def _next_records(self) -> Iterator[list[str]]:
        try:
            yield from self._reader
        except UnicodeDecodeError:
            raise self._decode_error(self._records + 1) from None
        except csv.Error as exc:
            raise SourceError(
                f"{self.path.name}: row {self._records + 1} cannot be parsed ({exc}).",
                "Check the quoting around that row, or that the file really is a CSV.",
            ) from None

    def rows(self) -> Iterator[SourceRow]:
        width = len(self.headers)
        rows = (_csv_row(self._count(), record, width) for record in self._next_records())
        return _skip_trailing_blanks(rows)

    def _count(self) -> int:
        self._records += 1
        return self._records

    def close(self) -> None:
        self._fh.close()


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


def _csv_row(number: int, record: list[str], width: int) -> SourceRow:
    problem = None
    if len(record) > width:
        extra = [c for c in record[width:] if c.strip()]
        if extra:
            problem = (
                f"row has {len(record)} cells but the header has {width} "
                f"(extra: {extra[0][:40]!r}); check for an unquoted delimiter"
            )
        record = record[:width]
    cells: tuple[Cell, ...] = tuple(c if c.strip() else None for c in record)
    if len(cells) < width:
        cells += (None,) * (width - len(cells))
    return SourceRow(number, cells, problem)


class XlsxSource(Source):
    """Streams a workbook with openpyxl's read-only mode: cached formula values, flat memory."""

    def __init__(self, path: Path, options: ReadOptions) -> None:
        import warnings

        import openpyxl

        self.path = path
        # a file object, not the path: openpyxl refuses names not ending in .xlsx, and a
        # workbook renamed .csv is still a workbook
        self._fh = path.open("rb")
        try:
            with warnings.catch_warnings():
                # openpyxl warns about styles/extensions it ignores: not the user's problem
                warnings.simplefilter("ignore")
                self._wb = openpyxl.load_workbook(self._fh, read_only=True, data_only=True)
        except Exception as exc:
            self._fh.close()
            raise SourceError(
                f"{path.name} is not a readable XLSX workbook ({type(exc).__name__}: {exc}).",
                "Open it in Excel or LibreOffice and save it again as .xlsx.",
            ) from None
        names = self._wb.sheetnames
        if options.sheet is not None:
            if options.sheet not in names:
                self.close()
                raise SourceError(
                    f"{path.name} has no sheet {options.sheet!r}.",
                    f"Its sheets are: {', '.join(repr(n) for n in names)}.",
                )
            ws: Any = self._wb[options.sheet]
        else:
            visible = [w for w in self._wb.worksheets if w.sheet_state == "visible"]
            if not visible:
                self.close()
                raise SourceError(f"{path.name} has no visible sheet.")
            ws = visible[0]
        self.description = f"{path.name} (XLSX, sheet {ws.title!r})"
        self._iter = self._guarded(ws.iter_rows(values_only=True))
        self._number = 0
        header: tuple[Cell, ...] | None = None
        for values in self._iter:
            self._number += 1
            if options.header_row is None and any(_present(v) for v in values):
                header = values
                break
            if self._number == options.header_row:
                header = values
                break
        if header is None:
            self.close()
            raise SourceError(f"{path.name}: sheet {ws.title!r} has no header row.")
        self.header_row = self._number
        names_ = [_header_text(v) for v in header]
        while names_ and not names_[-1].strip():
            names_.pop()
        self.headers = tuple(names_)

    def _guarded(self, it: Iterator[tuple[Any, ...]]) -> Iterator[tuple[Cell, ...]]:
        try:
            yield from it
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError) as exc:
            raise SourceError(
                f"{self.path.name}: the sheet is damaged after row {self._number} "
                f"({type(exc).__name__}).",
                "Open it in Excel or LibreOffice and save it again as .xlsx.",
            ) from None

    def rows(self) -> Iterator[SourceRow]:
        return _skip_trailing_blanks(self._rows(len(self.headers)))

    def _rows(self, width: int) -> Iterator[SourceRow]:
        for values in self._iter:
            self._number += 1
            cells = tuple(v if _present(v) else None for v in values[:width])
            if len(cells) < width:
                cells += (None,) * (width - len(cells))
            extra = [v for v in values[width:] if _present(v)]
            problem = None
            if extra:
                problem = (
                    f"row has a value beyond the last header column ({str(extra[0])[:40]!r}); "
                    "give that column a header or remove the value"
                )
            yield SourceRow(self._number, cells, problem)

    def close(self) -> None:
        self._wb.close()
        self._fh.close()


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _header_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
