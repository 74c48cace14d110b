"""The streaming XLSX reader (reading/xlsx.py) on XML as writers other than Excel and
openpyxl produce it: prefixed elements, cells and rows without references, rich text,
phonetic guides, styles that make numbers dates and durations."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, time
from pathlib import Path

from importer.reading import ReadOptions, SourceRow, open_source
from tests.test_reading import sheet_xml, xlsx_bytes

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def rows_of(path: Path) -> tuple[tuple[str, ...], list[SourceRow]]:
    with open_source(path, ReadOptions()) as source:
        return source.headers, list(source.rows())


def test_prefixed_elements_and_cells_without_references(tmp_path: Path) -> None:
    sheet = (
        f'<x:worksheet xmlns:x="{MAIN}"><x:sheetData>'
        '<x:row><x:c t="inlineStr"><x:is><x:t>Email</x:t></x:is></x:c>'
        '<x:c t="inlineStr"><x:is><x:t>Nome</x:t></x:is></x:c></x:row>'
        '<x:row><x:c t="inlineStr"><x:is><x:t>a@gmail.com</x:t></x:is></x:c>'
        '<x:c t="inlineStr"><x:is><x:t>Anna</x:t></x:is></x:c></x:row>'
        '<x:row r="5"><x:c r="B5" t="inlineStr"><x:is><x:t>Bruno</x:t></x:is></x:c></x:row>'
        "</x:sheetData></x:worksheet>"
    )
    path = tmp_path / "leads.xlsx"
    path.write_bytes(xlsx_bytes(sheet))
    assert rows_of(path) == (
        ("Email", "Nome"),
        [
            SourceRow(2, ("a@gmail.com", "Anna")),
            SourceRow(3, ()),
            SourceRow(4, ()),
            SourceRow(5, (None, "Bruno")),
        ],
    )


def test_rich_text_phonetic_guides_and_typed_cells(tmp_path: Path) -> None:
    strings = (
        f'<sst xmlns="{MAIN}"><si><t>Email</t></si><si><t>Note</t></si>'
        "<si><r><rPr><b/></rPr><t>Mario </t></r><r><t>Rossi</t></r>"
        "<rPh sb='0' eb='1'><t>ロッシ</t></rPh></si>"
        '<si><t xml:space="preserve">  spaced  </t></si></sst>'
    )
    rows = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
        '<c r="C1" t="inlineStr"><is><t>Flag</t></is></c>'
        '<c r="D1" t="inlineStr"><is><t>Sum</t></is></c></row>'
        '<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c>'
        '<c r="C2" t="b"><v>1</v></c><c r="D2"><f>SUM(1,2)</f><v>3</v></c></row>'
        '<row r="3"><c r="A3" t="inlineStr"><v>1.0</v><is><t>inline wins</t></is></c>'
        '<c r="B3" t="e"><v>#N/A</v></c><c r="C3" t="b"><v>0</v></c>'
        '<c r="D3" t="str"><f>"a"&amp;"b"</f><v>ab</v></c></row>'
    )
    path = tmp_path / "leads.xlsx"
    path.write_bytes(xlsx_bytes(sheet_xml(rows), shared_strings=strings))
    assert rows_of(path) == (
        ("Email", "Note", "Flag", "Sum"),
        [
            SourceRow(2, ("Mario Rossi", "  spaced  ", True, 3)),
            SourceRow(3, ("inline wins", "#N/A", False, "ab")),
        ],
    )


def test_date_time_and_duration_formats_from_the_styles(tmp_path: Path) -> None:
    styles = (
        f'<styleSheet xmlns="{MAIN}"><numFmts count="2">'
        '<numFmt numFmtId="164" formatCode="dd/mm/yyyy hh:mm"/>'
        '<numFmt numFmtId="165" formatCode="[h]:mm:ss"/></numFmts>'
        '<cellXfs count="5"><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/>'
        '<xf numFmtId="165"/><xf numFmtId="20"/></cellXfs></styleSheet>'
    )
    rows = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>n</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>d</t></is></c><c r="C1" t="inlineStr"><is><t>dt</t>'
        '</is></c><c r="D1" t="inlineStr"><is><t>h</t></is></c>'
        '<c r="E1" t="inlineStr"><is><t>t</t></is></c></row>'
        '<row r="2"><c r="A2" s="0"><v>45883</v></c><c r="B2" s="1"><v>45883</v></c>'
        '<c r="C2" s="2"><v>45883.5</v></c><c r="D2" s="3"><v>1.5</v></c>'
        '<c r="E2" s="4"><v>0.25</v></c></row>'
    )
    parts = zipfile.ZipFile(io.BytesIO(xlsx_bytes(sheet_xml(rows))))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        for info in parts.infolist():
            out.writestr(info, parts.read(info))
        out.writestr("xl/styles.xml", styles)
    path = tmp_path / "leads.xlsx"
    path.write_bytes(buffer.getvalue())
    assert rows_of(path)[1] == [
        SourceRow(
            2,
            (45883, datetime(2025, 8, 14), datetime(2025, 8, 14, 12), "36:00:00", time(6)),
        )
    ]
