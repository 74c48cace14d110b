"""Scenarios 9 and 10 (SPEC §8, knowing before you send): `importer inspect` against the
dry run of the same file, and the look-ups of a prediction against a rate-limited sandbox."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

from bench.procs import PYTHON
from bench.scenarios import MAPPINGS, Bench, Figure, _rss, _size, rows_for, slug

INSPECT_RSS_MB = 400.0
LOOKUP_RATE = 20.0


def inspect(b: Bench) -> None:
    """9. `importer inspect` with a mapping ÷ the dry run of the same file (the same counts)."""
    rows = b.sizes.inspect_csv
    source, _ = b.data(rows)
    dry = b.dry(rows)
    label = f"inspect {_size(rows)} csv"
    job = b.workdir / slug(label)
    job.mkdir(parents=True, exist_ok=True)
    argv = [
        PYTHON, "-m", "importer", "inspect", str(source),
        "--mapping", str(MAPPINGS / "minimo.toml"), "--json", str(job / "profile.json"),
    ]  # fmt: skip
    found = b.measure(label, argv, cwd=job)
    s = "9 inspect"
    b.figure(
        s,
        f"inspect {_size(rows)} CSV with a mapping",
        f"{found.wall:.1f} s",
        f"{dry.wall:.1f} s (dry run, same file)",
        found.wall / dry.wall,
        ("<=", 1.3),
    )
    b.figure(
        s,
        f"peak RSS, inspect {_size(rows)} CSV",
        _rss(found),
        f"{INSPECT_RSS_MB:.0f} MB",
        found.peak_tree_mb / INSPECT_RSS_MB,
        ("<=", 1.0),
    )
    dry_summary = b.workdir / slug(f"dry run {_size(rows)} csv") / "summary.json"
    counts = json.loads(dry_summary.read_text())["counts"]
    profile = json.loads((job / "profile.json").read_text())
    same = all(profile["mapping"][k] == counts.get(k, 0) for k in ("valid", "error", "duplicate"))
    value = ", ".join(f"{profile['mapping'][k]:,} {k}" for k in ("valid", "error", "duplicate"))
    if not same:
        b.problems.append(f"{s}: inspect says {value}, the dry run {counts}")
    b.figures.append(Figure(s, "counts equal the dry run's", value, "", None, None, same))


def lookups(b: Bench) -> None:
    """10. A prediction's look-ups against a rate-limited sandbox: how close to the limit."""
    source, truth = b.data(rows_for(LOOKUP_RATE * b.sizes.rate_seconds))
    s = f"10 look-ups at {LOOKUP_RATE:g}/s"
    label = f"predict minimo rate {LOOKUP_RATE:g}"
    with b.sandbox("--rate", f"{LOOKUP_RATE:g}") as sb:
        b.importer(label, source, "minimo", sandbox=sb, extra=("--dry-run", "--predict"))
        log = sb.requests()
    gets = [r for r in log if "/by-email/" in r["path"] and r["path"] != _PREFLIGHT]
    accepted = [r for r in gets if r["status"] in (200, 404)]
    throttled = sum(r["status"] == 429 for r in gets)
    span = max(r["end"] or r["start"] for r in gets) - min(r["start"] for r in gets)
    rate = len(accepted) / span if span > 0 else 0.0
    writes = sum(r["method"] != "GET" for r in log)
    statuses = _statuses(b.workdir / slug(label) / "report.csv")
    problems = []
    if writes:
        problems.append(f"{writes} writes")
    if statuses["would_create"] != truth["survivors"]:
        problems.append(f"{statuses['would_create']:,} would_create, {truth['survivors']:,} rows")
    b.problems.extend(f"{s}: {p}" for p in problems)
    b.figure(
        s,
        "achieved look-up rate (answered GETs / span)",
        f"{rate:.2f} req/s over {span:.1f} s",
        f"{LOOKUP_RATE:g} req/s (the sandbox's limit)",
        rate / LOOKUP_RATE,
        (">=", 0.95),
    )
    b.figure(
        s,
        "429s / look-ups",
        f"{throttled:,} of {len(gets):,}",
        "",
        throttled / len(gets) if gets else 1.0,
        ("<=", 0.02),
    )
    value = f"{writes} writes; {statuses['would_create']:,} would_create"
    b.figures.append(Figure(s, "writes; would_create rows", value, "", None, None, not problems))


_PREFLIGHT = "/public/v1/contacts/by-email/preflight-check%40importer.invalid"


def _statuses(path: Path) -> Counter[str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        header = fh.readline()
        reader: Any = csv.reader(fh, delimiter=";" if ";" in header else ",")
        return Counter(record[3] for record in reader)
