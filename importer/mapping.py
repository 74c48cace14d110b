"""Mapping files (SPEC §3): TOML → a frozen `Mapping`, then bound to a source's headers.

Everything that can be wrong with a mapping is found here, before a row is read or sent,
and reported with what the file actually has (its headers, the closest match).
"""

from __future__ import annotations

import difflib
import re
import tomllib
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast

import phonenumbers

from importer.countries import country_key
from importer.errors import MappingError
from importer.settings import TARGETS, Target

FieldType = Literal["string", "number", "bool", "datetime", "json", "country"]
FIELD_TYPES: tuple[FieldType, ...] = ("string", "number", "bool", "datetime", "json", "country")
# types that send text: they fit a field the API takes as a string
_TEXT_TYPES = ("string", "country")

_NOTIFUSE_STRINGS = [
    "external_id",
    "timezone",
    "language",
    "first_name",
    "last_name",
    "full_name",
    "phone",
    "address_line_1",
    "address_line_2",
    "country",
    "postcode",
    "state",
    "job_title",
] + [f"custom_string_{i}" for i in range(1, 6)]
NOTIFUSE_FIELDS: dict[str, FieldType] = {
    "email": "string",
    **{name: "string" for name in _NOTIFUSE_STRINGS},
    **{f"custom_number_{i}": "number" for i in range(1, 6)},
    **{f"custom_datetime_{i}": "datetime" for i in range(1, 6)},
    **{f"custom_json_{i}": "json" for i in range(1, 6)},
}
MINIMO_FIELDS: dict[str, FieldType] = {
    "email": "string",
    "phone": "string",
    "marketingConsent.email": "bool",
    "marketingConsent.whatsapp": "bool",
}
_SPEC_KEYS = frozenset(
    [
        "column",
        "value",
        "type",
        "format",
        "values",
        "default",
        "optional",
        "region_column",
        "region_values",
    ]
)
_WS = re.compile(r"[\s\u00a0\ufeff\u200b]+")


def header_key(name: str) -> str:
    """How headers are compared: case-insensitive, surrounding spaces, BOM and NBSP ignored."""
    return _WS.sub(" ", name).strip().casefold()


@dataclass(frozen=True)
class Options:
    default_region: str | None = None
    on_invalid_phone: Literal["drop", "error"] = "drop"
    empty: Literal["omit", "clear"] = "omit"
    decimal: Literal[",", "."] | None = None
    timezone: str = "UTC"


@dataclass(frozen=True)
class FieldSpec:
    """One target field and where its value comes from."""

    name: str
    columns: tuple[str, ...] = ()
    constant: Any = None
    type: FieldType = "string"
    format: str | None = None
    values: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    default: Any = None
    optional: bool = False
    region_columns: tuple[str, ...] = ()
    region_values: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Mapping:
    target: Target
    options: Options
    fields: tuple[FieldSpec, ...]
    text: str

    def spec(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class BoundField:
    """A field resolved against the headers: the cell index to read (None: constant/absent)."""

    spec: FieldSpec
    index: int | None
    column: str
    region_index: int | None = None
    region_column: str = ""  # as the header writes it


@dataclass(frozen=True)
class BoundMapping:
    mapping: Mapping
    headers: tuple[str, ...]
    fields: tuple[BoundField, ...]

    def get(self, name: str) -> BoundField | None:
        return next((f for f in self.fields if f.spec.name == name), None)


def target_fields(target: Target) -> dict[str, FieldType]:
    return MINIMO_FIELDS if target == "minimo" else NOTIFUSE_FIELDS


def _implied_type(target: Target, name: str) -> FieldType | None:
    """The type the API fixes for a field, or None where any type is accepted."""
    if target == "minimo" and name.startswith("customFields."):
        return None
    return target_fields(target).get(name)


def _valid_names(target: Target) -> str:
    names = list(target_fields(target))
    if target == "minimo":
        names.append("customFields.<any key>")
    return ", ".join(names)


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
    unknown = set(doc) - {"target", "options", "fields"}
    if unknown:
        raise MappingError(
            f"{where}: unknown top-level key(s) {', '.join(sorted(unknown))}.",
            "A mapping has `target`, [options] and [fields].",
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
    if options.empty == "clear" and target == "minimo":
        raise MappingError(
            f'{where}: empty = "clear" is only for Notifuse (Minimo cannot clear a field).',
        )
    return Mapping(target, options, fields, text)


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
    known = {"default_region", "on_invalid_phone", "empty", "decimal", "timezone"}
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
            f"Valid fields: {_valid_names(target)}.",
        )
    if not isinstance(raw, dict):
        raw = {"column": raw}
    unknown = set(raw) - _SPEC_KEYS
    if unknown:
        raise MappingError(
            f"{what} has unknown key(s) {', '.join(sorted(unknown))}.",
            f"Valid keys: {', '.join(sorted(_SPEC_KEYS))}.",
        )
    if ("column" in raw) == ("value" in raw):
        raise MappingError(f"{what} needs exactly one of `column` or `value`.")
    implied = _implied_type(target, name)
    declared = raw.get("type")
    if declared is not None and declared not in FIELD_TYPES:
        raise MappingError(f"{what}: type {declared!r} is not one of {', '.join(FIELD_TYPES)}.")
    fits = declared == implied or (declared in _TEXT_TYPES and implied == "string")
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
    if fmt is not None and (ftype != "datetime" or not isinstance(fmt, str)):
        raise MappingError(f"{what}: `format` is a strptime format for datetime fields only.")
    return FieldSpec(
        name=name,
        columns=_columns(raw["column"], what) if "column" in raw else (),
        constant=raw.get("value"),
        type=ftype,
        format=fmt,
        values=MappingProxyType({header_key(str(k)): v for k, v in values.items()}),
        default=raw.get("default"),
        optional=bool(raw.get("optional", False)),
        region_columns=_columns(raw["region_column"], what) if "region_column" in raw else (),
        region_values=MappingProxyType(
            {country_key(str(k)): str(v).upper() for k, v in region_values.items()}
        ),
    )


def bind(mapping: Mapping, headers: Sequence[str], where: str) -> BoundMapping:
    """Resolve every column name to a cell index; a missing or ambiguous column is an error."""
    keys: dict[str, list[int]] = {}
    for i, h in enumerate(headers):
        keys.setdefault(header_key(h), []).append(i)

    def find(columns: tuple[str, ...], spec: FieldSpec, optional: bool) -> tuple[int | None, str]:
        for col in columns:
            hits = keys.get(header_key(col))
            if hits and len(hits) > 1:
                raise MappingError(
                    f"{where}: column {col!r} (for {spec.name}) appears {len(hits)} times in the "
                    f"header (columns {', '.join(_letter(i) for i in hits)}).",
                    "Rename one of them in the file, or map a different column.",
                )
            if hits:
                return hits[0], _WS.sub(" ", headers[hits[0]]).strip()
        if optional:
            return None, columns[0]
        shown = [h for h in headers if h.strip()]
        close = difflib.get_close_matches(
            header_key(columns[0]), [header_key(h) for h in shown], n=1, cutoff=0.5
        )
        maybe = ""
        if close:
            maybe = f" Closest match: {next(h for h in shown if header_key(h) == close[0])!r}."
        wanted = " or ".join(repr(c) for c in columns)
        raise MappingError(
            f"{where}: no column {wanted} for field {spec.name}.{maybe} "
            f"The file's headers are: {', '.join(repr(h) for h in shown)}.",
            "Fix the column name in the mapping, or mark the field optional = true.",
        )

    bound: list[BoundField] = []
    for spec in mapping.fields:
        if not spec.columns:
            bound.append(BoundField(spec, None, ""))
            continue
        index, column = find(spec.columns, spec, spec.optional)
        region_index, region_column = None, ""
        if spec.region_columns:
            region_index, region_column = find(spec.region_columns, spec, False)
        bound.append(BoundField(spec, index, column, region_index, region_column))
    return BoundMapping(mapping, tuple(headers), tuple(bound))


def _letter(index: int) -> str:
    """Excel's column letter, as people see it."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out
