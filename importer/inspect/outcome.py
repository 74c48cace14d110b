"""With a mapping, what a dry run of the file would report (SPEC §8): the file is staged
and planned exactly as `run --dry-run` stages it, into a throwaway job database, and the
counts are read back as the report reads them, so the numbers are the same, always."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from importer.journal import Journal
from importer.mapping import Mapping
from importer.progress import NullProgress
from importer.reading import ReadOptions
from importer.settings import RunSettings
from importer.staging import stage

FIRST_ROWS = 5  # rows named per reason
# a cell as an error text quotes it (cells.quoted): the reason is the text without it
_QUOTED = re.compile(r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")(… \([\d,]+ characters\))?""")
_DUPLICATE = re.compile(r"^row \d+: ")


@dataclass(frozen=True)
class Reason:
    reason: str
    count: int
    rows: tuple[int, ...]  # the first FIRST_ROWS


@dataclass(frozen=True)
class Outcome:
    target: str
    counts: dict[str, int]  # valid, error, duplicate, skipped (every one, zeros included)
    reasons: tuple[Reason, ...]  # most frequent first
    phones_dropped: int  # invalid phones: the rows were sent without them
    shared_phones: int  # Minimo: later rows sent without a phone an earlier row has


def dry_outcome(source: Path, mapping: Mapping, read: ReadOptions) -> Outcome:
    settings = RunSettings(source=source, mapping=Path("mapping"), dry_run=True)
    with (
        tempfile.TemporaryDirectory(prefix="importer-inspect-") as tmp,
        Journal(Path(tmp) / "job.sqlite", durable=False) as journal,
    ):
        stage(journal, settings, mapping, read, NullProgress())
        found = journal.report_counts(dry_run=True)
        counts = {s: found.get(s, 0) for s in ("valid", "error", "duplicate", "skipped")}
        invalid, shared = journal.phones_dropped()
        return Outcome(
            mapping.target, counts, _reasons(journal.reported_errors(True)), invalid, shared
        )


def reason_of(error: str) -> list[str]:
    """The reasons in one row's error text: each of its `; `-joined parts without the cells
    it quotes (and a duplicate's `row N:` prefix)."""
    text = _DUPLICATE.sub("", error)
    return list(dict.fromkeys(_QUOTED.sub("'…'", part) for part in text.split("; ") if part))


def _reasons(errors: Iterable[tuple[int, str]]) -> tuple[Reason, ...]:
    counts: dict[str, int] = {}
    rows: dict[str, list[int]] = {}
    for row, error in errors:
        for reason in reason_of(error or "rejected"):
            counts[reason] = counts.get(reason, 0) + 1
            first = rows.setdefault(reason, [])
            if len(first) < FIRST_ROWS:
                first.append(row)
    ordered = sorted(counts, key=lambda r: (-counts[r], rows[r][0]))
    return tuple(Reason(r, counts[r], tuple(rows[r])) for r in ordered)
