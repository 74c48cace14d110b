"""The page's parts without a browser: the mapping table read from and written into the
TOML (comments kept), a report paged from its index, the XLSX report a person prints."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import openpyxl
import orjson
import pytest

from importer.errors import UsageError
from importer.reporting.tables import open_table
from importer.settings import Target
from importer.ui.jobs import PAGE, Job, ReportIndex, page_text, start
from importer.ui.table import check, edit

HEADERS = ("E-mail", "Ditta", "Città", "Cell")
EXAMPLES = (("a@x.it",), ("ACME",), ("Roma",), ("339 1234567",))
TOML = """# a comment that must stay
target = "minimo"

[fields]
email = "E-mail"
"customFields.company" = { column = "Ditta", values = { "-" = "" } }  # why
phone = { column = "Cell", region_column = "Città" }
"""


def test_the_table_reads_each_column_as_the_toml_maps_it() -> None:
    found = check(TOML, HEADERS, EXAMPLES)
    assert found.error is None
    assert [(x.column, x.field, x.type, x.update, x.editable, x.note) for x in found.lines] == [
        ("E-mail", "email", "string", "always", True, ""),
        ("Ditta", "customFields.company", "string", "always", True, ""),
        ("Città", "", "", "always", False,
         "the country of phone (region_column): edit it in the TOML"),
        ("Cell", "phone", "string", "always", True, ""),
    ]  # fmt: skip


def test_an_edit_changes_only_its_entry_and_keeps_the_comments() -> None:
    text = edit(TOML, "minimo", "Ditta", "customFields.company", "", "if_empty")
    assert text == TOML.replace(
        '{ column = "Ditta", values = { "-" = "" } }',
        '{column = "Ditta", values = { "-" = "" }, update = "if_empty"}',
    )
    assert check(text, HEADERS, EXAMPLES).lines[1].update == "if_empty"


def test_a_field_moved_to_another_column_leaves_the_first_one() -> None:
    text = edit(TOML, "minimo", "Città", "customFields.company", "string", "always")
    lines = check(text, HEADERS, EXAMPLES).lines
    assert [(x.column, x.field) for x in lines] == [
        ("E-mail", "email"), ("Ditta", ""), ("Città", "customFields.company"), ("Cell", "phone"),
    ]  # fmt: skip
    assert "values" in text.split('"customFields.company"')[1].splitlines()[0]  # settings kept
    left_out = edit(TOML, "minimo", "Ditta", "", "", "always")
    assert '"customFields.company"' not in left_out and "# a comment that must stay" in left_out
    typed = edit(TOML, "minimo", "Ditta", "customFields.spent", "number", "always")
    assert '"customFields.spent" = {column = "Ditta", type = "number"}' in typed


def test_a_mapping_that_does_not_fit_says_why_as_run_would() -> None:
    found = check(TOML.replace('"Cell"', '"Mobile"'), HEADERS, EXAMPLES)
    assert found.error == (
        "the mapping: no column 'Mobile' for field phone. Closest match: 'E-mail'. The file's "
        "headers are: 'E-mail', 'Ditta', 'Città', 'Cell'. Fix the column name in the mapping, "
        "or mark the field optional = true."
    )
    with pytest.raises(UsageError, match="not valid TOML"):
        edit("target = ", "minimo", "Ditta", "email", "", "always")


def test_a_report_is_paged_from_its_index(tmp_path: Path) -> None:
    report = tmp_path / "report.jsonl"
    statuses = ["error" if i % 7 == 0 else "created" for i in range(1, 1235)]
    report.write_bytes(b"".join(
        orjson.dumps({"row": i + 2, "email": f"p{i}@x.it", "status": s}) + b"\n"
        for i, s in enumerate(statuses)
    ))  # fmt: skip
    index = ReportIndex.build(report)
    assert index.counts() == {"created": 1058, "error": 176}
    rows, pages = index.page(None, 24)
    assert (pages, len(rows), rows[0]["row"], rows[-1]["row"]) == (25, 34, 1202, 1235)
    errors, pages = index.page("error", 1)
    assert pages == 4 and len(errors) == PAGE
    assert [r["row"] for r in errors[:2]] == [2 + 7 * 51 - 1, 2 + 7 * 52 - 1]
    assert index.page("skipped", 0) == ([], 1)


def test_the_page_says_what_a_terminal_says_without_its_paths() -> None:
    lines = [
        "importer: stopping: in-flight requests are abandoned, the report is being written…",
        "importer: leads.csv → minimo at http://127.0.0.1:1",
        "  12 rows: 3 created, 9 pending",
        "  report: /tmp/importer-ui-x/jobs/1/report.jsonl",
        "  rejects: /tmp/importer-ui-x/jobs/1/rejects.csv",
        "importer: error: Interrupted by SIGINT. Run the same command again to resume.",
    ]
    assert page_text(lines) == (
        "importer: leads.csv → minimo at http://127.0.0.1:1\n  12 rows: 3 created, 9 pending"
    )


def test_the_xlsx_report_is_as_wide_as_its_content_and_prints_on_one_page_wide(
    tmp_path: Path,
) -> None:
    path = tmp_path / "report.xlsx"
    table = open_table(path, ["row", "email", "status", "contact_id", "warning"])
    warning = "phone +393391234567 is also on row 2 (mario.rossi@gmail.com, merged into row 11)"
    table.write([2, "giulia.bianchi@libero.it", "created", "12", warning], False)
    table.write([3, "x@y.it", "error", "", ""], True)
    table.finish()
    ws = openpyxl.load_workbook(path).active
    assert ws is not None
    widths = {k: v.width for k, v in ws.column_dimensions.items()}
    assert widths == {"A": 8, "B": 26, "C": 9, "D": 12, "E": 60}
    assert ws["E2"].alignment.wrap_text is True and ws["B2"].alignment.wrap_text is not True
    assert (ws.page_setup.orientation, ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (
        "landscape", 1, 0,
    )  # fmt: skip
    assert ws.print_title_rows == "$1:$1" and ws.print_options.gridLines is True
    assert (ws.freeze_panes, ws.auto_filter.ref) == ("A2", "A1:E3")


def _ran(argv: list[str], tmp: Path, stop_after: bool = False) -> Job:
    async def go() -> Job:
        job = Job("j", "check", tmp / "job", argv)
        await start(job, dict(os.environ))
        if job.follower is not None:  # None: the child could not be started
            await asyncio.wait_for(job.follower, 30)
        if stop_after:
            job.stop()  # the child has ended: nothing to signal, nothing raised
        return job

    return asyncio.run(go())


def test_a_job_ends_however_its_child_ends(tmp_path: Path) -> None:
    say = 'import sys; print(\'{"say": "hi"}\', file=sys.stderr)'
    done = _ran([sys.executable, "-c", say], tmp_path, stop_after=True)
    assert (done.code, done.said, done.stopping) == (0, ["hi"], False)
    long_line = f"import sys; sys.stderr.write('x' * {3 << 20})"
    lost = _ran([sys.executable, "-c", long_line], tmp_path)
    assert lost.code == -1
    assert lost.text[-1].startswith("importer: error: the page lost track of this run: ")
    missing = _ran(["/nonexistent/python"], tmp_path)
    assert missing.code == -1 and missing.follower is None
    assert missing.text[0].startswith("importer: error: the run could not be started: ")


def test_the_browser_is_sent_the_token_through_a_file_only_this_user_reads(
    tmp_path: Path,
) -> None:
    from importer.ui import _redirect

    url = "http://127.0.0.1:8765/?token=abc&x=1"
    page = _redirect(tmp_path, url)
    assert page.stat().st_mode & 0o777 == 0o600
    assert (
        '<meta http-equiv="refresh" content="0;url=http://127.0.0.1:8765/?token=abc&amp;x=1">'
        in (page.read_text())
    )


@pytest.mark.parametrize("name", ["leads.csv", "leads.xlsx"])
@pytest.mark.parametrize("target", ["minimo", "notifuse"])
def test_the_page_suggests_exactly_what_mapping_suggest_prints(name: str, target: Target) -> None:
    from importer.reading import ReadOptions
    from importer.suggest import suggest_for_file
    from importer.ui.files import read, suggested
    from tests.conftest import SAMPLES

    picked = read(SAMPLES / name, uploaded=False)
    assert suggested(picked, target) == suggest_for_file(SAMPLES / name, target, ReadOptions())
