"""What the page offers to download from a job: its report as CSV or XLSX (converted from
the JSONL the run wrote, with the same writers, formula guard and column widths as a
run's report, in the source's delimiter), its rejects, its summary and the mapping it ran
with (what `importer undo` needs later, byte for byte)."""

from __future__ import annotations

from pathlib import Path

import orjson

from importer.errors import UsageError
from importer.reporting.tables import open_table

FILES = {
    "rejects.csv": "rejects.csv",
    "summary.json": "summary.json",
    "mapping.toml": "mapping.toml",
}
REPORTS = ("report.csv", "report.xlsx")


def converted(folder: Path, what: str, delimiter: str = ",") -> Path:
    """The file to send for `what`, made once."""
    if what in FILES:
        path = folder / FILES[what]
        if not path.exists():
            raise UsageError(_missing(what))
        return path
    if what not in REPORTS:
        raise UsageError(f"There is no {what} to download.")
    source, out = folder / "report.jsonl", folder / what
    if not source.exists():
        raise UsageError("This run wrote no report (it stopped before reading the file).")
    if not out.exists() or out.stat().st_mtime < source.stat().st_mtime:
        _convert(source, out, delimiter)
    return out


def _convert(source: Path, out: Path, delimiter: str) -> None:
    with source.open("rb") as fh:
        first = fh.readline()
        columns = list(orjson.loads(first)) if first.strip() else ["row", "status"]
        columns = [c for c in columns if c != "extra"]
        table = open_table(out, columns, delimiter=delimiter)
        fh.seek(0)
        for line in fh:
            row = orjson.loads(line)
            table.write([row.get(c, "") for c in columns], row.get("status") == "error")
        table.finish()


def _missing(what: str) -> str:
    if what == "rejects.csv":
        return "No row was rejected: there is no rejects file."
    return f"This run wrote no {what}."
