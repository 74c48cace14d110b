"""Scenario 11 (SPEC §9, protecting the account): what `snapshot = true` costs the journal,
and how fast `importer undo` takes a run back. The journal must keep, for every row, what
undo needs (the contact's id, its values before the write): its size per row, extrapolated
to a 2M-row job, is the figure the issue asks for."""

from __future__ import annotations

import json
from pathlib import Path

from bench.procs import PYTHON
from bench.scenarios import MAPPINGS, UNLIMITED, Bench, _size, slug

BACKFILL = 2_000_000  # the size a one-off backfill reaches


def undo_journal(b: Bench) -> None:
    """11. The journal with snapshot = true, per row and at 2M rows; an undo's speed."""
    rows = b.sizes.notifuse_contacts
    source, truth = b.data(rows)
    s = "11 undo"
    with b.sandbox() as sb:
        plain = b.importer(f"minimo {_size(rows)} plain", source, "minimo", sandbox=sb,
                           extra=UNLIMITED)  # fmt: skip
        label = f"minimo {_size(rows)} snapshot"
        job = b.workdir / slug(label)
        job.mkdir(parents=True, exist_ok=True)
        common = ["--state", str(job / "state"), "--quiet"]
        argv = [
            PYTHON, "-m", "importer", "run", str(source),
            "--mapping", str(MAPPINGS / "minimo-snapshot.toml"), "--fresh",
            "--report", str(job / "report.csv"), *common,
        ]  # fmt: skip
        snap = b.measure(label, argv, cwd=job, sandbox=sb, codes=(0, 1))
        with_snapshot = _bytes(job / "state")
        without = _bytes(b.workdir / slug(f"minimo {_size(rows)} plain") / "state")
        undo_argv = [
            PYTHON, "-m", "importer", "undo", str(source),
            "--mapping", str(MAPPINGS / "minimo-snapshot.toml"),
            "--report", str(job / "undo.csv"), "--summary-json", str(job / "undo.json"),
            *common,
        ]  # fmt: skip
        undone = b.measure(f"undo {_size(rows)}", undo_argv, cwd=job, sandbox=sb)
        summary = json.loads((job / "undo.json").read_text())
    per_row, plain_row = with_snapshot / rows, without / rows
    b.figure(
        s,
        f"job journal per row with snapshot = true ({_size(rows)} rows, all captured)",
        f"{per_row:,.0f} bytes",
        f"{plain_row:,.0f} bytes without snapshot (same rows)",
        per_row / plain_row,
    )
    b.figure(
        s,
        f"job journal of a {_size(BACKFILL)}-row job with snapshot = true (extrapolated)",
        f"{per_row * BACKFILL / 1e6:,.0f} MB",
        f"{plain_row * BACKFILL / 1e6:,.0f} MB without",
    )
    counts = summary["counts"]
    b.figure(
        s,
        f"undo of {_size(rows)} restored rows, unlimited sandbox",
        f"{rows / undone.wall:,.0f} rows/s, {summary['requests']:,} requests",
        f"the run: {rows / snap.wall:,.0f} rows/s; plain import {rows / plain.wall:,.0f} rows/s",
    )
    expected = {"restored": truth["survivors"]}
    if counts.get("restored") != truth["survivors"] or counts.get("not_undone"):
        b.problems.append(f"{s}: undo counted {counts}, expected {expected} and untouched rows")


def _bytes(state: Path) -> int:
    """The job's database, its WAL and attempt log (the account's record is shared by every
    job of the account and does not grow with snapshots)."""
    return sum(p.stat().st_size for p in state.glob("job-*") if p.is_file())
