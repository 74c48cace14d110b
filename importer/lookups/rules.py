"""Update rules (SPEC §9), applied to a row against the contact its look-up found: a value a
rule holds back is taken out of what is sent, and named in the row's warning with the value
kept and the value not sent. A new contact gets everything.

    always            the file's value is sent (the default)
    if_empty          sent when the contact is new or has no value for the field
    on_create         sent only when the contact is new
    protect_opt_out   a bool consent: `true` is not sent to a contact whose value is `false`
                      (a Notifuse list: not subscribed when its membership was ended)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from importer.cells import quoted
from importer.lookups.compare import (
    EMPTY,
    SUBSCRIBED,
    fields_of,
    is_empty,
    memberships,
    same,
    shown,
)
from importer.mapping import Mapping, UpdateRule
from importer.settings import Target

ENDED = ("unsubscribed", "bounced", "complained")  # a list membership the person ended


@dataclass(frozen=True)
class Rules:
    """The mapping's rules other than `always`: by field name, and by Notifuse list."""

    fields: dict[str, UpdateRule]
    lists: dict[str, UpdateRule]

    @classmethod
    def of(cls, mapping: Mapping) -> Rules:
        return cls(
            {f.name: f.update for f in mapping.fields if f.update != "always"},
            {r.list_id: r.update for r in mapping.lists if r.update != "always"},
        )

    def __bool__(self) -> bool:
        return bool(self.fields or self.lists)


NO_RULES = Rules({}, {})


@dataclass(frozen=True)
class Ruled:
    """What a row sends once its rules are applied, and what they held back (warnings)."""

    payload: dict[str, Any]
    lists: dict[str, bool] | None
    held: tuple[str, ...]


def apply(
    target: Target,
    rules: Rules,
    payload: dict[str, Any],
    lists: dict[str, bool] | None,
    contact: dict[str, Any] | None,
) -> Ruled:
    """The row's payload and lists without what the rules hold back from `contact` (None:
    no contact has the email, and everything is sent)."""
    if contact is None or not rules:
        return Ruled(payload, lists, ())
    have = dict(fields_of(target, contact, folded=True))
    held: list[str] = []
    kept = _copy(payload)
    for name, new in list(fields_of(target, payload, folded=False)):
        rule = rules.fields.get(name)
        if rule is None:
            continue
        old = have.get(name.casefold())
        if not same(old, new) and _holds(rule, old, new):  # an equal value changes nothing
            _remove(kept, name)
            held.append(f"{name}: kept {_said(old)}, not sent {_said(new)} (update = {rule})")
    if lists:
        member = memberships(contact)
        kept_lists = dict(lists)
        for name, yes in lists.items():
            rule = rules.lists.get(name)
            status = member.get(name)
            if yes and rule is not None and status not in SUBSCRIBED and _holds_list(rule, status):
                del kept_lists[name]
                held.append(
                    f"list {name}: kept {status or EMPTY}, not subscribed (update = {rule})"
                )
        lists = kept_lists
    return Ruled(kept, lists, tuple(held))


def _holds(rule: UpdateRule, old: Any, new: Any) -> bool:
    if rule == "on_create":
        return True
    if rule == "if_empty":
        return not is_empty(old)
    if rule == "protect_opt_out":
        return _truth(new) is True and _truth(old) is False
    return False


def _holds_list(rule: UpdateRule, status: str | None) -> bool:
    if rule == "on_create":
        return True
    if rule == "if_empty":
        return status is not None
    if rule == "protect_opt_out":
        return status in ENDED
    return False


def _truth(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _said(value: Any) -> str:
    """A value as a held-back warning quotes it: text quoted, the rest as `changes` shows it."""
    if isinstance(value, str) and not is_empty(value):
        return quoted(value)
    return shown(value)


def _copy(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: dict(v) if isinstance(v, dict) else v for k, v in payload.items()}


def _remove(payload: dict[str, Any], name: str) -> None:
    """Take field `name` (`customFields.KEY` for a nested one) out of a payload."""
    outer, _, inner = name.partition(".")
    if (
        inner
        and isinstance(payload.get(outer), dict)
        and outer in ("customFields", "marketingConsent")
    ):
        payload[outer].pop(inner, None)
        if not payload[outer]:
            del payload[outer]
    else:
        payload.pop(name, None)
