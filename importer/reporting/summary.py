"""The run's summary: on stderr for a person, and as JSON for a scheduler (SPEC §6)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

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


def counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[s]:,} {s}" for s in STATUSES if counts.get(s))


def summary_text(summary: dict[str, Any]) -> str:
    lines = [
        f"importer: {summary['source']} → {summary['target']}"
        + (" (dry run: nothing sent)" if summary["dry_run"] else f" at {summary['base_url']}"),
        f"  {summary['rows']:,} rows: {counts_text(summary['counts']) or 'none'}",
    ]
    if not summary["dry_run"]:
        lines.append(
            f"  {summary['requests']:,} requests, {summary['retries']:,} retries, "
            f"{summary['throttled']:,} rate-limited (429)"
        )
    lines.append(f"  {summary['seconds']:.1f} s, {summary['rows_per_second']:,.0f} rows/s")
    lines.extend(f"  note: {note}" for note in summary["notes"])
    lines.append(f"  report: {summary['report']}")
    if summary.get("rejects"):
        lines.append(f"  rejects: {summary['rejects']}")
    return "\n".join(lines)


def write_summary(path: Path | None, summary: dict[str, Any]) -> None:
    """Replaces the file at once (a temp file, then a rename): never half a summary."""
    if path is not None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
        os.replace(tmp, path)
