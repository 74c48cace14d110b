"""Reporting: the per-row report (from the journal, in source order) and the run summary."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from importer.errors import UsageError
from importer.journal import ReportRow

COLUMNS = ("row", "email", "phone", "status", "contact_id", "error", "warning")
STATUSES = (
    "created",
    "updated",
    "upserted",
    "unchanged",
    "duplicate",
    "skipped",
    "valid",
    "error",
    "pending",
)
REPORT_FORMATS = (".csv", ".jsonl")
_INJECTION = ("=", "+", "-", "@", "\t", "\r")


def check_report_path(path: Path) -> None:
    if path.suffix.lower() not in REPORT_FORMATS:
        raise UsageError(
            f"Cannot write a report as {path.suffix or 'a file without extension'}: {path}.",
            f"Use one of: {', '.join(REPORT_FORMATS)}.",
        )


def guard(value: str) -> str:
    """Spreadsheet formula-injection guard: a leading `'` makes Excel show text, not run it."""
    return "'" + value if value.startswith(_INJECTION) else value


def write_report(rows: Iterable[ReportRow], path: Path) -> dict[str, int]:
    """Write atomically (temp file, then rename): a killed run never leaves half a report.

    Returns the count per status as reported (a duplicate of a failed row counts as error).
    """
    check_report_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    counts: Counter[str] = Counter()
    if path.suffix.lower() == ".jsonl":
        with tmp.open("wb") as out:
            for r in rows:
                out.write(orjson.dumps(dict(zip(COLUMNS, _cells(r), strict=True))) + b"\n")
                counts[r.status] += 1
    else:
        with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            for r in rows:
                writer.writerow([guard(c) if isinstance(c, str) else c for c in _cells(r)])
                counts[r.status] += 1
    tmp.replace(path)
    return dict(counts)


def _cells(r: ReportRow) -> tuple[Any, ...]:
    return (r.row, r.email, r.phone, r.status, r.contact_id, r.error, r.warning)


def summary_text(summary: dict[str, Any]) -> str:
    counts = summary["counts"]
    shown = ", ".join(f"{counts[s]:,} {s}" for s in STATUSES if counts.get(s))
    lines = [
        f"importer: {summary['source']} → {summary['target']}"
        + (" (dry run: nothing sent)" if summary["dry_run"] else f" at {summary['base_url']}"),
        f"  {summary['rows']:,} rows: {shown or 'none'}",
    ]
    if not summary["dry_run"]:
        lines.append(
            f"  {summary['requests']:,} requests, {summary['retries']:,} retries, "
            f"{summary['throttled']:,} rate-limited (429)"
        )
    lines.append(f"  {summary['seconds']:.1f} s, {summary['rows_per_second']:,.0f} rows/s")
    lines.extend(f"  note: {note}" for note in summary["notes"])
    lines.append(f"  report: {summary['report']}")
    return "\n".join(lines)
