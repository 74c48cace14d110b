"""Archive guards: a workbook's zip is measured before any parser opens it (zip bombs,
ODS repeat counts standing for billions of cells)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.parsers import expat

from importer.errors import SourceError

# Zip bombs: what a workbook may expand to before anything parses it.
_ZIP_TOTAL_LIMIT = 2 * 1024**3
_ZIP_RATIO_LIMIT = 200
_ZIP_RATIO_FLOOR = 50 * 1024**2
# calamine keeps about 130 bytes per cell: 10 million cells is over a gigabyte already.
_ODS_CELL_LIMIT = 10_000_000
_ODS_MAX_ROWS = 1_048_576
_ODS_MAX_COLUMNS = 16_384
# The file name endings each workbook format goes by.
SUFFIXES = {
    "XLSX": (".xlsx", ".xlsm", ".xltx", ".xltm"),
    "XLS": (".xls", ".xla"),
    "XLSB": (".xlsb",),
    "ODS": (".ods",),
}
WORKBOOK_SUFFIXES = frozenset(s for suffixes in SUFFIXES.values() for s in suffixes)
_ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


def zip_kind(path: Path) -> str:
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
            f"{path.name} is not a readable ODS workbook ({failure_reason(exc)}).",
            "Open it in LibreOffice and save it again.",
        ) from None


def failure_reason(exc: BaseException) -> str:
    """A parser's failure in a few words, from its root cause (openpyxl wraps what it hits
    in a generic ValueError); a refused XML bomb is named as such."""
    chain = [exc]
    while chain[-1].__cause__ is not None and len(chain) < 10:
        chain.append(chain[-1].__cause__)
    refused = ("DefusedXmlException", "EntitiesDeclared")
    if any(c.__name__ in refused for e in chain for c in type(e).__mro__):
        return (
            "it declares XML entities, which spreadsheets never use: "
            "an XML bomb was refused, not expanded"
        )
    root = chain[-1]
    text = " ".join(str(root).split()) or "no details"
    return f"{type(root).__name__}: {text[:200]}"
