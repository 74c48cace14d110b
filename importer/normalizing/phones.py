"""Phones to E.164 with phonenumbers: `+`/`00` mean international, else the row's region;
never another country guessed, never a different valid number read."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from importer.cells import cell_text, quoted
from importer.mapping import FieldSpec, header_key
from importer.reading import Cell

_SCIENTIFIC = re.compile(r"([0-9])(?:[.,]([0-9]+))?[eE]\+?([0-9]+)")
_PHONE_JUNK = re.compile(r"[\s\u00a0\-./()\u2010-\u2015]+")


@lru_cache(maxsize=1 << 16)  # ≥ CHUNK: Normalizer.records relies on it
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
        return None, f"invalid phone {quoted(text)}"
    if not international and region is None:
        return (
            None,
            f"phone {quoted(text)} has no country code and the mapping sets no default_region",
        )
    candidates = [compact if international else digits]
    if not international and region is not None:
        code = str(phonenumbers.country_code_for_region(region))
        if digits.startswith(code):
            # 11+ digits that start with the calling code are most likely an international
            # number that lost its +: try that reading first (one parse instead of two)
            if len(digits) >= 11:
                candidates.insert(0, "+" + digits)
            else:
                candidates.append("+" + digits)
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, None if candidate.startswith("+") else region)
        except phonenumbers.NumberParseException:
            continue
        # the row's own region first: one metadata lookup instead of a search over every
        # region sharing the calling code (same verdict: valid there means valid)
        if (
            region is not None and phonenumbers.is_valid_number_for_region(number, region)
        ) or phonenumbers.is_valid_number(number):
            e164: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            return e164, None
    return None, f"invalid phone {quoted(text)}"


def region_of(cell: Cell, spec: FieldSpec) -> str | None:
    key = header_key(cell_text(cell))
    if not key:
        return None
    if key in spec.region_values:
        return spec.region_values[key]
    code = key.upper()
    return code if code in phonenumbers.SUPPORTED_REGIONS else None
