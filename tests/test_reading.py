"""Reading (SPEC §4): CSV dialects and encodings, XLSX, XLS and ODS sheets, header detection,
Excel row numbers, file faults.

XLS and ODS files are built here byte by byte (no installed library writes them): a minimal
BIFF8 workbook in a minimal Compound File, and a minimal ODS zip. `tests/test_hostile_files.py`
reuses these builders.
"""

from __future__ import annotations

import struct
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
from openpyxl import Workbook
from openpyxl.styles import Font

from importer.errors import SourceError
from importer.reading import ReadOptions, SourceRow, open_source


@dataclass(frozen=True)
class Read:
    headers: tuple[str, ...]
    header_row: int
    rows: list[SourceRow]


def read(path: Path, **options: str | int | None) -> Read:
    with open_source(path, ReadOptions(**options)) as src:  # type: ignore[arg-type]
        return Read(src.headers, src.header_row, list(src.rows()))


def read_bytes(tmp_path: Path, data: bytes, name: str = "leads.csv", **options: str | int) -> Read:
    path = tmp_path / name
    path.write_bytes(data)
    return read(path, **options)


def source_error(path: Path, **options: str | int) -> str:
    with pytest.raises(SourceError) as exc:
        read(path, **options)
    assert exc.value.exit_code == 2
    return exc.value.paragraph()


# --------------------------------------------------------------------------- CSV dialects


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    lines = [
        ["Email", "Nome", "Città"],
        ["mario@gmail.com", "Mario", "Roma"],
        ["luigi@libero.it", "Luigi", "Milano"],
    ]
    data = "".join(delimiter.join(line) + "\r\n" for line in lines).encode()
    got = read_bytes(tmp_path, data)
    assert got.headers == ("Email", "Nome", "Città")
    assert got.rows == [
        SourceRow(2, ("mario@gmail.com", "Mario", "Roma")),
        SourceRow(3, ("luigi@libero.it", "Luigi", "Milano")),
    ]


def test_semicolon_file_whose_cells_contain_commas(tmp_path: Path) -> None:
    data = (
        b"Email;Nome;Note\n"
        b"mario@gmail.com;Rossi, Mario;a, b, c\n"
        b"luigi@gmail.com;Verdi, Luigi;x\n"
        b"anna@gmail.com;Bianchi, Anna;1,5\n"
    )
    got = read_bytes(tmp_path, data)
    assert got.headers == ("Email", "Nome", "Note")
    assert got.rows == [
        SourceRow(2, ("mario@gmail.com", "Rossi, Mario", "a, b, c")),
        SourceRow(3, ("luigi@gmail.com", "Verdi, Luigi", "x")),
        SourceRow(4, ("anna@gmail.com", "Bianchi, Anna", "1,5")),
    ]


def test_explicit_delimiter_overrides_sniffing(tmp_path: Path) -> None:
    data = b"Email;Nome,Cognome\nmario@gmail.com;Mario,Rossi\n"
    got = read_bytes(tmp_path, data, delimiter=";")
    assert got.headers == ("Email", "Nome,Cognome")
    assert got.rows == [SourceRow(2, ("mario@gmail.com", "Mario,Rossi"))]


def test_quoting_embedded_delimiters_quotes_and_newlines(tmp_path: Path) -> None:
    data = (
        b"Email,Note,Nome\r\n"
        b'mario@gmail.com,"riga1\r\nriga2\nriga3","Il ""Boss"""\r\n'
        b'luigi@gmail.com,"a,b",Luigi\r\n'
        b"anna@gmail.com,x,Anna\r\n"
    )
    got = read_bytes(tmp_path, data)
    assert got.rows == [
        SourceRow(2, ("mario@gmail.com", "riga1\r\nriga2\nriga3", 'Il "Boss"')),
        SourceRow(3, ("luigi@gmail.com", "a,b", "Luigi")),
        SourceRow(4, ("anna@gmail.com", "x", "Anna")),
    ]


def test_newline_in_the_header_record_keeps_row_numbers(tmp_path: Path) -> None:
    data = b'Email,"Note\nlunga"\nmario@gmail.com,x\nluigi@gmail.com,y\n'
    got = read_bytes(tmp_path, data)
    assert (got.headers, got.header_row) == (("Email", "Note\nlunga"), 1)
    assert [r.number for r in got.rows] == [2, 3]


# --------------------------------------------------------------------------- encodings


def test_utf8_with_bom(tmp_path: Path) -> None:
    data = "\ufeffEmail,Nome\nmario@gmail.com,Nicolò\n".encode()
    got = read_bytes(tmp_path, data)
    assert got.headers == ("Email", "Nome")
    assert got.rows == [SourceRow(2, ("mario@gmail.com", "Nicolò"))]


def test_utf8_without_bom(tmp_path: Path) -> None:
    data = "Email,Città\nmario@gmail.com,Forlì €\n".encode()
    got = read_bytes(tmp_path, data)
    assert got.headers == ("Email", "Città")
    assert got.rows == [SourceRow(2, ("mario@gmail.com", "Forlì €"))]


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_bom_excel_unicode_text(tmp_path: Path, codec: str) -> None:
    text = "Email\tCittà\tPrezzo\r\nmario@gmail.com\tPerù\t€ 5\r\n"
    bom = {"utf-16": b"", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[codec]
    got = read_bytes(tmp_path, bom + text.encode(codec), name="leads.txt")
    assert got.headers == ("Email", "Città", "Prezzo")
    assert got.rows == [SourceRow(2, ("mario@gmail.com", "Perù", "€ 5"))]


def test_cp1252_is_detected(tmp_path: Path) -> None:
    data = "Email;Città;Prezzo\nmario@gmail.com;Perù;€ 5\nluigi@gmail.com;Forlì;“10”\n".encode(
        "cp1252"
    )
    got = read_bytes(tmp_path, data)
    assert got.headers == ("Email", "Città", "Prezzo")
    assert got.rows == [
        SourceRow(2, ("mario@gmail.com", "Perù", "€ 5")),
        SourceRow(3, ("luigi@gmail.com", "Forlì", "“10”")),
    ]


def test_latin1_bytes_undefined_in_cp1252_still_read(tmp_path: Path) -> None:
    data = b"Email,Nome\nmario@gmail.com,Per\xf9\x81\n"
    got = read_bytes(tmp_path, data)
    assert got.rows == [SourceRow(2, ("mario@gmail.com", "Perù\x81"))]


def test_encoding_override(tmp_path: Path) -> None:
    # UTF-8 bytes read as cp1252 on request: the override wins over detection
    data = "Email,Città\nmario@gmail.com,Perù\n".encode()
    got = read_bytes(tmp_path, data, encoding="cp1252")
    assert got.headers == ("Email", "CittÃ\xa0")
    assert got.rows == [SourceRow(2, ("mario@gmail.com", "PerÃ¹"))]


def test_encoding_override_that_does_not_fit(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes("Email,Città\nmario@gmail.com,Perù\n".encode("cp1252"))
    assert source_error(path, encoding="utf-8") == (
        "leads.csv: bytes that are not valid utf-8 in row 1 (0xE0). Pass --encoding with the "
        "file's real encoding (e.g. cp1252, latin-1, utf-16), or re-export it as UTF-8."
    )


def test_unknown_encoding(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(b"Email\nmario@gmail.com\n")
    assert source_error(path, encoding="klingon") == (
        "Unknown encoding 'klingon'. Try utf-8 or cp1252."
    )


# --------------------------------------------------------------------------- rows and numbers


def test_header_after_blank_lines(tmp_path: Path) -> None:
    data = b"\n;;\n\nEmail;Nome\nmario@gmail.com;Mario\nluigi@gmail.com;Luigi\n"
    got = read_bytes(tmp_path, data)
    assert (got.headers, got.header_row) == (("Email", "Nome"), 4)
    assert got.rows == [
        SourceRow(5, ("mario@gmail.com", "Mario")),
        SourceRow(6, ("luigi@gmail.com", "Luigi")),
    ]


def test_explicit_header_row(tmp_path: Path) -> None:
    data = b"Export leads 2026,\nEmail,Nome\nmario@gmail.com,Mario\n"
    got = read_bytes(tmp_path, data, header_row=2)
    assert (got.headers, got.header_row) == (("Email", "Nome"), 2)
    assert got.rows == [SourceRow(3, ("mario@gmail.com", "Mario"))]


def test_header_row_past_the_end(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(b"Email\nmario@gmail.com\n")
    assert source_error(path, header_row=5) == (
        "leads.csv has no row 5: --header-row is past the end. "
        "Give the number Excel shows for the row that holds the column names."
    )


def test_blank_rows_in_the_middle_are_yielded_trailing_ones_are_not(tmp_path: Path) -> None:
    data = b"Email,Nome\nmario@gmail.com,Mario\n\n,\nluigi@gmail.com,Luigi\n , \n\n,,\n"
    got = read_bytes(tmp_path, data)
    assert [r.number for r in got.rows] == [2, 3, 4, 5]
    assert [r.empty for r in got.rows] == [False, True, True, False]
    assert got.rows[3] == SourceRow(5, ("luigi@gmail.com", "Luigi"))


def test_header_only_file_has_no_rows(tmp_path: Path) -> None:
    got = read_bytes(tmp_path, b"Email,Nome\n\n\n")
    assert (got.headers, got.rows) == (("Email", "Nome"), [])


def test_trailing_empty_header_columns_are_ignored(tmp_path: Path) -> None:
    got = read_bytes(tmp_path, b"Email,Nome,,\nmario@gmail.com,Mario,,\n")
    assert got.headers == ("Email", "Nome")
    assert got.rows == [SourceRow(2, ("mario@gmail.com", "Mario"))]


def test_empty_cells_become_none(tmp_path: Path) -> None:
    got = read_bytes(tmp_path, b"Email,Nome,Tel\nmario@gmail.com,  ,\n")
    assert got.rows == [SourceRow(2, ("mario@gmail.com", None, None))]


def test_short_rows_are_padded(tmp_path: Path) -> None:
    got = read_bytes(tmp_path, b"Email,Nome,Tel\nmario@gmail.com\nluigi@gmail.com,Luigi\n")
    assert got.rows == [
        SourceRow(2, ("mario@gmail.com", None, None)),
        SourceRow(3, ("luigi@gmail.com", "Luigi", None)),
    ]


def test_long_rows(tmp_path: Path) -> None:
    data = b"Email,Nome,Tel\nmario@gmail.com,Rossi, Mario,333\nanna@gmail.com,Anna,1,,  \n"
    got = read_bytes(tmp_path, data)
    assert got.rows == [
        SourceRow(
            2,
            ("mario@gmail.com", "Rossi", " Mario", "333"),  # the extra cell kept, for rejects
            "row has 4 cells but the header has 3 (extra: '333'); check for an unquoted delimiter",
        ),
        SourceRow(3, ("anna@gmail.com", "Anna", "1")),
    ]


# --------------------------------------------------------------------------- file faults


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(b"")
    assert source_error(path) == f"Source file {path} is empty. Export the spreadsheet again."


def test_blank_lines_only(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(b"\r\n\r\n,,\r\n  \r\n")
    assert source_error(path) == "leads.csv has no header row. Export the spreadsheet again."


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    assert source_error(path) == f"Source file {path} does not exist. Check the path."


def test_directory(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.mkdir()
    assert source_error(path) == f"Source {path} is a directory, not a file."


@pytest.mark.parametrize("data", [b"\x7fELF\x02\x01\x01\x00\x00\x00", b"Email\nmario\x00\x00\n"])
def test_binary_file_renamed_csv(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(data)
    assert source_error(path) == (
        "leads.csv is not a text spreadsheet (it contains binary data). "
        "Check that you picked the right file; export it as CSV or XLSX."
    )


# --------------------------------------------------------------------------- XLSX


def save(wb: Workbook, path: Path) -> Path:
    wb.save(path)
    wb.close()
    return path


def test_xlsx_typed_cells(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Email", "Ordini", "Prezzo", "Data", "Consenso", "Tel", 2026])
    ws.append(["mario@gmail.com", 42, 3.5, datetime(2026, 1, 31, 9, 30), True, 393391234567])
    got = read(save(wb, tmp_path / "leads.xlsx"))
    assert (got.headers, got.header_row) == (
        ("Email", "Ordini", "Prezzo", "Data", "Consenso", "Tel", "2026"),
        1,
    )
    assert got.rows == [
        SourceRow(
            2,
            (
                "mario@gmail.com",
                42,
                3.5,
                datetime(2026, 1, 31, 9, 30),
                True,
                393391234567,
                None,
            ),
        )
    ]


def test_xlsx_first_visible_sheet(tmp_path: Path) -> None:
    wb = Workbook()
    hidden = wb.active
    assert hidden is not None
    hidden.title = "Config"
    hidden.sheet_state = "hidden"
    hidden.append(["Secret"])
    leads = wb.create_sheet("Leads")
    leads.append(["Email"])
    leads.append(["mario@gmail.com"])
    other = wb.create_sheet("Altro")
    other.append(["E-mail"])
    got = read(save(wb, tmp_path / "leads.xlsx"))
    assert got.headers == ("Email",)
    assert got.rows == [SourceRow(2, ("mario@gmail.com",))]


def test_xlsx_sheet_option(tmp_path: Path) -> None:
    wb = Workbook()
    first = wb.active
    assert first is not None
    first.title = "Leads"
    first.append(["Email"])
    other = wb.create_sheet("Fiera 2026")
    other.append(["E-mail", "Nome"])
    other.append(["luigi@libero.it", "Luigi"])
    path = save(wb, tmp_path / "leads.xlsx")
    got = read(path, sheet="Fiera 2026")
    assert got.headers == ("E-mail", "Nome")
    assert got.rows == [SourceRow(2, ("luigi@libero.it", "Luigi"))]
    assert source_error(path, sheet="Fiera") == (
        "leads.xlsx has no sheet 'Fiera'. Its sheets are: 'Leads', 'Fiera 2026'."
    )


def test_xlsx_header_row_number_and_trailing_rows(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.cell(3, 1, "Email")
    ws.cell(3, 2, "Nome")
    ws.cell(4, 1, "mario@gmail.com")
    ws.cell(4, 2, "Mario")
    ws.cell(4, 4, "note without header")
    ws.cell(6, 1, "luigi@gmail.com")
    ws.cell(10, 1).font = Font(bold=True)  # formatted but empty: Excel writes the cell
    ws.cell(11, 2, "   ")
    got = read(save(wb, tmp_path / "leads.xlsx"))
    assert (got.headers, got.header_row) == (("Email", "Nome"), 3)
    assert got.rows == [
        SourceRow(
            4,
            ("mario@gmail.com", "Mario", None, "note without header"),  # kept, for rejects
            "row has a value beyond the last header column ('note without header'); "
            "give that column a header or remove the value",
        ),
        SourceRow(5, ()),
        SourceRow(6, ("luigi@gmail.com", None)),
    ]


def test_xlsx_explicit_header_row(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Export leads", None])
    ws.append(["Email", "Nome"])
    ws.append(["mario@gmail.com", "Mario"])
    got = read(save(wb, tmp_path / "leads.xlsx"), header_row=2)
    assert (got.headers, got.header_row) == (("Email", "Nome"), 2)
    assert got.rows == [SourceRow(3, ("mario@gmail.com", "Mario"))]


def test_xlsx_detected_by_content_whatever_the_name(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Email"])
    ws.append(["mario@gmail.com"])
    got = read(save(wb, tmp_path / "leads.csv"))
    assert got.rows == [SourceRow(2, ("mario@gmail.com",))]


def test_corrupt_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "leads.xlsx"
    path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)
    assert source_error(path) == (
        "leads.xlsx is incomplete: it starts like an XLSX or ODS workbook but its end is "
        "missing (cut short by a download, a copy or a full disk?). Download or export it again."
    )


def test_xlsx_without_a_header(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Leads"
    path = save(wb, tmp_path / "leads.xlsx")
    assert source_error(path) == "leads.xlsx: sheet 'Leads' has no header row."


# --------------------------------------------------------------------------- header detection


def test_title_and_blank_row_above_the_header(tmp_path: Path) -> None:
    data = (
        b"Lead fiera Milano 2026,,\r\n"
        b",,\r\n"
        b"Email,Nome,Cognome\r\n"
        b"mario@gmail.com,Mario,Rossi\r\n"
        b"\r\n"
        b"luigi@gmail.com,Luigi,Verdi\r\n"
    )
    got = read_bytes(tmp_path, data)
    assert (got.headers, got.header_row) == (("Email", "Nome", "Cognome"), 3)
    assert got.rows == [
        SourceRow(4, ("mario@gmail.com", "Mario", "Rossi")),
        SourceRow(5, ()),
        SourceRow(6, ("luigi@gmail.com", "Luigi", "Verdi")),
    ]


def test_two_cell_title_above_a_wider_table(tmp_path: Path) -> None:
    data = (
        b"Leads;Milano 2026;;;\n"
        b"Email;Nome;Cognome;Tel;Citt\xc3\xa0\n"
        b"mario@gmail.com;Mario;Rossi;333 1234567;Roma\n"
    )
    got = read_bytes(tmp_path, data)
    assert (got.headers, got.header_row) == (("Email", "Nome", "Cognome", "Tel", "Città"), 2)
    assert got.rows == [SourceRow(3, ("mario@gmail.com", "Mario", "Rossi", "333 1234567", "Roma"))]


def test_rows_read_while_looking_for_the_header_keep_their_numbers(tmp_path: Path) -> None:
    lines = ["Export CRM", "", "Email,Nome", *(f"u{i}@gmail.com,Nome {i}" for i in range(100))]
    got = read_bytes(tmp_path, "\n".join(lines).encode())
    assert got.header_row == 3
    assert [r.number for r in got.rows] == list(range(4, 104))
    assert got.rows[-1] == SourceRow(103, ("u99@gmail.com", "Nome 99"))


def test_one_column_file_takes_the_first_row(tmp_path: Path) -> None:
    # one text cell per row everywhere: nothing tells a title from a header, so the first
    # non-empty row is the header and --header-row is the way out
    got = read_bytes(tmp_path, b"\nEmail\nmario@gmail.com\n")
    assert (got.headers, got.header_row) == (("Email",), 2)
    assert got.rows == [SourceRow(3, ("mario@gmail.com",))]


def test_header_row_option_beats_detection(tmp_path: Path) -> None:
    data = b"Campagna,Fiera\nEmail,Nome\nmario@gmail.com,Mario\n"
    assert read_bytes(tmp_path, data).header_row == 1
    got = read_bytes(tmp_path, data, header_row=2)
    assert (got.headers, got.header_row) == (("Email", "Nome"), 2)
    assert got.rows == [SourceRow(3, ("mario@gmail.com", "Mario"))]


def test_header_row_option_on_an_empty_row(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(b"Email\n\nmario@gmail.com\n")
    assert source_error(path, header_row=2) == (
        "leads.csv: row 2 is empty, so it cannot be the header. "
        "Give --header-row the number Excel shows for the row with the column names."
    )


def test_xlsx_title_above_the_header(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Leads"
    ws["A1"] = "Lead fiera Milano 2026"
    ws.merge_cells("A1:D1")
    ws.append([])
    ws.append(["Email", "Nome", "Iscritto il", 2026])
    ws.append(["mario@gmail.com", "Mario", datetime(2026, 1, 31), 1])
    got = read(save(wb, tmp_path / "leads.xlsx"))
    assert (got.headers, got.header_row) == (("Email", "Nome", "Iscritto il", "2026"), 3)
    assert got.rows == [SourceRow(4, ("mario@gmail.com", "Mario", datetime(2026, 1, 31), 1))]


# --------------------------------------------------------------------------- more formats


def test_utf16_without_bom(tmp_path: Path) -> None:
    text = "Email\tCittà\r\nmario@gmail.com\tPerù\r\n"
    got = read_bytes(tmp_path, text.encode("utf-16-le"), name="leads.txt")
    assert got.headers == ("Email", "Città")
    assert got.rows == [SourceRow(2, ("mario@gmail.com", "Perù"))]


def test_csv_named_xlsx_is_read_as_csv(tmp_path: Path) -> None:
    got = read_bytes(tmp_path, b"Email;Nome\nmario@gmail.com;Mario\n", name="leads.xlsx")
    assert got.rows == [SourceRow(2, ("mario@gmail.com", "Mario"))]


@pytest.mark.parametrize(
    "data", [b"<!DOCTYPE html>\n<html><table><tr><td>Email</td></tr></table>", b"<?xml ?><a/>"]
)
def test_web_page_named_xls(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "leads.xls"
    path.write_bytes(data)
    assert source_error(path) == (
        "leads.xls is a web page or an XML file, not a spreadsheet (some tools save HTML "
        "tables with an .xls name). Open it in Excel or LibreOffice and save it as .xlsx or .csv."
    )


def test_xlsx_stored_dimension_is_ignored(tmp_path: Path) -> None:
    # some exporters write <dimension ref="A1"/> whatever the sheet holds: openpyxl would
    # read one cell of it
    rows = '<row r="1">{}</row><row r="2">{}</row><row r="3">{}</row>'.format(
        inline("A1", "Email") + inline("B1", "Nome"),
        inline("A2", "mario@gmail.com") + inline("B2", "Mario"),
        inline("A3", "luigi@gmail.com"),
    )
    path = tmp_path / "leads.xlsx"
    path.write_bytes(xlsx_bytes(sheet_xml(rows, dimension="A1")))
    got = read(path)
    assert got.headers == ("Email", "Nome")
    assert got.rows == [
        SourceRow(2, ("mario@gmail.com", "Mario")),
        SourceRow(3, ("luigi@gmail.com", None)),
    ]


# --------------------------------------------------------------------------- XLS


def test_xls_typed_cells_and_first_visible_sheet(tmp_path: Path) -> None:
    leads: Rows = [
        ["Lead fiera Milano 2026"],
        [],
        ["Email", "Ordini", "Prezzo", "Data", "Consenso", "Tel", 2026],
        ["mario@gmail.com", 42, 3.5, datetime(2026, 1, 31, 9, 30), True, 393391234567],
        [],
        ["luigi@gmail.com", None, None, None, False, None, None, "nota"],
    ]
    path = tmp_path / "leads.xls"
    path.write_bytes(xls_bytes({"Config": [["Secret"]], "Leads": leads}, hidden=("Config",)))
    got = read(path)
    assert (got.headers, got.header_row) == (
        ("Email", "Ordini", "Prezzo", "Data", "Consenso", "Tel", "2026"),
        3,
    )
    assert got.rows == [
        SourceRow(
            4,
            ("mario@gmail.com", 42, 3.5, datetime(2026, 1, 31, 9, 30), True, 393391234567, None),
        ),
        SourceRow(5, ()),
        SourceRow(
            6,
            ("luigi@gmail.com", None, None, None, False, None, None, "nota"),
            "row has a value beyond the last header column ('nota'); "
            "give that column a header or remove the value",
        ),
    ]


def test_xls_sheet_option_and_any_name(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"  # an XLS renamed: read by content
    path.write_bytes(
        xls_bytes({"Leads": [["Email"]], "Fiera 2026": [["E-mail"], ["luigi@libero.it"]]})
    )
    got = read(path, sheet="Fiera 2026")
    assert got.rows == [SourceRow(2, ("luigi@libero.it",))]
    assert source_error(path, sheet="Fiera") == (
        "export.csv has no sheet 'Fiera'. Its sheets are: 'Leads', 'Fiera 2026'."
    )


# --------------------------------------------------------------------------- ODS


def test_ods_typed_cells_hidden_sheet_and_offset_columns(tmp_path: Path) -> None:
    # the table starts in column B: cells stay in their columns, numbers as in Excel
    leads: Rows = [
        [],
        [None, "Email", "Ordini", "Prezzo", "Data", "Giorno", "Consenso"],
        [None, "mario@gmail.com", 42, 3.5, datetime(2026, 1, 31, 9, 30), date(2026, 2, 1), True],
        [None, "luigi@gmail.com", 393391234567, None, None, None, None, None, "nota"],
    ]
    path = tmp_path / "leads.ods"
    path.write_bytes(ods_bytes({"Config": [["Secret"]], "Leads": leads}, hidden=("Config",)))
    got = read(path)
    assert (got.headers, got.header_row) == (
        ("", "Email", "Ordini", "Prezzo", "Data", "Giorno", "Consenso"),
        2,
    )
    assert got.rows == [
        SourceRow(
            3,
            (
                None,
                "mario@gmail.com",
                42,
                3.5,
                datetime(2026, 1, 31, 9, 30),
                datetime(2026, 2, 1),
                True,
            ),
        ),
        SourceRow(
            4,
            (None, "luigi@gmail.com", 393391234567, None, None, None, None, None, "nota"),
            "row has a value beyond the last header column ('nota'); "
            "give that column a header or remove the value",
        ),
    ]


def test_ods_named_xlsx_and_sheet_option(tmp_path: Path) -> None:
    path = tmp_path / "leads.xlsx"
    path.write_bytes(ods_bytes({"Leads": [["Email"]], "Fiera": [["E-mail"], ["anna@tim.it"]]}))
    got = read(path, sheet="Fiera")
    assert (got.headers, got.rows) == (("E-mail",), [SourceRow(2, ("anna@tim.it",))])


def test_ods_empty_sheet(tmp_path: Path) -> None:
    path = tmp_path / "leads.ods"
    path.write_bytes(ods_bytes({"Leads": []}))
    assert source_error(path) == "leads.ods: sheet 'Leads' has no header row."


def test_xls_without_calamine_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "python_calamine", None)  # import fails
    path = tmp_path / "leads.xls"
    path.write_bytes(xls_bytes({"Leads": [["Email"]]}))
    assert source_error(path) == (
        "leads.xls is an XLS workbook, and reading those needs the python-calamine package, "
        "which is not installed. Install it (pip install python-calamine), or save the file "
        "as .xlsx or .csv."
    )


# --------------------------------------------------------------------------- builders

Rows = Sequence[Sequence[str | int | float | bool | datetime | date | None]]


def inline(ref: str, text: str) -> str:
    """An XLSX cell holding an inline string."""
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(text)}</t></is></c>'


def sheet_xml(rows: str, dimension: str | None = None, prolog: str = "") -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        f'{prolog}<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"{dim}<sheetData>{rows}</sheetData></worksheet>"
    )


def xlsx_bytes(
    sheet: str | bytes, shared_strings: str | None = None, stored: Sequence[str] = ()
) -> bytes:
    """A minimal XLSX written by hand, for contents openpyxl would refuse to write."""
    main = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    sst = (
        f'<Override PartName="/xl/sharedStrings.xml" ContentType="{main}.sharedStrings+xml"/>'
        if shared_strings is not None
        else ""
    )
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{main}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" '
            f'ContentType="{main}.worksheet+xml"/>{sst}</Types>'
        ),
        "_rels/.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"
        ),
        "xl/workbook.xml": (
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            f'xmlns:r="{rel}"><sheets>'
            '<sheet name="Leads" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            "</Relationships>"
        ),
        "xl/worksheets/sheet1.xml": sheet,
    }
    if shared_strings is not None:
        parts["xl/sharedStrings.xml"] = shared_strings
    return zip_bytes(parts, stored)


def zip_bytes(parts: dict[str, str | bytes], stored: Sequence[str] = ()) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            method = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=method)
    return buffer.getvalue()


_ODS_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"'
)


def ods_cell(value: str | int | float | bool | datetime | date | None) -> str:
    if value is None:
        return "<table:table-cell/>"
    if isinstance(value, bool):
        kind = f'office:value-type="boolean" office:boolean-value="{str(value).lower()}"'
    elif isinstance(value, int | float):
        kind = f'office:value-type="float" office:value="{value!r}"'
    elif isinstance(value, date):
        kind = f'office:value-type="date" office:date-value="{value.isoformat()}"'
    else:
        kind = 'office:value-type="string"'
    return f"<table:table-cell {kind}><text:p>{escape(str(value))}</text:p></table:table-cell>"


def ods_table(name: str, rows: Rows, hidden: bool = False) -> str:
    style = ' table:style-name="hidden"' if hidden else ""
    body = "".join(
        "<table:table-row>" + "".join(map(ods_cell, row or [None])) + "</table:table-row>"
        for row in rows
    )
    return f"<table:table table:name={quoteattr(name)}{style}>{body}</table:table>"


def ods_bytes(
    sheets: dict[str, Rows], hidden: Sequence[str] = (), tables: str | None = None
) -> bytes:
    """A minimal ODS: mimetype (stored, first), manifest, content.xml."""
    body = tables or "".join(ods_table(n, rows, n in hidden) for n, rows in sheets.items())
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODS_NS} '
        'office:version="1.2"><office:automatic-styles>'
        '<style:style style:name="hidden" style:family="table">'
        '<style:table-properties table:display="false"/></style:style>'
        "</office:automatic-styles><office:body><office:spreadsheet>"
        f"{body}</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.2"><manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    return zip_bytes(
        {
            "mimetype": "application/vnd.oasis.opendocument.spreadsheet",
            "META-INF/manifest.xml": manifest,
            "content.xml": content,
        },
        stored=("mimetype",),
    )


def _record(kind: int, data: bytes) -> bytes:
    return struct.pack("<HH", kind, len(data)) + data


def _bof(substream: int) -> bytes:
    return _record(0x0809, struct.pack("<HHHHII", 0x0600, substream, 0, 0, 0, 0))


_EOF = _record(0x000A, b"")
_EXCEL_EPOCH = datetime(1899, 12, 30)


def _xls_cells(rows: Rows) -> bytes:
    out = b""
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, bool):  # BoolErr
                out += _record(0x0205, struct.pack("<HHHBB", r, c, 0, int(value), 0))
            elif isinstance(value, datetime):  # Number with XF 2 (format 22, m/d/yy h:mm)
                serial = (value - _EXCEL_EPOCH).total_seconds() / 86400
                out += _record(0x0203, struct.pack("<HHHd", r, c, 2, serial))
            elif isinstance(value, int | float):  # Number with XF 0 (General)
                out += _record(0x0203, struct.pack("<HHHd", r, c, 0, float(value)))
            else:  # Label, UTF-16
                text = str(value)
                data = struct.pack("<HHHHB", r, c, 0, len(text), 1) + text.encode("utf-16-le")
                out += _record(0x0204, data)
    return out


def xls_bytes(sheets: dict[str, Rows], hidden: Sequence[str] = ()) -> bytes:
    """A minimal BIFF8 workbook: globals (BOF, three XFs, one BoundSheet8 each, EOF), then
    one substream per sheet (BOF, cells, EOF), in a minimal Compound File."""

    def boundsheet(offset: int, name: str) -> bytes:
        state = 1 if name in hidden else 0
        head = struct.pack("<IBBBB", offset, state, 0, len(name), 1)
        return _record(0x0085, head + name.encode("utf-16-le"))

    xfs = b"".join(_record(0x00E0, struct.pack("<HH", 0, fmt) + bytes(16)) for fmt in (0, 14, 22))
    globals_ = _bof(0x0005) + xfs
    offset = len(globals_) + sum(len(boundsheet(0, n)) for n in sheets) + len(_EOF)
    sheet_streams = b""
    for name, rows in sheets.items():
        globals_ += boundsheet(offset + len(sheet_streams), name)
        sheet_streams += _bof(0x0010) + _xls_cells(rows) + _EOF
    return cfb_bytes({"Workbook": globals_ + _EOF + sheet_streams})


def cfb_bytes(streams: dict[str, bytes]) -> bytes:
    """A Compound File (version 3, 512-byte sectors), every stream padded past the 4 KiB
    mini-stream cutoff so that one FAT sector describes everything."""
    sector = 512
    end, fat_marker, free, no_stream = 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF, 0xFFFFFFFF
    data = b""
    entries: list[tuple[str, int, int]] = []
    fat: list[int] = []
    for name, blob in streams.items():
        blob = blob.ljust(4096, b"\0")
        blob += bytes(-len(blob) % sector)
        first, count = len(fat), len(blob) // sector
        fat += [*range(first + 1, first + count), end]
        entries.append((name, first, len(blob)))
        data += blob
    directory_sector, fat_sector = len(fat), len(fat) + 1
    fat += [end, fat_marker]
    fat += [free] * (128 - len(fat))

    def entry(name: str, kind: int, child: int, start: int, size: int, right: int) -> bytes:
        encoded = (name + "\0").encode("utf-16-le")
        return (
            encoded.ljust(64, b"\0")
            + struct.pack("<HBBIII", len(encoded), kind, 1, no_stream, right, child)
            + bytes(36)
            + struct.pack("<IQ", start, size)
        )

    directory = entry("Root Entry", 5, 1, end, 0, no_stream)
    for i, (name, start, size) in enumerate(entries):
        right = i + 2 if i + 1 < len(entries) else no_stream
        directory += entry(name, 2, no_stream, start, size, right)
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + bytes(16)
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + bytes(6)
        + struct.pack("<9I", 0, 1, directory_sector, 0, 4096, end, 0, end, 0)
        + struct.pack("<I", fat_sector)
        + b"\xff" * 4 * 108
    )
    return header + data + directory.ljust(sector, b"\0") + struct.pack("<128I", *fat)
