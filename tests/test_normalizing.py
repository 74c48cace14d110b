"""Normalizing (SPEC §3, §4): phones, emails, numbers, cell text and whole rows."""

from __future__ import annotations

import sqlite3
import tomllib
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest

from importer.journal import Journal
from importer.mapping import bind, parse_mapping
from importer.normalizing import (
    CHUNK,
    CellError,
    Normalizer,
    Staged,
    cell_text,
    normalize_all,
    normalize_email,
    normalize_phone,
    parse_number,
    record,
)
from importer.reading import Cell, ReadOptions, SourceRow, open_source

NOT_YES_NO = (
    "is not yes/no (accepted: true/false, yes/no, sì/no, 1/0, x; "
    "or add a `values` table to the mapping)"
)


def normalizer(toml: str, headers: Sequence[str], clear_empty: bool = False) -> Normalizer:
    mapping = parse_mapping(tomllib.loads(toml), toml, "m.toml")
    return Normalizer(bind(mapping, headers, "leads.csv"), clear_empty)


# --------------------------------------------------------------------------- phones


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("+39 339 123 4567", None, "+393391234567"),
        ("+393391234567", "CH", "+393391234567"),
        ("0039 339 123 4567", None, "+393391234567"),
        ("0039-339-123-4567", "IT", "+393391234567"),
        ("+39.339.123.4567", None, "+393391234567"),
        ("+39-339-123-4567", None, "+393391234567"),
        ("\u00a0+39\u00a0339\u00a01234567 ", None, "+393391234567"),
        ("339 123 4567", "IT", "+393391234567"),
        ("339-123-4567", "IT", "+393391234567"),
        ("339.123.4567", "IT", "+393391234567"),
        ("3391234567", "IT", "+393391234567"),
        ("393391234567", "IT", "+393391234567"),
        ("39 339 123 4567", "IT", "+393391234567"),
        ("06 1234 5678", "IT", "+390612345678"),
        ("0612345678", "IT", "+390612345678"),
        ("(06) 1234-5678", "IT", "+390612345678"),
        ("+39 (0)6 1234 5678", None, "+390612345678"),
        ("079 123 45 67", "CH", "+41791234567"),
        ("41791234567", "CH", "+41791234567"),
        ("41 79 123 45 67", "CH", "+41791234567"),
        ("+41 79 123 45 67", "IT", "+41791234567"),
        ("0041 79 123 45 67", "IT", "+41791234567"),
        ("3.93391234567E+11", "IT", "+393391234567"),
        ("3,93391234567E+11", "IT", "+393391234567"),
        ("3.93391234567e11", "IT", "+393391234567"),
    ],
)
def test_normalize_phone_valid(text: str, region: str | None, expected: str) -> None:
    assert normalize_phone(text, region) == (expected, None, None)


@pytest.mark.parametrize(
    ("text", "region", "problem"),
    [
        ("3.93391E+11", "IT", "phone truncated by Excel (3.93391E+11)"),
        ("3.9339123457E+11", "IT", "phone truncated by Excel (3.9339123457E+11)"),
        (
            "3391234567",
            None,
            "phone '3391234567' has no country code and the mapping sets no default_region",
        ),
        (
            "06 1234 5678",
            None,
            "phone '06 1234 5678' has no country code and the mapping sets no default_region",
        ),
        ("339 123 abc", "IT", "invalid phone '339 123 abc'"),
        ("abc", "IT", "invalid phone 'abc'"),
        ("+39 abc", None, "invalid phone '+39 abc'"),
        ("+39 123", None, "invalid phone '+39 123'"),
        ("33912345", "IT", "invalid phone '33912345'"),
        # Swiss digits under IT: never guess another country
        ("41791234567", "IT", "invalid phone '41791234567'"),
        (
            "4179123456",
            "IT",
            "invalid phone '4179123456' (with the 0 that spreadsheets drop, it would be "
            "+3904179123456: if so, write it as text with its 0)",
        ),
        ("+", None, "invalid phone '+'"),
    ],
)
def test_normalize_phone_invalid(text: str, region: str | None, problem: str) -> None:
    assert normalize_phone(text, region) == (None, problem, None)


# --------------------------------------------------------------------------- emails


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("mario.rossi@gmail.com", "mario.rossi@gmail.com"),
        ("  Mario.Rossi@Gmail.com\u00a0", "mario.rossi@gmail.com"),
        ("\u2003mario@libero.it\u3000", "mario@libero.it"),
        ("\u202fmario@libero.it\t\n", "mario@libero.it"),
        ("\u200bmario@libero.it\u200d", "mario@libero.it"),
        ("\ufeffmario@libero.it\u2060", "mario@libero.it"),
        ("MARIO@LIBERO.IT", "mario@libero.it"),
        ("Mario Rossi <Mario.Rossi@Gmail.com>", "mario.rossi@gmail.com"),
        ('"Rossi, Mario" <mario@libero.it>', "mario@libero.it"),
        ("<mario@libero.it>", "mario@libero.it"),
        ("mailto:Mario@Libero.it", "mario@libero.it"),
        ("MAILTO:mario@libero.it", "mario@libero.it"),
        ("Mario <mailto:mario@libero.it>", "mario@libero.it"),
        # as written, never the validator's rewriting (an update would become a new contact)
        ("A@xn--bcher-kva.de", "a@xn--bcher-kva.de"),
        ("Mario@Bücher.de", "mario@bücher.de"),
        ("Jose\u0301@example.com", "jose\u0301@example.com"),  # not NFC-composed
    ],
)
def test_normalize_email_valid(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "mario",
        "mario@",
        "@gmail.com",
        "mario.rossi",
        "mario@@gmail.com",
        "mario rossi@gmail.com",
        "mario@gmail",
        "mario@gmail.com.",
        "Mario <>",
        "mario@gmail.com;luigi@gmail.com",
    ],
)
def test_normalize_email_invalid(raw: str) -> None:
    assert normalize_email(raw) is None


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("text", "decimal", "expected"),
    [
        ("12", None, 12),
        ("+5", None, 5),
        ("1.234,56", None, 1234.56),
        ("1,234.56", None, 1234.56),
        ("1.234.567", None, 1234567),
        ("1,234,567", None, 1234567),
        ("1.234.567,89", None, 1234567.89),
        ("1,5", None, 1.5),
        ("0.5", None, 0.5),
        ("-1.234,5", None, -1234.5),
        ("-0,5", None, -0.5),
        ("1 234,56", None, 1234.56),
        ("1\u00a0234,56", None, 1234.56),
        ("1'234.56", None, 1234.56),
        ("1\u2019234.56", None, 1234.56),
        ("1,234", ",", 1.234),
        ("1.234", ",", 1234),
        ("1.234,5", ",", 1234.5),
        ("1,234", ".", 1234),
        ("1.234", ".", 1.234),
        ("1,234.5", ".", 1234.5),
        ("-1.234", ",", -1234),
        # a lone leading 0 is never a thousands group: not ambiguous
        ("0,123", None, 0.123),
    ],
)
def test_parse_number(text: str, decimal: str | None, expected: float) -> None:
    value = parse_number(text, decimal)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize("text", ["1,234", "1.234", "-1,234"])
def test_parse_number_ambiguous(text: str) -> None:
    with pytest.raises(CellError) as exc:
        parse_number(text, None)
    assert str(exc.value) == (
        f'{text!r} is ambiguous (thousands or decimals?): set decimal = "," or '
        '"." in the mapping\'s [options]'
    )


@pytest.mark.parametrize(
    ("text", "decimal"),
    [
        ("abc", None),
        ("", None),
        ("12 kg", None),
        ("1e5", None),
        ("5 €uro", ","),
        # digit groups that are not thousands
        ("1.5.3", None),
    ],
)
def test_parse_number_not_a_number(text: str, decimal: str | None) -> None:
    with pytest.raises(CellError) as exc:
        parse_number(text, decimal)
    written = f" with decimal separator {decimal!r}" if decimal else ""
    assert str(exc.value) == f"{text!r} is not a number{written}"


@pytest.mark.parametrize(("text", "decimal"), [("1,234.5", ","), ("1.234,5", ".")])
def test_a_number_written_the_other_way_is_not_rescaled(text: str, decimal: str) -> None:
    with pytest.raises(CellError) as exc:
        parse_number(text, decimal)
    assert str(exc.value) == f"{text!r} is not a number with decimal separator {decimal!r}"


@pytest.mark.parametrize(
    ("text", "value"), [("€ 1.250,50", 1250.5), ("1.250,50 €", 1250.5), ("£12", 12), ("$ -3", -3)]
)
def test_currency_symbols_are_ignored(text: str, value: float) -> None:
    assert parse_number(text, ",") == value


# --------------------------------------------------------------------------- cell text


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (None, ""),
        ("  Mario\u00a0", "Mario"),
        ("\u200bACME", "ACME"),
        (42, "42"),
        (5.0, "5"),
        (-3.0, "-3"),
        (393391234567.0, "393391234567"),
        (5.5, "5.5"),
        (True, "TRUE"),
        (False, "FALSE"),
        (datetime(2026, 3, 31), "2026-03-31"),
        (datetime(2026, 3, 31, 9, 30), "2026-03-31T09:30:00"),
        (datetime(2026, 3, 31, 9, 30, tzinfo=UTC), "2026-03-31T09:30:00+00:00"),
        (date(2026, 3, 31), "2026-03-31"),
        (time(9, 30), "09:30:00"),
    ],
)
def test_cell_text(cell: Cell, expected: str) -> None:
    assert cell_text(cell) == expected


# --------------------------------------------------------------------------- whole rows: Minimo

MINIMO = """
target = "minimo"
[options]
default_region = "IT"
[fields]
email = "Email"
phone.column = "Mobile"
phone.region_column = "Country"
phone.region_values = { "Italia" = "IT", "Svizzera" = "CH" }
"customFields.company" = "Company"
"customFields.source" = { value = "fiera-2026" }
"customFields.tier" = { column = "Tier", default = "bronze" }
"marketingConsent.email" = { column = "Newsletter", values = { "Sì" = true, "No" = false } }
"marketingConsent.whatsapp" = "WA"
"""
MINIMO_HEADERS = ["Email", "Mobile", "Country", "Company", "Tier", "Newsletter", "WA"]


def minimo_row(number: int = 7, **cells: Cell) -> SourceRow:
    values = {h: None for h in MINIMO_HEADERS} | {"Email": "mario@libero.it"} | cells
    return SourceRow(number, tuple(values[h] for h in MINIMO_HEADERS))


def test_full_minimo_row_builds_nested_payload() -> None:
    norm = normalizer(MINIMO, MINIMO_HEADERS)
    row = SourceRow(
        7, (" Mario.Rossi@Gmail.com ", "339 123 4567", "Italia", "ACME", None, "sì", "x")
    )
    assert norm(row) == Staged(
        7,
        "pending",
        "mario.rossi@gmail.com",
        "+393391234567",
        {
            "email": "mario.rossi@gmail.com",
            "phone": "+393391234567",
            "customFields": {"company": "ACME", "source": "fiera-2026", "tier": "bronze"},
            "marketingConsent": {"email": True, "whatsapp": True},
        },
    )


@pytest.mark.parametrize("cells", [(), (None,) * 7, ("", " ", "\u00a0", None, "\t", "", "")])
def test_empty_row_is_skipped(cells: tuple[Cell, ...]) -> None:
    norm = normalizer(MINIMO, MINIMO_HEADERS)
    assert norm(SourceRow(12, cells)) == Staged(12, "skipped", warnings=("empty row",))


@pytest.mark.parametrize("email", [None, "", "   "])
def test_missing_email_is_an_error(email: Cell) -> None:
    norm = normalizer(MINIMO, MINIMO_HEADERS)
    staged = norm(minimo_row(5, Email=email, Mobile="339 123 4567", Company="ACME"))
    assert staged.status == "error"
    assert staged.error == "missing email in column Email"
    assert staged.payload is None
    assert staged.row == 5


def test_missing_email_in_a_short_row() -> None:
    toml = 'target = "minimo"\n[fields]\nemail = "Email"\n"customFields.company" = "Company"'
    norm = normalizer(toml, ["Company", "Email"])
    staged = norm(SourceRow(4, ("ACME",)))
    assert (staged.status, staged.error) == ("error", "missing email in column Email")


def test_invalid_email_quotes_the_cell_and_column() -> None:
    norm = normalizer(MINIMO, MINIMO_HEADERS)
    staged = norm(minimo_row(9, Email=" mario.rossi@ "))
    assert staged == Staged(
        9, "error", "mario.rossi@", None, None, (), "invalid email 'mario.rossi@' in column Email"
    )


def test_row_errors_are_joined_in_field_order_after_the_source_problem() -> None:
    toml = MINIMO.replace(
        'default_region = "IT"', 'default_region = "IT"\non_invalid_phone = "error"'
    )
    norm = normalizer(toml, MINIMO_HEADERS)
    row = SourceRow(
        3,
        ("mario", "abc", None, None, None, None, "forse"),
        problem=(
            "row has 9 cells but the header has 7 (extra: 'x'); check for an unquoted delimiter"
        ),
    )
    assert norm(row).error == (
        "row has 9 cells but the header has 7 (extra: 'x'); check for an unquoted delimiter; "
        "invalid email 'mario' in column Email; "
        "invalid phone 'abc' in column Mobile; "
        f"'forse' {NOT_YES_NO} in column WA"
    )


def test_invalid_phone_dropped_with_a_warning() -> None:
    norm = normalizer(MINIMO, MINIMO_HEADERS)
    staged = norm(minimo_row(4, Mobile="339 abc"))
    assert staged == Staged(
        4,
        "pending",
        "mario@libero.it",
        None,
        {"email": "mario@libero.it", "customFields": {"source": "fiera-2026", "tier": "bronze"}},
        ("invalid phone '339 abc' in column Mobile: sent without phone",),
        dropped=True,  # --rejects-warnings brings it back to fix
    )


def test_truncated_phone_dropped_with_a_warning() -> None:
    norm = normalizer(MINIMO, MINIMO_HEADERS)
    staged = norm(minimo_row(4, Mobile="3.93391E+11"))
    assert staged.status == "pending"
    assert staged.phone is None
    assert staged.warnings == (
        "phone truncated by Excel (3.93391E+11) in column Mobile: sent without phone",
    )


def test_invalid_phone_is_a_row_error_with_on_invalid_phone_error() -> None:
    toml = MINIMO.replace(
        'default_region = "IT"', 'default_region = "IT"\non_invalid_phone = "error"'
    )
    norm = normalizer(toml, MINIMO_HEADERS)
    staged = norm(minimo_row(4, Mobile="339 abc"))
    assert staged == Staged(
        4, "error", "mario@libero.it", None, None, (), "invalid phone '339 abc' in column Mobile"
    )


def test_phone_without_region_names_the_missing_default_region() -> None:
    norm = normalizer(
        'target = "minimo"\n[fields]\nemail = "Email"\nphone = "Tel"', ["Email", "Tel"]
    )
    staged = norm(SourceRow(2, ("mario@libero.it", "3391234567")))
    assert staged.phone is None
    assert staged.warnings == (
        "phone '3391234567' has no country code and the mapping sets no default_region "
        "in column Tel: sent without phone",
    )
    staged = norm(SourceRow(3, ("mario@libero.it", "+39 339 123 4567")))
    assert (staged.phone, staged.warnings) == ("+393391234567", ())


@pytest.mark.parametrize(
    ("mobile", "country", "expected"),
    [
        ("079 123 45 67", "Svizzera", "+41791234567"),
        ("079 123 45 67", " svizzera ", "+41791234567"),
        ("079 123 45 67", "CH", "+41791234567"),
        ("079 123 45 67", "ch", "+41791234567"),
        ("339 123 4567", "Italia", "+393391234567"),
        ("339 123 4567", None, "+393391234567"),
        ("+41 79 123 45 67", "Italia", "+41791234567"),
        ("+41 79 123 45 67", "Narnia", "+41791234567"),  # its own country code
        ("079 123 45 67", "Schweiz", "+41791234567"),  # names from maintained data
        ("079 123 45 67", "Suisse", "+41791234567"),
        ("079 123 45 67", "CHE", "+41791234567"),
        ("082 118 9037", "South Africa", "+27821189037"),  # a Mautic demo lead
        ("082 118 9037", "Sudáfrica", "+27821189037"),
        ("0151 12345678", "Deutschland", "+4915112345678"),
        (393391234567.0, None, "+393391234567"),
        (3391234567, "IT", "+393391234567"),
    ],
)
def test_phone_region_from_the_row(mobile: Cell, country: Cell, expected: str) -> None:
    norm = normalizer(MINIMO, MINIMO_HEADERS)
    staged = norm(minimo_row(Mobile=mobile, Country=country))
    assert (staged.phone, staged.warnings) == (expected, ())
    assert staged.payload is not None
    assert staged.payload["phone"] == expected


def test_an_unknown_country_is_never_replaced_by_the_default_region() -> None:
    """`default_region = "IT"` would read 339 123 4567 as Italian: a guess of the country."""
    norm = normalizer(MINIMO, MINIMO_HEADERS)
    staged = norm(minimo_row(Mobile="339 123 4567", Country="Narnia"))
    assert (staged.status, staged.phone, staged.dropped) == ("pending", None, True)
    assert staged.warnings == (
        "unknown country 'Narnia' in column Country for phone '339 123 4567' in column Mobile: "
        "sent without phone",
    )


def test_swiss_digits_under_italy_are_not_sent_as_swiss() -> None:
    norm = normalizer(MINIMO, MINIMO_HEADERS)
    staged = norm(minimo_row(Mobile="41791234567", Country="Italia"))
    assert staged.phone is None
    assert staged.warnings == ("invalid phone '41791234567' in column Mobile: sent without phone",)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("sì", True),
        ("Si", True),
        ("SÌ", True),
        ("no", False),
        ("No", False),
        ("x", True),
        ("X", True),
        ("1", True),
        ("0", False),
        ("oui", True),
        ("non", False),
        ("ja", True),
        ("nein", False),
        ("yes", True),
        ("Y", True),
        ("n", False),
        ("TRUE", True),
        ("false", False),
        (" yes\u00a0", True),
        (1, True),
        (0, False),
        (1.0, True),
        (True, True),
        (False, False),
    ],
)
def test_bool_words(cell: Cell, expected: bool) -> None:
    norm = normalizer(MINIMO, MINIMO_HEADERS)
    staged = norm(minimo_row(WA=cell))
    assert staged.payload is not None
    assert staged.payload["marketingConsent"] == {"whatsapp": expected}


@pytest.mark.parametrize("cell", ["forse", "2", 2, "maybe"])
def test_bool_not_a_word_is_a_row_error(cell: Cell) -> None:
    norm = normalizer(MINIMO, MINIMO_HEADERS)
    staged = norm(minimo_row(WA=cell))
    assert staged.status == "error"
    assert staged.error == f"{cell_text(cell)!r} {NOT_YES_NO} in column WA"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("Sì", True), ("sì", True), (" SÌ ", True), ("No", False), ("yes", True), ("0", False)],
)
def test_values_table_first_then_bool_words(cell: Cell, expected: bool) -> None:
    norm = normalizer(MINIMO, MINIMO_HEADERS)
    staged = norm(minimo_row(Newsletter=cell))
    assert staged.payload is not None
    assert staged.payload["marketingConsent"] == {"email": expected}


@pytest.mark.parametrize("cell", [None, "", "   ", "\u00a0"])
def test_blank_consent_never_opts_out(cell: Cell) -> None:
    norm = normalizer(MINIMO, MINIMO_HEADERS)
    staged = norm(minimo_row(Newsletter=cell, WA=cell))
    assert staged.status == "pending"
    assert staged.payload is not None
    assert "marketingConsent" not in staged.payload


@pytest.mark.parametrize(
    ("cell", "expected"), [(None, "bronze"), ("  ", "bronze"), ("gold", "gold")]
)
def test_default_for_empty_cells(cell: Cell, expected: str) -> None:
    norm = normalizer(MINIMO, MINIMO_HEADERS)
    staged = norm(minimo_row(Tier=cell))
    assert staged.payload is not None
    assert staged.payload["customFields"]["tier"] == expected


def test_constant_value_needs_no_column() -> None:
    toml = """
target = "minimo"
[fields]
email = "Email"
"customFields.source" = { value = "fiera-2026" }
"customFields.year" = { value = 2026 }
"marketingConsent.email" = { value = true }
"""
    norm = normalizer(toml, ["Email"])
    assert norm(SourceRow(2, ("mario@libero.it",))).payload == {
        "email": "mario@libero.it",
        "customFields": {"source": "fiera-2026", "year": 2026},
        "marketingConsent": {"email": True},
    }


def test_whole_number_cells_lose_point_zero_in_string_fields() -> None:
    norm = normalizer(MINIMO, MINIMO_HEADERS)
    staged = norm(minimo_row(Company=12.0, Tier=7))
    assert staged.payload is not None
    assert staged.payload["customFields"] == {"company": "12", "source": "fiera-2026", "tier": "7"}


# --------------------------------------------------------------------------- whole rows: Notifuse

NOTIFUSE = """
target = "notifuse"
[options]
timezone = "Europe/Rome"
{extra}
[fields]
email = "Email"
first_name = "Nome"
custom_number_1 = "Orders"
custom_datetime_1 = { column = "Signup", format = "%d/%m/%Y" }
custom_datetime_2 = "When"
custom_json_1 = "Prefs"
custom_string_1 = { column = "Lang", values = { "italiano" = "it" } }
"""
NOTIFUSE_HEADERS = ["Email", "Nome", "Orders", "Signup", "When", "Prefs", "Lang"]


def notifuse_row(**cells: Cell) -> SourceRow:
    values = {h: None for h in NOTIFUSE_HEADERS} | {"Email": "mario@libero.it"} | cells
    return SourceRow(3, tuple(values[h] for h in NOTIFUSE_HEADERS))


def notifuse(extra: str = "", clear_empty: bool = False) -> Normalizer:
    return normalizer(NOTIFUSE.replace("{extra}", extra), NOTIFUSE_HEADERS, clear_empty)


def test_full_notifuse_row() -> None:
    staged = notifuse()(
        notifuse_row(
            Nome=" Mario ",
            Orders="1.234,5",
            Signup="31/01/2026",
            When="2026-07-01T09:00",
            Prefs='{"a": [1, 2]}',
            Lang="Italiano",
        )
    )
    assert staged == Staged(
        3,
        "pending",
        "mario@libero.it",
        None,
        {
            "email": "mario@libero.it",
            "first_name": "Mario",
            "custom_number_1": 1234.5,
            "custom_datetime_1": "2026-01-31T00:00:00+01:00",
            "custom_datetime_2": "2026-07-01T09:00:00+02:00",
            "custom_json_1": {"a": [1, 2]},
            "custom_string_1": "it",
        },
    )


def test_empty_cells_are_omitted() -> None:
    staged = notifuse()(notifuse_row())
    assert staged.payload == {"email": "mario@libero.it"}


def test_empty_cells_are_null_under_clear() -> None:
    staged = notifuse('empty = "clear"', clear_empty=True)(notifuse_row(Nome="  "))
    assert staged.payload == {
        "email": "mario@libero.it",
        "first_name": None,
        "custom_number_1": None,
        "custom_datetime_1": None,
        "custom_datetime_2": None,
        "custom_json_1": None,
        "custom_string_1": None,
    }


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("12", 12),
        ("1.234,5", 1234.5),
        ("-3,25", -3.25),
        (3.0, 3),
        (2.5, 2.5),
        (42, 42),
    ],
)
def test_number_field(cell: Cell, expected: float) -> None:
    staged = notifuse()(notifuse_row(Orders=cell))
    assert staged.payload is not None
    value = staged.payload["custom_number_1"]
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("cell", "error"),
    [
        ("tre", "'tre' is not a number in column Orders"),
        (True, "'TRUE' is not a number in column Orders"),
        (
            "1.234",
            '\'1.234\' is ambiguous (thousands or decimals?): set decimal = "," or "." '
            "in the mapping's [options] in column Orders",
        ),
    ],
)
def test_number_field_errors(cell: Cell, error: str) -> None:
    staged = notifuse()(notifuse_row(Orders=cell))
    assert (staged.status, staged.error) == ("error", error)


@pytest.mark.parametrize(("decimal", "expected"), [(",", 1234), (".", 1.234)])
def test_decimal_option_resolves_ambiguity(decimal: str, expected: float) -> None:
    staged = notifuse(f'decimal = "{decimal}"')(notifuse_row(Orders="1.234"))
    assert staged.payload is not None
    assert staged.payload["custom_number_1"] == expected


@pytest.mark.parametrize(
    ("column", "cell", "expected"),
    [
        ("Signup", "31/01/2026", "2026-01-31T00:00:00+01:00"),
        ("Signup", "01/07/2026", "2026-07-01T00:00:00+02:00"),
        ("Signup", datetime(2026, 1, 31, 9, 30), "2026-01-31T09:30:00+01:00"),
        ("Signup", date(2026, 1, 31), "2026-01-31T00:00:00+01:00"),
        ("When", "2026-01-31", "2026-01-31T00:00:00+01:00"),
        ("When", "2026-01-31T09:00", "2026-01-31T09:00:00+01:00"),
        ("When", "2026-01-31 09:00:00", "2026-01-31T09:00:00+01:00"),
        ("When", "2026-01-31T09:00:00Z", "2026-01-31T09:00:00+00:00"),
        ("When", "2026-01-31T09:00:00+05:00", "2026-01-31T09:00:00+05:00"),
        ("When", datetime(2026, 7, 1), "2026-07-01T00:00:00+02:00"),
    ],
)
def test_datetime_fields_are_rfc3339_with_offset(column: str, cell: Cell, expected: str) -> None:
    staged = notifuse()(notifuse_row(**{column: cell}))
    assert staged.payload is not None
    assert staged.payload[f"custom_datetime_{1 if column == 'Signup' else 2}"] == expected


def test_datetime_default_timezone_is_utc() -> None:
    toml = 'target = "notifuse"\n[fields]\nemail = "Email"\ncustom_datetime_1 = "When"'
    norm = normalizer(toml, ["Email", "When"])
    staged = norm(SourceRow(2, ("mario@libero.it", "2026-01-31T09:00")))
    assert staged.payload == {
        "email": "mario@libero.it",
        "custom_datetime_1": "2026-01-31T09:00:00+00:00",
    }


@pytest.mark.parametrize(
    ("column", "cell", "error"),
    [
        (
            "Signup",
            "2026-01-31",
            "'2026-01-31' is not a date in format '%d/%m/%Y'; set `format` in the mapping "
            '(e.g. "%d/%m/%Y") in column Signup',
        ),
        (
            "When",
            "31/01/2026",
            "'31/01/2026' is not a date in ISO 8601 (2026-03-31 or 2026-03-31T09:00); set "
            '`format` in the mapping (e.g. "%d/%m/%Y") in column When',
        ),
    ],
)
def test_datetime_errors(column: str, cell: Cell, error: str) -> None:
    staged = notifuse()(notifuse_row(**{column: cell}))
    assert (staged.status, staged.error) == ("error", error)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [('{"a": [1, 2]}', {"a": [1, 2]}), ("[1, 2]", [1, 2]), ("{}", {})],
)
def test_json_field(cell: str, expected: Any) -> None:
    staged = notifuse()(notifuse_row(Prefs=cell))
    assert staged.payload is not None
    assert staged.payload["custom_json_1"] == expected


@pytest.mark.parametrize(
    ("cell", "error"),
    [
        ('"x"', "'\"x\"' must be a JSON object or array in column Prefs"),
        ("5", "'5' must be a JSON object or array in column Prefs"),
        ("true", "'true' must be a JSON object or array in column Prefs"),
        ("{a", "'{a' is not valid JSON in column Prefs"),
    ],
)
def test_custom_json_requires_object_or_array(cell: str, error: str) -> None:
    staged = notifuse()(notifuse_row(Prefs=cell))
    assert (staged.status, staged.error) == ("error", error)


def test_json_scalar_is_fine_outside_custom_json() -> None:
    toml = (
        'target = "minimo"\n[fields]\nemail = "Email"\n'
        '"customFields.n" = { column = "N", type = "json" }'
    )
    norm = normalizer(toml, ["Email", "N"])
    staged = norm(SourceRow(2, ("mario@libero.it", "5")))
    assert staged.payload == {"email": "mario@libero.it", "customFields": {"n": 5}}


def test_values_table_miss_falls_back_to_the_cell() -> None:
    staged = notifuse()(notifuse_row(Lang="de"))
    assert staged.payload is not None
    assert staged.payload["custom_string_1"] == "de"


# --------------------------------------------------------------------------- rejects re-import


def test_leading_apostrophe_added_by_reports_is_removed(tmp_path: Path) -> None:
    """SPEC §4: a rejects CSV (cells guarded with a leading ') imports as it was."""
    toml = """
target = "minimo"
[options]
default_region = "IT"
[fields]
email = "Email"
phone = "Phone"
"customFields.note" = "Note"
"customFields.city" = "City"
"""
    source = tmp_path / "rejects.csv"
    source.write_bytes(
        "Email,Phone,Note,City,error\r\n"
        "mario@libero.it,'+39 339 123 4567,'=SUM(A1),'s-Hertogenbosch,bad\r\n"
        "luigi@libero.it,339 123 4567,'@handle,Roma,bad\r\n".encode("utf-8-sig")
    )
    with open_source(source, ReadOptions()) as src:
        norm = normalizer(toml, src.headers)
        staged = [norm(row) for row in src.rows()]
    assert [s.payload for s in staged] == [
        {
            "email": "mario@libero.it",
            "phone": "+393391234567",
            "customFields": {"note": "=SUM(A1)", "city": "'s-Hertogenbosch"},
        },
        {
            "email": "luigi@libero.it",
            "phone": "+393391234567",
            "customFields": {"note": "@handle", "city": "Roma"},
        },
    ]
    assert [s.warnings for s in staged] == [(), ()]


def test_worker_processes_store_the_same_records(tmp_path: Path) -> None:
    """Workers store their chunks themselves, into the job database, as one process does."""
    source = tmp_path / "leads.csv"
    lines = ["Email;Phone;Spesa;Iscritto"]
    for i in range(5000):
        email = f"lead{i}@gmail.com" if i % 17 else f"bad {i}"
        lines.append(f"{email};333 {i:07d};{i},50;{1 + i % 28:02d}/03/2026")
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    toml = """
target = "minimo"
[options]
default_region = "IT"
decimal = ","
[fields]
email = "Email"
phone = "Phone"
"customFields.spent" = { column = "Spesa", type = "number" }
"customFields.since" = { column = "Iscritto", type = "datetime", format = "%d/%m/%Y" }
"""
    mapping = parse_mapping(tomllib.loads(toml), toml, "m.toml")
    results = []
    for workers in (1, 2):
        with (
            open_source(source, ReadOptions()) as src,
            Journal(tmp_path / f"job{workers}.sqlite") as journal,
        ):
            bound = bind(mapping, src.headers, "leads.csv")
            chunks = list(normalize_all(src.rows(), bound, False, workers, journal.stager()))
            results.append(journal.db.execute("SELECT * FROM rows ORDER BY row").fetchall())
        assert chunks == [CHUNK, CHUNK, 1000]
    assert len(results[0]) == 5000
    assert results[1] == results[0]
    assert results[0][17][1:3] == ("error", "bad 17")


def _validator_says(text: str) -> str | None:
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def test_the_email_fast_path_never_accepts_what_email_validator_refuses() -> None:
    """The fast path is only a shortcut: wherever it says yes, email-validator agrees."""
    import random

    from importer.normalizing.emails import _fast_email_ok

    rng = random.Random(11)
    alphabet = "abz09.-_+@!#$%&'*/=?^`{|}~\"(),:;<>[]\\ àé"
    samples = [
        "mario.rossi@gmail.com", "a@b.co", "x@localhost", "x@a.test", "x@a.invalid",
        "x@a.local", "x@a.onion", "x@a.arpa", "x@xn--80ak6aa92e.com", "x@-a.it", "x@a-.it",
        "x@a..it", ".x@a.it", "x.@a.it", "x..y@a.it", "x@a.i", "x@a.123", "x@1.2.3.4",
        "x" * 64 + "@a.it", "x" * 65 + "@a.it", "x@" + "a" * 63 + ".it", "x@" + "a" * 64 + ".it",
        "x@" + ".".join(["a" * 60] * 5) + ".it", "a+tag@gmail.com", "o'brien@libero.it",
        "{x}@a.it", "x@a_b.it", "x@a.it.", "x@[1.2.3.4]", '"x y"@a.it',
    ]  # fmt: skip
    for _ in range(3000):
        local = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        domain = "".join(rng.choice("abc-.09") for _ in range(rng.randint(1, 12)))
        samples.append(f"{local}@{domain}.{rng.choice(['it', 'com', 'test', 'x1', 'museum'])}")
    accepted = 0
    for text in samples:
        if _fast_email_ok(text):
            accepted += 1
            assert _validator_says(text) is not None, text
    assert accepted > 50


def test_a_worker_checks_its_run_is_alive_while_holding_the_write_lock(tmp_path: Path) -> None:
    """A killed run's rerun resets the journal under the same lock: a worker of the killed
    run either writes before that reset (which deletes its rows) or not at all."""
    staged = [record(Staged(2, "pending", "a@gmail.com", None, {"email": "a@gmail.com"}))]
    with Journal(tmp_path / "job.sqlite") as journal:
        store = journal.stager().open()

        def orphaned() -> None:
            other = sqlite3.connect(tmp_path / "job.sqlite", timeout=0)
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                other.execute("DELETE FROM rows")
            other.close()
            raise SystemExit(1)  # what os._exit does to the worker's transaction

        with pytest.raises(SystemExit):
            store.add(staged, orphaned)
        store.add(staged, lambda: None)
        store.close()
        assert journal.counts() == {"pending": 1}


# --------------------------------------------------------------------------- countries


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("Italia", "IT"),
        ("Royaume-Uni", "GB"),
        ("España", "ES"),
        ("espana", "ES"),
        ("Deutschland", "DE"),
        ("Bundesrepublik Deutschland", "DE"),  # an official name
        ("USA", "US"),  # alpha-3
        ("fr", "FR"),
        ("D", "DE"),  # region_values adds what the data lacks (a vehicle code)
        ("Lussemburgo", "LU"),
    ],
)
def test_a_country_field_sends_the_iso_code(cell: str, expected: str) -> None:
    toml = (
        'target = "notifuse"\n[fields]\nemail = "Email"\n'
        'country = { column = "Paese", type = "country", values = { "D" = "DE" } }\n'
    )
    staged = normalizer(toml, ["Email", "Paese"])(SourceRow(2, ("a@gmail.com", cell)))
    assert staged.payload == {"email": "a@gmail.com", "country": expected}
    assert staged.warnings == ()


def test_an_unknown_country_leaves_the_field_out_with_a_warning() -> None:
    toml = (
        'target = "minimo"\n[fields]\nemail = "Email"\n'
        '"customFields.country" = { column = "Paese", type = "country" }\n'
    )
    staged = normalizer(toml, ["Email", "Paese"])(SourceRow(2, ("a@gmail.com", "Atlantide")))
    assert (staged.status, staged.payload, staged.dropped) == (
        "pending",
        {"email": "a@gmail.com"},
        True,
    )
    assert staged.warnings == (
        "unknown country 'Atlantide' in column Paese: sent without customFields.country",
    )


def test_region_values_add_names_and_override_the_data() -> None:
    toml = (
        'target = "minimo"\n[options]\ndefault_region = "IT"\n[fields]\nemail = "Email"\n'
        'phone = { column = "Tel", region_column = "Paese", '
        'region_values = { "D" = "DE", "Svízzera" = "IT" } }\n'
    )
    norm = normalizer(toml, ["Email", "Tel", "Paese"])
    german = norm(SourceRow(2, ("a@gmail.com", "0151 12345678", "d")))
    assert german.phone == "+4915112345678"
    overridden = norm(SourceRow(3, ("b@gmail.com", "339 123 4567", "SVIZZERA")))
    assert overridden.phone == "+393391234567"  # accents and case ignored; the mapping wins
