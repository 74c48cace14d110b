"""The rejects file and the report's options (SPEC §6): nothing typed is lost, a rejects file
imports again as it was, outputs in the source's delimiter, the source's own columns."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from importer.errors import UsageError
from importer.pipeline import Context, RunResult, run
from importer.sandbox import SandboxThread
from importer.settings import RunSettings
from tests.conftest import sandbox_env

MAPPING = (
    'target = "minimo"\n[options]\ndefault_region = "IT"\n'
    '[fields]\nemail = "Email"\nphone = { column = "Phone", optional = true }\n'
    '"customFields.name" = "Name"\n'
)


def source(tmp: Path, rows: list[str], name: str = "leads.csv") -> Path:
    path = tmp / name
    path.write_text("\n".join(["Email;Phone;Name;Note", *rows]) + "\n", encoding="utf-8")
    return path


def dry_run(tmp: Path, src: Path, **options: Any) -> RunResult:
    (tmp / "m.toml").write_text(MAPPING)
    settings = RunSettings(
        source=src, mapping=tmp / "m.toml", report=tmp / "report.csv", dry_run=True, **options
    )
    return run(settings, Context(env={}))


def rows_of(path: Path, delimiter: str = ";") -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh, delimiter=delimiter))


def test_rejects_keep_every_cell_and_import_again_with_one_error_column(tmp_path: Path) -> None:
    long = "n" * 150
    src = source(
        tmp_path,
        [
            "a@gmail.com;;Anna;ok",
            "bruno@gmail.com;;Bruno;a note; with a semicolon;and more",  # 6 cells, header 4
            "c@gmail.com;;Carla;x",
            f"{long}@@gmail.com;;Dario;y",
        ],
    )
    rejects = tmp_path / "rejects.csv"
    assert dry_run(tmp_path, src, rejects=rejects).exit_code == 1
    quoted = f"{(long + '@@gmail.com')[:100]!r}… (161 characters)"
    assert rows_of(rejects) == [
        ["row", "Email", "Phone", "Name", "Note", "error"],
        [
            "3", "bruno@gmail.com", "", "Bruno", "a note", "row has 6 cells but the header has "
            "4 (extra: ' with a semicolon'); check for an unquoted delimiter",
            "with a semicolon", "and more",
        ],
        ["5", f"{long}@@gmail.com", "", "Dario", "y", f"invalid email {quoted} in column Email"],
    ]  # fmt: skip
    again = tmp_path / "again.csv"
    assert dry_run(tmp_path, rejects, rejects=again).exit_code == 1
    assert rows_of(again)[0] == ["row", "Email", "Phone", "Name", "Note", "error"]
    assert [r[0] for r in rows_of(again)[1:]] == ["2", "3"], "the row in the file read now"
    assert rows_of(again)[1][6:] == ["with a semicolon", "and more"]


def test_an_xlsx_rejects_file_whose_cell_is_too_long_is_also_written_whole(tmp_path: Path) -> None:
    note = "é" * 40_000
    src = source(tmp_path, ["a@gmail.com;;Anna;ok", f"nope;;Bruno;{note}"])
    rejects = tmp_path / "rejects.xlsx"
    result = dry_run(tmp_path, src, rejects=rejects)
    whole = tmp_path / "rejects.whole.csv"
    assert result.summary["notes"] == [
        "a rejected row holds a cell longer than an XLSX cell (32,767 characters): cut in "
        f"{rejects}, whole in {whole}"
    ]
    wb = load_workbook(rejects, read_only=True)
    cells = [c.value for c in next(iter(wb["Rejects"].iter_rows(min_row=2)))]
    wb.close()
    assert cells[:4] == [3, "nope", None, "Bruno"] and cells[4] == note[:32_767]
    assert rows_of(whole)[1][4] == note


def test_rejects_warnings_bring_back_the_rows_sent_without_a_value(tmp_path: Path) -> None:
    src = source(tmp_path, ["a@gmail.com;333 1234567;Anna;", "b@gmail.com;12;Bruno;", "x;;Y;"])
    plain, warned = tmp_path / "plain.csv", tmp_path / "warned.csv"
    dry_run(tmp_path, src, rejects=plain)
    dry_run(tmp_path, src, rejects=warned, rejects_warnings=True)
    assert [r[0] for r in rows_of(plain)[1:]] == ["4"]
    assert rows_of(warned)[1:] == [
        ["3", "b@gmail.com", "12", "Bruno", "",
         "invalid phone '12' in column Phone: sent without phone"],
        ["4", "x", "", "Y", "", "invalid email 'x' in column Email"],
    ]  # fmt: skip


def test_errors_ok_exits_0_when_only_the_data_was_refused(tmp_path: Path) -> None:
    src = source(tmp_path, ["a@gmail.com;;Anna;", "x;;Y;"])
    result = dry_run(tmp_path, src, errors_ok=True)
    assert result.exit_code == 0
    assert result.summary["counts"] == {"valid": 1, "error": 1}


def test_report_columns_add_the_sources_own(tmp_path: Path, sandbox: SandboxThread) -> None:
    src = source(tmp_path, ["a@gmail.com;;Anna;first", ";;;", "b@gmail.com;;Bruno;second"])
    (tmp_path / "m.toml").write_text(MAPPING)
    settings = RunSettings(
        source=src,
        mapping=tmp_path / "m.toml",
        report=tmp_path / "report.csv",
        state_dir=tmp_path / "state",
        report_columns=("name", "Note"),
    )
    assert run(settings, Context(env=sandbox_env(sandbox.base_url))).exit_code == 0
    assert rows_of(tmp_path / "report.csv") == [
        [
            "row",
            "email",
            "phone",
            "status",
            "contact_id",
            "error",
            "warning",
            "changes",
            "Name",
            "Note",
        ],
        ["2", "a@gmail.com", "", "created", "1", "", "", "", "Anna", "first"],
        ["3", "", "", "skipped", "", "", "empty row", "", "", ""],
        ["4", "b@gmail.com", "", "created", "2", "", "", "", "Bruno", "second"],
    ]


def test_an_unknown_report_column_exits_2_before_anything_is_read(tmp_path: Path) -> None:
    src = source(tmp_path, ["a@gmail.com;;Anna;"])
    with pytest.raises(UsageError) as caught:
        dry_run(tmp_path, src, report_columns=("Notes",))
    assert caught.value.paragraph() == (
        "--report-columns: the file has no column 'Notes'. Closest match: 'Note'. Its headers "
        "are: 'Email', 'Phone', 'Name', 'Note'. Give the column names as the header row "
        "writes them, separated by commas."
    )
    assert not (tmp_path / "report.csv").exists()
