"""Starter mappings (`importer mapping suggest`): exact output, and always a mapping that binds.

The goldens pin what a person reads; the round-trip tests pin the promise that matters more:
whatever the headers, the text parses, passes `parse_mapping` and binds to those headers.
"""

from __future__ import annotations

import random
import re
import tomllib
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import pytest

from importer.mapping import Mapping, bind, header_key, parse_mapping
from importer.normalizing import Normalizer, Staged
from importer.reading import Cell, ReadOptions, SourceRow
from importer.settings import TARGETS, Target
from importer.suggest import suggest_for_file, suggest_mapping

ITALIAN = ["Nome", "Cognome", "E-mail", "Cellulare", "Paese", "Azienda", "Spesa totale"]
ITALIAN += ["Newsletter", "Iscritto il"]


def cells(line: str) -> list[Cell]:
    return [c or None for c in line.split(";")]


ITALIAN_ROWS = [
    cells(line)
    for line in """\
Mario;Rossi;mario.rossi@gmail.com;+39 339 123 4567;Italia;Rossi Arredamenti;1.250,50;Sì;12/03/2026
Giulia;Bianchi;giulia@libero.it;339-7654321;Italia;;89,90;No;14/03/2026
Luca;Verdi;luca@outlook.it;0039 347 1234567;italia;Verdi & Figli;0;sì;15/03/2026
Chiara;Ricci;chiara@bluewin.ch;079 123 45 67;Svizzera;;150,75;;21/03/2026
Sofia;Romano;sofia@tiscali.it;06 1234 5678;Narnia;Romano Viaggi;2.000;No;18/03/2026
""".splitlines()
]
ENGLISH = [
    "Customer ID",
    "First Name",
    "Last Name",
    "Email Address",
    "Phone",
    "Mobile",
    "Company",
    "Job Title",
    "Street Address",
    "City",
    "State",
    "ZIP",
    "Country",
    "Language",
    "Time Zone",
    "Email Opt-In",
    "Created At",
    "Notes",
]

ITALIAN_MINIMO = """\
# Starter mapping for a file with 9 headers, from `importer mapping suggest`. It is a starting
# point: review every line, then try it with `importer run SOURCE --mapping THIS.toml --dry-run`.
target = "minimo"

[options]
# default_region = "IT"        # for phones written without +country
phone_type = "mobile"          # Minimo reaches contacts on WhatsApp: no landlines
on_invalid_phone = "drop"      # send the contact without it, warn

[fields]
email = "E-mail"
phone = { column = "Cellulare", region_column = "Paese" }
"customFields.firstName" = "Nome"
"customFields.lastName" = "Cognome"
"customFields.country" = "Paese"
"customFields.company" = "Azienda"
"customFields.spesaTotale" = "Spesa totale"
# update = "protect_opt_out": a yes is never sent to a contact who said no since (an old file must
# not opt anyone back in); a no is always sent.
"marketingConsent.email" = { column = "Newsletter", update = "protect_opt_out" }
"customFields.iscrittoIl" = "Iscritto il"
"""


ITALIAN_MINIMO_SAMPLED = """\
# Starter mapping for a file with 9 headers, from `importer mapping suggest`. It is a starting
# point: review every line, then try it with `importer run SOURCE --mapping THIS.toml --dry-run`.
target = "minimo"

[options]
default_region = "IT"          # 'Paese' is IT in 3 of 5 sample rows
phone_type = "mobile"          # Minimo reaches contacts on WhatsApp: no landlines
decimal = ","                  # as 'Spesa totale' is written
timezone = "Europe/Rome"       # dates without an offset, as in IT
on_invalid_phone = "drop"      # send the contact without it, warn

[fields]
email = "E-mail"
# Not known as countries in 'Paese': 'Narnia': add them as region_values = { "Narnia" = "XX" }
# with their ISO codes, or their phones must start with +country.
phone = { column = "Cellulare", region_column = "Paese" }
"customFields.firstName" = "Nome"
"customFields.lastName" = "Cognome"
"customFields.country" = "Paese"
"customFields.company" = "Azienda"
"customFields.spesaTotale" = { column = "Spesa totale", type = "number" }
# update = "protect_opt_out": a yes is never sent to a contact who said no since (an old file must
# not opt anyone back in); a no is always sent.
"marketingConsent.email" = { column = "Newsletter", values = { "Sì" = true, "No" = false }, update = "protect_opt_out" }
"customFields.iscrittoIl" = { column = "Iscritto il", type = "datetime", format = "%d/%m/%Y" }
"""  # noqa: E501 (a mapping line as suggest writes it)


ENGLISH_MINIMO = """\
# Starter mapping for a file with 18 headers, from `importer mapping suggest`. It is a starting
# point: review every line, then try it with `importer run SOURCE --mapping THIS.toml --dry-run`.
target = "minimo"

[options]
# default_region = "IT"        # for phones written without +country
phone_type = "mobile"          # Minimo reaches contacts on WhatsApp: no landlines
on_invalid_phone = "drop"      # send the contact without it, warn

[fields]
email = "Email Address"
# Per row, the first of 'Mobile', 'Phone' that holds a valid number.
phone = { first_of = ["Mobile", "Phone"], region_column = "Country" }
"customFields.externalId" = "Customer ID"
"customFields.firstName" = "First Name"
"customFields.lastName" = "Last Name"
"customFields.company" = "Company"
"customFields.jobTitle" = "Job Title"
"customFields.address" = "Street Address"
"customFields.city" = "City"
"customFields.state" = "State"
"customFields.postcode" = "ZIP"
"customFields.country" = "Country"
"customFields.language" = "Language"
"customFields.timezone" = "Time Zone"
# update = "protect_opt_out": a yes is never sent to a contact who said no since (an old file must
# not opt anyone back in); a no is always sent.
"marketingConsent.email" = { column = "Email Opt-In", update = "protect_opt_out" }
"customFields.createdAt" = "Created At"
"customFields.notes" = "Notes"
"""


ITALIAN_NOTIFUSE = """\
# Starter mapping for a file with 9 headers, from `importer mapping suggest`. It is a starting
# point: review every line, then try it with `importer run SOURCE --mapping THIS.toml --dry-run`.
target = "notifuse"
# Rows whose 'Newsletter' is yes join the Notifuse list "newsletter"; no or blank never do. Put
# your list's id here.
# update = "protect_opt_out": a contact who left the list (unsubscribed, bounced, complained) is
# never subscribed again by an import.
lists = { column = "Newsletter", list = "newsletter", update = "protect_opt_out" }

[options]
# default_region = "IT"        # for phones written without +country
on_invalid_phone = "drop"      # send the contact without it, warn

[fields]
email = "E-mail"
phone = { column = "Cellulare", region_column = "Paese" }
first_name = "Nome"
last_name = "Cognome"
country = { column = "Paese", type = "country" }

# unmatched: 'Azienda', 'Spesa totale', 'Iscritto il'
# Notifuse has no field for these. custom_string_N, custom_number_N and custom_datetime_N (N =
# 1..5) can hold them, but those slots are shared by the whole workspace: uncomment a line below
# only for a slot no other import uses.
# custom_string_1 = "Azienda"
# custom_string_2 = "Spesa totale"
# custom_string_3 = "Iscritto il"
"""


ITALIAN_NOTIFUSE_SAMPLED = """\
# Starter mapping for a file with 9 headers, from `importer mapping suggest`. It is a starting
# point: review every line, then try it with `importer run SOURCE --mapping THIS.toml --dry-run`.
target = "notifuse"
# Rows whose 'Newsletter' is yes join the Notifuse list "newsletter"; no or blank never do. Put
# your list's id here.
# update = "protect_opt_out": a contact who left the list (unsubscribed, bounced, complained) is
# never subscribed again by an import.
lists = { column = "Newsletter", list = "newsletter", values = { "Sì" = true, "No" = false }, update = "protect_opt_out" }

[options]
default_region = "IT"          # 'Paese' is IT in 3 of 5 sample rows
decimal = ","                  # as 'Spesa totale' is written
timezone = "Europe/Rome"       # dates without an offset, as in IT
on_invalid_phone = "drop"      # send the contact without it, warn

[fields]
email = "E-mail"
# Not known as countries in 'Paese': 'Narnia': add them as region_values = { "Narnia" = "XX" }
# with their ISO codes, or their phones must start with +country.
phone = { column = "Cellulare", region_column = "Paese" }
first_name = "Nome"
last_name = "Cognome"
country = { column = "Paese", type = "country" }

# unmatched: 'Azienda', 'Spesa totale', 'Iscritto il'
# Notifuse has no field for these. custom_string_N, custom_number_N and custom_datetime_N (N =
# 1..5) can hold them, but those slots are shared by the whole workspace: uncomment a line below
# only for a slot no other import uses.
# custom_string_1 = "Azienda"
# custom_number_1 = "Spesa totale"
# custom_datetime_1 = { column = "Iscritto il", format = "%d/%m/%Y" }
"""  # noqa: E501 (a mapping line as suggest writes it)


ENGLISH_NOTIFUSE = """\
# Starter mapping for a file with 18 headers, from `importer mapping suggest`. It is a starting
# point: review every line, then try it with `importer run SOURCE --mapping THIS.toml --dry-run`.
target = "notifuse"
# Rows whose 'Email Opt-In' is yes join the Notifuse list "email-opt-in"; no or blank never do.
# Put your list's id here.
# update = "protect_opt_out": a contact who left the list (unsubscribed, bounced, complained) is
# never subscribed again by an import.
lists = { column = "Email Opt-In", list = "email-opt-in", update = "protect_opt_out" }

[options]
# default_region = "IT"        # for phones written without +country
on_invalid_phone = "drop"      # send the contact without it, warn

[fields]
email = "Email Address"
# Per row, the first of 'Mobile', 'Phone' that holds a valid number.
phone = { first_of = ["Mobile", "Phone"], region_column = "Country" }
external_id = "Customer ID"
first_name = "First Name"
last_name = "Last Name"
job_title = "Job Title"
address_line_1 = "Street Address"
state = "State"
postcode = "ZIP"
country = { column = "Country", type = "country" }
language = "Language"
timezone = "Time Zone"

# unmatched: 'Company', 'City', 'Created At', 'Notes'
# Notifuse has no field for these. custom_string_N, custom_number_N and custom_datetime_N (N =
# 1..5) can hold them, but those slots are shared by the whole workspace: uncomment a line below
# only for a slot no other import uses.
# custom_string_1 = "Company"
# custom_string_2 = "City"
# custom_string_3 = "Created At"
# custom_string_4 = "Notes"
"""


def checked(text: str, headers: Sequence[str], target: Target) -> Mapping:
    """Parse and bind the suggestion (and its commented custom_*_N lines, uncommented).

    Also the promise that no column feeds two fields (`tomllib` already refuses a field twice).
    """
    mapping = parse_mapping(tomllib.loads(text), text, "suggested.toml")
    assert mapping.target == target
    bind(mapping, headers, "x")
    uncommented = re.sub(r"(?m)^# (custom_\w+ = )", r"\1", text)
    for m in (mapping, parse_mapping(tomllib.loads(uncommented), uncommented, "x")):
        bind(m, headers, "x")
        columns = [f.columns[0] for f in m.fields if f.columns]
        assert len({header_key(c) for c in columns}) == len(columns)
    return mapping


def field_of(mapping: Mapping, column: str) -> str | None:
    return next((f.name for f in mapping.fields if f.columns == (column,)), None)


def staged(
    mapping: Mapping, headers: Sequence[str], rows: Sequence[Sequence[Cell]]
) -> list[Staged]:
    normalizer = Normalizer(bind(mapping, headers, "x"), clear_empty=False)
    width = len(headers)
    return [
        normalizer(SourceRow(i + 2, (tuple(r) + (None,) * width)[:width]))
        for i, r in enumerate(rows)
    ]


# -- goldens -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "rows", "target", "expected"),
    [
        (ITALIAN, [], "minimo", ITALIAN_MINIMO),
        (ITALIAN, [], "notifuse", ITALIAN_NOTIFUSE),
        (ITALIAN, ITALIAN_ROWS, "minimo", ITALIAN_MINIMO_SAMPLED),
        (ITALIAN, ITALIAN_ROWS, "notifuse", ITALIAN_NOTIFUSE_SAMPLED),
        (ENGLISH, [], "minimo", ENGLISH_MINIMO),
        (ENGLISH, [], "notifuse", ENGLISH_NOTIFUSE),
    ],
    ids=[
        "it-minimo",
        "it-notifuse",
        "it-minimo-sampled",
        "it-notifuse-sampled",
        "en-minimo",
        "en-notifuse",
    ],
)
def test_golden(headers: list[str], rows: list[list[Cell]], target: Target, expected: str) -> None:
    text = suggest_mapping(headers, target, rows)
    assert text == expected
    checked(text, headers, target)


def test_sampled_guesses_normalize_the_sample() -> None:
    """The sample's types, decimal, consent words and countries are read as they were meant."""
    mapping = checked(ITALIAN_MINIMO_SAMPLED, ITALIAN, "minimo")
    rows = staged(mapping, ITALIAN, ITALIAN_ROWS)
    assert [r.status for r in rows] == ["pending"] * 5
    first, _, _, swiss, narnia = (r.payload or {} for r in rows)
    assert first["customFields"]["spesaTotale"] == 1250.5
    assert first["customFields"]["iscrittoIl"] == "2026-03-12T00:00:00+01:00"
    assert first["marketingConsent"] == {"email": True}
    assert swiss["phone"] == "+41791234567"
    assert "phone" not in narnia  # an unknown country is never taken for the default region
    assert narnia["customFields"]["spesaTotale"] == 2000


# -- header names -------------------------------------------------------------------------

NAMES = [
    # header, Minimo field, Notifuse field (None: listed as unmatched)
    ("E-mail", "email", "email"),
    ("Email Address", "email", "email"),
    ("Posta elettronica", "email", "email"),
    ("Indirizzo e-mail", "email", "email"),
    (" MAIL ", "email", "email"),
    ("e_mail", "email", "email"),
    ("Telefono", "phone", "phone"),
    ("Cellulare", "phone", "phone"),
    ("Mobile", "phone", "phone"),
    ("Cell", "phone", "phone"),
    ("Tel.", "phone", "phone"),
    ("WhatsApp", "phone", "phone"),
    ("Numero di telefono", "phone", "phone"),
    ("Telefono ufficio", "phone", "phone"),
    ("First name", "customFields.firstName", "first_name"),
    ("firstName", "customFields.firstName", "first_name"),
    ("Nome", "customFields.firstName", "first_name"),
    ("Given name", "customFields.firstName", "first_name"),
    ("Last name", "customFields.lastName", "last_name"),
    ("COGNOME", "customFields.lastName", "last_name"),
    ("Surname", "customFields.lastName", "last_name"),
    ("Full name", "customFields.name", "full_name"),
    ("Nome completo", "customFields.name", "full_name"),
    ("Name", "customFields.name", "full_name"),
    ("Company", "customFields.company", None),
    ("Azienda", "customFields.company", None),
    ("Società", "customFields.company", None),
    ("Ragione sociale", "customFields.company", None),
    ("Country", "customFields.country", "country"),
    ("Paese", "customFields.country", "country"),
    ("Nazione", "customFields.country", "country"),
    ("City", "customFields.city", None),
    ("Città", "customFields.city", None),
    ("Postcode", "customFields.postcode", "postcode"),
    ("CAP", "customFields.postcode", "postcode"),
    ("ZIP", "customFields.postcode", "postcode"),
    ("Address", "customFields.address", "address_line_1"),
    ("Indirizzo", "customFields.address", "address_line_1"),
    ("Job title", "customFields.jobTitle", "job_title"),
    ("Ruolo", "customFields.jobTitle", "job_title"),
    ("Qualifica", "customFields.jobTitle", "job_title"),
    ("Newsletter", "marketingConsent.email", None),
    ("Consenso", "marketingConsent.email", None),
    ("Marketing", "marketingConsent.email", None),
    ("Privacy consent", "marketingConsent.email", None),
    ("Consenso WhatsApp", "marketingConsent.whatsapp", None),
    ("Language", "customFields.language", "language"),
    ("Lingua", "customFields.language", "language"),
    ("Timezone", "customFields.timezone", "timezone"),
    ("ID", "customFields.externalId", "external_id"),
    ("Codice cliente", "customFields.externalId", "external_id"),
    ("Customer ID", "customFields.externalId", "external_id"),
    ("Spesa totale", "customFields.spesaTotale", None),
    ("Data iscrizione newsletter", "customFields.dataIscrizioneNewsletter", None),
    ("Fonte marketing", "customFields.fonteMarketing", None),  # a phrase: needs a sample
]


@pytest.mark.parametrize(("header", "minimo", "notifuse"), NAMES, ids=[n[0] for n in NAMES])
def test_header_names(header: str, minimo: str, notifuse: str | None) -> None:
    headers = [header] if minimo == "email" else ["Email", header]
    assert (
        field_of(checked(suggest_mapping(headers, "minimo"), headers, "minimo"), header) == minimo
    )
    text = suggest_mapping(headers, "notifuse")
    mapping = checked(text, headers, "notifuse")
    assert field_of(mapping, header) == notifuse
    if notifuse is None and minimo.startswith("marketingConsent."):  # a list, never --list
        assert [rule.columns for rule in mapping.lists] == [(header,)]
    elif notifuse is None:
        assert f"# unmatched: '{header}'" in text


def test_one_column_per_field_the_best_name_wins() -> None:
    headers = ["Email", "E-mail", "Telefono", "Cellulare", "Nome", "Name"]
    mapping = checked(suggest_mapping(headers, "notifuse"), headers, "notifuse")
    assert [(f.name, f.columns, f.first_of) for f in mapping.fields] == [
        ("email", ("Email",), False),
        ("phone", ("Cellulare", "Telefono"), True),  # per row the mobile, else the other
        ("first_name", ("Nome",), False),
        ("last_name", ("Name",), False),  # beside a first name, as German CRMs write it
    ]
    text = suggest_mapping(headers, "minimo")
    assert "# 'E-mail' also looks like email; 'Email' is used for it" in text
    assert "# Per row, the first of 'Cellulare', 'Telefono' that holds a valid number." in text
    mapping = checked(text, headers, "minimo")
    assert field_of(mapping, "E-mail") == "customFields.email"  # Minimo keeps every column


def test_duplicate_headers_are_left_out_with_a_note() -> None:
    headers = ["Email", "Nome", "email ", "Note", "NOTE", "", "Paese"]
    text = suggest_mapping(headers, "minimo")
    mapping = checked(text, headers, "minimo")
    assert "# 'Email' heads 2 columns, which a mapping cannot tell apart" in text
    assert "# 'Note' heads 2 columns" in text
    assert "# Column 6 has no header" in text
    email = mapping.spec("email")
    assert email is not None and email.columns == ("Email_",) and email.optional
    assert "# No column looks like the email address" in text
    assert {f.columns for f in mapping.fields} == {("Email_",), ("Nome",), ("Paese",)}


def test_minimo_custom_keys_stay_unique() -> None:
    headers = ["Email", "Spesa totale", "spesa_totale", "SpesaTotale", "???", "日本語", "Company"]
    mapping = checked(suggest_mapping(headers, "minimo"), headers, "minimo")
    assert [f.name for f in mapping.fields] == [
        "email",
        "customFields.spesaTotale",
        "customFields.spesaTotale2",
        "customFields.spesaTotale3",
        "customFields.column5",
        "customFields.column6",
        "customFields.company",
    ]


def test_notifuse_offers_at_most_five_slots_of_a_kind() -> None:
    headers = ["Email", *(f"Extra {i}" for i in range(7)), "Orders"]
    rows = [["a@b.it", *(f"x{i}" for i in range(7)), "3"]]
    text = suggest_mapping(headers, "notifuse", rows)
    assert "# unmatched: 'Extra 0', 'Extra 1', 'Extra 2', 'Extra 3', 'Extra 4', 'Extra 5'" in text
    assert re.findall(r"(?m)^# (custom_\w+) = ", text) == [
        *(f"custom_string_{i}" for i in range(1, 6)),
        "custom_number_1",
    ]
    checked(text, headers, "notifuse")


# -- what the sample tells ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("phones", "option"),
    [
        (
            ["339 123 4567", "3201234567", "06 1234 5678", "+41 79 123 45 67"],
            'default_region = "IT"',
        ),
        (["393391234567", "392 1234567"], 'default_region = "IT"'),
        (["030 1234567", "0171 2345678", "089 123456"], '# default_region = "IT"'),  # German
        (["+39 339 123 4567", "0041 79 123 45 67"], '# default_region = "IT"'),
    ],
    ids=["italian", "italian-with-39", "german", "international"],
)
def test_default_region_from_phones(phones: list[str], option: str) -> None:
    headers = ["Email", "Cellulare"]
    text = suggest_mapping(headers, "minimo", [["a@b.it", p] for p in phones])
    assert f"\n{option} " in text
    checked(text, headers, "minimo")


def test_country_column_sets_region_and_codes() -> None:
    headers = ["Email", "Phone", "Country"]
    rows: list[list[Cell]] = [
        ["a@b.it", "07700 900123", "United Kingdom"],
        ["b@b.it", "07700 900124", "UK"],
        ["c@b.it", "339 1234567", "Italia"],
        ["d@b.it", "079 123 45 67", "CH"],
        ["e@b.it", "079 123 45 68", "Stati Uniti"],
    ]
    text = suggest_mapping(headers, "notifuse", rows)
    assert (  # 1 of 5 is no majority (once 27 of 191 rows set the region of them all)
        "\n# default_region = \"GB\"        # 'Country' is GB in 1 of 5 sample rows: not a "
        "majority\n"
    ) in text
    mapping = checked(text, headers, "notifuse")
    phone, country = mapping.spec("phone"), mapping.spec("country")
    assert phone is not None and country is not None
    assert (phone.region_columns, dict(phone.region_values)) == (("Country",), {})
    assert (country.type, dict(country.values)) == ("country", {})  # names read natively
    assert (
        "Not known as countries in 'Country': 'UK': add them as region_values = "
        '{ "UK" = "XX" } with their ISO codes, or their phones must start with +country.'
    ) in text.replace("\n# ", " ")


def test_country_names_of_a_crm_export_are_known() -> None:
    """Mautic's demo leads: "Not known as countries: 'South Africa', 'Australia'" once, and
    their phones dropped as invalid."""
    headers = ["Email", "Phone", "Country"]
    rows: list[list[Cell]] = [
        ["a@b.co.za", "082 118 9037", "South Africa"],
        ["b@b.com.au", "0412 345 678", "Australia"],
        ["c@b.de", "0151 12345678", "Deutschland"],
        ["d@b.fr", "06 12 34 56 78", "Royaume-Uni"],
    ]
    text = suggest_mapping(headers, "minimo", rows)
    assert "Not known as countries" not in text
    checked(text, headers, "minimo")


def test_consent_needs_yes_no_words() -> None:
    headers = ["Email", "Newsletter", "Fonte marketing"]
    rows = [["a@b.it", "forse", "Sì"], ["b@b.it", "Sì", "no"]]
    text = suggest_mapping(headers, "minimo", rows)
    mapping = checked(text, headers, "minimo")
    assert field_of(mapping, "Newsletter") == "customFields.newsletter"
    assert "# 'Newsletter' looks like a consent but holds 'forse'" in text
    spec = mapping.spec("marketingConsent.email")
    assert spec is not None and spec.columns == ("Fonte marketing",)
    assert dict(spec.values) == {"sì": True, "no": False}


def test_excel_cells_give_types_without_formats() -> None:
    headers = ["Email", "Orders", "Signup", "Total", "Code", "Opt-in"]
    rows: list[list[Cell]] = [
        ["a@b.it", 3, datetime(2026, 3, 1, 9, 30), "1,234.50", "00123", True],
        ["b@b.it", 4.0, date(2026, 3, 2), "12.5", "00456", False],
    ]
    text = suggest_mapping(headers, "minimo", rows)
    mapping = checked(text, headers, "minimo")
    assert [(f.name, f.type, f.formats) for f in mapping.fields] == [
        ("email", "string", ()),
        ("customFields.orders", "number", ()),
        ("customFields.signup", "datetime", ()),
        ("customFields.total", "number", ()),
        ("customFields.code", "string", ()),  # leading zeros: an identifier, not a number
        ("marketingConsent.email", "bool", ()),
    ]
    assert mapping.options.decimal == "."
    assert '# timezone = "Europe/Rome"' in text
    assert all(r.status == "pending" for r in staged(mapping, headers, rows))


def test_day_month_order_unsure_is_said() -> None:
    headers = ["Email", "Nato il"]
    text = suggest_mapping(headers, "minimo", [["a@b.it", "01/02/1990"], ["b@b.it", "03/04/1985"]])
    assert "# 'Nato il': read as day/month; the sample has no day over 12" in text
    assert 'format = "%d/%m/%Y"' in text


def test_email_found_by_content_and_names_by_spaces() -> None:
    headers = ["Contatto", "Nome", "Tel"]
    rows = [["mario@rossi.it", "Mario Rossi", "3391234567"], ["anna@neri.it", "Anna Neri", ""]]
    text = suggest_mapping(headers, "notifuse", rows)
    mapping = checked(text, headers, "notifuse")
    assert field_of(mapping, "Contatto") == "email"
    assert field_of(mapping, "Nome") == "full_name"
    assert "# 'Contatto' holds email addresses (by its values)." in text
    assert "# 'Nome' holds whole names (first and last)." in text


# -- any headers at all -------------------------------------------------------------------

NASTY = [
    [],
    ["", "  ", "\ufeff", "\u00a0", "\x1c"],
    ['Nome "Il Grande"', "Back\\slash", "trailing\\", "a.b.c", "customFields.x", "[fields]"],
    ["# comment", "= equals", "It's", "Tab\there", "New\nline", "Ctrl\x01\x1f\x7f", "\u2028"],
    ["Città", "日本語", "😀 emoji", "x" * 500, "\ud800lone surrogate", "E\u0301mail"],
    ["Email", "email", "EMAIL ", "Email_", "E-mail"],
    ["Email", "Email", "Email_"],
    ["Note", "note", "Note\u00a0", "Notes"],
    ["Telefono", "Telefono 2", "Cellulare", "Mobile", "WhatsApp", "Paese", "Country"],
    ["email", '"', "\\", "'", "\"'\\", "{", "}", "}]", "\x00"],
]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("headers", NASTY, ids=[str(i) for i in range(len(NASTY))])
def test_nasty_headers_round_trip(headers: list[str], target: Target) -> None:
    checked(suggest_mapping(headers, target), headers, target)
    rows: list[list[Cell]] = [
        [f'x"\\\n{i}' if i % 2 else "Sì" for i in range(len(headers))],
        ["Italia" if i % 2 else "no" for i in range(len(headers))],
    ]
    mapping = checked(suggest_mapping(headers, target, rows), headers, target)
    if "\ud800lone surrogate" not in headers:
        staged(mapping, headers, rows)


_PIECES = ["a", "E", "-", "mail", " ", '"', "\\", ".", "\n", "\t", "\x00", "\x7f", "\u00a0"]
_PIECES += ["\ufeff", "\u200b", "à", "日", "😀", "#", "=", "[", "]", "{", "}", "'", ""]
_PIECES += ["Nome", "Telefono", "Paese", "Newsletter", "Email", "Consenso", "id", "Tel"]
_CELLS: list[Cell] = ["Italia", "UK", "Sì", "no", "forse", "3391234567", "+41791234567"]
_CELLS += ["x@y.it", "1,5", "1.250", "12/03/2026", '"q"', "\\", "\n", None, 3, 2.5, True]
_CELLS += [date(2026, 3, 1), "0", "1"]


@pytest.mark.parametrize("seed", range(40))
def test_random_headers_round_trip(seed: int) -> None:
    rnd = random.Random(seed)
    for _ in range(10):
        headers = [
            "".join(rnd.choices(_PIECES, k=rnd.randint(0, 4))) for _ in range(rnd.randint(0, 8))
        ]
        rows = [[rnd.choice(_CELLS) for _ in headers] for _ in range(rnd.randint(0, 4))]
        for target in TARGETS:
            mapping = checked(suggest_mapping(headers, target, rows), headers, target)
            staged(mapping, headers, rows)


# -- from a file ----------------------------------------------------------------------------


def test_suggest_for_file(tmp_path: Path) -> None:
    source = tmp_path / "fiera.csv"
    source.write_text(
        "\ufeffNome;Cognome;E-mail;Cellulare;Newsletter;Note\n"
        "Mario;Rossi;mario@rossi.it;339 123 4567;Sì;chiamare\n"
        ";;;;;\n"
        "Anna;Neri;anna@neri.it;320 7654321;No;\n"
        "Luca;Bianchi;luca@bianchi.it;347 1112223;;\n",
        encoding="utf-8",
    )
    text = suggest_for_file(source, "minimo", ReadOptions())
    assert text.splitlines()[2] == (
        "# Read from fiera.csv (CSV, utf-8-sig, delimiter ';'), header on row 1; 3 data rows "
        "sampled."
    )
    assert '\ndefault_region = "IT"          # 3 of 3 sample phones without +39\n' in text
    headers = ["Nome", "Cognome", "E-mail", "Cellulare", "Newsletter", "Note"]
    mapping = checked(text, headers, "minimo")
    consent = mapping.spec("marketingConsent.email")
    assert consent is not None and dict(consent.values) == {"sì": True, "no": False}
    assert field_of(mapping, "Note") == "customFields.note"
    one = suggest_for_file(source, "notifuse", ReadOptions(delimiter=";"), sample=1)
    assert "; 1 data row sampled." in one
    assert "# unmatched: 'Note'" in one
    assert (
        '\nlists = { column = "Newsletter", list = "newsletter", values = { "Sì" = true }, '
        'update = "protect_opt_out" }\n' in one
    )


def test_suggest_for_xlsx_with_a_title_row(tmp_path: Path) -> None:
    """Typed cells: phones stored as numbers, real dates, Excel booleans next to text."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    headers = ["Email", "Mobile", "Signup", "Orders", "Consenso"]
    sheet.append(["Export CRM marzo"])
    sheet.append(headers)
    sheet.append(["a@b.it", 393391234567, datetime(2026, 3, 1), 3, True])
    sheet.append(["c@d.it", 3201234567, datetime(2026, 3, 2), 12, "no"])
    source = tmp_path / "crm.xlsx"
    book.save(source)
    text = suggest_for_file(source, "notifuse", ReadOptions(header_row=2))
    assert (
        "# Read from crm.xlsx (XLSX, sheet 'Sheet'), header on row 2; 2 data rows sampled." in text
    )
    assert '\ndefault_region = "IT" ' in text
    assert '\ntimezone = "Europe/Rome" ' in text
    assert text.endswith('# custom_datetime_1 = "Signup"\n# custom_number_1 = "Orders"\n')
    assert (
        '\nlists = { column = "Consenso", list = "consenso", values = { "no" = false }, '
        'update = "protect_opt_out" }\n' in text
    )
    checked(text, headers, "notifuse")
    minimo = checked(
        suggest_for_file(source, "minimo", ReadOptions(header_row=2)), headers, "minimo"
    )
    consent = minimo.spec("marketingConsent.email")
    assert consent is not None and dict(consent.values) == {"no": False}  # TRUE is read natively


def test_an_old_german_crm_export() -> None:
    """`Name` beside `Vorname` is the surname, `KdNr` an identifier, `Angelegt am` dates in
    two writings; 27 of 191 rows in one country are no default region."""
    headers = ["KdNr", "Vorname", "Name", "E-Mail", "Telefon", "Land", "Angelegt am"]
    rows: list[list[Cell]] = [
        ["10023", "Anna", "Müller", "a@firma.de", "0151 1234567", "D", "27.04.2016"],
        ["10024", "Jan", "Peeters", "j@firma.be", "0470 123456", "Belgien", "27/04/2016"],
        ["10025", "Luc", "Weber", "l@firma.lu", "621 123 456", "Luxemburg", "03.05.2017"],
        ["10026", "Eva", "Graf", "e@firma.ch", "079 123 45 67", "Schweiz", "12/12/2018"],
    ]
    text = suggest_mapping(headers, "notifuse", rows)
    mapping = checked(text, headers, "notifuse")
    assert [(f.name, f.columns, f.type, f.formats) for f in mapping.fields] == [
        ("email", ("E-Mail",), "string", ()),
        ("phone", ("Telefon",), "string", ()),
        ("first_name", ("Vorname",), "string", ()),
        ("last_name", ("Name",), "string", ()),
        ("country", ("Land",), "country", ()),
    ]
    assert "# default_region = \"BE\"        # 'Land' is BE in 1 of 4 sample rows: not a" in text
    assert "# Not known as countries in 'Land': 'D': add them as region_values" in text
    assert '# custom_string_1 = "KdNr"\n' in text  # text, not a number
    assert (
        '# custom_datetime_1 = { column = "Angelegt am", format = ["%d/%m/%Y", "%d.%m.%Y"] }'
        in text
    )
    dated = checked(
        text.replace("# custom_datetime_1 = {", "custom_datetime_1 = {"), headers, "notifuse"
    )
    assert [r.status for r in staged(dated, headers, rows)] == ["pending"] * 4
