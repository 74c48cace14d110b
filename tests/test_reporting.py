"""Report writers: formula guard, XLSX continuation sheets, JSONL."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from openpyxl import load_workbook

from importer import reporting
from importer.errors import UsageError
from importer.journal import Journal, ReportRow
from importer.normalizing import Staged, record
from importer.reporting import report, tables


def rows(n: int) -> list[ReportRow]:
    return [
        ReportRow(i + 2, f"lead{i}@gmail.com", "+393330000000", "error" if i % 2 else "created",
                  "", "=cmd|' /C calc'!A0" if i % 2 else "", "", "")
        for i in range(n)
    ]  # fmt: skip


def test_xlsx_report_continues_on_a_second_sheet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tables, "EXCEL_ROWS", 4)  # header + 3 rows per sheet
    path = tmp_path / "r.xlsx"
    assert reporting.write_report(rows(7), path) == {"created": 4, "error": 3}
    wb = load_workbook(path)
    assert wb.sheetnames == ["Report", "Report (2)", "Report (3)"]
    assert [ws.max_row for ws in wb.worksheets] == [4, 4, 2]
    second = wb["Report (2)"]
    assert [c.value for c in second[1]][:2] == ["row", "email"]
    assert [c.value for c in second[2]][:4] == [5, "lead3@gmail.com", "+393330000000", "error"]
    assert second["F2"].value == "=cmd|' /C calc'!A0" and second["F2"].data_type == "s"
    assert (second.freeze_panes, second.auto_filter.ref) == ("A2", "A1:H4")
    wb.close()


def test_csv_guards_formulas_and_jsonl_is_raw(tmp_path: Path) -> None:
    reporting.write_report(rows(2), tmp_path / "r.csv")
    reporting.write_report(rows(2), tmp_path / "r.jsonl")
    assert (tmp_path / "r.csv").read_text(encoding="utf-8-sig").splitlines()[2] == (
        "3,lead1@gmail.com,'+393330000000,error,,'=cmd|' /C calc'!A0,,"
    )
    second = orjson.loads((tmp_path / "r.jsonl").read_bytes().splitlines()[1])
    assert second == {
        "row": 3, "email": "lead1@gmail.com", "phone": "+393330000000", "status": "error",
        "contact_id": "", "error": "=cmd|' /C calc'!A0", "warning": "", "changes": "",
    }  # fmt: skip
    assert not list(tmp_path.glob("*.tmp"))


def test_unknown_report_extension_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        reporting.write_report(rows(1), tmp_path / "r.txt")
    assert caught.value.paragraph() == (
        f"Cannot write {tmp_path / 'r.txt'} as .txt. Use one of: .csv, .xlsx, .jsonl."
    )


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_long_report_written_in_parts_equals_the_one_written_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    """Worker processes write a long report in parts (BOM and header only in the first),
    joined into the same bytes as one process writes."""
    monkeypatch.setattr(report, "PARALLEL_ROWS", 5)
    with Journal(tmp_path / "job.sqlite") as j:
        j.add_staged(
            record(Staged(n, "pending", f"lead{n}@gmail.com", "+393330000000", {"n": n}))
            if n % 4
            else record(Staged(n, "error", f"=lead{n}", None, None, (), f"bad row {n}"))
            for n in range(2, 13)
        )
        at_once = reporting.write_job_report(j, True, tmp_path / f"one{suffix}", workers=1)
        in_parts = reporting.write_job_report(j, True, tmp_path / f"three{suffix}", workers=3)
    assert at_once == in_parts == {"valid": 8, "error": 3}
    assert (tmp_path / f"three{suffix}").read_bytes() == (tmp_path / f"one{suffix}").read_bytes()
    lines = (tmp_path / f"three{suffix}").read_bytes().splitlines()
    assert len(lines) == 11 + (suffix == ".csv")
    if suffix == ".csv":
        assert lines[0] == b"\xef\xbb\xbfrow,email,phone,status,contact_id,error,warning,changes"
        assert lines[3] == b"4,'=lead4,,error,,bad row 4,,"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("one", "three"))) == [
        f"one{suffix}",
        f"three{suffix}",
    ]
