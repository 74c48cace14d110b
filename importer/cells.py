"""A cell as a person reads it: its text (no `.0` on whole numbers, ISO dates, no invisible
characters), and how a message quotes it."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importer.reading.rows import Cell

_GUARDED = ("=", "+", "-", "@", "\t", "\r")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
QUOTE_LIMIT = 100  # characters of a cell an error text quotes


def quoted(text: str) -> str:
    """A cell as an error text quotes it: whole up to QUOTE_LIMIT characters, else its start
    and its length (a 40,000-character cell once went into a report whole)."""
    if len(text) <= QUOTE_LIMIT:
        return repr(text)
    return f"{text[:QUOTE_LIMIT]!r}… ({len(text):,} characters)"


def clean_text(value: str) -> str:
    """Trim all Unicode spaces and drop zero-width characters (none in ASCII text)."""
    if value.isascii():
        return value.strip()
    return value.translate(_INVISIBLE).strip()


def cell_text(cell: Cell) -> str:
    """A cell as the text a person sees: no `.0` on whole numbers, ISO dates.

    The `'` that this tool's reports put before `= + - @` (formula guard) is removed, so a
    rejects file imports as it was.
    """
    if isinstance(cell, str):
        text = clean_text(cell)
        if text[:1] == "'" and text[1:2] in _GUARDED:
            return text[1:]
        return text
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime):
        return cell.date().isoformat() if cell.time() == time(0) else cell.isoformat()
    if isinstance(cell, date | time):
        return cell.isoformat()
    return "" if cell is None else str(cell)
