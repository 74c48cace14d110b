"""The mapping as the page shows it: one line per source column (its sample values, the
target field it feeds, the type and the update rule), and the edits a person makes there
written back into the TOML with tomlkit, so the suggestion's comments stay. The TOML is
the truth: the table is read from it, and checked with the same parser and binder a run
uses."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import tomlkit
import tomlkit.exceptions
from tomlkit.items import InlineTable, Table

from importer.errors import ImporterError, UsageError
from importer.mapping import Mapping
from importer.mapping.bind import bind
from importer.mapping.model import (
    FIELD_TYPES,
    UPDATE_RULES,
    header_key,
    implied_type,
    target_fields,
)
from importer.mapping.parse import parse_mapping
from importer.settings import Target

NESTED = ("customFields", "marketingConsent")


@dataclass(frozen=True)
class ColumnLine:
    column: str
    examples: tuple[str, ...]
    field: str  # "" when the column is not imported
    type: str
    update: str
    editable: bool  # False: the column feeds its field in a way only the TOML can say
    note: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Checked:
    """The TOML read: its lines, or the error a run would print (and the same next step)."""

    mapping: Mapping | None
    lines: tuple[ColumnLine, ...]
    error: str | None


def choices(target: Target) -> dict[str, list[str]]:
    """What the page offers in its lists (a Minimo custom field is typed in)."""
    fields = list(target_fields(target))
    if target == "minimo":
        fields.append("customFields.")
    return {"fields": fields, "types": list(FIELD_TYPES), "updates": list(UPDATE_RULES)}


def check(text: str, headers: Sequence[str], examples: Sequence[Sequence[str]]) -> Checked:
    """The mapping parsed and bound to the file's headers, and the table's lines."""
    mapping = None
    error = None
    try:
        doc = tomllib.loads(text)
        mapping = parse_mapping(doc, text, where="the mapping")
        bind(mapping, headers, where="the mapping")
    except tomllib.TOMLDecodeError as exc:
        error = f"The mapping is not valid TOML: {exc}. Correct it in the TOML beside the table."
    except ImporterError as exc:
        error = exc.paragraph()
    lines = tuple(_line(mapping, h, tuple(examples[i])) for i, h in enumerate(headers))
    return Checked(mapping, lines, error)


def _line(mapping: Mapping | None, header: str, examples: tuple[str, ...]) -> ColumnLine:
    key = header_key(header)
    if mapping is None:
        return ColumnLine(header, examples, "", "", "always", False, "")
    for spec in mapping.fields:
        keys = [header_key(c) for c in spec.columns]
        if key in keys:
            editable = len(keys) == 1 and not spec.first_of
            note = ""
            if spec.first_of:
                note = f"one of first_of ({', '.join(spec.columns)}): edit it in the TOML"
            elif len(keys) > 1:
                note = f"one of the alternatives {', '.join(spec.columns)}: edit it in the TOML"
            return ColumnLine(header, examples, spec.name, spec.type, spec.update, editable, note)
    for spec in mapping.fields:
        if key in (header_key(c) for c in spec.region_columns):
            note = f"the country of {spec.name} (region_column): edit it in the TOML"
            return ColumnLine(header, examples, "", "", "always", False, note)
    for rule in mapping.lists:
        if key in (header_key(c) for c in rule.columns):
            note = f"subscribes to list {rule.list_id!r} (lists): edit it in the TOML"
            return ColumnLine(header, examples, "", "", rule.update, False, note)
    return ColumnLine(header, examples, "", "", "always", True, "not imported")


def edit(text: str, target: Target, column: str, field: str, type_: str, update: str) -> str:
    """The TOML with `column` feeding `field` (none: not imported) with this type and rule;
    the field's other settings (values, format, default…) stay, another column feeding
    `field` before gives it up."""
    try:
        doc = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        raise UsageError(
            f"The mapping beside the table is not valid TOML: {exc}.",
            "Correct it there and press Apply, then change the table.",
        ) from None
    if "fields" not in doc:
        doc["fields"] = tomlkit.table()
    fields = doc["fields"]
    assert isinstance(fields, Table)
    for name, container, key in list(_entries(fields)):
        if _feeds(container[key], column) and name != field:
            del container[key]
    if field:
        found = next(((c, k) for n, c, k in _entries(fields) if n == field), None)
        entry = _inline(found[0][found[1]] if found else None)
        for gone in ("value", "first_of"):
            entry.pop(gone, None)
        entry["column"] = column
        _set(entry, "type", type_ if type_ and type_ != _default_type(target, field) else None)
        _set(entry, "update", update if update and update != "always" else None)
        value: Any = column if list(entry) == ["column"] else entry
        if found:
            found[0][found[1]] = value
        else:
            fields[field] = value
    return tomlkit.dumps(doc)


def _entries(fields: Table) -> list[tuple[str, Any, str]]:
    """(field name, its container, its key) of every entry, nested tables included."""
    found: list[tuple[str, Any, str]] = []
    for key, value in list(fields.items()):
        if key in NESTED and isinstance(value, Table | InlineTable | dict):
            found.extend((f"{key}.{inner}", value, inner) for inner in list(value))
        else:
            found.append((key, fields, key))
    return found


def _feeds(entry: Any, column: str) -> bool:
    """Whether this entry reads exactly `column` (alone, not among alternatives)."""
    if isinstance(entry, str):
        return header_key(entry) == header_key(column)
    if isinstance(entry, dict) and isinstance(entry.get("column"), str):
        return header_key(str(entry["column"])) == header_key(column)
    return False


def _inline(entry: Any) -> InlineTable:
    table = tomlkit.inline_table()
    if isinstance(entry, dict):
        table.update({k: v for k, v in entry.items()})
    return table


def _set(entry: InlineTable, key: str, value: str | None) -> None:
    if value is None:
        entry.pop(key, None)
    else:
        entry[key] = value


def _default_type(target: Target, field: str) -> str:
    return implied_type(target, field) or "string"
