"""Mapping files (SPEC §3): every rejection with its exact message, and binding to headers."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path

import pytest

from importer.errors import MappingError
from importer.mapping import (
    BoundMapping,
    FieldSpec,
    Mapping,
    Options,
    bind,
    header_key,
    load_mapping,
    parse_mapping,
)
from importer.settings import Target

NOTIFUSE_FIELDS = (
    "email, external_id, timezone, language, first_name, last_name, full_name, phone, "
    "address_line_1, address_line_2, country, postcode, state, job_title, "
    "custom_string_1, custom_string_2, custom_string_3, custom_string_4, custom_string_5, "
    "custom_number_1, custom_number_2, custom_number_3, custom_number_4, custom_number_5, "
    "custom_datetime_1, custom_datetime_2, custom_datetime_3, custom_datetime_4, "
    "custom_datetime_5, custom_json_1, custom_json_2, custom_json_3, custom_json_4, "
    "custom_json_5"
)
MINIMO_FIELDS = (
    "email, phone, marketingConsent.email, marketingConsent.whatsapp, customFields.<any key>"
)
SPEC_KEYS = (
    "column, default, first_of, format, on_invalid, optional, region_column, region_values, "
    "type, update, value, values"
)


def parse(toml: str, target_override: Target | None = None) -> Mapping:
    return parse_mapping(tomllib.loads(toml), toml, "m.toml", target_override)


def rejection(toml: str) -> str:
    with pytest.raises(MappingError) as exc:
        parse(toml)
    assert exc.value.exit_code == 2
    return exc.value.paragraph()


def bound(toml: str, headers: Sequence[str]) -> BoundMapping:
    return bind(parse(toml), headers, "leads.csv")


def bind_error(toml: str, headers: Sequence[str]) -> str:
    with pytest.raises(MappingError) as exc:
        bound(toml, headers)
    return exc.value.paragraph()


M = 'target = "minimo"\n'
N = 'target = "notifuse"\n'
EMAIL = '[fields]\nemail = "Email"\n'


# --------------------------------------------------------------------------- parse_mapping


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            M + "foo = 1\nbar = 2\n" + EMAIL,
            "m.toml: unknown top-level key(s) bar, foo. A mapping has `target`, [options], "
            "[fields] and, for Notifuse, `lists`.",
        ),
        (
            'target = "mailchimp"\n' + EMAIL,
            'm.toml: target must be "minimo" or "notifuse" (got \'mailchimp\'). '
            'Set `target = "minimo"` in the mapping or pass --target.',
        ),
        (
            EMAIL,
            'm.toml: target must be "minimo" or "notifuse" (got None). '
            'Set `target = "minimo"` in the mapping or pass --target.',
        ),
        (M, "m.toml: the [fields] table is missing or empty."),
        (M + "[fields]\n", "m.toml: the [fields] table is missing or empty."),
        (M + 'fields = "Email"\n', "m.toml: the [fields] table is missing or empty."),
        (
            M + '[fields]\nphone = "Tel"\n',
            "m.toml: no `email` field. Both APIs identify a contact by email. "
            'Add e.g. email = "Email" under [fields].',
        ),
    ],
    ids=[
        "unknown-key",
        "bad-target",
        "no-target",
        "no-fields",
        "empty-fields",
        "fields-str",
        "no-email",
    ],
)
def test_document_errors(toml: str, message: str) -> None:
    assert rejection(toml) == message


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            'colour = "red"',
            "m.toml: unknown option(s) colour. Valid options: decimal, default_region, empty, "
            "on_invalid_phone, phone_match, phone_type, snapshot, timezone.",
        ),
        (
            'default_region = "XX"',
            "m.toml: default_region 'XX' is not an ISO 3166-1 alpha-2 country code. "
            'Use e.g. "IT", "CH", "GB".',
        ),
        (
            'default_region = "Italia"',
            "m.toml: default_region 'Italia' is not an ISO 3166-1 alpha-2 country code. "
            'Use e.g. "IT", "CH", "GB".',
        ),
        (
            'timezone = "Mars/Base"',
            "m.toml: timezone 'Mars/Base' is not a known IANA time zone. "
            'Use e.g. "Europe/Rome" or "UTC".',
        ),
        (
            'timezone = ""',
            'm.toml: timezone \'\' is not a known IANA time zone. Use e.g. "Europe/Rome" or "UTC".',
        ),
        (
            'on_invalid_phone = "skip"',
            "m.toml: option on_invalid_phone = 'skip' is not valid. Use one of 'drop', 'error'.",
        ),
        (
            'empty = "null"',
            "m.toml: option empty = 'null' is not valid. Use one of 'omit', 'clear'.",
        ),
        (
            'decimal = ";"',
            "m.toml: option decimal = ';' is not valid. Use one of ',', '.'.",
        ),
        (
            'empty = "clear"',
            'm.toml: empty = "clear" is only for Notifuse (Minimo cannot clear a field).',
        ),
    ],
)
def test_option_errors(options: str, message: str) -> None:
    assert rejection(M + "[options]\n" + options + "\n" + EMAIL) == message


def test_options_must_be_a_table() -> None:
    assert rejection(M + 'options = "x"\n' + EMAIL) == "m.toml: [options] must be a table."


def test_options_parsed() -> None:
    toml = (
        N
        + '[options]\ndefault_region = "ch"\non_invalid_phone = "error"\nempty = "clear"\n'
        + 'decimal = ","\ntimezone = "Europe/Rome"\n'
        + EMAIL
    )
    assert parse(toml).options == Options("CH", "error", "clear", ",", "Europe/Rome")


def test_options_defaults() -> None:
    assert parse(M + EMAIL).options == Options(None, "drop", "omit", None, "UTC")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            N + EMAIL + 'firstname = "Nome"\n',
            "m.toml: field 'firstname' is not a Notifuse field. Did you mean 'first_name'? "
            f"Valid fields: {NOTIFUSE_FIELDS}.",
        ),
        (
            N + EMAIL + 'custom_number_6 = "N"\n',
            "m.toml: field 'custom_number_6' is not a Notifuse field. Did you mean "
            f"'custom_number_5'? Valid fields: {NOTIFUSE_FIELDS}.",
        ),
        (
            M + EMAIL + 'firstName = "Nome"\n',
            f"m.toml: field 'firstName' is not a Minimo field. Valid fields: {MINIMO_FIELDS}.",
        ),
        (
            M + EMAIL + '"marketingConsent.sms" = "SMS"\n',
            "m.toml: field 'marketingConsent.sms' is not a Minimo field. Did you mean "
            f"'marketingConsent.email'? Valid fields: {MINIMO_FIELDS}.",
        ),
        (
            M + EMAIL + '"customFields." = "X"\n',
            f"m.toml: field 'customFields.' is not a Minimo field. Valid fields: {MINIMO_FIELDS}.",
        ),
        (
            N + EMAIL + '"customFields.company" = "X"\n',
            "m.toml: field 'customFields.company' is not a Notifuse field. "
            f"Valid fields: {NOTIFUSE_FIELDS}.",
        ),
        (
            M + '[fields]\nemail = { column = "Email", colum = "x", typ = "string" }\n',
            f"m.toml: field 'email' has unknown key(s) colum, typ. Valid keys: {SPEC_KEYS}.",
        ),
        (
            M + '[fields]\nemail = { column = "Email", value = "x" }\n',
            "m.toml: field 'email' needs exactly one of `column`, `first_of` or `value`.",
        ),
        (
            M + '[fields]\nemail = { type = "string" }\n',
            "m.toml: field 'email' needs exactly one of `column`, `first_of` or `value`.",
        ),
        (
            M + "[fields]\nemail = 5\n",
            "m.toml: field 'email' must be a column name or a list of column names.",
        ),
        (
            M + "[fields]\nemail = []\n",
            "m.toml: field 'email' must be a column name or a list of column names.",
        ),
        (
            M + '[fields]\nemail = ["Email", 3]\n',
            "m.toml: field 'email' must be a column name or a list of column names.",
        ),
        (
            M + '[fields]\nemail = "  "\n',
            "m.toml: field 'email' must be a column name or a list of column names.",
        ),
        (
            N + EMAIL + 'custom_number_1 = { column = "N", type = "string" }\n',
            "m.toml: field 'custom_number_1': type 'string' does not fit; Notifuse takes a "
            'number here. Remove `type` or set type = "number".',
        ),
        (
            N + EMAIL + 'custom_datetime_1 = { column = "D", type = "string" }\n',
            "m.toml: field 'custom_datetime_1': type 'string' does not fit; Notifuse takes a "
            'datetime here. Remove `type` or set type = "datetime".',
        ),
        (
            N + EMAIL + 'custom_json_2 = { column = "J", type = "string" }\n',
            "m.toml: field 'custom_json_2': type 'string' does not fit; Notifuse takes a "
            'json here. Remove `type` or set type = "json".',
        ),
        (
            N + EMAIL + 'first_name = { column = "Nome", type = "number" }\n',
            "m.toml: field 'first_name': type 'number' does not fit; Notifuse takes a "
            'string here. Remove `type` or set type = "string".',
        ),
        (
            M + EMAIL + '"marketingConsent.email" = { column = "N", type = "string" }\n',
            "m.toml: field 'marketingConsent.email': type 'string' does not fit; Minimo takes a "
            'bool here. Remove `type` or set type = "bool".',
        ),
        (
            M + EMAIL + '"customFields.x" = { column = "N", type = "integer" }\n',
            "m.toml: field 'customFields.x': type 'integer' is not one of string, number, bool, "
            "datetime, json, country.",
        ),
        (
            N + EMAIL + 'custom_string_1 = { column = "N", format = "%d/%m/%Y" }\n',
            "m.toml: field 'custom_string_1': `format` is a strptime format (or a list of them) "
            "for datetime fields only.",
        ),
        (
            N + EMAIL + 'custom_datetime_1 = { column = "N", format = 5 }\n',
            "m.toml: field 'custom_datetime_1': `format` is a strptime format (or a list of "
            "them) for datetime fields only.",
        ),
        (
            M + EMAIL + '"customFields.x" = { column = "N", region_column = "Country" }\n',
            "m.toml: field 'customFields.x': region_column is only for the phone field.",
        ),
        (
            N + EMAIL + 'country = { column = "N", region_values = { Italia = "IT" } }\n',
            "m.toml: field 'country': region_column is only for the phone field.",
        ),
        (
            M + EMAIL + 'phone = { column = "Tel", region_values = { Italia = "ITA" } }\n',
            "m.toml: field 'phone': region_values must map cell text to ISO country codes.",
        ),
        (
            M + EMAIL + 'phone = { column = "Tel", region_values = "IT" }\n',
            "m.toml: field 'phone': region_values must map cell text to ISO country codes.",
        ),
        (
            M + EMAIL + 'phone = { column = "Tel", region_column = 3 }\n',
            "m.toml: field 'phone' must be a column name or a list of column names.",
        ),
        (
            M + EMAIL + '"customFields.x" = { column = "N", values = 5 }\n',
            "m.toml: field 'customFields.x': `values` must be a table of cell text = value.",
        ),
    ],
)
def test_field_errors(toml: str, message: str) -> None:
    assert rejection(toml) == message


@pytest.mark.parametrize(
    ("target", "name", "expected"),
    [
        ("notifuse", "first_name", "string"),
        ("notifuse", "phone", "string"),
        ("notifuse", "custom_number_3", "number"),
        ("notifuse", "custom_datetime_5", "datetime"),
        ("notifuse", "custom_json_1", "json"),
        ("minimo", "marketingConsent.email", "bool"),
        ("minimo", "marketingConsent.whatsapp", "bool"),
        ("minimo", '"customFields.x"', "string"),
        ("minimo", "phone", "string"),
    ],
)
def test_type_defaults_from_the_target_field(target: str, name: str, expected: str) -> None:
    mapping = parse(f'target = "{target}"\n{EMAIL}{name} = "Col"\n')
    spec = mapping.spec(name.strip('"'))
    assert spec is not None
    assert spec.type == expected


def test_declared_type_that_matches_is_accepted() -> None:
    mapping = parse(N + EMAIL + 'custom_number_1 = { column = "N", type = "number" }\n')
    spec = mapping.spec("custom_number_1")
    assert spec is not None
    assert spec.type == "number"


def test_minimo_custom_fields_take_any_type() -> None:
    mapping = parse(M + EMAIL + '"customFields.n" = { column = "N", type = "number" }\n')
    spec = mapping.spec("customFields.n")
    assert spec is not None
    assert spec.type == "number"


def test_target_override_wins() -> None:
    assert parse(M + EMAIL, "notifuse").target == "notifuse"
    assert parse(EMAIL, "minimo").target == "minimo"


def test_full_field_spec() -> None:
    toml = (
        M
        + EMAIL
        + 'phone = { column = ["Mobile", "Cell"], region_column = "Country", '
        + 'region_values = { "Italia" = "it", " SVIZZERA " = "CH" } }\n'
        + '"marketingConsent.email" = { column = "Newsletter", values = { "Sì" = true, '
        + '"No" = false }, default = "No", optional = true }\n'
        + '"customFields.source" = { value = "fiera-2026" }\n'
    )
    mapping = parse(toml)
    assert mapping.text == toml
    assert [f.name for f in mapping.fields] == [
        "email",
        "phone",
        "marketingConsent.email",
        "customFields.source",
    ]
    phone = mapping.spec("phone")
    assert phone is not None
    assert phone.columns == ("Mobile", "Cell")
    assert phone.region_columns == ("Country",)
    assert dict(phone.region_values) == {"italia": "IT", "svizzera": "CH"}
    consent = mapping.spec("marketingConsent.email")
    assert consent is not None
    assert dict(consent.values) == {"sì": True, "no": False}
    assert (consent.default, consent.optional, consent.type) == ("No", True, "bool")
    source = mapping.spec("customFields.source")
    assert source == FieldSpec("customFields.source", constant="fiera-2026")


def test_sub_table_equals_dotted_keys() -> None:
    dotted = parse(
        M
        + EMAIL
        + '"customFields.company" = "Company"\n'
        + '"customFields.source" = { value = "fiera-2026" }\n'
        + '"marketingConsent.email" = { column = "Newsletter" }\n'
    )
    sub_tables = parse(
        M
        + EMAIL
        + '[fields.customFields]\ncompany = "Company"\nsource = { value = "fiera-2026" }\n'
        + '[fields.marketingConsent]\nemail = { column = "Newsletter" }\n'
    )
    unquoted = parse(
        M
        + EMAIL
        + 'customFields.company = "Company"\n'
        + 'customFields.source = { value = "fiera-2026" }\n'
        + 'marketingConsent.email = { column = "Newsletter" }\n'
    )
    assert sub_tables.fields == dotted.fields
    assert unquoted.fields == dotted.fields
    assert sub_tables.options == dotted.options


def test_sub_table_custom_field_named_like_a_spec_key() -> None:
    """A custom field called `type` (or `value`, `format`…) is still a custom field."""
    dotted = parse(M + EMAIL + '"customFields.type" = "Tipo"\n"customFields.company" = "Company"\n')
    sub_table = parse(M + EMAIL + '[fields.customFields]\ntype = "Tipo"\ncompany = "Company"\n')
    assert sub_table.fields == dotted.fields


# --------------------------------------------------------------------------- load_mapping


def test_load_mapping_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(MappingError) as exc:
        load_mapping(path)
    assert exc.value.paragraph() == f"Mapping file {path} does not exist. Check the --mapping path."


def test_load_mapping_invalid_toml(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    text = 'target = "minimo"\n[fields]\nemail = "Email\n'
    path.write_text(text, encoding="utf-8")
    with pytest.raises(tomllib.TOMLDecodeError) as toml_exc:
        tomllib.loads(text)
    with pytest.raises(MappingError) as exc:
        load_mapping(path)
    assert exc.value.paragraph() == f"Mapping file {path} is not valid TOML: {toml_exc.value}."


def test_load_mapping_names_the_file_in_field_errors(tmp_path: Path) -> None:
    path = tmp_path / "leads.toml"
    path.write_text(M + '[fields]\nphone = "Tel"\n', encoding="utf-8")
    with pytest.raises(MappingError) as exc:
        load_mapping(path)
    assert str(exc.value) == f"{path}: no `email` field. Both APIs identify a contact by email."


def test_load_mapping_with_bom_and_override(tmp_path: Path) -> None:
    path = tmp_path / "leads.toml"
    path.write_bytes(("\ufeff" + M + EMAIL).encode("utf-8"))
    mapping = load_mapping(path, "notifuse")
    assert mapping.target == "notifuse"
    assert mapping.fields == (FieldSpec("email", columns=("Email",)),)


# --------------------------------------------------------------------------- bind

FULL = (
    M
    + EMAIL
    + '"customFields.company" = "Company"\n'
    + 'phone = { column = "Mobile", region_column = "Country" }\n'
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Email", "email"),
        ("  EMAIL  ", "email"),
        ("\ufeffEmail", "email"),
        ("Email\u00a0", "email"),
        ("\u00a0E-Mail\u00a0\u00a0", "e-mail"),
        ("First\u00a0 Name", "first name"),
    ],
)
def test_header_key(header: str, expected: str) -> None:
    assert header_key(header) == expected


def test_bind_resolves_indexes() -> None:
    b = bound(FULL, ["Country", "Mobile", "Email", "Company"])
    assert [(f.spec.name, f.index, f.column, f.region_index) for f in b.fields] == [
        ("email", 2, "Email", None),
        ("customFields.company", 3, "Company", None),
        ("phone", 1, "Mobile", 0),
    ]
    assert b.headers == ("Country", "Mobile", "Email", "Company")


@pytest.mark.parametrize(
    "headers",
    [
        ["  email ", "COMPANY", "mobile\u00a0", "country"],
        ["\ufeffEmail", "Company", "Mobile", "Country"],
        ["\ufeff EMAIL\u00a0", "\u00a0Company", "MOBILE", "Country "],
    ],
)
def test_bind_header_matching_is_forgiving(headers: list[str]) -> None:
    b = bound(FULL, headers)
    assert [f.index for f in b.fields] == [0, 1, 2]


def test_bind_column_name_is_the_header_as_shown() -> None:
    b = bound(FULL, ["\ufeff Email\u00a0", " Company ", "Mobile", "Country"])
    assert [f.column for f in b.fields] == ["Email", "Company", "Mobile"]


def test_bind_missing_column_lists_headers_and_closest_match() -> None:
    assert bind_error(FULL, ["E-mail", "Company", "Mobile", "Country", "", " "]) == (
        "leads.csv: no column 'Email' for field email. Closest match: 'E-mail'. "
        "The file's headers are: 'E-mail', 'Company', 'Mobile', 'Country'. "
        "Fix the column name in the mapping, or mark the field optional = true."
    )


def test_bind_missing_column_closest_match_for_a_typo() -> None:
    assert bind_error(FULL, ["Email", "Cmpany", "Mobile", "Country"]) == (
        "leads.csv: no column 'Company' for field customFields.company. Closest match: "
        "'Cmpany'. The file's headers are: 'Email', 'Cmpany', 'Mobile', 'Country'. "
        "Fix the column name in the mapping, or mark the field optional = true."
    )


def test_bind_missing_column_without_a_close_match() -> None:
    toml = M + '[fields]\nemail = ["Email", "E-mail"]\n'
    assert bind_error(toml, ["Nome", "Cognome"]) == (
        "leads.csv: no column 'Email' or 'E-mail' for field email. "
        "The file's headers are: 'Nome', 'Cognome'. "
        "Fix the column name in the mapping, or mark the field optional = true."
    )


def test_bind_missing_region_column_is_an_error() -> None:
    assert bind_error(FULL, ["Email", "Company", "Mobile"]) == (
        "leads.csv: no column 'Country' for field phone. Closest match: 'Company'. "
        "The file's headers are: 'Email', 'Company', 'Mobile'. "
        "Fix the column name in the mapping, or mark the field optional = true."
    )


@pytest.mark.parametrize(
    ("headers", "index", "column"),
    [
        (["E-mail", "Email Address"], 0, "E-mail"),
        (["Email Address", "Nome"], 0, "Email Address"),
        (["Email Address", "E-mail"], 1, "E-mail"),
        (["Email", "E-mail", "Email Address"], 0, "Email"),
        (["Nome", " e-mail "], 1, "e-mail"),
    ],
)
def test_bind_alternatives_first_present_wins(headers: list[str], index: int, column: str) -> None:
    b = bound(M + '[fields]\nemail = ["Email", "E-mail", "Email Address"]\n', headers)
    email = b.get("email")
    assert email is not None
    assert (email.index, email.column) == (index, column)


def test_bind_optional_missing_column_is_fine() -> None:
    b = bound(M + EMAIL + '"customFields.fax" = { column = "Fax", optional = true }\n', ["Email"])
    fax = b.get("customFields.fax")
    assert fax is not None
    assert (fax.index, fax.column) == (None, "Fax")


def test_bind_optional_present_column_is_used() -> None:
    b = bound(
        M + EMAIL + '"customFields.fax" = { column = "Fax", optional = true }\n', ["Fax", "Email"]
    )
    fax = b.get("customFields.fax")
    assert fax is not None
    assert fax.index == 0


def test_bind_constant_has_no_index() -> None:
    b = bound(M + EMAIL + '"customFields.source" = { value = "x" }\n', ["Email"])
    source = b.get("customFields.source")
    assert source is not None
    assert (source.index, source.column) == (None, "")


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (
            ["Email", "Company", "Mobile", "Country", " email"],
            "leads.csv: column 'Email' (for field email) appears 2 times in the header "
            "(columns A, E). Rename one of them in the file, or map a different column.",
        ),
        (
            ["Email", "Company", "Mobile", "Country"] + ["x"] * 22 + ["COMPANY", "company"],
            "leads.csv: column 'Company' (for field customFields.company) appears 3 times in the "
            "header (columns B, AA, AB). Rename one of them in the file, or map a different "
            "column.",
        ),
        (
            ["Email", "Company", "Mobile", "Country", "Country\u00a0"],
            "leads.csv: column 'Country' (for field phone) appears 2 times in the header "
            "(columns D, E). Rename one of them in the file, or map a different column.",
        ),
    ],
)
def test_bind_duplicate_header_used_by_the_mapping(headers: list[str], message: str) -> None:
    assert bind_error(FULL, headers) == message


def test_bind_duplicate_header_not_used_is_fine() -> None:
    b = bound(FULL, ["Email", "Note", "Company", "Mobile", "Country", "note", "", ""])
    assert [f.index for f in b.fields] == [0, 2, 3]


@pytest.mark.parametrize("path", sorted(Path(__file__).parent.parent.glob("mappings/*.toml")))
def test_every_example_mapping_is_valid(path: Path) -> None:
    mapping = load_mapping(path)
    assert mapping.spec("email") is not None
