"""Minimo's custom-field definitions (SPEC §8), read once a run: a mapped key that matches
no definition is named with the closest defined key (a typo would create a junk field in
the account), a value its field's type contradicts makes the row `error` before it is
sent, and `--create-fields` defines the missing keys first."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson

from importer.cells import quoted
from importer.journal import Journal
from importer.lookups.compare import shown
from importer.mapping import Mapping
from importer.sending.client import ApiClient, error_text

PATH = "/public/v1/custom-fields"
PREFIX = "customFields."
# the mapping's type → the definition's type --create-fields gives a key
CREATED_TYPES = {"number": "number", "bool": "boolean", "datetime": "datetime", "json": "json"}
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")


@dataclass(frozen=True)
class Definition:
    key: str  # as the account spells it (upper-cased by the server)
    type: str


@dataclass(frozen=True)
class FieldCheck:
    """The mapping's custom fields against the account's definitions."""

    typed: dict[str, Definition]  # mapped key → its definition, where the type is checked
    missing: tuple[str, ...]  # mapped keys no definition matches
    notes: tuple[str, ...]


async def definitions(client: ApiClient) -> list[Definition] | str:
    """The account's definitions, or why they could not be read."""
    reply = await client.call("GET", PATH)
    body = reply.body
    found = body.get("data", body.get("custom_fields")) if isinstance(body, dict) else body
    if reply.status != 200 or not isinstance(found, list):
        return error_text(reply.status, reply.body, reply.text)
    return [
        Definition(str(d["key"]), str(d.get("type") or "text"))
        for d in found
        if isinstance(d, dict) and d.get("key")
    ]


def check(mapping: Mapping, defined: list[Definition]) -> FieldCheck:
    by_key = {d.key.casefold(): d for d in defined}
    typed: dict[str, Definition] = {}
    missing: list[str] = []
    named: list[str] = []
    for spec in mapping.fields:
        if not spec.name.startswith(PREFIX):
            continue
        key = spec.name.removeprefix(PREFIX)
        definition = by_key.get(key.casefold())
        if definition is not None:
            if definition.type in CHECKED:
                typed[key] = definition
            continue
        missing.append(key)
        close = difflib.get_close_matches(key.upper(), [d.key for d in defined], n=1, cutoff=0.6)
        named.append(spec.name + (f" (closest defined: {close[0]})" if close else ""))
    notes = []
    if named:
        some = "a custom field" if len(named) == 1 else "custom fields"
        notes.append(
            f"{some} the account does not define: {', '.join(named)}; Minimo would create "
            f"{'it' if len(named) == 1 else 'them'} as sent (--create-fields defines "
            f"{'it' if len(named) == 1 else 'them'} first)"
        )
    return FieldCheck(typed, tuple(missing), tuple(notes))


def refuse_contradicting(journal: Journal, typed: dict[str, Definition]) -> int:
    """Rows whose value contradicts its field's defined type become `error`; how many."""
    if not typed:
        return 0
    errors: list[tuple[int, str]] = []
    for page in journal.pending(2000):
        for row in page:
            payload = orjson.loads(row.payload)
            sent = payload.get("customFields") or {}
            why = [
                f"customFields.{key}: {quoted(shown(sent[key]))} is not {_ARTICLE[d.type]} "
                f"(the account defines {d.key} as {d.type})"
                for key, d in typed.items()
                if key in sent and not CHECKED[d.type](sent[key])
            ]
            if why:
                errors.append((row.row, "; ".join(why)))
    journal.refuse(errors)
    return len(errors)


async def create(client: ApiClient, mapping: Mapping, keys: tuple[str, ...]) -> list[str]:
    """Define the missing keys (type from the mapping's, else text); notes of what was done."""
    notes = []
    for key in keys:
        spec = mapping.spec(PREFIX + key)
        kind = CREATED_TYPES.get(spec.type if spec else "string", "text")
        reply = await client.call(
            "POST", PATH, content=orjson.dumps({"key": key, "displayName": key, "type": kind})
        )
        if reply.status in (200, 201):
            notes.append(f"custom field {key.upper()} created ({kind})")
        else:
            why = error_text(reply.status, reply.body, reply.text)
            notes.append(f"custom field {key.upper()} not created: {why}")
    return notes


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int | float) or (
        isinstance(value, str) and _NUMBER.fullmatch(value.strip()) is not None
    )


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or (
        isinstance(value, str) and value.strip().lower() in ("true", "false")
    )


def _is_date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    text = value.strip().replace("Z", "+00:00")
    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            parse(text)
        except ValueError:
            continue
        return True
    return False


CHECKED = {"number": _is_number, "boolean": _is_bool, "date": _is_date, "datetime": _is_date}
_ARTICLE = {
    "number": "a number",
    "boolean": "a boolean",
    "date": "a date",
    "datetime": "a date and time",
}
