"""What a file is, from its first bytes: a workbook (XLSX, XLS, XLSB, ODS), a web page
renamed .xls, or text, and then in which encoding."""

from __future__ import annotations

from pathlib import Path

from importer.errors import SourceError
from importer.reading.delimited import SAMPLE_BYTES, CsvSource
from importer.reading.encoding import utf16_without_bom
from importer.reading.guards import SUFFIXES, WORKBOOK_SUFFIXES, zip_kind
from importer.reading.rows import ReadOptions, Source
from importer.reading.workbook import CalamineSource, XlsxSource

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MARKUP = (b"<!doctype html", b"<html", b"<?xml", b"<table")


def open_source(path: Path, options: ReadOptions) -> Source:
    """Open a CSV/TSV/TXT, XLSX/XLSM, XLS, XLSB or ODS file, chosen by its content first."""
    try:
        with path.open("rb") as fh:
            head = fh.read(SAMPLE_BYTES)
    except FileNotFoundError:
        raise SourceError(f"Source file {path} does not exist.", "Check the path.") from None
    except IsADirectoryError:
        raise SourceError(f"Source {path} is a directory, not a file.") from None
    except OSError as exc:
        raise SourceError(f"Source file {path} cannot be read: {exc.strerror}.") from None
    if not head:
        raise SourceError(f"Source file {path} is empty.", "Export the spreadsheet again.")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        kind = zip_kind(path)
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
    if suffix in WORKBOOK_SUFFIXES and b"\x00" in head and not utf16_without_bom(head):
        kind = next(k for k, suffixes in SUFFIXES.items() if suffix in suffixes)
        raise SourceError(
            f"{path.name} is not a readable {kind} workbook: it is damaged, or not a spreadsheet.",
            "Open it in Excel or LibreOffice and save it again as .xlsx.",
        )
    return CsvSource(path, options, head)
