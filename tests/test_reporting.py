"""Report writers: formula guard, XLSX continuation sheets, JSONL."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from openpyxl import load_workbook

from importer import reporting
from importer.errors import UsageError
from importer.journal import ReportRow


def rows(n: int) -> list[ReportRow]:
    return [
        ReportRow(i + 2, f"lead{i}@gmail.com", "+393330000000", "error" if i % 2 else "created",
                  "", "=cmd|' /C calc'!A0" if i % 2 else "", "")
        for i in range(n)
    ]  # fmt: skip


def test_xlsx_report_continues_on_a_second_sheet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reporting, "EXCEL_ROWS", 4)  # header + 3 rows per sheet
    path = tmp_path / "r.xlsx"
    assert reporting.write_report(rows(7), path) == {"created": 4, "error": 3}
    wb = load_workbook(path)
    assert wb.sheetnames == ["Report", "Report (2)", "Report (3)"]
    assert [ws.max_row for ws in wb.worksheets] == [4, 4, 2]
    second = wb["Report (2)"]
    assert [c.value for c in second[1]][:2] == ["row", "email"]
    assert [c.value for c in second[2]][:4] == [5, "lead3@gmail.com", "+393330000000", "error"]
    assert second["F2"].value == "=cmd|' /C calc'!A0" and second["F2"].data_type == "s"
    assert (second.freeze_panes, second.auto_filter.ref) == ("A2", "A1:G4")
    wb.close()


def test_csv_guards_formulas_and_jsonl_is_raw(tmp_path: Path) -> None:
    reporting.write_report(rows(2), tmp_path / "r.csv")
    reporting.write_report(rows(2), tmp_path / "r.jsonl")
    assert (tmp_path / "r.csv").read_text(encoding="utf-8-sig").splitlines()[2] == (
        "3,lead1@gmail.com,'+393330000000,error,,'=cmd|' /C calc'!A0,"
    )
    second = orjson.loads((tmp_path / "r.jsonl").read_bytes().splitlines()[1])
    assert second == {
        "row": 3, "email": "lead1@gmail.com", "phone": "+393330000000", "status": "error",
        "contact_id": "", "error": "=cmd|' /C calc'!A0", "warning": "",
    }  # fmt: skip
    assert not list(tmp_path.glob("*.tmp"))


def test_unknown_report_extension_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        reporting.write_report(rows(1), tmp_path / "r.txt")
    assert caught.value.paragraph() == (
        f"Cannot write {tmp_path / 'r.txt'} as .txt. Use one of: .csv, .xlsx, .jsonl."
    )
