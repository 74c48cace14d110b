"""The conformance corpus (tests/corpus/README.md): files other projects committed to their
test suites, read as those projects say they read. Expected values come from the projects'
own assertions or from reading the files by hand, never from a parser's output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from importer.cells import cell_text
from importer.errors import SourceError
from importer.reading import ReadOptions, open_source

CORPUS = Path(__file__).resolve().parent / "corpus"
CASES: list[dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
# encodings no reader can tell from the bytes (a Greek single-byte file decodes as cp1252
# just as well): the user says them with --encoding, and so does this test
DECLARED = frozenset(["iso-8859-7"])


def test_the_corpus_is_varied_and_every_file_is_listed() -> None:
    files = {p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*") if p.is_file()}
    listed = {case["file"] for case in CASES}
    assert files - {"README.md", "expected.json"} == listed
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in readme or name in readme for name in listed)
    suffixes = [Path(name).suffix.lower() for name in listed]
    assert len(listed) >= 30
    assert {".csv", ".tsv", ".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"} <= set(suffixes)


@pytest.mark.parametrize("case", CASES, ids=[case["file"] for case in CASES])
def test_a_real_file_reads_as_its_project_says(case: dict[str, Any]) -> None:
    path = CORPUS / case["file"]
    encoding = case.get("encoding")
    options = ReadOptions(
        sheet=case.get("sheet"), encoding=encoding if encoding in DECLARED else None
    )
    if case.get("refused"):
        with pytest.raises(SourceError), open_source(path, options) as source:
            list(source.rows())
        return
    with open_source(path, options) as source:
        headers = [h.strip() for h in source.headers]
        rows = {row.number: row for row in source.rows()}
        header_row = source.header_row
        delimiter = source.delimiter
    # a table that starts in column B is read from column A, its first header blank
    first = next((i for i, h in enumerate(headers) if h), 0)
    assert (header_row, headers[first:]) == (case["header_row"], case["headers"])
    assert len(rows) == case["rows"]
    if rows:
        assert max(rows) == header_row + case["rows"]
    if "delimiter" in case:
        assert delimiter == case["delimiter"]
    for number, column, expected in case["cells"]:
        cells = rows[number].cells
        index = headers.index(column)
        text = cell_text(cells[index]) if index < len(cells) else ""
        if expected.endswith("T00:00:00"):  # a datetime at midnight reads as its date
            expected = expected.removesuffix("T00:00:00")
        assert _lines(text) == _lines(expected), f"row {number}, column {column!r}"


def _lines(text: str) -> str:
    """Line ends as one: a CSV cell keeps the file's own, the projects assert \\n."""
    return text.replace("\r\n", "\n").replace("\r", "\n")
