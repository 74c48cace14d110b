"""Phones to E.164 with phonenumbers: `+`/`00` mean international, else the row's region;
never another country guessed, never a different valid number read.

People write notes around numbers (`335 3300271 (ufficio)`, `tel. 334 3961813`, two numbers,
an extension): when a cell is no number as a whole, phonenumbers' own matcher looks for one
inside it, and what is left out is said in a warning, never dropped in silence.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Any, NamedTuple

import phonenumbers
from phonenumbers import Leniency, PhoneNumberFormat, PhoneNumberMatcher, PhoneNumberType

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
_MOBILE = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
_KINDS = {
    PhoneNumberType.FIXED_LINE: "landline",
    PhoneNumberType.TOLL_FREE: "toll-free number",
    PhoneNumberType.PREMIUM_RATE: "premium-rate number",
    PhoneNumberType.SHARED_COST: "shared-cost number",
    PhoneNumberType.VOIP: "VoIP number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "company number",
    PhoneNumberType.VOICEMAIL: "voicemail number",
}
_MIN_HINTED = 8  # digits a cell has for its lost leading 0 to be worth a hint
_LEFT_OUT = re.compile(r"^[\s\W_]+|[\s\W_]+$")  # punctuation around the words left out


class Phone(NamedTuple):
    """A cell's phone: `e164`, or the `problem` that follows on_invalid_phone; `note`: what
    of the cell was left out, for a warning."""

    e164: str | None
    problem: str | None = None
    note: str | None = None


@lru_cache(maxsize=1 << 16)  # ≥ CHUNK: Normalizer.records relies on it
def normalize_phone(text: str, region: str | None, mobile: bool = False) -> Phone:
    """Cached: lead lists repeat numbers and parsing is costly. `mobile`: only a number that
    can be a mobile one in its country (phone_type = "mobile", for WhatsApp).

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
        return Phone(None, f"{quoted(text)} is a decimal number, not a phone")
    sci = _SCIENTIFIC.fullmatch(text)
    if sci:
        frac, exponent = sci.group(2) or "", int(sci.group(3))
        if len(frac) != exponent:
            return Phone(None, f"phone truncated by Excel ({text})")
        text = sci.group(1) + frac
    compact = _PHONE_JUNK.sub("", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    international = compact.startswith("+")
    digits = compact[1:] if international else compact
    if not digits.isdigit():
        return _inside(text, region, mobile)
    if international:
        number = _valid(compact, None, region)
        return _chosen(number, text, mobile) if number else _inside(text, region, mobile)
    if region is None:
        return Phone(
            None,
            f"phone {quoted(text)} has no country code and the mapping sets no default_region",
        )
    readings = [_valid(digits, region, region)]
    code = str(phonenumbers.country_code_for_region(region))
    # an international number that lost its +, or a national one: both are read, unless
    # phonenumbers already read the first as the region's code and the rest (the second
    # reading then is the same number: a parse saved on a sixth of a lead list's phones)
    if (
        digits.startswith(code)
        and not _took_code(readings[0], digits, code)
        and _may_be_valid(int(code), digits[len(code) :])
    ):
        readings.append(_valid("+" + digits, None, region))
    found = {_e164(n): n for n in readings if n is not None}
    if len(found) == 1:
        return _chosen(next(iter(found.values())), text, mobile)
    if len(found) > 1:  # both readings are valid numbers: never guess which one was meant
        both = " or ".join(sorted(found))
        return Phone(None, f"phone {quoted(text)} is ambiguous ({both}): write it with + or 00")
    if not text.isdigit():  # two numbers, or one with separators the matcher reads better
        return _inside(text, region, mobile)
    if len(digits) >= _MIN_HINTED and not digits.startswith("0"):
        zero = _valid("0" + digits, region, region)
        if zero is not None:  # a number cell of a spreadsheet loses its leading 0
            return Phone(
                None,
                f"invalid phone {quoted(text)} (with the 0 that spreadsheets drop, it would be "
                f"{_e164(zero)}: if so, write it as text with its 0)",
            )
    return _invalid(text)


def _inside(text: str, region: str | None, mobile: bool) -> Phone:
    """The number in a cell that holds words too: phonenumbers' matcher finds the valid
    numbers in it. Any digit outside them and no number is read (a guess is worse)."""
    found = list(PhoneNumberMatcher(text, region or "ZZ", leniency=Leniency.VALID))
    if not found:
        return _invalid(text)
    rest = text
    for match in reversed(found):
        rest = rest[: match.start] + " " + rest[match.end :]
    if any(ch.isdigit() for ch in rest):
        return _invalid(text)
    numbers = [m.number for m in found]
    chosen = next((n for n in numbers if _is_mobile(n)), None) if mobile else numbers[0]
    if chosen is None:
        return _not_mobile(numbers[0], text)
    notes = []
    left = " ".join(_LEFT_OUT.sub("", part) for part in rest.split()).strip()
    left = " ".join(word for word in left.split() if word)
    if left:
        notes.append(f"left out {quoted(left)}")
    others = [m.raw_string for m in found if m.number is not chosen]
    if others:
        notes.append(f"also holds {', '.join(quoted(o) for o in others)}, not sent")
    if chosen.extension:
        notes.append(f"extension {chosen.extension} left out (E.164 has none)")
    return Phone(_e164(chosen), None, f"sent {_e164(chosen)}, " + "; ".join(notes))


def _chosen(number: Any, text: str, mobile: bool) -> Phone:
    if mobile and not _is_mobile(number):
        return _not_mobile(number, text)
    return Phone(_e164(number))


def _is_mobile(number: Any) -> bool:
    return phonenumbers.number_type(number) in _MOBILE


def _not_mobile(number: Any, text: str) -> Phone:
    kind = _KINDS.get(phonenumbers.number_type(number), "number no mobile can be")
    return Phone(None, f'{kind} {quoted(text)} (phone_type = "mobile")')


def _invalid(text: str) -> Phone:
    return Phone(None, f"invalid phone {quoted(text)}")


def _e164(number: Any) -> str:
    return str(phonenumbers.format_number(number, PhoneNumberFormat.E164))


def _took_code(number: Any, digits: str, code: str) -> bool:
    """`number`, read from `digits` as national, is the region's calling code followed by
    the rest of the digits, just as "+" + digits reads."""
    return (
        number is not None
        and str(number.country_code) == code
        and phonenumbers.national_significant_number(number) == digits[len(code) :]
    )


def _may_be_valid(code: int, rest: str) -> bool:
    """False when `rest` after calling code `code` cannot be a valid number: it matches the
    general pattern of no region of that code (a condition of validity), where the regions
    strip no national prefix (else only a parse can tell). A regex instead of a parse."""
    patterns = _general_patterns(code)
    return patterns is None or any(
        len(rest) in lengths and pattern.fullmatch(rest) for pattern, lengths in patterns
    )


@cache
def _general_patterns(code: int) -> tuple[tuple[re.Pattern[str], tuple[int, ...]], ...] | None:
    found = []
    for region in phonenumbers.region_codes_for_country_code(code):
        meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if meta is None or meta.national_prefix_for_parsing or meta.general_desc is None:
            return None
        desc = meta.general_desc
        if not desc.national_number_pattern or not desc.possible_length:
            return None
        found.append((re.compile(desc.national_number_pattern), tuple(desc.possible_length)))
    return tuple(found) or None


def _valid(candidate: str, parse_as: str | None, region: str | None) -> Any:
    """The number `candidate` reads as, when it is a valid one; else None."""
    try:
        number = phonenumbers.parse(candidate, parse_as)
    except phonenumbers.NumberParseException:
        return None
    # the row's own region first: one metadata lookup instead of a search over every region
    # sharing the calling code (same verdict: valid there means valid)
    if (
        region is not None and phonenumbers.is_valid_number_for_region(number, region)
    ) or phonenumbers.is_valid_number(number):
        return number
    return None


def region_of(cell: Cell, spec: FieldSpec) -> str | None:
    """The row's region from its country cell, a code or a name (`region_values` first):
    "" for an empty cell (default_region applies), None for a name of no country, which is
    never replaced by default_region (that would guess a country)."""
    text = cell_text(cell)
    if not text:
        return ""
    return spec.region_values.get(country_key(text)) or country_code(text)
