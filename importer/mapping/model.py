"""What a mapping is, once read: its options and fields, the target fields each API takes,
and the fields bound to a file's columns."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from importer.settings import Target

FieldType = Literal["string", "number", "bool", "datetime", "json", "country"]
# when a field's value is sent to a contact that exists (SPEC §9)
UpdateRule = Literal["always", "if_empty", "on_create", "protect_opt_out"]
UPDATE_RULES: tuple[UpdateRule, ...] = ("always", "if_empty", "on_create", "protect_opt_out")
FIELD_TYPES: tuple[FieldType, ...] = ("string", "number", "bool", "datetime", "json", "country")
# types that send text: they fit a field the API takes as a string
TEXT_TYPES = ("string", "country")

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
SPEC_KEYS = frozenset(
    [
        "column",
        "first_of",
        "value",
        "on_invalid",
        "type",
        "format",
        "values",
        "default",
        "optional",
        "region_column",
        "region_values",
        "update",
    ]
)
SPACES = re.compile(r"[\s\u00a0\ufeff\u200b]+")


def header_key(name: str) -> str:
    """How headers are compared: case-insensitive, surrounding spaces, BOM and NBSP ignored."""
    return SPACES.sub(" ", name).strip().casefold()


@dataclass(frozen=True)
class Options:
    default_region: str | None = None
    on_invalid_phone: Literal["drop", "error"] = "drop"
    empty: Literal["omit", "clear"] = "omit"
    decimal: Literal[",", "."] | None = None
    timezone: str = "UTC"
    phone_type: Literal["any", "mobile"] = "any"  # "mobile": only numbers WhatsApp can reach
    # Minimo: "protect": a new email's phone is set after the contact is created, so that
    # Minimo's match by phone never takes over another contact (SPEC §9)
    phone_match: Literal["allow", "protect"] = "allow"
    snapshot: bool = False  # every row looked up first: what undo needs to restore it


@dataclass(frozen=True)
class FieldSpec:
    """One target field and where its value comes from: `columns` are alternatives (the
    first present in the header is read), or with `first_of` all read, and per row the first
    cell that gives a valid value wins."""

    name: str
    columns: tuple[str, ...] = ()
    constant: Any = None
    type: FieldType = "string"
    formats: tuple[str, ...] = ()  # strptime formats; a cell two read differently is invalid
    first_of: bool = False
    # "drop": sent without it, with a warning; None: "error", but a phone follows the option
    # on_invalid_phone
    on_invalid: Literal["error", "drop"] | None = None
    values: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    default: Any = None
    optional: bool = False
    region_columns: tuple[str, ...] = ()
    region_values: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    update: UpdateRule = "always"


@dataclass(frozen=True)
class ListRule:
    """Notifuse: rows whose `column` cell is a true bool are subscribed to list `list_id`."""

    columns: tuple[str, ...]
    list_id: str
    values: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    update: UpdateRule = "always"


@dataclass(frozen=True)
class Mapping:
    target: Target
    options: Options
    fields: tuple[FieldSpec, ...]
    text: str
    lists: tuple[ListRule, ...] = ()

    def spec(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class BoundField:
    """A field resolved against the headers: the cell index to read (None: constant/absent);
    with `first_of`, every column's (`sources`: index and header, in the mapping's order)."""

    spec: FieldSpec
    index: int | None
    column: str
    region_index: int | None = None
    region_column: str = ""  # as the header writes it
    sources: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class BoundList:
    rule: ListRule
    index: int
    column: str


@dataclass(frozen=True)
class BoundMapping:
    mapping: Mapping
    headers: tuple[str, ...]
    fields: tuple[BoundField, ...]
    lists: tuple[BoundList, ...] = ()

    def get(self, name: str) -> BoundField | None:
        return next((f for f in self.fields if f.spec.name == name), None)


def target_fields(target: Target) -> dict[str, FieldType]:
    return MINIMO_FIELDS if target == "minimo" else NOTIFUSE_FIELDS


def implied_type(target: Target, name: str) -> FieldType | None:
    """The type the API fixes for a field, or None where any type is accepted."""
    if target == "minimo" and name.startswith("customFields."):
        return None
    return target_fields(target).get(name)


def valid_names(target: Target) -> str:
    names = list(target_fields(target))
    if target == "minimo":
        names.append("customFields.<any key>")
    return ", ".join(names)
