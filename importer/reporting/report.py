"""The report: one line per source row, in source order, read back from the job database
(SPEC §6). Long CSV and JSONL reports are written in parts by one process per core."""

from __future__ import annotations

import difflib
import multiprocessing
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from importer.cells import cell_text
from importer.errors import UsageError
from importer.journal import Journal, ReportRow, read_report
from importer.mapping import header_key
from importer.reading import Source
from importer.reporting.tables import open_table

COLUMNS = ("row", "email", "phone", "status", "contact_id", "error", "warning", "changes")
PARALLEL_ROWS = 200_000  # longer CSV and JSONL reports are written in parts by worker processes
_JOINABLE = (".csv", ".jsonl")  # formats whose parts are joined by appending the files
_STATUS = COLUMNS.index("status")


def source_columns(headers: Sequence[str], names: Sequence[str]) -> tuple[int, ...]:
    """--report-columns, resolved like a mapping's columns; an unknown name exits 2."""
    keys = [header_key(h) for h in headers]
    found = []
    for name in names:
        if header_key(name) in keys:
            found.append(keys.index(header_key(name)))
            continue
        close = difflib.get_close_matches(header_key(name), keys, n=1, cutoff=0.5)
        maybe = f" Closest match: {headers[keys.index(close[0])]!r}." if close else ""
        shown = ", ".join(repr(h) for h in headers if h.strip())
        raise UsageError(
            f"--report-columns: the file has no column {name!r}.{maybe} Its headers are: {shown}.",
            "Give the column names as the header row writes them, separated by commas.",
        )
    return tuple(found)


def write_job_report(
    journal: Journal,
    dry_run: bool,
    path: Path,
    workers: int,
    delimiter: str = ",",
    source: Source | None = None,
    columns: tuple[int, ...] = (),
) -> dict[str, int]:
    """The job's report, with the source's `columns` after the report's own (read from
    `source` beside the journal). A long CSV or JSONL one without them is written in
    `workers` parts at once, one process each (~5 µs a row, and after the last row is sent
    nothing else is left to do), then joined. Returns the count per status as reported."""
    rows = sum(journal.counts().values())
    if columns and source is not None:
        names = tuple(source.headers[i] for i in columns)
        with_cells = _with_cells(journal.report_rows(dry_run), source, columns)
        return write_report(with_cells, path, delimiter=delimiter, extra=names)
    if workers < 2 or rows < PARALLEL_ROWS or path.suffix.lower() not in _JOINABLE:
        return write_report(journal.report_rows(dry_run), path, delimiter=delimiter)
    bounds = journal.report_parts(workers)
    parts = [path.with_name(f"{path.stem}.part{i}{path.suffix}") for i in range(len(bounds))]
    try:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(len(parts), context, initializer=_ignore_signals) as pool:
            done = [
                pool.submit(
                    _write_part, journal.path, dry_run, *bound, part, part == parts[0], delimiter
                )
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


def _ignore_signals() -> None:
    """A Ctrl-C reaches the whole process group: the report's writers finish their part
    (the run itself stops once the report is written)."""
    import signal

    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)


def _write_part(
    journal: Path,
    dry_run: bool,
    after: int,
    upto: int | None,
    path: Path,
    head: bool,
    delimiter: str,
) -> dict[str, int]:
    return write_report(read_report(journal, dry_run, after, upto), path, head, delimiter)


def _with_cells(
    rows: Iterable[ReportRow], source: Source, columns: tuple[int, ...]
) -> Iterator[tuple[object, ...]]:
    """Each report line with the cells of its source row (both in source order)."""
    cells_of = iter(source.rows())
    found = next(cells_of, None)
    for r in rows:
        while found is not None and found.number < r.row:
            found = next(cells_of, None)
        cells = found.cells if found is not None and found.number == r.row else ()
        yield (*r, *(cell_text(cells[i]) if i < len(cells) else "" for i in columns))


def write_report(
    rows: Iterable[Sequence[object]],
    path: Path,
    head: bool = True,
    delimiter: str = ",",
    extra: tuple[str, ...] = (),
) -> dict[str, int]:
    """One line per source row; returns the count per status as reported. `head`: the BOM and
    header of a CSV file (not in the parts of one after the first)."""
    table = open_table(path, (*COLUMNS, *extra), head, delimiter)
    counts: Counter[str] = Counter()

    def counted() -> Iterator[Sequence[object]]:
        for r in rows:
            counts[str(r[_STATUS])] += 1
            yield r

    table.write_all(counted(), _STATUS)
    table.finish()
    return dict(counts)
