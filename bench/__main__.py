"""`python -m bench [--quick]`: run the scenarios, print the table, write the Markdown.

Exit 1 when a run failed or an import was wrong (report or stored contacts); a missed
performance target is shown ✗ but fails only with --strict, since shared CI machines are
too noisy to gate on speed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from bench import knowing, protecting
from bench.data import CACHE
from bench.report import document, revision, targets_table
from bench.scenarios import FULL, QUICK, SCENARIOS, Bench, prepare

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: under 3 minutes")
    parser.add_argument("--seed", type=int, default=20260401, help="of the generated data")
    parser.add_argument(
        "--only", type=lambda t: [int(x) for x in t.split(",")], help="scenarios, e.g. 1,4"
    )
    parser.add_argument("--out", type=Path, help="Markdown file to write")
    parser.add_argument("--strict", action="store_true", help="a missed target also fails")
    ns = parser.parse_args(argv)
    sizes = QUICK if ns.quick else FULL
    out = ns.out or (CACHE / "BENCHMARKS-quick.md" if ns.quick else HERE.parent / "BENCHMARKS.md")
    workdir = CACHE / "runs" / sizes.name
    code = prepare(workdir)
    bench = Bench(sizes, ns.seed, workdir, code, revision(code))

    load_before = os.getloadavg()[0]
    started = time.monotonic()
    scenarios = {**SCENARIOS, 9: knowing.inspect, 10: knowing.lookups, 11: protecting.undo_journal}
    for number, scenario in scenarios.items():
        if ns.only and number not in ns.only:
            continue
        print(scenario.__doc__, file=sys.stderr, flush=True)
        try:
            scenario(bench)
        except Exception as exc:  # the other scenarios still run and the table still prints
            bench.problems.append(f"scenario {number} crashed: {type(exc).__name__}: {exc}")
            print(f"  crashed: {exc!r}", file=sys.stderr, flush=True)
    seconds = time.monotonic() - started

    command = ["python -m bench", *(argv if argv is not None else sys.argv[1:])]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(document(bench, command, seconds, load_before))
    print("\n" + targets_table(bench.figures) + "\n")
    print(f"{seconds / 60:.1f} min; written to {out}")
    for problem in bench.problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    missed = [
        f for f in bench.figures if f.ok is False and f.figure != "report and stored contacts"
    ]
    return 1 if bench.problems or (ns.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
