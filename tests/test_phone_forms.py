"""A phone is never read as a different valid number (SPEC §4): for numbers of every region
phonenumbers knows, written in each form people and tools produce, the result is the
canonical E.164 number or an error."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from importer.normalizing import normalize_phone

SEPARATORS = (" ", ".", "-", " - ", "/", "\u00a0")


def _examples() -> list[tuple[str, phonenumbers.PhoneNumber]]:
    found = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE):
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None and phonenumbers.is_valid_number(number):
                found.append((region, number))
    return found


def _regroup(text: str, rng: random.Random) -> str:
    """The digits of `text` regrouped with one separator, as people type them."""
    digits = "".join(c for c in text if c.isdigit())
    sep = rng.choice(SEPARATORS)
    groups, i = [], 0
    while i < len(digits):
        size = rng.choice((2, 3, 4))
        groups.append(digits[i : i + size])
        i += size
    return sep.join(groups)


def _forms(number: phonenumbers.PhoneNumber, rng: random.Random) -> list[str]:
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    cc, nsn = str(number.country_code), e164[1 + len(str(number.country_code)) :]
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    digits = cc + nsn
    forms = [
        e164,
        "00" + digits,
        international,
        international.replace(" ", "."),
        international.replace(" ", "-"),
        "+" + cc + " (" + nsn[:3] + ") " + nsn[3:],
        "'" + e164,
        national,
        national.replace(" ", "."),
        "'" + "".join(c for c in national if c.isdigit()),
        "".join(c for c in national if c.isdigit()) + ".0",  # what pandas writes
        digits,  # the international number that lost its +
        digits + ".0",
        digits + ",00",
        "+" + cc + " " + _regroup(nsn, rng),
        _regroup(national, rng),
        nsn,  # national without the trunk prefix
    ]
    if len(digits) >= 3:  # Excel's scientific notation, every digit kept
        forms.append(f"{digits[0]}.{digits[1:]}E+{len(digits) - 1}")
    return forms


EXAMPLES = _examples()


def test_the_examples_span_the_world() -> None:
    assert len({region for region, _ in EXAMPLES}) >= 230
    assert len(EXAMPLES) >= 450


@pytest.mark.parametrize("chunk", range(4))
def test_every_form_gives_the_number_itself_or_an_error(chunk: int) -> None:
    rng = random.Random(20261206 + chunk)
    wrong: list[str] = []
    read = 0
    for region, number in EXAMPLES[chunk::4]:
        canonical = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        for form in _forms(number, rng):
            got = normalize_phone(form, region).e164
            if got is None:
                continue
            read += 1
            if got != canonical:
                wrong.append(f"{region} {form!r} → {got} (is {canonical})")
    assert wrong == []
    assert read > 0.8 * len(EXAMPLES[chunk::4]) * 15, "most forms are read, not refused"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("393207122571.0", ("+393207122571", None)),  # once +3932071225710
        ("393207122571.00", ("+393207122571", None)),
        ("3207122571.0", ("+393207122571", None)),
        ("393207122571,0", ("+393207122571", None)),
        ("393207122571.5", (None, "'393207122571.5' is a decimal number, not a phone")),
        ("339.123.4567", ("+393391234567", None)),
        ("'3391234567", ("+393391234567", None)),
    ],
)
def test_a_number_written_as_text_is_that_integer(
    text: str, expected: tuple[str | None, ...]
) -> None:
    assert normalize_phone(text, "IT")[:2] == expected


def test_the_parses_saved_never_change_a_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """Digits that start with the region's calling code are read both ways (national, and
    international that lost its +), but a second parse is skipped when the first already
    read them so, or when a pattern says the second cannot be valid: on random digits of
    regions with and without a national prefix, the results are those of both parses."""
    from importer.normalizing import phones

    rng = random.Random(20261206)
    cells = []
    for _ in range(4000):
        region = rng.choice(["IT", "VA", "CH", "DE", "GB", "FR", "US", "AT", "SM", "BR"])
        code = str(phonenumbers.country_code_for_region(region))
        body = "".join(rng.choice("0123456789") for _ in range(rng.randint(5, 13)))
        cells.append((code + body if rng.random() < 0.7 else body, region))
    normalize_phone.cache_clear()
    fast = [normalize_phone(text, region) for text, region in cells]
    normalize_phone.cache_clear()
    monkeypatch.setattr(phones, "_took_code", lambda *args: False)
    monkeypatch.setattr(phones, "_may_be_valid", lambda *args: True)
    both = [normalize_phone(text, region) for text, region in cells]
    normalize_phone.cache_clear()
    assert fast == both
    assert sum(p.e164 is not None for p in fast) > 500
