"""Memory and speed of a dry run: is the reading stage streamed, and does memory stay flat?

Generates (seeded, so every run measures the same bytes) a CSV and an XLSX of realistic
leads in a temporary directory, then runs each in its own process, three ways:

- read:     `open_source` and iterate the rows (the reading stage alone);
- classify: read + map + normalize each row, nothing stored;
- dry-run:  `python -m importer run FILE --mapping M --dry-run --quiet` (stage into the job
            database, then write the report).

For each it prints rows, seconds, rows/s and peak RSS (the child's ru_maxrss from wait4,
exact, not sampled), plus RSS sampled over time so a growth can be pinned to a phase. With
--scale it also runs a file a tenth the size: memory that grows with the file shows up as
a difference between the two.

    .venv/bin/python bench/memory_dry_run.py                   # 2,000,000 CSV, 200,000 XLSX
    .venv/bin/python bench/memory_dry_run.py --csv-rows 200000 --xlsx-rows 20000 --scale
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

HEADER = ("Email", "Telefono", "Nome", "Cognome", "Azienda", "Città", "Punteggio")
MAPPING = """\
target = "minimo"

[options]
default_region = "IT"
on_invalid_phone = "drop"

[fields]
email = "Email"
phone = "Telefono"
"customFields.firstName" = "Nome"
"customFields.lastName" = "Cognome"
"customFields.company" = "Azienda"
"customFields.city" = "Città"
"customFields.score" = { column = "Punteggio", type = "number" }
"""
FIRST = [
    "Mario",
    "Giulia",
    "Luca",
    "Anna",
    "Marco",
    "Sofia",
    "Paolo",
    "Chiara",
    "Elena",
    "Nicolò",
    "Francesca",
    "Andrea",
]
LAST = [
    "Rossi",
    "Bianchi",
    "Verdi",
    "Ferrari",
    "Esposito",
    "Romano",
    "Colombo",
    "Ricci",
    "Gallo",
    "Conti",
    "Marino",
]
DOMAINS = [
    "gmail.com",
    "libero.it",
    "outlook.it",
    "hotmail.it",
    "yahoo.it",
    "alice.it",
    "tiscali.it",
]
CITIES = [
    "Roma",
    "Milano",
    "Napoli",
    "Torino",
    "Forlì",
    "Cantù",
    "Bologna",
    "Firenze",
    "Lugano",
    "Zürich",
]
COMPANIES = ("Arredamenti Srl", "Studio Associato", "Ottica Verdi", "Impianti Snc", "")

READ = """
import sys
from pathlib import Path
from importer.reading import ReadOptions, open_source
with open_source(Path(sys.argv[1]), ReadOptions()) as source:
    print(sum(1 for _ in source.rows()))
"""
CLASSIFY = """
import sys
from pathlib import Path
from importer.mapping import bind, load_mapping
from importer.normalizing import Normalizer
from importer.reading import ReadOptions, open_source
mapping = load_mapping(Path(sys.argv[2]))
with open_source(Path(sys.argv[1]), ReadOptions()) as source:
    normalize = Normalizer(bind(mapping, source.headers, "bench"), clear_empty=False)
    print(sum(1 for row in source.rows() if normalize(row)))
"""


def leads(rows: int, seed: int) -> Iterator[tuple[str | int, ...]]:
    """Lead rows: ~2% repeat an earlier email, ~1% have a broken one, phones in the forms
    people type (national, +39, 0039, with the calling code, Swiss, blank)."""
    rnd = random.Random(seed)
    recent: list[str] = []
    for i in range(rows):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        roll = rnd.random()
        if roll < 0.02 and recent:
            email = rnd.choice(recent)
        elif roll < 0.03:
            email = f"{first}.{last}.at.{rnd.choice(DOMAINS)}"
        else:
            email = f"{first}.{last}{i}@{rnd.choice(DOMAINS)}".lower()
            recent = [*recent[-99:], email]
        mobile = f"3{rnd.randint(20, 93)}{rnd.randint(1_000_000, 9_999_999)}"
        phone = rnd.choice(
            (
                f"{mobile[:3]} {mobile[3:]}",
                f"+39 {mobile}",
                f"0039{mobile}",
                f"39{mobile}",
                f"+41 79 {rnd.randint(100, 999)} {rnd.randint(10, 99)} {rnd.randint(10, 99)}",
                "",
            )
        )
        yield (
            email,
            phone,
            first,
            last,
            rnd.choice(COMPANIES),
            rnd.choice(CITIES),
            rnd.randint(0, 100),
        )


def write_csv(path: Path, rows: int, seed: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(leads(rows, seed))


def write_xlsx(path: Path, rows: int, seed: int) -> None:
    """An XLSX as Excel writes it: text in the shared-string table, numbers inline, a
    dimension. (openpyxl writes inline strings, which openpyxl reads ~5x slower than an
    Excel file: it would measure the wrong thing.) Streamed: the sheet is never in memory."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    strings: dict[str, int] = {}
    columns = "ABCDEFG"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{ct}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{ct}.worksheet+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{ct}.sharedStrings+xml"/>'
            "</Types>",
        )
        archive.writestr(
            "_rels/.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>",
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
            '<sheet name="Leads" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>",
        )
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(
                f'<worksheet xmlns="{main}"><dimension ref="A1:G{rows + 1}"/><sheetData>'.encode()
            )
            all_rows = itertools.chain([HEADER], leads(rows, seed))
            for r, row in enumerate(all_rows, 1):
                cells = []
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, int):
                        cells.append(f'<c r="{column}{r}"><v>{value}</v></c>')
                    elif value:
                        index = strings.setdefault(value, len(strings))
                        cells.append(f'<c r="{column}{r}" t="s"><v>{index}</v></c>')
                sheet.write(f'<row r="{r}">{"".join(cells)}</row>'.encode())
            sheet.write(b"</sheetData></worksheet>")
        with archive.open("xl/sharedStrings.xml", "w") as table:
            table.write(f'<sst xmlns="{main}" uniqueCount="{len(strings)}">'.encode())
            for text in strings:
                table.write(f"<si><t>{escape(text)}</t></si>".encode())
            table.write(b"</sst>")


@dataclass(frozen=True)
class Measure:
    code: int
    seconds: float
    peak_kib: int
    samples: list[tuple[float, int]]  # (seconds, RSS KiB)
    stdout: str
    stderr: str


def measure(cmd: list[str], workdir: Path, interval: float = 0.25) -> Measure:
    """Run `cmd`, sample its RSS from /proc, and take its exact peak from wait4."""
    out, err = workdir / "stdout.txt", workdir / "stderr.txt"
    samples: list[tuple[float, int]] = []
    with out.open("w") as o, err.open("w") as e:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=o, stderr=e, cwd=workdir)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            rss = _rss_kib(proc.pid)
            if rss is not None:
                samples.append((time.perf_counter() - started, rss))
            time.sleep(interval)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measure(
        proc.returncode, seconds, usage.ru_maxrss, samples, out.read_text(), err.read_text()
    )


def _rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def run_parts(source: Path, mapping: Path, workdir: Path) -> dict[str, tuple[int, Measure]]:
    python = sys.executable
    report = workdir / "report.csv"
    summary = workdir / "summary.json"
    commands = {
        "read": [python, "-c", READ, str(source)],
        "classify": [python, "-c", CLASSIFY, str(source), str(mapping)],
        "dry-run": [
            *(python, "-m", "importer", "run", str(source), "--mapping", str(mapping)),
            *("--dry-run", "--quiet", "--report", str(report), "--summary-json", str(summary)),
        ],
    }
    results: dict[str, tuple[int, Measure]] = {}
    for part, cmd in commands.items():
        m = measure(cmd, workdir)
        if part == "dry-run":
            rows = json.loads(summary.read_text())["rows"] if summary.exists() else 0
            if m.code not in (0, 1):  # 1: some rows are errors, as this data has
                raise SystemExit(f"{part} failed ({m.code}):\n{m.stderr}")
        else:
            if m.code != 0:
                raise SystemExit(f"{part} failed ({m.code}):\n{m.stderr}")
            rows = int(m.stdout.strip())
        results[part] = (rows, m)
    return results


def timeline(samples: list[tuple[float, int]], points: int = 8) -> str:
    if not samples:
        return "-"
    step = max(1, len(samples) // points)
    picked = [*samples[::step][:points], samples[-1]]
    return ", ".join(f"{t:.0f}s {rss / 1024:.0f}M" for t, rss in picked)


def report(label: str, results: dict[str, tuple[int, Measure]]) -> None:
    print(f"\n{label}")
    print(f"  {'part':<9} {'rows':>10} {'seconds':>8} {'rows/s':>9} {'peak RSS':>9}")
    for part, (rows, m) in results.items():
        rate = rows / m.seconds if m.seconds else 0.0
        print(
            f"  {part:<9} {rows:>10,} {m.seconds:>8.1f} {rate:>9,.0f} {m.peak_kib / 1024:>7.0f} M"
        )
    rows, m = results["dry-run"]
    print(f"  dry-run RSS over time: {timeline(m.samples)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv-rows", type=int, default=2_000_000)
    parser.add_argument("--xlsx-rows", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=20260401)
    parser.add_argument("--scale", action="store_true", help="also run files 1/10 the size")
    parser.add_argument("--keep", type=Path, help="generate into (and keep) this directory")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="importer-bench-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        mapping = root / "mapping.toml"
        mapping.write_text(MAPPING, encoding="utf-8")
        jobs = [
            ("CSV", args.csv_rows, write_csv, ".csv"),
            ("XLSX", args.xlsx_rows, write_xlsx, ".xlsx"),
        ]
        for kind, rows, write, suffix in jobs:
            sizes = [rows // 10, rows] if args.scale else [rows]
            for n in sizes:
                source = root / f"leads-{n}{suffix}"
                if not source.exists():
                    started = time.perf_counter()
                    write(source, n, args.seed)
                    print(
                        f"generated {source.name}: {source.stat().st_size / 1024**2:,.0f} MB "
                        f"in {time.perf_counter() - started:.0f} s",
                        flush=True,
                    )
                workdir = root / f"run-{n}{suffix[1:]}"
                workdir.mkdir(exist_ok=True)
                report(f"{kind}, {n:,} rows", run_parts(source, mapping, workdir))
                sys.stdout.flush()


if __name__ == "__main__":
    main()
