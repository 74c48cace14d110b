"""Normalizing: a source row + the bound mapping → a `Staged` row ready for the job database.

Email and phone are normalized the way the APIs match contacts (lowercased email, E.164
phone); every other value is converted to the type the target field takes. A value that
cannot be converted is a row error quoting the cell and naming its column: data, not an
exception.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any

import orjson
import phonenumbers
from email_validator import EmailNotValidError, validate_email

from importer.errors import MappingError
from importer.mapping import BoundField, BoundMapping, FieldSpec, header_key
from importer.reading import Cell, SourceRow


@dataclass(frozen=True, slots=True)
class Staged:
    """One source row after mapping: `pending` (to send), `error` or `skipped`."""

    row: int
    status: str
    email: str | None = None
    phone: str | None = None
    payload: dict[str, Any] | None = None
    warnings: tuple[str, ...] = ()
    error: str | None = None


class CellError(ValueError):
    """A cell that cannot become the field's value; the message is for the report."""


_GUARDED = ("=", "+", "-", "@", "\t", "\r")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_NAME_ADDR = re.compile(r".*<\s*([^<>]*?)\s*>")
_SCIENTIFIC = re.compile(r"([0-9])(?:[.,]([0-9]+))?[eE]\+?([0-9]+)")
_PHONE_JUNK = re.compile(r"[\s\u00a0\-./()\u2010-\u2015]+")
_BOOL_WORDS = {
    **dict.fromkeys(["true", "yes", "y", "1", "x", "sì", "si", "oui", "ja", "vero"], True),
    **dict.fromkeys(["false", "no", "n", "0", "non", "nein", "falso"], False),
}


def clean_text(value: str) -> str:
    """Trim all Unicode spaces and drop zero-width characters."""
    return value.translate(_INVISIBLE).strip()


def normalize_email(raw: str) -> str | None:
    """Lowercased address if its syntax is valid, else None. Accepts `Name <addr>`."""
    text = clean_text(raw)
    match = _NAME_ADDR.fullmatch(text)
    if match:
        text = match.group(1)
    if text.lower().startswith("mailto:"):
        text = text[7:]
    text = text.lower()
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


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


@lru_cache(maxsize=1 << 16)
def normalize_phone(text: str, region: str | None) -> tuple[str | None, str | None]:
    """(E.164, None) or (None, reason). Cached: lead lists repeat numbers and parsing is costly.

    `+`/`00` mean international; otherwise the row's region decides, accepting digits that
    start with that region's own calling code but never guessing another country.
    """
    sci = _SCIENTIFIC.fullmatch(text)
    if sci:
        frac, exponent = sci.group(2) or "", int(sci.group(3))
        if len(frac) != exponent:
            return None, f"phone truncated by Excel ({text})"
        text = sci.group(1) + frac
    compact = _PHONE_JUNK.sub("", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    international = compact.startswith("+")
    digits = compact[1:] if international else compact
    if not digits.isdigit():
        return None, f"invalid phone {text!r}"
    if not international and region is None:
        return None, f"phone {text!r} has no country code and the mapping sets no default_region"
    candidates = [compact if international else digits]
    if not international and region is not None:
        code = str(phonenumbers.country_code_for_region(region))
        if digits.startswith(code):
            candidates.append("+" + digits)
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, None if candidate.startswith("+") else region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            e164: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            return e164, None
    return None, f"invalid phone {text!r}"


def parse_number(text: str, decimal: str | None) -> int | float:
    """Numbers written as text, Italian (1.234,56) or English (1,234.56).

    Thousands separators must group digits by three; a number written the other way than
    the mapping's `decimal` is an error rather than a value off by a factor of 1,000.
    """
    compact = re.sub(r"[\s\u00a0'\u2019€$£¥]", "", text)
    sep = decimal or _detect_decimal(compact, text)
    t, s = re.escape("." if sep == "," else ","), re.escape(sep)
    shape = rf"[+-]?(?:[0-9]{{1,3}}(?:{t}[0-9]{{3}})+|[0-9]+)(?:{s}[0-9]+)?|[+-]?{s}[0-9]+"
    if not re.fullmatch(shape, compact):
        written = f" with decimal separator {sep!r}" if decimal else ""
        raise CellError(f"{text!r} is not a number{written}")
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
            f'{text!r} is ambiguous (thousands or decimals?): set decimal = "," or '
            '"." in the mapping\'s [options]'
        )
    return mark


def _number(cell: Cell, spec: FieldSpec, decimal: str | None, tz: zoneinfo.ZoneInfo) -> Any:
    if isinstance(cell, bool | datetime | date | time):
        raise CellError(f"{cell_text(cell)!r} is not a number")
    if isinstance(cell, float):
        return int(cell) if cell.is_integer() else cell
    if isinstance(cell, int):
        return cell
    return parse_number(cell_text(cell), decimal)


def _bool(cell: Cell, spec: FieldSpec, decimal: str | None, tz: zoneinfo.ZoneInfo) -> Any:
    if isinstance(cell, bool):
        return cell
    if isinstance(cell, int | float) and cell in (0, 1):
        return bool(cell)
    word = _BOOL_WORDS.get(cell_text(cell).casefold())
    if word is None:
        raise CellError(
            f"{cell_text(cell)!r} is not yes/no (accepted: true/false, yes/no, sì/no, 1/0, x; "
            "or add a `values` table to the mapping)"
        )
    return word


def _datetime(cell: Cell, spec: FieldSpec, decimal: str | None, tz: zoneinfo.ZoneInfo) -> Any:
    if isinstance(cell, datetime):
        moment = cell
    elif isinstance(cell, date):
        moment = datetime.combine(cell, time(0))
    else:
        text = cell_text(cell)
        try:
            if spec.format:
                moment = datetime.strptime(text, spec.format)
            else:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            how = (
                f"format {spec.format!r}"
                if spec.format
                else "ISO 8601 (2026-03-31 or 2026-03-31T09:00)"
            )
            raise CellError(
                f'{text!r} is not a date in {how}; set `format` in the mapping (e.g. "%d/%m/%Y")'
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.isoformat()


def _json(cell: Cell, spec: FieldSpec, decimal: str | None, tz: zoneinfo.ZoneInfo) -> Any:
    text = cell_text(cell)
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise CellError(f"{text[:60]!r} is not valid JSON") from None
    if spec.name.startswith("custom_json_") and not isinstance(value, dict | list):
        raise CellError(f"{text[:60]!r} must be a JSON object or array")
    return value


def _string(cell: Cell, spec: FieldSpec, decimal: str | None, tz: zoneinfo.ZoneInfo) -> Any:
    return cell_text(cell)


Converter = Callable[[Cell, FieldSpec, str | None, zoneinfo.ZoneInfo], Any]
_CONVERTERS: dict[str, Converter] = {
    "string": _string,
    "number": _number,
    "bool": _bool,
    "datetime": _datetime,
    "json": _json,
}


class Normalizer:
    """Built once per run from the bound mapping; `__call__` turns a row into a `Staged`."""

    def __init__(self, bound: BoundMapping, clear_empty: bool) -> None:
        self.bound = bound
        options = bound.mapping.options
        self.region = options.default_region
        self.drop_bad_phone = options.on_invalid_phone == "drop"
        self.decimal = options.decimal
        self.tz = zoneinfo.ZoneInfo(options.timezone)
        self.clear_empty = clear_empty
        email = bound.get("email")
        assert email is not None, "parse_mapping guarantees an email field"
        self.email = email
        self.others = tuple(f for f in bound.fields if f.spec.name != "email")
        self.constants = {
            f.spec.name: self._constant(f.spec) for f in self.others if not f.spec.columns
        }

    def _constant(self, spec: FieldSpec) -> Any:
        """A `value = ...` converted once to the field's type; a bad one is a mapping error."""
        if spec.type == "json" and isinstance(spec.constant, dict | list):
            return spec.constant
        if spec.type == "string" and spec.name.startswith("customFields."):
            return spec.constant  # Minimo custom fields take any JSON value as written
        try:
            return _CONVERTERS[spec.type](spec.constant, spec, self.decimal, self.tz)
        except CellError as exc:
            raise MappingError(f"Mapping field {spec.name!r}: the constant value {exc}.") from None

    def __call__(self, source: SourceRow) -> Staged:
        if source.empty:
            return Staged(source.number, "skipped", warnings=("empty row",))
        errors: list[str] = []
        warnings: list[str] = []
        if source.problem:
            errors.append(source.problem)
        raw_email = self._cell(source, self.email)
        email: str | None = None
        if raw_email is None or not cell_text(raw_email):
            errors.append(f"missing email in column {self.email.column or 'email'}")
        else:
            email = normalize_email(cell_text(raw_email))
            if email is None:
                errors.append(
                    f"invalid email {cell_text(raw_email)!r} in column {self.email.column}"
                )
        payload: dict[str, Any] = {}
        phone: str | None = None
        for field in self.others:
            try:
                present, value = self._value(source, field)
            except CellError as exc:
                if field.spec.name == "phone" and self.drop_bad_phone:
                    warnings.append(f"{exc} in column {field.column}: sent without phone")
                else:
                    errors.append(f"{exc} in column {field.column}")
                continue
            if present:
                _put(payload, field.spec.name, value)
                if field.spec.name == "phone" and isinstance(value, str):
                    phone = value
        if errors:
            shown = email or (cell_text(raw_email) if raw_email is not None else None)
            return Staged(
                source.number, "error", shown, phone, None, tuple(warnings), "; ".join(errors)
            )
        payload = {"email": email, **payload}
        return Staged(source.number, "pending", email, phone, payload, tuple(warnings))

    @staticmethod
    def _cell(source: SourceRow, field: BoundField) -> Cell:
        if field.index is None or field.index >= len(source.cells):
            return None
        return source.cells[field.index]

    def _value(self, source: SourceRow, field: BoundField) -> tuple[bool, Any]:
        """(present, value): an empty cell is never a value (omitted, or None under clear)."""
        spec = field.spec
        if not spec.columns:
            return True, self.constants[spec.name]
        cell = self._cell(source, field)
        if cell is None or not cell_text(cell):
            if spec.default is None:
                return self.clear_empty, None
            cell = spec.default
        if spec.values:
            key = header_key(cell_text(cell))
            if key in spec.values:
                return True, spec.values[key]
        if spec.name == "phone":
            return True, self._phone(source, field, cell)
        return True, _CONVERTERS[spec.type](cell, spec, self.decimal, self.tz)

    def _phone(self, source: SourceRow, field: BoundField, cell: Cell) -> str:
        region = self.region
        if field.region_index is not None:
            region = _row_region(source.cells[field.region_index], field.spec) or region
        text = cell_text(cell) if not isinstance(cell, float) or cell.is_integer() else repr(cell)
        e164, problem = normalize_phone(text, region)
        if e164 is None:
            raise CellError(problem)
        return e164


def _row_region(cell: Cell, spec: FieldSpec) -> str | None:
    key = header_key(cell_text(cell))
    if not key:
        return None
    if key in spec.region_values:
        return spec.region_values[key]
    code = key.upper()
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


def _put(payload: dict[str, Any], name: str, value: Any) -> None:
    """`customFields.company` → payload["customFields"]["company"]."""
    head, dot, rest = name.partition(".")
    if dot:
        payload.setdefault(head, {})[rest] = value
    else:
        payload[name] = value
