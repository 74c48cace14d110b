"""Every other value, converted to the type its target field takes (numbers written the
Italian or the English way, yes/no words, dates and datetimes, JSON); a cell that cannot be
converted raises CellError, quoting it."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any

import orjson

from importer.cells import quoted
from importer.countries import country_code
from importer.mapping import FieldSpec
from importer.reading import Cell


class CellError(ValueError):
    """A cell that cannot become the field's value; the message is for the report. `column`:
    the one it quotes, when not the field's own (a `first_of` field's)."""

    def __init__(self, message: str, column: str | None = None) -> None:
        super().__init__(message)
        self.column = column


_BOOL_WORDS = {
    **dict.fromkeys(["true", "yes", "y", "1", "x", "sì", "si", "oui", "ja", "vero"], True),
    **dict.fromkeys(["false", "no", "n", "0", "non", "nein", "falso"], False),
}


_NUMBER_JUNK = re.compile(r"[\s\u00a0'\u2019€$£¥]")


def _number_shape(sep: str) -> re.Pattern[str]:
    t, s = re.escape("." if sep == "," else ","), re.escape(sep)
    return re.compile(
        rf"[+-]?(?:[0-9]{{1,3}}(?:{t}[0-9]{{3}})+|[0-9]+)(?:{s}[0-9]+)?|[+-]?{s}[0-9]+"
    )


_NUMBER_SHAPES = {sep: _number_shape(sep) for sep in ".,"}  # by decimal separator


def parse_number(text: str, decimal: str | None) -> int | float:
    """Numbers written as text, Italian (1.234,56) or English (1,234.56).

    Thousands separators must group digits by three; a number written the other way than
    the mapping's `decimal` is an error rather than a value off by a factor of 1,000.
    """
    compact = _NUMBER_JUNK.sub("", text)
    sep = decimal or _detect_decimal(compact, text)
    if not _NUMBER_SHAPES[sep].fullmatch(compact):
        written = f" with decimal separator {sep!r}" if decimal else ""
        raise CellError(f"{quoted(text)} is not a number{written}")
    plain = compact.replace("." if sep == "," else ",", "").replace(sep, ".")
    value = float(plain)
    return int(value) if "." not in plain and value.is_integer() else value


def _detect_decimal(compact: str, text: str) -> str:
    """Which mark is the decimal separator, for a cell that says it by itself."""
    has_dot, has_comma = "." in compact, "," in compact
    if has_dot and has_comma:
        return "," if compact.rfind(",") > compact.rfind(".") else "."
    if not (has_dot or has_comma):
        return "."
    mark = "." if has_dot else ","
    if compact.count(mark) > 1:
        return "," if mark == "." else "."
    head, _, tail = compact.rpartition(mark)
    if len(tail) == 3 and head.lstrip("+-") not in ("", "0"):
        raise CellError(
            f'{quoted(text)} is ambiguous (thousands or decimals?): set decimal = "," or '
            '"." in the mapping\'s [options]'
        )
    return mark


def _number(cell: Cell, text: str, spec: FieldSpec, options: ValueOptions) -> Any:
    if isinstance(cell, bool | datetime | date | time):
        raise CellError(f"{quoted(text)} is not a number")
    if isinstance(cell, float):
        return int(cell) if cell.is_integer() else cell
    if isinstance(cell, int):
        return cell
    return parse_number(text, options.decimal)


def _bool(cell: Cell, text: str, spec: FieldSpec, options: ValueOptions) -> Any:
    return parse_bool(cell, text)


def parse_bool(cell: Cell, text: str) -> bool:
    """The bool rule of SPEC §3: a bool or 0/1 cell, or a yes/no word in several languages."""
    if isinstance(cell, bool):
        return cell
    if isinstance(cell, int | float) and cell in (0, 1):
        return bool(cell)
    word = _BOOL_WORDS.get(text.casefold())
    if word is None:
        raise CellError(
            f"{quoted(text)} is not yes/no (accepted: true/false, yes/no, sì/no, 1/0, x; "
            "or add a `values` table to the mapping)"
        )
    return word


def _datetime(cell: Cell, text: str, spec: FieldSpec, options: ValueOptions) -> Any:
    if isinstance(cell, datetime | date):
        return _moment(cell, options.tz)
    return _text_datetime(text, spec.formats, options.tz)


@lru_cache(maxsize=1 << 14)
def _text_datetime(text: str, formats: tuple[str, ...], tz: zoneinfo.ZoneInfo) -> str:
    """Every format is tried: a cell two of them read as different dates is invalid, never
    a guess (read the same, it is fine). Cached: a lead list holds a few hundred distinct
    dates, parsing one costs ~30 µs."""
    found: dict[datetime, str] = {}
    for fmt in formats or (None,):
        try:
            if fmt:
                moment = datetime.strptime(text, fmt)
            else:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            continue
        found.setdefault(moment, fmt or "ISO 8601")
    if len(found) > 1:
        readings = " or ".join(f"{m:%Y-%m-%d %H:%M} ({f!r})" for m, f in found.items())
        raise CellError(f"{quoted(text)} is ambiguous: {readings}")
    if not found:
        how = (
            f"format {' or '.join(repr(f) for f in formats)}"
            if formats
            else "ISO 8601 (2026-03-31 or 2026-03-31T09:00)"
        )
        raise CellError(
            f'{quoted(text)} is not a date in {how}; set `format` in the mapping (e.g. "%d/%m/%Y")'
        )
    return _moment(next(iter(found)), tz)


def _moment(cell: datetime | date, tz: zoneinfo.ZoneInfo) -> str:
    moment = cell if isinstance(cell, datetime) else datetime.combine(cell, time(0))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.isoformat()


def _json(cell: Cell, text: str, spec: FieldSpec, options: ValueOptions) -> Any:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise CellError(f"{quoted(text)} is not valid JSON") from None
    if spec.name.startswith("custom_json_") and not isinstance(value, dict | list):
        raise CellError(f"{quoted(text)} must be a JSON object or array")
    return value


def _string(cell: Cell, text: str, spec: FieldSpec, options: ValueOptions) -> Any:
    return text


@dataclass(frozen=True, slots=True)
class ValueOptions:
    decimal: str | None
    tz: zoneinfo.ZoneInfo


Converter = Callable[[Cell, str, FieldSpec, ValueOptions], Any]


def _country(cell: Cell, text: str, spec: FieldSpec, options: ValueOptions) -> Any:
    """A country's name or code → its ISO alpha-2 code; an unknown one leaves the field
    out, with a warning (SPEC §4), never a guess."""
    code = country_code(text)
    if code is None:
        raise CellError(f"unknown country {quoted(text)}")
    return code


CONVERTERS: dict[str, Converter] = {
    "string": _string,
    "country": _country,
    "number": _number,
    "bool": _bool,
    "datetime": _datetime,
    "json": _json,
}
