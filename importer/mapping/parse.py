"""A mapping file (SPEC §3) read: TOML → a frozen `Mapping`; every fault is a MappingError
naming the file and what to write instead."""

from __future__ import annotations

import difflib
import tomllib
import zoneinfo
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

import phonenumbers

from importer.countries import country_key
from importer.errors import MappingError
from importer.mapping.model import (
    FIELD_TYPES,
    SPEC_KEYS,
    TEXT_TYPES,
    UPDATE_RULES,
    FieldSpec,
    FieldType,
    ListRule,
    Mapping,
    Options,
    UpdateRule,
    header_key,
    implied_type,
    target_fields,
    valid_names,
)
from importer.settings import TARGETS, Target


def load_mapping(path: Path, target_override: Target | None = None) -> Mapping:
    """Read and validate a mapping file; every fault is a MappingError naming the file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MappingError(
            f"Mapping file {path} does not exist.", "Check the --mapping path."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"Mapping file {path} cannot be read: {exc}.") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"Mapping file {path} is not valid TOML: {exc}.") from None
    return parse_mapping(doc, text, where=str(path), target_override=target_override)


def parse_mapping(
    doc: dict[str, Any], text: str, where: str, target_override: Target | None = None
) -> Mapping:
    unknown = set(doc) - {"target", "options", "fields", "lists"}
    if unknown:
        raise MappingError(
            f"{where}: unknown top-level key(s) {', '.join(sorted(unknown))}.",
            "A mapping has `target`, [options], [fields] and, for Notifuse, `lists`.",
        )
    target = target_override or doc.get("target")
    if target not in TARGETS:
        raise MappingError(
            f'{where}: target must be "minimo" or "notifuse" (got {target!r}).',
            'Set `target = "minimo"` in the mapping or pass --target.',
        )
    target = cast(Target, target)
    options = _parse_options(doc.get("options", {}), where)
    raw_fields = doc.get("fields")
    if not isinstance(raw_fields, dict) or not raw_fields:
        raise MappingError(f"{where}: the [fields] table is missing or empty.")
    fields = tuple(_parse_field(name, raw, target, where) for name, raw in _flatten(raw_fields))
    if not any(f.name == "email" for f in fields):
        raise MappingError(
            f"{where}: no `email` field. Both APIs identify a contact by email.",
            'Add e.g. email = "Email" under [fields].',
        )
    if options.phone_match == "protect" and target != "minimo":
        raise MappingError(
            f'{where}: phone_match = "protect" is for Minimo (Notifuse never matches by phone).',
        )
    if options.empty == "clear" and target == "minimo":
        raise MappingError(
            f'{where}: empty = "clear" is only for Notifuse (Minimo cannot clear a field).',
        )
    lists = _parse_lists(doc.get("lists"), target, where)
    return Mapping(target, options, fields, text, lists)


def _parse_lists(raw: Any, target: Target, where: str) -> tuple[ListRule, ...]:
    """`lists = { column = "Newsletter", list = "newsletter" }`, or several as [[lists]]."""
    if raw is None:
        return ()
    if target != "notifuse":
        raise MappingError(
            f"{where}: `lists` is for Notifuse; Minimo keeps consent in its contacts.",
            'Map the consent column to "marketingConsent.email" instead.',
        )
    entries = raw if isinstance(raw, list) else [raw]
    rules = []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) - {"column", "list", "values", "update"}:
            raise MappingError(
                f"{where}: each of `lists` is a table with `column`, `list` and optionally "
                "`values` and `update`.",
                'e.g. lists = { column = "Newsletter", list = "newsletter" }',
            )
        list_id = entry.get("list")
        if not isinstance(list_id, str) or not list_id.strip() or "column" not in entry:
            raise MappingError(
                f"{where}: a `lists` entry needs `column` (the consent column) and `list` "
                "(the Notifuse list's id).",
                'e.g. lists = { column = "Newsletter", list = "newsletter" }',
            )
        values = entry.get("values", {})
        if not isinstance(values, dict) or not all(isinstance(v, bool) for v in values.values()):
            raise MappingError(f"{where}: a list's `values` maps cell text to true or false.")
        rules.append(
            ListRule(
                _columns(entry["column"], f"{where}: the column of list {list_id!r}"),
                list_id.strip(),
                MappingProxyType({header_key(str(k)): v for k, v in values.items()}),
                _update(entry, f"{where}: list {list_id!r}", "bool"),
            )
        )
    return tuple(rules)


_TABLES = ("customFields", "marketingConsent")


def _flatten(table: dict[str, Any]) -> list[tuple[str, Any]]:
    """Accept both `"customFields.x" = ...` and a [fields.customFields] sub-table."""
    out: list[tuple[str, Any]] = []
    for key, raw in table.items():
        if key in _TABLES and isinstance(raw, dict):
            out.extend((f"{key}.{sub}", value) for sub, value in raw.items())
        else:
            out.append((key, raw))
    return out


def _parse_options(raw: Any, where: str) -> Options:
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: [options] must be a table.")
    known = {
        "default_region", "on_invalid_phone", "empty", "decimal", "timezone", "phone_type",
        "phone_match", "snapshot",
    }  # fmt: skip
    unknown = set(raw) - known
    if unknown:
        raise MappingError(
            f"{where}: unknown option(s) {', '.join(sorted(unknown))}.",
            f"Valid options: {', '.join(sorted(known))}.",
        )
    region = raw.get("default_region")
    if region is not None:
        region = str(region).upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise MappingError(
                f"{where}: default_region {raw['default_region']!r} is not an ISO 3166-1 "
                "alpha-2 country code.",
                'Use e.g. "IT", "CH", "GB".',
            )
    choices: dict[str, tuple[Any, ...]] = {
        "on_invalid_phone": ("drop", "error"),
        "empty": ("omit", "clear"),
        "decimal": (",", "."),
        "phone_type": ("any", "mobile"),
        "phone_match": ("allow", "protect"),
        "snapshot": (True, False),
    }
    for key, allowed in choices.items():
        if key in raw and raw[key] not in allowed:
            raise MappingError(
                f"{where}: option {key} = {raw[key]!r} is not valid.",
                f"Use one of {', '.join(repr(a) for a in allowed)}.",
            )
    tz = raw.get("timezone", "UTC")
    try:
        zoneinfo.ZoneInfo(str(tz))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise MappingError(
            f"{where}: timezone {tz!r} is not a known IANA time zone.",
            'Use e.g. "Europe/Rome" or "UTC".',
        ) from None
    return Options(
        default_region=region,
        on_invalid_phone=raw.get("on_invalid_phone", "drop"),
        empty=raw.get("empty", "omit"),
        decimal=raw.get("decimal"),
        timezone=str(tz),
        phone_type=raw.get("phone_type", "any"),
        phone_match=raw.get("phone_match", "allow"),
        snapshot=raw.get("snapshot", False),
    )


def _columns(raw: Any, what: str) -> tuple[str, ...]:
    if isinstance(raw, str) and raw.strip():
        return (raw,)
    if isinstance(raw, list) and raw and all(isinstance(c, str) and c.strip() for c in raw):
        return tuple(raw)
    raise MappingError(f"{what} must be a column name or a list of column names.")


def _parse_field(name: str, raw: Any, target: Target, where: str) -> FieldSpec:
    what = f"{where}: field {name!r}"
    if name not in target_fields(target) and not (
        target == "minimo" and name.startswith("customFields.") and len(name) > 13
    ):
        close = difflib.get_close_matches(name, list(target_fields(target)), n=1)
        maybe = f" Did you mean {close[0]!r}?" if close else ""
        raise MappingError(
            f"{what} is not a {target.capitalize()} field.{maybe}",
            f"Valid fields: {valid_names(target)}.",
        )
    if not isinstance(raw, dict):
        raw = {"column": raw}
    unknown = set(raw) - SPEC_KEYS
    if unknown:
        raise MappingError(
            f"{what} has unknown key(s) {', '.join(sorted(unknown))}.",
            f"Valid keys: {', '.join(sorted(SPEC_KEYS))}.",
        )
    if sum(key in raw for key in ("column", "first_of", "value")) != 1:
        raise MappingError(f"{what} needs exactly one of `column`, `first_of` or `value`.")
    on_invalid = raw.get("on_invalid")
    if on_invalid not in (None, "error", "drop"):
        raise MappingError(
            f"{what}: on_invalid = {on_invalid!r} is not valid.",
            'Use "error" (the row is an error) or "drop" (sent without this field, warned).',
        )
    implied = implied_type(target, name)
    declared = raw.get("type")
    if declared is not None and declared not in FIELD_TYPES:
        raise MappingError(f"{what}: type {declared!r} is not one of {', '.join(FIELD_TYPES)}.")
    fits = declared == implied or (declared in TEXT_TYPES and implied == "string")
    if declared is not None and implied is not None and not fits:
        raise MappingError(
            f"{what}: type {declared!r} does not fit; "
            f"{target.capitalize()} takes a {implied} here.",
            f'Remove `type` or set type = "{implied}".',
        )
    ftype = cast(FieldType, declared or implied or "string")
    values = raw.get("values", {})
    if not isinstance(values, dict):
        raise MappingError(f"{what}: `values` must be a table of cell text = value.")
    region_values = raw.get("region_values", {})
    if not isinstance(region_values, dict) or not all(
        str(v).upper() in phonenumbers.SUPPORTED_REGIONS for v in region_values.values()
    ):
        raise MappingError(f"{what}: region_values must map cell text to ISO country codes.")
    if ("region_column" in raw or region_values) and name not in ("phone",):
        raise MappingError(f"{what}: region_column is only for the phone field.")
    fmt = raw.get("format")
    formats = (fmt,) if isinstance(fmt, str) else tuple(fmt) if isinstance(fmt, list) else None
    if fmt is not None and (
        ftype != "datetime" or not formats or not all(isinstance(f, str) and f for f in formats)
    ):
        raise MappingError(
            f"{what}: `format` is a strptime format (or a list of them) for datetime fields only."
        )
    if on_invalid is None and ftype == "country":  # an unknown country is left out, warned
        on_invalid = "drop"
    update = _update(raw, what, ftype)
    if name == "email" and update != "always":
        raise MappingError(f"{what}: the email identifies the contact; it has no update rule.")
    source = raw.get("column", raw.get("first_of"))
    return FieldSpec(
        name=name,
        columns=_columns(source, what) if source is not None else (),
        constant=raw.get("value"),
        type=ftype,
        formats=formats or (),
        first_of="first_of" in raw,
        on_invalid=on_invalid,
        values=MappingProxyType({header_key(str(k)): v for k, v in values.items()}),
        default=raw.get("default"),
        optional=bool(raw.get("optional", False)),
        region_columns=_columns(raw["region_column"], what) if "region_column" in raw else (),
        region_values=MappingProxyType(
            {country_key(str(k)): str(v).upper() for k, v in region_values.items()}
        ),
        update=update,
    )


def _update(raw: dict[str, Any], what: str, ftype: str) -> UpdateRule:
    """`update` (SPEC §9): when a value is sent to a contact that exists."""
    rule = raw.get("update", "always")
    if rule not in UPDATE_RULES:
        raise MappingError(
            f"{what}: update = {rule!r} is not valid.",
            f"Use one of {', '.join(repr(r) for r in UPDATE_RULES)}.",
        )
    if rule == "protect_opt_out" and ftype != "bool":
        raise MappingError(
            f'{what}: update = "protect_opt_out" is for consent (bool) fields.',
            'Use "if_empty" or "on_create" to keep a value an existing contact has.',
        )
    return cast(UpdateRule, rule)
