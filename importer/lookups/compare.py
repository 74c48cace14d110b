"""What a write would change on a contact: each field the row sends whose value differs from
the contact's, as `field: old → new` (SPEC §8). Values are compared as the API keeps
them: a number sent as text equals the number, an instant written two ways is one instant,
Minimo's custom-field keys match ignoring case (the server upper-cases them)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import orjson

from importer.cells import QUOTE_LIMIT
from importer.settings import Target

EMPTY = "(empty)"
SUBSCRIBED = ("active", "pending")  # Notifuse list statuses that are a subscription


def contact_of(target: Target, body: Any) -> dict[str, Any] | None:
    """The contact in a look-up's answer (Minimo: bare or under `data`; Notifuse: under
    `contact`), or None when the answer holds none."""
    if not isinstance(body, dict):
        return None
    inner = body.get("data" if target == "minimo" else "contact", body)
    return inner if isinstance(inner, dict) and "email" in inner else None


def changes(
    target: Target, payload: dict[str, Any], lists: Iterable[str], contact: dict[str, Any]
) -> list[str]:
    """`field: old → new` for each value of `payload` (and each list in `lists`) that the
    contact does not already have."""
    have = dict(fields_of(target, contact, folded=True))
    found = []
    for name, new in fields_of(target, payload, folded=False):
        if name == "email":
            continue
        old = have.get(name.casefold())
        if not same(old, new):
            found.append(f"{name}: {shown(old)} → {shown(new)}")
    member = memberships(contact)
    for name in lists:
        status = member.get(name)
        if status not in SUBSCRIBED:
            found.append(f"list {name}: {status or EMPTY} → subscribed")
    return found


def fields_of(target: Target, values: dict[str, Any], folded: bool) -> Iterator[tuple[str, Any]]:
    """(name, value) of a contact or payload as the mapping names fields: Minimo's nested
    objects as `customFields.KEY` and `marketingConsent.channel`; `folded`: names
    case-folded (a contact's, compared ignoring case)."""
    for key, value in values.items():
        if target == "minimo" and key in ("customFields", "marketingConsent"):
            pairs = [(f"{key}.{inner}", item) for inner, item in (value or {}).items()]
        elif target == "notifuse" or key in ("email", "phone"):
            pairs = [(key, value)]
        else:
            continue
        for name, item in pairs:
            yield (name.casefold() if folded else name), item


def snapshot(
    target: Target, contact: dict[str, Any], payload: dict[str, Any], lists: list[str]
) -> dict[str, Any]:
    """The contact's values of what the row writes (and its id, email and creation date),
    as they were before the write: what `changes` and undo read. A field it had no value
    for is absent. Kept per row looked up: a few hundred bytes, not the whole contact."""
    keep = {name.casefold() for name, _ in fields_of(target, payload, folded=False)}
    kept: dict[str, Any] = {
        k: contact[k] for k in ("id", "email", "created_at") if contact.get(k) is not None
    }
    for key, value in contact.items():
        if target == "minimo" and key in ("customFields", "marketingConsent"):
            inner = {k: v for k, v in (value or {}).items() if f"{key}.{k}".casefold() in keep}
            if inner:
                kept[key] = inner
        elif key.casefold() in keep and not is_empty(value):
            kept[key] = value
    wanted = set(lists)
    members = [
        m for m in contact.get("contact_lists") or [] if isinstance(m, dict)
        and m.get("list_id") in wanted
    ]  # fmt: skip
    if members:
        kept["contact_lists"] = members
    return kept


def memberships(contact: dict[str, Any]) -> dict[str, str]:
    found = contact.get("contact_lists") or []
    return {
        str(m.get("list_id")): str(m.get("status") or "active")
        for m in found
        if isinstance(m, dict)
    }


def same(old: Any, new: Any) -> bool:
    """The contact's value `old` equals the value `new` the row sends, as the API keeps it."""
    if is_empty(old) or is_empty(new):
        return is_empty(old) and is_empty(new)
    if old == new and type(old) is type(new):
        return True
    if isinstance(old, bool) or isinstance(new, bool):
        return str(old).lower() == str(new).lower()
    numbers = _number(old), _number(new)
    if numbers[0] is not None and numbers[1] is not None:
        return math.isclose(numbers[0], numbers[1], rel_tol=1e-12, abs_tol=0.0)
    if isinstance(old, dict | list) or isinstance(new, dict | list):
        return orjson.dumps(old, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
            new, option=orjson.OPT_SORT_KEYS
        )
    instants = instant(old), instant(new)
    if instants[0] is not None and instants[1] is not None:
        return instants[0] == instants[1]
    return str(old) == str(new)


def shown(value: Any) -> str:
    """A value as `changes` writes it: text as it is, `(empty)` for none, JSON compact;
    at most QUOTE_LIMIT characters."""
    if is_empty(value):
        return EMPTY
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, dict | list):
        text = orjson.dumps(value).decode()
    else:
        text = str(value)
    return text if len(text) <= QUOTE_LIMIT else text[:QUOTE_LIMIT] + "…"


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == {} or value == []


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value.strip():
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def instant(value: Any) -> datetime | None:
    """An ISO 8601 date-time written as text, or None."""
    if not isinstance(value, str) or len(value) < 10 or not value[:4].isdigit():
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
