"""Reporting: the per-row report and the rejects file (from the journal, in source order),
and the run summary.

Tables are written as CSV (UTF-8 with BOM, formula-injection guard), XLSX (typed strings,
header frozen, auto-filter, errors highlighted, a second sheet past Excel's row limit) or
JSONL (raw), chosen by the file's extension; always atomically (temp file, then rename).
"""

from __future__ import annotations

import csv
import multiprocessing
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import IO, Any

import orjson

from importer.errors import UsageError
from importer.journal import Journal, ReportRow, read_report
from importer.normalizing import cell_text
from importer.reading import Source

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
FORMATS = (".csv", ".xlsx", ".jsonl")
EXCEL_ROWS = 1_048_576  # per sheet, header included
PARALLEL_ROWS = 200_000  # longer CSV and JSONL reports are written in parts by worker processes
_JOINABLE = (".csv", ".jsonl")  # formats whose parts are joined by appending the files
_INJECTION = ("=", "+", "-", "@", "\t", "\r")


def check_report_path(path: Path) -> None:
    if path.suffix.lower() not in FORMATS:
        raise UsageError(
            f"Cannot write {path} as {path.suffix or 'a file without extension'}.",
            f"Use one of: {', '.join(FORMATS)}.",
        )
    check_writable(path)


def check_outputs(
    inputs: dict[str, Path], tables: dict[str, Path | None], files: dict[str, Path | None]
) -> None:
    """Before anything is read or sent (SPEC §6): every output can be written, and none is
    an input or another output (`--report src.csv` once overwrote the source, `--rejects`
    equal to `--report` the report, `--summary-json m.toml` the mapping). `tables` are
    report-like outputs (.csv/.xlsx/.jsonl), `files` any other; keys name the option."""
    taken = dict(inputs.items())
    for option, path in [*tables.items(), *files.items()]:
        if path is None:
            continue
        for other, used in taken.items():
            if _same_file(path, used):
                raise UsageError(
                    f"{option} {path} is the same file as {other}: it would be overwritten.",
                    f"Give {option} another path.",
                )
        if path.is_dir():
            raise UsageError(
                f"{option} {path} is a folder.", f"Give {option} the path of a file in it."
            )
        (check_report_path if option in tables else check_writable)(path)
        taken[option] = path


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def check_writable(path: Path) -> None:
    """Before anything is sent: a report that cannot be written is found out now, not after."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.with_name(path.name + ".tmp")
        probe.touch()
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if isinstance(exc, FileExistsError | NotADirectoryError):
            reason = "a part of that path is a file, not a folder"
        raise UsageError(
            f"Cannot write {path}: {reason}.",
            "Choose another path, or make its folder writable.",
        ) from None


def _guarded(cells: Sequence[Any]) -> list[Any]:
    """Spreadsheet formula-injection guard: a leading `'` makes Excel show text, not run it."""
    return [
        ("'" + c if c.startswith(_INJECTION) else c) if c.__class__ is str else c for c in cells
    ]


class _Table:
    """One output table; `write` takes a row of cells and whether it is an error row,
    `write_all` many rows whose cell `flag` says `error` when they are error rows."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.path = path
        self.columns = tuple(columns)
        self.tmp = path.with_name(path.name + ".tmp")
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, cells: Sequence[Any], highlight: bool) -> None:
        raise NotImplementedError

    def write_all(self, rows: Iterable[Sequence[Any]], flag: int) -> None:
        for cells in rows:
            self.write(cells, cells[flag] == "error")

    def finish(self) -> None:
        self.tmp.replace(self.path)


class _CsvTable(_Table):
    def __init__(self, path: Path, columns: Sequence[str], head: bool = True) -> None:
        """`head`: the BOM and the header line (not in the parts after the first)."""
        super().__init__(path, columns)
        encoding = "utf-8-sig" if head else "utf-8"
        self.fh: IO[str] = self.tmp.open("w", encoding=encoding, newline="")
        self.out = csv.writer(self.fh)
        if head:
            self.out.writerow(self.columns)

    def write(self, cells: Sequence[Any], highlight: bool) -> None:
        self.out.writerow(_guarded(cells))

    def write_all(self, rows: Iterable[Sequence[Any]], flag: int) -> None:
        self.out.writerows(map(_guarded, rows))  # the report's hot loop: no call per row

    def finish(self) -> None:
        self.fh.close()
        super().finish()


class _JsonlTable(_Table):
    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        super().__init__(path, columns)
        self.fh: IO[bytes] = self.tmp.open("wb")

    def write(self, cells: Sequence[Any], highlight: bool) -> None:
        self.fh.write(orjson.dumps(dict(zip(self.columns, cells, strict=True))) + b"\n")

    def finish(self) -> None:
        self.fh.close()
        super().finish()


class _XlsxTable(_Table):
    """openpyxl's write-only mode streams rows to disk: memory stays flat."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        from openpyxl import Workbook
        from openpyxl.styles import Font, PatternFill

        super().__init__(path, columns)
        self.wb = Workbook(write_only=True)
        self.bold = Font(bold=True)
        self.red = PatternFill("solid", fgColor="FFC7CE")
        self.sheets = 0
        self.rows = EXCEL_ROWS
        self.ws: Any = None

    def _new_sheet(self) -> None:
        from openpyxl.utils import get_column_letter

        self._close_sheet()
        self.sheets += 1
        self.ws = self.wb.create_sheet("Report" if self.sheets == 1 else f"Report ({self.sheets})")
        self.ws.freeze_panes = "A2"
        self.last_column = get_column_letter(len(self.columns))
        self.ws.append([self._cell(c, font=self.bold) for c in self.columns])
        self.rows = 1

    def _close_sheet(self) -> None:
        if self.ws is not None:
            self.ws.auto_filter.ref = f"A1:{self.last_column}{self.rows}"

    def _cell(self, value: Any, font: Any = None, fill: Any = None) -> Any:
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(self.ws, value=value)
        if isinstance(value, str):
            cell.data_type = "s"  # never a formula, whatever the text starts with
        if font is not None:
            cell.font = font
        if fill is not None:
            cell.fill = fill
        return cell

    def write(self, cells: Sequence[Any], highlight: bool) -> None:
        if self.rows >= EXCEL_ROWS:
            self._new_sheet()
        fill = self.red if highlight else None
        self.ws.append([self._cell(c, fill=fill) for c in cells])
        self.rows += 1

    def finish(self) -> None:
        if self.ws is None:
            self._new_sheet()
        self._close_sheet()
        self.wb.save(self.tmp)
        super().finish()


def _open_table(path: Path, columns: Sequence[str], head: bool = True) -> _Table:
    check_report_path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _CsvTable(path, columns, head)
    return _JsonlTable(path, columns) if suffix == ".jsonl" else _XlsxTable(path, columns)


def write_job_report(journal: Journal, dry_run: bool, path: Path, workers: int) -> dict[str, int]:
    """The job's report; a long CSV or JSONL one is written in `workers` parts at once, one
    process each (~5 µs a row, and after the last row is sent nothing else is left to do),
    then joined. Returns the count per status as reported."""
    rows = sum(journal.counts().values())
    if workers < 2 or rows < PARALLEL_ROWS or path.suffix.lower() not in _JOINABLE:
        return write_report(journal.report_rows(dry_run), path)
    bounds = journal.report_parts(workers)
    parts = [path.with_name(f"{path.stem}.part{i}{path.suffix}") for i in range(len(bounds))]
    try:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(len(parts), context) as pool:
            done = [
                pool.submit(_write_part, journal.path, dry_run, *bound, part, part == parts[0])
                for bound, part in zip(bounds, parts, strict=True)
            ]
            counts = sum((Counter(d.result()) for d in done), Counter[str]())
        with parts[0].open("ab") as out:
            for part in parts[1:]:
                with part.open("rb") as fh:
                    shutil.copyfileobj(fh, out, 1 << 20)
        parts[0].replace(path)
    finally:
        for part in parts:
            part.unlink(missing_ok=True)
            part.with_name(part.name + ".tmp").unlink(missing_ok=True)
    return dict(counts)


def _write_part(
    journal: Path, dry_run: bool, after: int, upto: int | None, path: Path, head: bool
) -> dict[str, int]:
    return write_report(read_report(journal, dry_run, after, upto), path, head)


def write_report(rows: Iterable[ReportRow], path: Path, head: bool = True) -> dict[str, int]:
    """One line per source row; returns the count per status as reported. `head`: the BOM and
    header of a CSV file (not in the parts of one after the first)."""
    table = _open_table(path, COLUMNS, head)
    counts: Counter[str] = Counter()

    def counted() -> Iterator[ReportRow]:
        for r in rows:
            counts[r.status] += 1
            yield r

    table.write_all(counted(), COLUMNS.index("status"))
    table.finish()
    return dict(counts)


def write_rejects(source: Source, report: Iterable[ReportRow], path: Path) -> int:
    """The source rows whose status is `error`, as they were, plus an `error` column."""
    table = _open_table(path, [*source.headers, "error"])
    errors = _errors(report)
    wanted = next(errors, None)
    written = 0
    for row in source.rows():
        if wanted is None:
            break
        if row.number != wanted[0]:
            continue
        cells = [cell_text(c) if c is not None else "" for c in row.cells]
        cells += [""] * (len(source.headers) - len(cells))
        table.write([*cells, wanted[1]], True)
        written += 1
        wanted = next(errors, None)
    table.finish()
    return written


def _errors(report: Iterable[ReportRow]) -> Iterator[tuple[int, str]]:
    return ((r.row, r.error) for r in report if r.status == "error")


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
    if summary.get("rejects"):
        lines.append(f"  rejects: {summary['rejects']}")
    return "\n".join(lines)
