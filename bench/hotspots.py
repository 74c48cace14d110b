"""Where a dry run spends its time: `python -m bench.hotspots [ROWS] [--tool cprofile]`.

Profiles the real CLI (`importer run --dry-run`) on the benchmark's data, in its own
process, with py-spy when installed (sampling: close to real speed, native time too) or
cProfile (deterministic, slower, always available). Prints the top functions by own time
and by inclusive time, so a figure of BENCHMARKS.md can be traced to code.
"""

from __future__ import annotations

import argparse
import collections
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.data import dataset
from bench.procs import PYTHON, ROOT, clean_env

MAPPING = Path(__file__).resolve().parent / "mappings" / "minimo.toml"
_PROCESSES = re.compile(r'(?:process \d+:"[^"]*";?)+')
_NOISE = re.compile(r" \(.*?(?:/site-packages/|/lib/python3\.\d+/|/work/[^/]+/)")


def importer_argv(source: Path, out: Path) -> list[str]:
    return [
        "-m", "importer", "run", str(source), "--mapping", str(MAPPING),
        "--dry-run", "--quiet", "--report", str(out / "report.csv"),
    ]  # fmt: skip


def py_spy(source: Path, out: Path, top: int) -> None:
    """Sample the CLI and its worker processes; report main and workers apart."""
    raw = out / "profile.txt"
    spy = str(Path(PYTHON).with_name("py-spy"))
    argv = [spy, "record", "--subprocesses", "-r", "200", "-f", "raw", "-o", str(raw), "--"]
    subprocess.run([*argv, PYTHON, *importer_argv(source, out)], env=clean_env(ROOT), check=True)
    print_collapsed(raw.read_text().splitlines(), top)


def print_collapsed(lines: list[str], top: int) -> None:
    """Own and inclusive time per function, per role (main process, worker processes)."""
    own: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    inclusive: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in lines:
        stack, _, count = line.rpartition(" ")
        head = _PROCESSES.match(stack)  # `process PID:"command line";` (may hold a ";")
        processes = head.group(0).count("process ") if head else 0
        role = "workers" if processes > 1 else "main process"
        frames = [_NOISE.sub(" (", f) for f in stack[head.end() if head else 0 :].split(";")]
        if not frames:
            continue
        own[role][frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[role][frame] += int(count)
    for role in sorted(own):
        total = sum(own[role].values())
        for title, counter in (("own", own[role]), ("inclusive", inclusive[role])):
            print(f"--- {role}: {title} time ({total:,} samples at 200 Hz = {total / 200:.1f} s)")
            for frame, n in counter.most_common(top):
                print(f"{100 * n / total:5.1f}%  {frame}")


def cprofile(source: Path, out: Path, top: int) -> None:
    stats = out / "profile.pstats"
    argv = [PYTHON, "-m", "cProfile", "-o", str(stats), *importer_argv(source, out)]
    subprocess.run(argv, env=clean_env(ROOT), check=True)
    for key in ("tottime", "cumulative"):
        pstats.Stats(str(stats)).sort_stats(key).print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hotspots", description=__doc__)
    parser.add_argument("rows", type=int, nargs="?", default=200_000)
    parser.add_argument("--seed", type=int, default=20260401)
    parser.add_argument("--tool", choices=("py-spy", "cprofile"))
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--raw", type=Path, help="summarize this py-spy raw file instead")
    ns = parser.parse_args(argv)
    if ns.raw:
        print_collapsed(ns.raw.read_text().splitlines(), ns.top)
        return 0
    tool = ns.tool or ("py-spy" if Path(PYTHON).with_name("py-spy").exists() else "cprofile")
    source, _ = dataset(ns.rows, "csv", ns.seed)
    out = Path(tempfile.mkdtemp(prefix="bench-hotspots-"))
    try:
        (py_spy if tool == "py-spy" else cprofile)(source, out, ns.top)
    finally:
        shutil.rmtree(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
