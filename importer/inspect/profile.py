"""Column statistics of a file, computed with polars over the rows as the importer's own
reader read them (its quirks handling stays; polars does the columnar work): per column
the cells filled, the distinct values, the kind the cells look like, three examples.

The rows stream in chunks: a chunk becomes one polars frame, classified and counted with
vectorized expressions; the distinct values of a column are kept as 64-bit hashes (8
bytes a value, whatever its length), so memory follows the chunk, not the file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice, zip_longest

import polars as pl

from importer.cells import cell_text
from importer.reading import SourceRow

CHUNK = 50_000  # rows a polars frame holds
KINDS = ("email", "phone", "number", "date", "bool", "text")
KIND_SHARE = 0.8  # a column is of a kind when this share of its filled cells are
EXAMPLES = 3

_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"
_DATE = (
    r"^(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4})"
    r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"
)
_PHONE_CHARS = r"^(\+|00)?[\d\s().\-/]+$"
_SEPARATED = r"[\s().\-/]"
_NUMBER = r"^[+-]?(\d+|\d{1,3}([.,\s']\d{3})+)([.,]\d+)?$"
_BOOLS = ["true", "false", "yes", "no", "y", "n", "x", "sì", "si", "oui", "non", "ja", "nein"]


@dataclass
class ColumnStats:
    name: str
    filled: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    hashes: pl.Series = field(default_factory=lambda: pl.Series([], dtype=pl.UInt64))

    @property
    def distinct(self) -> int:
        return self.hashes.len()

    @property
    def kind(self) -> str:
        """The kind most cells look like, when at least KIND_SHARE of them do; else text."""
        if not self.kinds:
            return "text"
        kind, count = self.kinds.most_common(1)[0]
        return kind if count >= KIND_SHARE * self.filled else "text"


@dataclass
class Profile:
    rows: int
    columns: list[ColumnStats]


def profile(headers: tuple[str, ...], rows: Iterable[SourceRow]) -> Profile:
    """Every data row counted (empty ones too, as the report counts them); the cells of the
    header's columns profiled (cells past its width are not a column)."""
    columns = [ColumnStats(name) for name in headers]
    total = 0
    for chunk in _chunks(iter(rows)):
        total += len(chunk)
        cells = list(zip_longest(*(r.cells for r in chunk), fillvalue=None))
        for stats, values in zip(columns, cells, strict=False):
            _add(stats, values)
    return Profile(total, columns)


def _chunks(rows: Iterator[SourceRow]) -> Iterator[list[SourceRow]]:
    while chunk := list(islice(rows, CHUNK)):
        yield chunk


def _add(stats: ColumnStats, values: tuple[object, ...]) -> None:
    """One chunk of one column: text as a person reads it, then counted with polars."""
    if all(type(v) is str for v in values):
        texts = pl.Series(values, dtype=pl.String).str.strip_chars()
    else:
        texts = pl.Series([cell_text(v) for v in values], dtype=pl.String)  # type: ignore[arg-type]
    filled = texts.filter(texts != "")
    if filled.is_empty():
        return
    stats.filled += filled.len()
    stats.hashes = pl.concat([stats.hashes, filled.hash()]).unique()
    if len(stats.examples) < EXAMPLES:
        for example in filled.unique(maintain_order=True).head(EXAMPLES).to_list():
            if example not in stats.examples and len(stats.examples) < EXAMPLES:
                stats.examples.append(example)
    kinds = pl.DataFrame({"v": filled}).select(_kind_of(pl.col("v")).alias("kind"))
    for kind, count in kinds["kind"].value_counts().iter_rows():
        stats.kinds[kind] += count


def _kind_of(value: pl.Expr) -> pl.Expr:
    """The kind of each cell: email, bool, date, phone, number, else text (in that order:
    a date is also digits and separators). A phone is 7 to 15 digits, written with a + or
    a leading 0, or with separators, or 9 digits or more (a quantity rarely has them)."""
    digits = value.str.count_matches(r"\d")
    phone = (
        value.str.contains(_PHONE_CHARS)
        & digits.is_between(7, 15)
        & (
            value.str.starts_with("+")
            | value.str.starts_with("0")
            | value.str.contains(_SEPARATED)
            | (digits >= 9)
        )
    )
    return (
        pl.when(value.str.contains(_EMAIL))
        .then(pl.lit("email"))
        .when(value.str.to_lowercase().is_in(_BOOLS))
        .then(pl.lit("bool"))
        .when(value.str.contains(_DATE))
        .then(pl.lit("date"))
        .when(phone)
        .then(pl.lit("phone"))
        .when(value.str.contains(_NUMBER))
        .then(pl.lit("number"))
        .otherwise(pl.lit("text"))
    )
