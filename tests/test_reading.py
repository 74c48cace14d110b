"""Reading (SPEC §4): CSV dialects and encodings, XLSX sheets, Excel row numbers, file faults."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

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
        "leads.csv: bytes that are not valid utf-8 at or after row 1. Pass --encoding with the "
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
        "leads.csv has no header row. Export the spreadsheet again."
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
            ("mario@gmail.com", "Rossi", " Mario"),
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


@pytest.mark.parametrize("suffix", [".xls", ".ods"])
def test_unsupported_formats(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"leads{suffix}"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
    assert source_error(path) == (
        f"leads{suffix}: {suffix} files are not supported yet. "
        "Save it as .xlsx or .csv from Excel or LibreOffice and import that."
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
            ("mario@gmail.com", "Mario"),
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
        "leads.xlsx is not a readable XLSX workbook (BadZipFile: File is not a zip file). "
        "Open it in Excel or LibreOffice and save it again as .xlsx."
    )


def test_xlsx_without_a_header(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Leads"
    path = save(wb, tmp_path / "leads.xlsx")
    assert source_error(path) == "leads.xlsx: sheet 'Leads' has no header row."
