"""XLSX/XLSM read straight from the sheet's XML with expat, streamed (SPEC §4).

openpyxl's read-only mode spent ~120 µs a row (an XLSX dry run at a fifth of the CSV one's
speed); expat's C parser with a few Python callbacks a cell spends ~15. What openpyxl did
is kept: cached values of formulas, shared and inline strings (rich text joined), date and
duration formats from the styles (1900 and 1904 systems, openpyxl's own conversion), the
stored dimension ignored (exporters write wrong ones), hidden sheets and chart sheets
skipped. XML that declares entities is refused, never expanded (XML bombs).
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import IO, Any
from xml.parsers import expat

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.datetime import MAC_EPOCH, WINDOWS_EPOCH, from_excel

from importer.reading.rows import Cell

_CHUNK = 1 << 16  # bytes of XML fed to the parser at a time
_RELATIONSHIP = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_STRICT_RELATIONSHIP = "http://purl.oclc.org/ooxml/officeDocument/relationships"


class EntitiesDeclared(ValueError):
    """The XML declares entities: refused before any is expanded (an XML bomb)."""


@dataclass(frozen=True)
class Sheet:
    name: str
    path: str  # of its XML in the archive; "" for a chart sheet
    visible: bool


@dataclass(frozen=True)
class Book:
    """What a workbook's small parts say: its sheets, where the rest is, its date system."""

    sheets: tuple[Sheet, ...]
    strings: str | None  # the shared strings' part
    styles: str | None
    date1904: bool


def read_book(archive: zipfile.ZipFile) -> Book:
    root = _elements(archive, "xl/workbook.xml")
    rels = _relationships(archive, "xl/workbook.xml")
    sheets = []
    date1904 = False
    for name, attrs in root:
        if name == "workbookPr":  # Excel may write a second one (in mc:AlternateContent)
            date1904 = date1904 or attrs.get("date1904", "").lower() in ("1", "true")
        elif name == "sheet":
            rid = attrs.get(f"{_RELATIONSHIP} id") or attrs.get(f"{_STRICT_RELATIONSHIP} id")
            target, kind = rels.get(rid or "", ("", ""))
            state = attrs.get("state", "visible")
            path = target if kind.endswith("/worksheet") else ""
            sheets.append(Sheet(attrs.get("name", ""), path, state == "visible"))
    by_kind = {kind.rsplit("/", 1)[-1]: target for target, kind in rels.values()}

    def part(kind: str, default: str) -> str | None:
        """Where the relationships say, else where Excel puts it (some writers declare it
        in [Content_Types].xml only)."""
        found = by_kind.get(kind)
        if found is None and default in archive.NameToInfo:
            return default
        return found

    return Book(
        tuple(sheets),
        part("sharedStrings", "xl/sharedStrings.xml"),
        part("styles", "xl/styles.xml"),
        date1904,
    )


def read_strings(archive: zipfile.ZipFile, path: str | None) -> list[str]:
    """The shared strings, in order: the text of each `si`, its runs joined (phonetic
    guides left out)."""
    if path is None or path not in archive.NameToInfo:
        return []
    strings: list[str] = []
    text: list[str] = []
    depth = {"t": False, "rPh": 0}

    def start(name: str, attrs: dict[str, str]) -> None:
        local = name.rpartition(":")[2]
        if local == "t" and not depth["rPh"]:
            depth["t"] = True
        elif local == "rPh":
            depth["rPh"] += 1
        elif local == "si":
            text.clear()

    def end(name: str) -> None:
        local = name.rpartition(":")[2]
        if local == "t":
            depth["t"] = False
        elif local == "rPh":
            depth["rPh"] -= 1
        elif local == "si":
            strings.append("".join(text))

    def chars(data: str) -> None:
        if depth["t"]:
            text.append(data)

    with archive.open(path) as fh:
        _parse(fh, start, end, chars)
    return strings


def read_date_styles(archive: zipfile.ZipFile, path: str | None) -> dict[str, bool]:
    """Style index → True for a duration format ([h]:mm), False for a date or time one;
    the number formats that are neither are left out."""
    if path is None or path not in archive.NameToInfo:
        return {}
    formats: dict[int, str] = dict(BUILTIN_FORMATS)
    kinds: dict[str, bool] = {}  # by the style index as cells write it
    section = ""
    index = 0
    for name, attrs in _elements(archive, path):
        if name in ("cellXfs", "cellStyleXfs", "numFmts", "dxfs"):
            section = name
        elif name == "numFmt" and section == "numFmts":
            formats[int(attrs.get("numFmtId", "0"))] = attrs.get("formatCode", "")
        elif name == "xf" and section == "cellXfs":
            code = formats.get(int(attrs.get("numFmtId", "0")), "")
            if is_timedelta_format(code):
                kinds[str(index)] = True
            elif is_date_format(code):
                kinds[str(index)] = False
            index += 1
    return kinds


def sheet_rows(
    archive: zipfile.ZipFile,
    path: str,
    strings: list[str],
    date_styles: dict[str, bool],
    date1904: bool,
) -> Generator[tuple[Cell, ...], None, None]:
    """Every row from row 1 down to the last one in the XML (missing ones empty), its cells
    from column A. Streamed: a chunk of XML at a time, its rows handed on at once."""
    epoch = MAC_EPOCH if date1904 else WINDOWS_EPOCH
    done: list[tuple[Cell, ...]] = []
    cells: list[Cell] = []
    values: list[str] = []  # the text of the cell's <v>
    inline: list[str] = []  # the text of its inline string's <t>s
    columns: dict[str, int] = {}
    # the elements' names, with the prefix the file writes them with (set at the root)
    c_name = v_name = t_name = row_name = ""
    # the cell being read: its type, style and column; where its text goes
    kind: str | None = None
    style: str | None = None
    column = 0
    into: list[str] | None = None
    row_number = 0

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal kind, style, column, into, row_number, c_name, v_name, t_name, row_name
        if name == c_name:
            kind = attrs.get("t")
            style = attrs.get("s")
            ref = attrs.get("r")
            if ref is None:
                column = len(cells)
            else:
                letters = ref.rstrip("0123456789")
                found = columns.get(letters)
                if found is None:
                    found = columns[letters] = _column_index(letters)
                column = found
            values.clear()
            inline.clear()
        elif name == v_name:
            into = values
        elif name == t_name:
            into = inline
        elif name == row_name:
            number = attrs.get("r")
            wanted = int(number) if number and number.isdigit() else row_number + 1
            while row_number + 1 < wanted:  # rows the XML leaves out are empty
                done.append(())
                row_number += 1
            row_number = wanted
            cells.clear()
        elif not c_name:  # the root element
            prefix = name.rpartition(":")[0]
            p = f"{prefix}:" if prefix else ""
            c_name, v_name, t_name, row_name = f"{p}c", f"{p}v", f"{p}t", f"{p}row"

    def end(name: str) -> None:
        nonlocal into
        if name in (v_name, t_name):
            into = None
        elif name == c_name:
            text = "".join(inline if kind == "inlineStr" else values)
            if text:
                value = _value(kind, text, style, strings, date_styles, epoch)
                if column >= len(cells):
                    cells.extend([None] * (column - len(cells) + 1))
                cells[column] = value
        elif name == row_name:
            done.append(tuple(cells))

    def chars(data: str) -> None:
        if into is not None:
            into.append(data)

    with archive.open(path) as fh:
        parser = _parser(start, end, chars)
        while True:
            try:
                chunk = fh.read(_CHUNK)
                parser.Parse(chunk, not chunk)
            except Exception:
                yield from done  # the rows read whole before a fault: it names the last
                raise
            yield from done
            done.clear()
            if not chunk:
                return


def _value(
    kind: str | None,
    text: str,
    style: str | None,
    strings: list[str],
    date_styles: dict[str, bool],
    epoch: Any,
) -> Cell:
    if kind == "s":
        index = int(text)
        return strings[index] if index < len(strings) else None
    if kind in ("inlineStr", "str", "e"):  # text, a formula's text, an error (#N/A)
        return text
    if kind == "b":
        return text.strip() in ("1", "true")
    if kind == "d":  # an ISO 8601 date written as such (rare: Excel writes serials)
        from datetime import datetime

        try:
            return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            return text
    number: int | float = float(text) if "." in text or "E" in text or "e" in text else int(text)
    duration = date_styles.get(style) if style is not None else None
    if duration is None:
        return number
    moment = from_excel(number, epoch, timedelta=duration)
    if duration:  # shown as Excel shows it: [h]:mm:ss
        seconds = round(moment.total_seconds())
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return moment  # type: ignore[no-any-return]


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters.upper():
        index = index * 26 + ord(letter) - 64
    return index - 1


def _parser(
    start: Callable[[str, dict[str, str]], None],
    end: Callable[[str], None],
    chars: Callable[[str], None],
    namespaces: bool = False,
) -> Any:
    parser = expat.ParserCreate(namespace_separator=" " if namespaces else None)
    parser.buffer_text = True
    parser.buffer_size = _CHUNK
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.EntityDeclHandler = _refuse_entities
    return parser


def _refuse_entities(*_: object) -> None:
    raise EntitiesDeclared("the XML declares entities, which spreadsheets never use")


def _parse(
    fh: IO[bytes],
    start: Callable[[str, dict[str, str]], None],
    end: Callable[[str], None],
    chars: Callable[[str], None],
    namespaces: bool = False,
) -> None:
    parser = _parser(start, end, chars, namespaces)
    while chunk := fh.read(_CHUNK):
        parser.Parse(chunk, False)
    parser.Parse(b"", True)


def _elements(archive: zipfile.ZipFile, path: str) -> list[tuple[str, dict[str, str]]]:
    """A small part's elements (local names) with their attributes, in document order."""
    found: list[tuple[str, dict[str, str]]] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        found.append((name.rpartition(" ")[2], attrs))

    with archive.open(path) as fh:
        _parse(fh, start, lambda name: None, lambda data: None, namespaces=True)
    return found


def _relationships(archive: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """A part's relationships: id → (the target's path in the archive, its type)."""
    folder, name = posixpath.split(part)
    rels = posixpath.join(folder, "_rels", name + ".rels")
    if rels not in archive.NameToInfo:
        return {}
    found = {}
    for element, attrs in _elements(archive, rels):
        if element != "Relationship" or attrs.get("TargetMode") == "External":
            continue
        target = attrs.get("Target", "")
        path = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
        found[attrs.get("Id", "")] = (posixpath.normpath(path), attrs.get("Type", ""))
    return found
