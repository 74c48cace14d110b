"""What a column's sample cells look like: numbers, dates (and their format), yes/no,
countries, Italian phones."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from importer.mapping import header_key
from importer.normalizing import (
    CellError,
    cell_text,
    normalize_phone,
    parse_number,
)
from importer.reading import Cell
from importer.suggest.vocabulary import NO_WORDS, YES_WORDS, header_words

_DATE_FORMATS = (  # day first: the lists this tool is for are mostly European
    "%d/%m/%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%d/%m/%y",
    "%d.%m.%y",
    "%m/%d/%Y",
    "%m/%d/%Y %H:%M",
    "%Y/%m/%d",
)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_LEADING_ZERO = re.compile(r"[+-]?0[0-9]")
_LONG_DIGITS = re.compile(r"[0-9]{9,}")
NOTIFUSE_SLOTS = 5

# ---------------------------------------------------------------------------------------------
# What the sample says about a column


@dataclass(frozen=True)
class Kind:
    """A custom column's type as the sample shows it; `formats` for dates written as text
    (several when the sample writes them several ways: 27.04.2016 and 27/04/2016)."""

    type: str = "string"
    formats: tuple[str, ...] = ()
    decimals: frozenset[str] = frozenset()  # numbers: see _numbers
    note: str | None = None


def is_present(cell: Cell) -> bool:
    return cell is not None and bool(cell_text(cell))


def _numbers(cells: list[Cell]) -> frozenset[str]:
    """How every cell reads as a number: with decimal "," / "." / "auto" (the importer's own
    per-cell detection, used when the mapping sets no `decimal`); empty: not numbers.

    Leading zeros and long digit runs are identifiers (codes, phones, postcodes) whatever they
    look like: as numbers they would lose digits.
    """
    fits = {",", ".", "auto"}
    for cell in cells:
        if isinstance(cell, bool | datetime | date | time):
            return frozenset()
        text = cell_text(cell)
        if _LONG_DIGITS.search(text):
            return frozenset()
        if isinstance(cell, int | float):
            continue
        if _LEADING_ZERO.match(text):
            return frozenset()
        for way in list(fits):
            try:
                parse_number(text, None if way == "auto" else way)
            except CellError:
                fits.discard(way)
        if not fits:
            break
    return frozenset(fits)


def _date_format(cells: Sequence[Cell]) -> tuple[bool, tuple[str, ...]]:
    """(all cells are dates, the strptime formats for those written as text, if needed):
    one format when one reads them all, else the fewest that do, but never day/month and
    month/day together (the importer would find 03/04 ambiguous in every row)."""
    texts = [cell_text(c) for c in cells if not isinstance(c, datetime | date)]
    if any(isinstance(c, time) for c in cells):
        return False, ()
    if not texts:
        return True, ()
    if all(_ISO_DATE.match(t) for t in texts):
        try:
            for t in texts:
                datetime.fromisoformat(t.replace("Z", "+00:00"))
        except ValueError:
            return False, ()
        return True, ()
    for fmt in _DATE_FORMATS:
        if all(_parses(t, fmt) for t in texts):
            return True, (fmt,)
    used: list[str] = []
    for text in texts:
        first = next((f for f in _DATE_FORMATS if _parses(text, f)), None)
        if first is None:
            return False, ()
        if first not in used:
            used.append(first)
    if any(_swapped(f) in used for f in used):
        return False, ()
    return True, tuple(f for f in _DATE_FORMATS if f in used)


def kind_of(cells: list[Cell]) -> Kind:
    if not cells:
        return Kind()
    dated, formats = _date_format(cells)
    if dated:
        note = None
        if len(formats) == 1 and formats[0].startswith("%d/%m/"):
            swapped = formats[0].replace("%d/%m/", "%m/%d/")
            texts = [cell_text(c) for c in cells if not isinstance(c, datetime | date)]
            if all(_parses(t, swapped) for t in texts):
                note = "{header}: read as day/month; the sample has no day over 12 to be sure."
        return Kind("datetime", formats, note=note)
    decimals = _numbers(cells)
    if decimals:
        return Kind("number", decimals=decimals)
    return Kind()


def _swapped(fmt: str) -> str:
    """The format with day and month in each other's place."""
    return fmt.replace("%d", "%~").replace("%m", "%d").replace("%~", "%m")


def _parses(text: str, fmt: str) -> bool:
    try:
        datetime.strptime(text, fmt)
    except ValueError:
        return False
    return True


def yes_no_values(cells: list[Cell], native: bool = True) -> dict[str, str | bool] | None:
    """The `values` table for a consent column whose texts are all yes/no words, else None.

    `native`: Excel's TRUE/FALSE and 1/0 cells need no entry (a bool field reads them).
    """
    table: dict[str, str | bool] = {}
    seen: set[str] = set()
    for cell in cells:
        if native and isinstance(cell, int | float) and cell in (0, 1):
            continue
        text = cell_text(cell)
        word = " ".join(header_words(text))
        if word not in YES_WORDS and word not in NO_WORDS:
            return None
        if header_key(text) not in seen:
            seen.add(header_key(text))
            table[text] = word in YES_WORDS
    return table


def looks_italian(phones: list[str]) -> tuple[int, int]:
    """(valid Italian numbers, phones without +country): the evidence for default_region IT.

    Only Italy is guessed: German and British numbering accept most digit strings, so a vote
    among countries would pick one for the wrong reason. Italian mobiles (3xx) must be at
    least half, which a German list whose 0-prefixed numbers also parse in Italy is not.
    """
    local = [p for p in phones if not re.sub(r"[\s().\-/]", "", p).startswith(("+", "00"))]
    valid = [p for p in local if normalize_phone(p, "IT")[0] is not None]
    mobiles = [p for p in valid if _national(p)[:1] == "3"]
    if len(mobiles) * 2 < len(local):
        return 0, len(local)
    return len(valid), len(local)


def _national(phone: str) -> str:
    """The digits after an optional 39 (only a number too long to be national has one)."""
    digits = re.sub(r"\D", "", phone)
    return digits[2:] if len(digits) >= 11 and digits.startswith("39") else digits
