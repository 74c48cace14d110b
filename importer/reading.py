"""Reading: a spreadsheet file → headers and a stream of `SourceRow`s.

Each row carries the number Excel shows for it, so the report and the user's file line up.
Entirely empty rows are yielded (they are reported `skipped`) except trailing ones, which
spreadsheet tools leave behind after formatting and nobody counts as rows.

CSV and XLSX are streamed at flat memory. XLS, XLSB and ODS go through calamine, which loads
a workbook whole (those formats cannot be read row by row); ODS is measured first, because
its repeat attributes let a tiny file stand for billions of cells. Whatever is wrong with a
file ends as one `SourceError` naming the file and, where it can, the row.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import islice
from pathlib import Path
from typing import IO, Any, NamedTuple
from xml.parsers import expat

from importer.errors import ImporterError, SourceError

Cell = str | int | float | bool | datetime | date | time | None
DELIMITERS = (",", ";", "\t", "|")
_SAMPLE_BYTES = 64 * 1024
# Python's csv module refuses fields over 128 KiB by default; a spreadsheet cell holds at most
# 32,767 characters, so anything much larger is a broken file, reported as such.
_FIELD_LIMIT = 1024 * 1024
csv.field_size_limit(_FIELD_LIMIT)
# A CSV record is read line by line; one longer than this (16,384 columns of 256 characters)
# is a file without line breaks or with a quote never closed, and is refused before it fills
# memory.
_RECORD_LIMIT = 4 * 1024 * 1024
EXCEL_CELL_LIMIT = 32_767
# Header detection looks at the first rows that hold anything, within these bounds.
_HEADER_WINDOW = 30
_HEADER_WINDOW_CELLS = 200_000
_HEADER_WINDOW_CHARS = 8 * 1024 * 1024
# Zip bombs: what a workbook may expand to before anything parses it.
_ZIP_TOTAL_LIMIT = 2 * 1024**3
_ZIP_RATIO_LIMIT = 200
_ZIP_RATIO_FLOOR = 50 * 1024**2
# calamine keeps about 130 bytes per cell: 10 million cells is over a gigabyte already.
_ODS_CELL_LIMIT = 10_000_000
_ODS_MAX_ROWS = 1_048_576
_ODS_MAX_COLUMNS = 16_384
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
# The file name endings each workbook format goes by.
_SUFFIXES = {
    "XLSX": (".xlsx", ".xlsm", ".xltx", ".xltm"),
    "XLS": (".xls", ".xla"),
    "XLSB": (".xlsb",),
    "ODS": (".ods",),
}
_WORKBOOK_SUFFIXES = frozenset(s for suffixes in _SUFFIXES.values() for s in suffixes)
_MARKUP = (b"<!doctype html", b"<html", b"<?xml", b"<table")
# errors="surrogateescape" turns each undecodable byte into one of these, so a bad byte is
# found in the line that holds it instead of in whichever 8 KiB chunk the decoder was on.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


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


def open_source(path: Path, options: ReadOptions) -> Source:
    """Open a CSV/TSV/TXT, XLSX/XLSM, XLS, XLSB or ODS file, chosen by its content first."""
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
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        kind = _zip_kind(path)
        return XlsxSource(path, options) if kind == "XLSX" else CalamineSource(path, options, kind)
    if head.startswith(_OLE_MAGIC):
        return CalamineSource(path, options, "XLS")
    if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:16].lower().startswith(_MARKUP):
        raise SourceError(
            f"{path.name} is a web page or an XML file, not a spreadsheet "
            "(some tools save HTML tables with an .xls name).",
            "Open it in Excel or LibreOffice and save it as .xlsx or .csv.",
        )
    suffix = path.suffix.lower()
    if suffix in _WORKBOOK_SUFFIXES and b"\x00" in head and not _utf16_without_bom(head):
        kind = next(k for k, suffixes in _SUFFIXES.items() if suffix in suffixes)
        raise SourceError(
            f"{path.name} is not a readable {kind} workbook: it is damaged, or not a spreadsheet.",
            "Open it in Excel or LibreOffice and save it again as .xlsx.",
        )
    return CsvSource(path, options, head)


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
        if not any(_present(v) for v in values):
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
    filled = [sum(1 for v in values if _present(v)) for _, values in window]
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


class _Table(Source):
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
        if not any(_present(v) for v in found.values):
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


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _header_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --------------------------------------------------------------------------- CSV


def _utf16_without_bom(head: bytes) -> str | None:
    """'utf-16-le'/'-be' when every other byte is zero, as in Latin text saved as UTF-16."""
    sample = head[: 4096 - 4096 % 2] if len(head) > 1 else b""
    even, odd = sample[0::2], sample[1::2]
    if len(odd) < 8:
        return None
    for codec, zeros, text in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if zeros.count(0) >= 0.7 * len(zeros) and text.count(0) <= 0.05 * len(text):
            try:
                codecs.getincrementaldecoder(codec)().decode(sample, final=False)
            except UnicodeDecodeError:
                return None
            return codec
    return None


def _detect_encoding(head: bytes, path: Path) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        utf16 = _utf16_without_bom(head)
        if utf16:
            return utf16
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


class CsvSource(_Table):
    _no_header_hint = "Export the spreadsheet again."

    def __init__(self, path: Path, options: ReadOptions, head: bytes) -> None:
        self.path = path
        self._where = path.name
        self.encoding = options.encoding or _detect_encoding(head, path)
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise SourceError(
                f"Unknown encoding {self.encoding!r}.", "Try utf-8 or cp1252."
            ) from None
        self._records = 0
        self._fh: IO[str] = path.open(encoding=self.encoding, newline="", errors="surrogateescape")
        try:
            try:
                sample = self._fh.read(_SAMPLE_BYTES)
            except UnicodeDecodeError:
                raise self._undecodable(1, None) from None
            self._fh.seek(0)
            self.delimiter = options.delimiter or sniff_delimiter(sample)
            self.description = f"{path.name} (CSV, {self.encoding}, delimiter {self.delimiter!r})"
            # strict: an unterminated quote is a file fault naming its row, not the rest of the
            # file silently swallowed into one cell
            reader = csv.reader(self._lines(), delimiter=self.delimiter, strict=True)
            self._open(self._counted(reader), options)
        except BaseException:
            self._fh.close()
            raise

    def _lines(self) -> Iterator[str]:
        """The file's lines, checked: every byte decoded, no record past `_RECORD_LIMIT`."""
        readline = self._fh.readline
        record, size = -1, 0
        while line := readline(_RECORD_LIMIT):
            if self._records != record:  # the csv reader has finished a record since
                record, size = self._records, 0
            size += len(line)
            if size >= _RECORD_LIMIT:
                raise self._too_large(
                    self._records + 1, f"is longer than {_RECORD_LIMIT:,} characters"
                )
            if not line.isascii():
                bad = _ESCAPED_BYTE.search(line)
                if bad:
                    raise self._undecodable(self._records + 1, ord(bad.group()) - 0xDC00)
            yield line

    def _counted(self, reader: Iterator[list[str]]) -> Iterator[list[str]]:
        try:
            for record in reader:
                self._records += 1
                yield record
        except UnicodeDecodeError:  # a codec that cannot escape the bytes (UTF-16)
            raise self._undecodable(self._records + 1, None) from None
        except csv.Error as exc:
            row = self._records + 1
            if str(exc).startswith("field larger than field limit"):
                raise self._too_large(
                    row, f"has a cell of more than {_FIELD_LIMIT:,} characters"
                ) from None
            raise SourceError(
                f"{self.path.name}: row {row} cannot be parsed ({exc}).",
                "Check the quoting around that row, or that the file really is a CSV.",
            ) from None

    def _undecodable(self, row: int, byte: int | None) -> SourceError:
        where = f"at or after row {row}" if byte is None else f"in row {row} (0x{byte:02X})"
        return SourceError(
            f"{self.path.name}: bytes that are not valid {self.encoding} {where}.",
            "Pass --encoding with the file's real encoding (e.g. cp1252, latin-1, utf-16), "
            "or re-export it as UTF-8.",
        )

    def _too_large(self, row: int, what: str) -> SourceError:
        return SourceError(
            f"{self.path.name}: row {row} {what}, far more than a spreadsheet holds.",
            "Check for a quote that is opened and never closed, or that the file really is a CSV.",
        )

    def _row(self, number: int, values: Sequence[Any], width: int) -> SourceRow:
        """Cells past the header's width are kept (the rejects file writes them back: they
        are often exactly what the user must fix); the row is then an error."""
        problem = None
        if len(values) > width:
            extra = [c for c in values[width:] if c.strip()]
            if extra:
                problem = (
                    f"row has {len(values)} cells but the header has {width} "
                    f"(extra: {extra[0][:40]!r}); check for an unquoted delimiter"
                )
            else:
                values = values[:width]
        cells: tuple[Cell, ...] = tuple(c if c.strip() else None for c in values)
        if len(cells) < width:
            cells += (None,) * (width - len(cells))
        return SourceRow(number, cells, problem)

    def close(self) -> None:
        self._fh.close()


# --------------------------------------------------------------------------- workbooks


def _zip_kind(path: Path) -> str:
    """XLSX, XLSB or ODS, from the parts of the zip; refuses zip bombs before any parser runs.

    The sizes checked are the ones the zip declares; Python's zipfile never inflates a part
    past its declared size (it fails the CRC check instead), so a lying zip is caught too.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
            _check_zip_sizes(path, parts)
            names = {p.filename for p in parts}
            mimetype = archive.getinfo("mimetype") if "mimetype" in names else None
            if mimetype is not None and _is_ods(archive, mimetype):
                _check_ods_cells(path, archive)
                return "ODS"
            if "xl/workbook.xml" in names:
                return "XLSX"
            if "xl/workbook.bin" in names:
                return "XLSB"
    except zipfile.BadZipFile as exc:
        if str(exc) == "File is not a zip file":
            raise SourceError(
                f"{path.name} is incomplete: it starts like an XLSX or ODS workbook but its end "
                "is missing (cut short by a download, a copy or a full disk?).",
                "Download or export it again.",
            ) from None
        raise SourceError(
            f"{path.name} is a damaged zip archive ({exc}).",
            "Open it in Excel or LibreOffice and save it again as .xlsx.",
        ) from None
    except (OSError, EOFError, RuntimeError, NotImplementedError) as exc:
        raise SourceError(
            f"{path.name} is a damaged zip archive ({type(exc).__name__}: {exc}).",
            "Open it in Excel or LibreOffice and save it again as .xlsx.",
        ) from None
    raise SourceError(
        f"{path.name} is a zip archive with no spreadsheet in it "
        "(a Word or PowerPoint file, or another archive?).",
        "Check that you picked the right file; export it as .xlsx or .csv.",
    )


def _is_ods(archive: zipfile.ZipFile, mimetype: zipfile.ZipInfo) -> bool:
    return mimetype.file_size < 200 and archive.read(mimetype).strip().startswith(_ODS_MIMETYPE)


def _check_zip_sizes(path: Path, parts: list[zipfile.ZipInfo]) -> None:
    total = sum(p.file_size for p in parts)
    if total > _ZIP_TOTAL_LIMIT:
        raise SourceError(
            f"{path.name} looks like a zip bomb: it would expand to {_size(total)}, "
            f"more than the {_size(_ZIP_TOTAL_LIMIT)} any workbook needs.",
            "If the file is genuine, export it as CSV and import that.",
        )
    for p in parts:
        ratio = p.file_size / max(p.compress_size, 1)
        if p.file_size > _ZIP_RATIO_FLOOR and ratio > _ZIP_RATIO_LIMIT:
            raise SourceError(
                f"{path.name} looks like a zip bomb: its part {p.filename} would expand from "
                f"{_size(p.compress_size)} to {_size(p.file_size)} ({ratio:,.0f} times; "
                f"real spreadsheets stay under {_ZIP_RATIO_LIMIT}).",
                "If the file is genuine, export it as CSV and import that.",
            )


def _size(n: int) -> str:
    if n < 1024:
        return f"{n:,} bytes"
    for unit, scale in (("KiB", 1024), ("MiB", 1024**2)):
        if n < 1024 * scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n / 1024**3:,.1f} GiB"


class _OdsTooLarge(Exception):
    pass


class _OdsCells:
    """Counts the cells calamine will hold for an ODS file, without building any.

    ODS writes a row or cell repeated N times as one element with a repeat count, so a file
    of a few hundred bytes can stand for billions of cells. calamine stores each sheet as a
    dense rectangle, so what counts is rows down to the last one with a value, times the
    widest row up to its last value (both capped as calamine caps them).
    """

    _CELLS = frozenset({"table:table-cell", "table:covered-table-cell"})

    def __init__(self) -> None:
        self.total = 0
        self._rows = self._used_rows = self._widest = 0
        self._repeat = self._column = self._width = 0
        self._cell_repeat = 0
        self._in_cell = self._full = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if self._in_cell:
            self._full = True  # text or any content inside the cell
        elif name in self._CELLS:
            self._in_cell = True
            self._cell_repeat = int(attrs.get("table:number-columns-repeated", "1"))
            self._full = "office:value-type" in attrs or "table:formula" in attrs
        elif name == "table:table-row":
            self._repeat = int(attrs.get("table:number-rows-repeated", "1"))
            self._column = self._width = 0
        elif name == "table:table":
            self._rows = self._used_rows = self._widest = 0

    def end(self, name: str) -> None:
        if name in self._CELLS:
            self._in_cell = False
            self._column = min(self._column + self._cell_repeat, _ODS_MAX_COLUMNS)
            if self._full:
                self._width = self._column
        elif name == "table:table-row":
            self._rows = min(self._rows + self._repeat, _ODS_MAX_ROWS)
            if self._width:
                self._used_rows = self._rows
                self._widest = max(self._widest, self._width)
            if self.total + self._used_rows * self._widest > _ODS_CELL_LIMIT:
                raise _OdsTooLarge
        elif name == "table:table":
            self.total += self._used_rows * self._widest

    @staticmethod
    def forbid(*_: object) -> None:
        raise ValueError("the XML declares entities, which spreadsheets never use")


def _check_ods_cells(path: Path, archive: zipfile.ZipFile) -> None:
    counter = _OdsCells()
    parser = expat.ParserCreate()
    parser.StartElementHandler = counter.start
    parser.EndElementHandler = counter.end
    parser.EntityDeclHandler = counter.forbid
    try:
        with archive.open("content.xml") as content:
            while chunk := content.read(1 << 20):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except _OdsTooLarge:
        raise SourceError(
            f"{path.name} is too large to read as ODS: its sheets span more than "
            f"{_ODS_CELL_LIMIT:,} cells, and an ODS file has to be loaded whole.",
            "Save it as .xlsx or .csv from LibreOffice: those are read row by row.",
        ) from None
    except (KeyError, ValueError, expat.ExpatError) as exc:
        raise SourceError(
            f"{path.name} is not a readable ODS workbook ({_reason(exc)}).",
            "Open it in LibreOffice and save it again.",
        ) from None


def _reason(exc: BaseException) -> str:
    """A parser's failure in a few words, from its root cause (openpyxl wraps what it hits
    in a generic ValueError); a refused XML bomb is named as such."""
    chain = [exc]
    while chain[-1].__cause__ is not None and len(chain) < 10:
        chain.append(chain[-1].__cause__)
    if any(c.__name__ == "DefusedXmlException" for e in chain for c in type(e).__mro__):
        return (
            "it declares XML entities, which spreadsheets never use: "
            "an XML bomb was refused, not expanded"
        )
    root = chain[-1]
    text = " ".join(str(root).split()) or "no details"
    return f"{type(root).__name__}: {text[:200]}"


def _parser_failure(exc: BaseException) -> bool:
    """Whether a parser's exception is the file's fault, not an interrupt or our own error.

    calamine is Rust: a panic on a malformed file surfaces as pyo3's PanicException, which
    derives from BaseException, so it is named here rather than caught with the interrupts.
    """
    if isinstance(exc, ImporterError):  # SourceError, or Interrupted by SIGINT/SIGTERM
        return False
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


class _Workbook(_Table):
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
            f"{self.path.name} is not a readable {self.kind} workbook ({_reason(exc)}).",
            "Open it in Excel or LibreOffice and save it again as .xlsx.",
        )

    def _damaged(self, last: int, exc: BaseException) -> SourceError:
        return SourceError(
            f"{self._where} is damaged after row {last} ({_reason(exc)}).",
            "Open it in Excel or LibreOffice and save it again as .xlsx.",
        )

    def _row(self, number: int, values: Sequence[Any], width: int) -> SourceRow:
        """Cells past the header's width are kept up to the last one with a value (see
        CsvSource._row); the row is then an error."""
        last = width
        for i in range(len(values) - 1, width - 1, -1):
            if _present(values[i]):
                last = i + 1
                break
        cells = tuple(v if _present(v) else None for v in values[:last])
        if len(cells) < width:
            cells += (None,) * (width - len(cells))
        problems = []
        extra = next((v for v in values[width:] if _present(v)), None)
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
    """Streams a workbook with openpyxl's read-only mode: cached formula values, flat memory.

    The sheet's stored dimensions are ignored: some exporters write a wrong one, and
    openpyxl would silently drop the rows and columns outside it. openpyxl parses XML with
    defusedxml when it is installed (a declared dependency), so entity bombs are refused.
    """

    kind = "XLSX"
    _CHUNK = 512

    def __init__(self, path: Path, options: ReadOptions) -> None:
        import openpyxl

        self.path = path
        self._wb: Any = None
        self._parser: Any = None
        self._number = 0
        # a file object, not the path: openpyxl refuses names not ending in .xlsx, and a
        # workbook renamed .csv is still a workbook
        self._fh = path.open("rb")
        try:
            with warnings.catch_warnings():
                # openpyxl warns about styles/extensions it ignores: not the user's problem
                warnings.simplefilter("ignore")
                self._wb = openpyxl.load_workbook(self._fh, read_only=True, data_only=True)
                visible = [w.title for w in self._wb.worksheets if w.sheet_state == "visible"]
                ws = self._wb[self._pick_sheet(self._wb.sheetnames, visible, options.sheet)]
                ws.reset_dimensions()
                self._parser = ws.iter_rows(values_only=True)
            self._where = f"{path.name}: sheet {ws.title!r}"
            self.description = f"{path.name} (XLSX, sheet {ws.title!r})"
            self._open(self._guarded(), options)
        except BaseException as exc:
            self.close()
            if _parser_failure(exc):
                raise self._unreadable(exc) from None
            raise

    def _guarded(self) -> Iterator[tuple[Cell, ...]]:
        """The parser's rows, fetched a chunk at a time with openpyxl's warnings silenced.

        Any exception from the parser is the file's fault (zip, zlib, XML, a bad number...):
        it ends the run naming the last row read. Warnings cannot be silenced around a
        `yield` without silencing the caller too, hence the chunks.
        """
        while True:
            chunk: list[tuple[Cell, ...]] = []
            failure: BaseException | None = None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    chunk.extend(islice(self._parser, self._CHUNK))
                except BaseException as exc:
                    if not _parser_failure(exc):
                        raise
                    failure = exc
            for values in chunk:
                self._number += 1
                yield values
            if failure is not None:
                raise self._damaged(self._number, failure)
            if len(chunk) < self._CHUNK:
                return

    def close(self) -> None:
        if self._parser is not None:
            self._parser.close()  # a generator holding the sheet's zip member open
        if self._wb is not None:
            self._wb.close()
        self._fh.close()


class CalamineSource(_Workbook):
    """XLS, XLSB and ODS through calamine: the first visible sheet unless --sheet.

    calamine loads the whole workbook when it opens it, so memory grows with the file:
    fine for XLS (65,536 rows at most) and for ODS of the sizes people keep as ODS, which
    `_zip_kind` has measured before this runs. Large lists belong in CSV or XLSX.
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
            if suffix in _SUFFIXES[kind] or suffix not in _WORKBOOK_SUFFIXES:
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
