"""Hostile and broken source files: each ends in one clear SourceError (exit 2), in bounded
memory, never a traceback. Every file is built here; bombs are built small and declared big
where the guard only reads what the zip declares."""

from __future__ import annotations

import os
import random
import struct
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from openpyxl import Workbook

from importer.errors import Interrupted
from importer.reading.workbook import _parser_failure
from tests.conftest import Cli
from tests.test_reading import (
    cfb_bytes,
    inline,
    ods_bytes,
    read,
    sheet_xml,
    source_error,
    xls_bytes,
    xlsx_bytes,
    zip_bytes,
)

RESAVE = "Open it in Excel or LibreOffice and save it again as .xlsx."


def leads_xlsx(path: Path, rows: int) -> Path:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Leads"
    ws.append(["Email", "Nome"])
    for i in range(rows):
        ws.append([f"utente{i}@gmail.com", f"Nome {i}"])
    wb.save(path)
    wb.close()
    return path


def leads_sheet(rows: int, broken_at: int | None = None) -> str:
    """Sheet XML with inline strings; row `broken_at` gets a tag that is never closed."""
    lines = [f'<row r="1">{inline("A1", "Email")}{inline("B1", "Nome")}</row>']
    for r in range(2, rows + 2):
        oops = "<oops>" if r == broken_at else ""
        cells = inline(f"A{r}", f"utente{r}@gmail.com") + inline(f"B{r}", f"Nome {r}")
        lines.append(f'<row r="{r}">{oops}{cells}</row>')
    return sheet_xml("".join(lines), dimension=f"A1:B{rows + 1}")


def declare_size(data: bytes, name: str, size: int, local: bool = False) -> bytes:
    """Rewrite the uncompressed size a zip declares for `name` (central directory, and the
    local header too when `local`)."""
    out = bytearray(data)
    encoded = name.encode()
    signatures = [(b"PK\x01\x02", 24, 46)] + ([(b"PK\x03\x04", 22, 30)] if local else [])
    for signature, field, fixed in signatures:
        at = out.find(signature)
        while at != -1:
            length = struct.unpack_from("<H", out, at + fixed - 18)[0]
            if out[at + fixed : at + fixed + length] == encoded:
                struct.pack_into("<I", out, at + field, size)
            at = out.find(signature, at + 4)
    return bytes(out)


# --------------------------------------------------------------------------- not what it says


def test_binary_file_renamed_csv(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + random.Random(7).randbytes(20_000))
    assert source_error(path) == (
        "leads.csv is not a text spreadsheet (it contains binary data). "
        "Check that you picked the right file; export it as CSV or XLSX."
    )


def test_binary_junk_named_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "leads.xlsx"
    path.write_bytes(random.Random(7).randbytes(20_000))
    assert source_error(path) == (
        "leads.xlsx is not a readable XLSX workbook: it is damaged, or not a spreadsheet. " + RESAVE
    )


def test_zip_without_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "leads.xlsx"
    path.write_bytes(zip_bytes({"word/document.xml": "<w:document/>"}))
    assert source_error(path) == (
        "leads.xlsx is a zip archive with no spreadsheet in it (a Word or PowerPoint file, or "
        "another archive?). Check that you picked the right file; export it as .xlsx or .csv."
    )


def test_password_protected_workbook(tmp_path: Path) -> None:
    # Excel encrypts an .xlsx into an OLE container with these two streams
    path = tmp_path / "leads.xlsx"
    path.write_bytes(cfb_bytes({"EncryptionInfo": b"\x04\x00\x04\x00", "EncryptedPackage": b"x"}))
    assert source_error(path) == (
        "leads.xlsx is protected by a password. Open it in Excel or LibreOffice, remove the "
        "password and save it again (or export it as CSV)."
    )


# --------------------------------------------------------------------------- cut short, damaged


def test_truncated_xlsx(tmp_path: Path) -> None:
    data = leads_xlsx(tmp_path / "full.xlsx", 2000).read_bytes()
    path = tmp_path / "leads.xlsx"
    path.write_bytes(data[: len(data) // 2])
    assert source_error(path) == (
        "leads.xlsx is incomplete: it starts like an XLSX or ODS workbook but its end is "
        "missing (cut short by a download, a copy or a full disk?). Download or export it again."
    )


def test_truncated_xls(tmp_path: Path) -> None:
    data = xls_bytes({"Leads": [["Email"], *([f"utente{i}@gmail.com"] for i in range(500))]})
    path = tmp_path / "leads.xls"
    path.write_bytes(data[: len(data) // 2])
    assert source_error(path) == (
        "leads.xls is not a readable XLS workbook (CalamineError: Cfb error: Sector 51 points "
        "past end of file). " + RESAVE
    )


def test_xlsx_with_malformed_xml_mid_sheet(tmp_path: Path) -> None:
    path = tmp_path / "leads.xlsx"
    path.write_bytes(xlsx_bytes(leads_sheet(3000, broken_at=1500)))
    assert source_error(path) == (
        "leads.xlsx: sheet 'Leads' is damaged after row 1499 "
        "(ExpatError: mismatched tag: line 1, column 209068). " + RESAVE
    )


def test_xlsx_with_a_damaged_deflate_stream(tmp_path: Path) -> None:
    path = tmp_path / "leads.xlsx"
    path.write_bytes(xlsx_bytes(leads_sheet(3000)))
    with zipfile.ZipFile(path) as archive:
        part = archive.getinfo("xl/worksheets/sheet1.xml")
    data = bytearray(path.read_bytes())
    name_length, extra_length = struct.unpack_from("<HH", data, part.header_offset + 26)
    start = part.header_offset + 30 + name_length + extra_length
    middle = start + part.compress_size // 2
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    assert source_error(path) == (
        "leads.xlsx: sheet 'Leads' is damaged after row 1478 "
        "(ExpatError: mismatched tag: line 1, column 206046). " + RESAVE
    )


def test_xlsx_whose_checksum_fails_at_the_end_of_the_sheet(tmp_path: Path) -> None:
    # one letter changed in a stored (uncompressed) sheet: the XML still parses, and the
    # CRC check when the part is read to its end fails
    data = xlsx_bytes(leads_sheet(3000), stored=("xl/worksheets/sheet1.xml",))
    path = tmp_path / "leads.xlsx"
    path.write_bytes(data.replace(b"utente1500@", b"utente1501@", 1))
    assert source_error(path) == (
        "leads.xlsx: sheet 'Leads' is damaged after row 2787 "
        "(BadZipFile: Bad CRC-32 for file 'xl/worksheets/sheet1.xml'). " + RESAVE
    )


def test_zip_that_lies_about_its_sizes(tmp_path: Path) -> None:
    # declared 1,000 bytes, inflates to 200 KB: zipfile stops at the declared size and the
    # CRC check fails, so nothing past the declaration is ever inflated
    data = declare_size(xlsx_bytes(leads_sheet(2000)), "xl/worksheets/sheet1.xml", 1000, local=True)
    path = tmp_path / "leads.xlsx"
    path.write_bytes(data)
    assert source_error(path) == (
        "leads.xlsx is not a readable XLSX workbook "
        "(BadZipFile: Bad CRC-32 for file 'xl/worksheets/sheet1.xml'). " + RESAVE
    )


# --------------------------------------------------------------------------- bombs


_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol;" if i == 1 else f"&lol{i - 1};") * 10}">' for i in range(1, 10)
    )
    + "]>"
)
_BOMB_REFUSED = (
    "leads.xlsx is not a readable XLSX workbook (it declares XML entities, which spreadsheets "
    "never use: an XML bomb was refused, not expanded). " + RESAVE
)


def test_openpyxl_parses_with_defusedxml() -> None:
    assert openpyxl.DEFUSEDXML is True


def test_entity_bomb_in_shared_strings(tmp_path: Path) -> None:
    strings = (
        _LAUGHS + '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'count="1" uniqueCount="1"><si><t>&lol9;</t></si></sst>'
    )
    sheet = sheet_xml('<row r="1"><c r="A1" t="s"><v>0</v></c></row>')
    path = tmp_path / "leads.xlsx"
    path.write_bytes(xlsx_bytes(sheet, shared_strings=strings))
    assert source_error(path) == _BOMB_REFUSED


def test_entity_bomb_in_the_sheet(tmp_path: Path) -> None:
    rows = '<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
    path = tmp_path / "leads.xlsx"
    path.write_bytes(xlsx_bytes(sheet_xml(rows, prolog=_LAUGHS)))
    assert source_error(path) == _BOMB_REFUSED


def test_zip_bomb_by_ratio(tmp_path: Path) -> None:
    path = tmp_path / "leads.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            chunk = b" " * (1 << 20)
            for _ in range(60):
                sheet.write(chunk)
    assert source_error(path) == (
        "leads.xlsx looks like a zip bomb: its part xl/worksheets/sheet1.xml would expand "
        "from 59.7 KiB to 60.0 MiB (1,029 times; real spreadsheets stay under 200). "
        "If the file is genuine, export it as CSV and import that."
    )


def test_zip_bomb_by_total_size(tmp_path: Path) -> None:
    data = xlsx_bytes(leads_sheet(10))
    data = declare_size(data, "xl/worksheets/sheet1.xml", 3 * 1024**3)
    path = tmp_path / "leads.xlsx"
    path.write_bytes(data)
    assert source_error(path) == (
        "leads.xlsx looks like a zip bomb: it would expand to 3.0 GiB, more than the 2.0 GiB "
        "any workbook needs. If the file is genuine, export it as CSV and import that."
    )


def test_ods_repeat_bomb(tmp_path: Path) -> None:
    # 900 bytes standing for a million rows of a thousand cells
    table = (
        '<table:table table:name="Leads"><table:table-row>'
        '<table:table-cell office:value-type="string"><text:p>Email</text:p></table:table-cell>'
        '</table:table-row><table:table-row table:number-rows-repeated="1000000">'
        '<table:table-cell table:number-columns-repeated="1000" office:value-type="string">'
        "<text:p>x</text:p></table:table-cell></table:table-row></table:table>"
    )
    path = tmp_path / "leads.ods"
    path.write_bytes(ods_bytes({}, tables=table))
    assert source_error(path) == (
        "leads.ods is too large to read as ODS: its sheets span more than 10,000,000 cells, "
        "and an ODS file has to be loaded whole. "
        "Save it as .xlsx or .csv from LibreOffice: those are read row by row."
    )


def test_ods_trailing_empty_repeats_are_not_a_bomb(tmp_path: Path) -> None:
    # what LibreOffice writes after the last row: a million empty rows of 1024 empty cells
    table = (
        '<table:table table:name="Leads">'
        '<table:table-row><table:table-cell office:value-type="string"><text:p>Email</text:p>'
        '</table:table-cell><table:table-cell table:number-columns-repeated="1023"/>'
        '</table:table-row><table:table-row><table:table-cell office:value-type="string">'
        "<text:p>anna@tim.it</text:p></table:table-cell></table:table-row>"
        '<table:table-row table:number-rows-repeated="1048574">'
        '<table:table-cell table:number-columns-repeated="1024"/></table:table-row></table:table>'
    )
    path = tmp_path / "leads.ods"
    path.write_bytes(ods_bytes({}, tables=table))
    got = read(path)
    assert (got.headers, [r.cells for r in got.rows]) == (("Email",), [("anna@tim.it",)])


def test_ods_with_entity_declarations(tmp_path: Path) -> None:
    content = (
        _LAUGHS + '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:'
        'xmlns:office:1.0"><office:body><office:spreadsheet/></office:body>'
        "</office:document-content>"
    )
    mimetype = "application/vnd.oasis.opendocument.spreadsheet"
    path = tmp_path / "leads.ods"
    path.write_bytes(
        zip_bytes({"mimetype": mimetype, "content.xml": content}, stored=("mimetype",))
    )
    assert source_error(path) == (
        "leads.ods is not a readable ODS workbook (ValueError: the XML declares entities, "
        "which spreadsheets never use). Open it in LibreOffice and save it again."
    )


# --------------------------------------------------------------------------- oversized content


def test_csv_with_a_50_mb_cell_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    with path.open("wb") as fh:
        fh.write(b"Email,Note\nmario@gmail.com,")
        for _ in range(50):
            fh.write(b"x" * (1 << 20))
        fh.write(b"\n")
    tracemalloc.start()
    try:
        message = source_error(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert message == (
        "leads.csv: row 2 is longer than 4,194,304 characters, far more than a spreadsheet "
        "holds. Check for a quote that is opened and never closed, or that the file really is "
        "a CSV."
    )
    assert peak < 32 * 1024**2  # a few times the 4 MiB line, not the 50 MB cell


def test_csv_with_a_cell_over_the_field_limit(tmp_path: Path) -> None:
    # a quoted cell over many lines: the csv module's field limit stops it
    path = tmp_path / "leads.csv"
    body = ("y" * 99 + "\n") * 20_000
    path.write_text(f'Email,Note\nmario@gmail.com,ok\nluigi@gmail.com,"{body}"\n')
    assert source_error(path) == (
        "leads.csv: row 3 has a cell of more than 1,048,576 characters, far more than a "
        "spreadsheet holds. Check for a quote that is opened and never closed, or that the "
        "file really is a CSV."
    )


def test_xlsx_cell_over_excels_limit_is_a_row_problem(tmp_path: Path) -> None:
    rows = (
        f'<row r="1">{inline("A1", "Email")}{inline("B1", "Note")}</row>'
        f'<row r="2">{inline("A2", "mario@gmail.com")}{inline("B2", "z" * 40_000)}</row>'
        f'<row r="3">{inline("A3", "luigi@gmail.com")}</row>'
    )
    path = tmp_path / "leads.xlsx"
    path.write_bytes(xlsx_bytes(sheet_xml(rows)))
    got = read(path)
    assert [(r.number, r.problem) for r in got.rows] == [
        (
            2,
            "the cell in column B holds 40,000 characters, more than Excel's limit of 32,767 "
            "(the file was not saved by Excel, or is damaged)",
        ),
        (3, None),
    ]


def test_csv_header_of_100000_columns(tmp_path: Path) -> None:
    names = [f"c{i}" for i in range(100_000)]
    path = tmp_path / "leads.csv"
    path.write_text(",".join(names) + "\n" + ",".join(["v"] * 100_000) + "\n")
    got = read(path)
    assert (len(got.headers), got.headers[-1], got.header_row) == (100_000, "c99999", 1)
    assert [(r.number, len(r.cells), r.problem) for r in got.rows] == [(2, 100_000, None)]


def test_csv_data_row_of_100000_columns(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    wide = ",".join(f"x{i}" for i in range(100_000))
    path.write_text(f"Email,Nome,Tel\nmario@gmail.com,Mario,333\n{wide}\n")
    got = read(path)
    assert got.rows[1].number == 3
    assert got.rows[1].cells == tuple(f"x{i}" for i in range(100_000))  # kept for rejects
    assert got.rows[1].problem == (
        "row has 100000 cells but the header has 3 (extra: 'x3'); check for an unquoted delimiter"
    )


# --------------------------------------------------------------------------- encodings


def test_bad_byte_after_the_sample_names_its_row(tmp_path: Path) -> None:
    # the first 64 KiB are UTF-8 (accents included), so UTF-8 is detected; a cp1252 "è"
    # sits in row 5001, after a record that spans three lines (rows are records, not lines)
    lines = ["Email,Nome,Note", 'mario@gmail.com,Nicolò,"riga 1\nriga 2\nriga 3"']
    lines += [f"utente{i}@gmail.com,Nicolò {i},ok" for i in range(3, 5001)]
    text = "\n".join(lines) + "\n"
    path = tmp_path / "leads.csv"
    path.write_bytes(text.encode() + b"perch\xe8@gmail.com,Bad,x\nok@gmail.com,Ok,x\n")
    assert len(text.encode()) > 64 * 1024
    assert source_error(path) == (
        "leads.csv: bytes that are not valid utf-8 in row 5001 (0xE8). Pass --encoding with "
        "the file's real encoding (e.g. cp1252, latin-1, utf-16), or re-export it as UTF-8."
    )


# --------------------------------------------------------------------------- nothing to read


@pytest.mark.parametrize("name", ["leads.xlsx", "leads.ods"])
def test_empty_workbook_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    assert source_error(path) == f"Source file {path} is empty. Export the spreadsheet again."


def test_header_only_files_have_no_rows(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"Email,Nome\r\n")
    leads_xlsx(tmp_path / "b.xlsx", 0)
    (tmp_path / "c.xls").write_bytes(xls_bytes({"Leads": [["Email", "Nome"]]}))
    (tmp_path / "d.ods").write_bytes(ods_bytes({"Leads": [["Email", "Nome"]]}))
    for name in ("a.csv", "b.xlsx", "c.xls", "d.ods"):
        got = read(tmp_path / name)
        assert (got.headers, got.header_row, got.rows) == (("Email", "Nome"), 1, []), name


def test_path_through_a_file(tmp_path: Path) -> None:
    (tmp_path / "leads.csv").write_bytes(b"Email\n")
    path = tmp_path / "leads.csv" / "leads.csv"
    assert source_error(path) == f"Source file {path} cannot be read: Not a directory."


@pytest.mark.skipif(
    os.geteuid() == 0,
    reason="root reads a chmod 000 file anyway; test_path_through_a_file "
    "covers the same unreadable-file branch",
)
def test_file_without_read_permission(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(b"Email\n")
    path.chmod(0)
    assert source_error(path) == f"Source file {path} cannot be read: Permission denied."


# --------------------------------------------------------------------------- never swallowed


def test_interrupts_are_not_taken_for_damage() -> None:
    assert _parser_failure(zipfile.BadZipFile("x"))
    assert _parser_failure(KeyError("xl/workbook.xml"))
    assert not _parser_failure(Interrupted(2))
    assert not _parser_failure(KeyboardInterrupt())


@pytest.mark.parametrize(
    ("name", "build", "message"),
    [
        (
            "leads.xlsx",
            lambda: xlsx_bytes(sheet_xml("<row/>", prolog=_LAUGHS)),
            _BOMB_REFUSED,
        ),
        (
            "leads.xlsx",
            lambda: xlsx_bytes(leads_sheet(3000, broken_at=2500)),
            "leads.xlsx: sheet 'Leads' is damaged after row 2499 "
            "(ExpatError: mismatched tag: line 1, column 352068). " + RESAVE,
        ),
    ],
)
def test_cli_exits_2_with_one_paragraph(
    cli: Cli, tmp_path: Path, name: str, build: Callable[[], bytes], message: str
) -> None:
    (tmp_path / name).write_bytes(build())
    (tmp_path / "mapping.toml").write_text('target = "minimo"\n[fields]\nemail = "Email"\n')
    result = cli("run", name, "--mapping", "mapping.toml", "--dry-run")
    assert (result.code, result.stdout, result.stderr) == (2, "", f"importer: error: {message}\n")
