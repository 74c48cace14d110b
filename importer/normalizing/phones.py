"""Phones to E.164 with phonenumbers: `+`/`00` mean international, else the row's region;
never another country guessed, never a different valid number read."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from importer.cells import cell_text, quoted
from importer.countries import country_code, country_key
from importer.mapping import FieldSpec
from importer.reading import Cell

_SCIENTIFIC = re.compile(r"([0-9])(?:[.,]([0-9]+))?[eE]\+?([0-9]+)")
# a number written as text by pandas and many exports (393207122571.0): that integer
_WHOLE = re.compile(r"(\+?[0-9]+)[.,]0+")
# a number with a fraction (393207122571.5): a decimal number, whose dot is no separator
_DECIMAL = re.compile(r"\+?[0-9]{6,}[.,][0-9]{1,2}")
_PHONE_JUNK = re.compile(r"[\s\u00a0\-./()\u2010-\u2015]+")


@lru_cache(maxsize=1 << 16)  # ≥ CHUNK: Normalizer.records relies on it
def normalize_phone(text: str, region: str | None) -> tuple[str | None, str | None]:
    """(E.164, None) or (None, reason). Cached: lead lists repeat numbers and parsing is costly.

    `+`/`00` mean international; otherwise the row's region decides, accepting digits that
    start with that region's own calling code but never guessing another country. A dot is a
    separator between digit groups (339.123.4567), never a digit's source: `…571.0` once
    became the different, valid `…5710`.
    """
    if text[:1] in ("'", "\u2019"):  # the apostrophe that makes Excel keep a number as text
        text = text[1:]
    whole = _WHOLE.fullmatch(text)
    if whole:
        text = whole.group(1)
    elif _DECIMAL.fullmatch(text):
        return None, f"{quoted(text)} is a decimal number, not a phone"
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
        return None, f"invalid phone {quoted(text)}"
    if international:
        return _valid(compact, None, region) or (None, f"invalid phone {quoted(text)}")
    if region is None:
        return (
            None,
            f"phone {quoted(text)} has no country code and the mapping sets no default_region",
        )
    readings = [_valid(digits, region, region)]
    code = str(phonenumbers.country_code_for_region(region))
    if digits.startswith(code):  # an international number that lost its +, or a national one
        readings.append(_valid("+" + digits, None, region))
    found = {r[0] for r in readings if r is not None}
    if len(found) == 1:
        return found.pop(), None
    if len(found) > 1:  # both readings are valid numbers: never guess which one was meant
        both = " or ".join(sorted(found))
        return None, f"phone {quoted(text)} is ambiguous ({both}): write it with + or 00"
    return None, f"invalid phone {quoted(text)}"


def _valid(candidate: str, parse_as: str | None, region: str | None) -> tuple[str, None] | None:
    """(E.164, None) when `candidate` parses to a valid number, else None."""
    try:
        number = phonenumbers.parse(candidate, parse_as)
    except phonenumbers.NumberParseException:
        return None
    # the row's own region first: one metadata lookup instead of a search over every region
    # sharing the calling code (same verdict: valid there means valid)
    if (
        region is not None and phonenumbers.is_valid_number_for_region(number, region)
    ) or phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None
    return None


def region_of(cell: Cell, spec: FieldSpec) -> str | None:
    """The row's region from its country cell, a code or a name (`region_values` first):
    "" for an empty cell (default_region applies), None for a name of no country, which is
    never replaced by default_region (that would guess a country)."""
    text = cell_text(cell)
    if not text:
        return ""
    return spec.region_values.get(country_key(text)) or country_code(text)
