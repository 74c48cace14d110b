"""The run's summary: on stderr for a person, and as JSON for a scheduler (SPEC §6)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from importer.wording import counted

STATUSES = (
    "created",
    "updated",
    "upserted",
    "unchanged",
    "duplicate",
    "skipped",
    "valid",
    "would_create",
    "would_update",
    "no_change",
    "error",
    "pending",
)


def counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[s]:,} {s}" for s in STATUSES if counts.get(s))


def summary_text(summary: dict[str, Any]) -> str:
    if summary.get("predict"):
        how = f" at {summary['base_url']} (prediction: looked up, nothing sent)"
    elif summary["dry_run"]:
        how = " (dry run: nothing sent)"
    else:
        how = f" at {summary['base_url']}"
    lines = [
        f"importer: {summary['source']} → {summary['target']}{how}",
        f"  {counted(summary['rows'], 'row')}: {counts_text(summary['counts']) or 'none'}",
    ]
    if summary["base_url"]:
        lines.append(
            f"  {counted(summary['requests'], 'request')}, "
            f"{counted(summary['retries'], 'retry', 'retries')}, "
            f"{summary['throttled']:,} rate-limited (429)"
        )
    if summary.get("lookups"):
        lines.append(f"  {lookups_text(summary['lookups'])}")
    lines.append(f"  {summary['seconds']:.1f} s, {summary['rows_per_second']:,.0f} rows/s")
    lines.extend(f"  note: {note}" for note in summary["notes"])
    lines.append(f"  report: {summary['report']}")
    if summary.get("rejects"):
        lines.append(f"  rejects: {summary['rejects']}")
    return "\n".join(lines)


def lookups_text(lookups: dict[str, Any]) -> str:
    """How the contacts were looked up (SPEC §8: the look-ups made, and which way)."""
    if lookups["method"] == "listing":
        text = (
            f"look-ups: the workspace listed ({counted(lookups['listed'], 'contact')}) instead of "
            f"one look-up per row: {counted(lookups['requests'], 'request')} for "
            f"{counted(lookups['rows'], 'row')}"
        )
    else:
        text = (
            f"look-ups: {counted(lookups['rows'], 'row')} looked up one by one "
            f"({counted(lookups['requests'], 'request')})"
        )
    if lookups["left"]:
        text += f"; {lookups['left']:,} not yet"
    return text


def write_summary(path: Path | None, summary: dict[str, Any]) -> None:
    """Replaces the file at once (a temp file, then a rename): never half a summary."""
    if path is not None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
        os.replace(tmp, path)
