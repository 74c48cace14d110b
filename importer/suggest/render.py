"""The TOML text of a suggestion: quoting, field lines, comments."""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from collections.abc import Sequence

from importer.mapping import header_key
from importer.settings import Target
from importer.suggest.infer import NOTIFUSE_SLOTS, Kind, yes_no_values
from importer.suggest.plan import CONSENTS, Column, Plan
from importer.suggest.vocabulary import header_words

# ---------------------------------------------------------------------------------------------
# TOML text


def _q(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\t\n\r":
            out.append({"\t": "\\t", "\n": "\\n", "\r": "\\r"}[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _key(name: str) -> str:
    """A TOML key: bare when it can be, so `email = ...` reads like the SPEC's examples."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _q(name)


def show_text(text: str) -> str:
    """A header inside a comment: quoted, on one line, whatever characters it holds."""
    inner = _q(text)[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return "'" + inner + "'"


Value = str | bool | list[str] | dict[str, str | bool]


def _value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _q(value)
    if isinstance(value, list):
        return "[" + ", ".join(_q(v) for v in value) + "]"
    return "{ " + ", ".join(f"{_q(k)} = {_value(v)}" for k, v in value.items()) + " }"


def field_line(name: str, column: str, **extra: Value) -> str:
    """`name = "Column"`, or an inline table when there is more to say than the column."""
    if not extra:
        return f"{_key(name)} = {_q(column)}"
    parts = [f"column = {_q(column)}", *(f"{k} = {_value(v)}" for k, v in extra.items())]
    return f"{_key(name)} = {{ {', '.join(parts)} }}"


def typed_line(name: str, column: Column, kind: Kind, typed: bool = True) -> str:
    """A custom column's line; `typed=False` where the target field implies the type."""
    extra: dict[str, Value] = {}
    if kind.type != "string" and typed:
        extra["type"] = kind.type
    if kind.formats:
        extra["format"] = kind.formats[0] if len(kind.formats) == 1 else list(kind.formats)
    if kind.note:
        column.notes.append(kind.note.format(header=show_text(column.header)))
    return field_line(name, column.header, **extra)


def email_line(plan: Plan, email: Column | None, headers: Sequence[str]) -> None:
    """Both APIs need an email: with no column for it, a placeholder that still binds."""
    if email is not None:
        plan.fields.append((-2, email.notes, field_line("email", email.header)))
        return
    keys = {header_key(h) for h in headers}
    placeholder = "Email"
    while header_key(placeholder) in keys:
        placeholder += "_"
    plan.fields.append(
        (
            -2,
            [
                "No column looks like the email address, which every contact needs: put its "
                "header here and remove `optional` (until then, every row is an error)."
            ],
            field_line("email", placeholder, optional=True),
        )
    )


def phone_line(
    plan: Plan, phones: list[Column], country: Column | None, unknown: list[str]
) -> None:
    """Several phone columns (a mobile and an office one): per row the first valid, mobiles
    first. Country names and codes in the region column need no table (the importer knows
    them in English, Italian, French, German and Spanish); the sample's others are named."""
    phone = phones[0]
    notes = [note for p in phones for note in p.notes]
    extra: dict[str, Value] = {}
    if country is not None:
        extra["region_column"] = country.header
        if unknown:
            notes.append(
                f"Not known as countries in {show_text(country.header)}: "
                f"{', '.join(show_text(u) for u in unknown[:10])}: add them as "
                f'region_values = {{ {_q(unknown[0])} = "XX" }} with their ISO codes, '
                "or their phones must start with +country."
            )
    if len(phones) == 1:
        plan.fields.append((-1, notes, field_line("phone", phone.header, **extra)))
        return
    notes.append(
        f"Per row, the first of {', '.join(show_text(p.header) for p in phones)} that holds a "
        "valid number."
    )
    parts = [f"first_of = {_value([p.header for p in phones])}"]
    parts += [f"{k} = {_value(v)}" for k, v in extra.items()]
    plan.fields.append((-1, notes, f"phone = {{ {', '.join(parts)} }}"))


def list_line(column: Column) -> tuple[list[str], str]:
    """Notifuse: a consent column subscribes the rows that said yes to a list (SPEC §5)."""
    list_id = "-".join(header_words(column.header)) or "newsletter"
    notes = [
        *column.notes,
        f"Rows whose {show_text(column.header)} is yes join the Notifuse list "
        f"{_q(list_id)}; no or blank never do. Put your list's id here.",
    ]
    parts = [f"column = {_q(column.header)}", f"list = {_q(list_id)}"]
    table = yes_no_values(column.cells)
    if table:
        parts.append(f"values = {_value(table)}")
    parts.append('update = "protect_opt_out"')
    notes.append(
        'update = "protect_opt_out": a contact who left the list (unsubscribed, bounced, '
        "complained) is never subscribed again by an import."
    )
    return notes, f"lists = {{ {', '.join(parts)} }}"


def _notifuse_slot(column: Column, kind: Kind, used: Counter[str]) -> str | None:
    """A custom_*_N line for a column Notifuse has no field for, while slots are left."""
    slot = {"number": "custom_number", "datetime": "custom_datetime"}.get(
        kind.type, "custom_string"
    )
    if used[slot] >= NOTIFUSE_SLOTS:
        return None
    used[slot] += 1
    name = f"{slot}_{used[slot]}"
    consent = column.concept is not None and column.concept.name in CONSENTS
    table = yes_no_values(column.cells, native=False) if consent else None
    if table:
        words: dict[str, str | bool] = {k: "yes" if v else "no" for k, v in table.items()}
        return field_line(name, column.header, values=words)
    return typed_line(name, column, kind, typed=False)


def _comment(text: str, wrap: bool = True) -> list[str]:
    """Comment lines, wrapped, with any control character escaped (it would end the comment)."""
    safe = _q(text)[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if not wrap:
        return ["# " + safe]
    return [
        "# " + line
        for line in textwrap.wrap(safe, 96, break_long_words=False, break_on_hyphens=False)
    ]


def render(
    width: int, target: Target, plan: Plan, origin: str | None, kinds: dict[int, Kind]
) -> str:
    out = _comment(
        f"Starter mapping for a file with {width} header{'' if width == 1 else 's'}, from "
        "`importer mapping suggest`. It is a starting point: review every line, then try it "
        "with `importer run SOURCE --mapping THIS.toml --dry-run`."
    )
    if origin:
        out += _comment(origin)
    out += [f'target = "{target}"']
    if len(plan.lists) == 1:
        notes, line = plan.lists[0]
        for note in notes:
            out += _comment(note)
        out.append(line)
    elif plan.lists:
        for note in (n for notes, _ in plan.lists for n in notes):
            out += _comment(note)
        out.append("lists = [")
        out += ["    " + line.removeprefix("lists = ") + "," for _, line in plan.lists]
        out.append("]")
    out += ["", "[options]"]
    plan.options.append(('on_invalid_phone = "drop"', "send the contact without it, warn"))
    out += [f"{line:<30} # {why}" for line, why in plan.options]
    out += ["", "[fields]"]
    for _, notes, line in sorted(plan.fields, key=lambda f: f[0]):
        for note in notes:
            out += _comment(note)
        out.append(line)
    if target == "notifuse" and plan.custom:
        used: Counter[str] = Counter()
        slots = [_notifuse_slot(c, kinds[c.index], used) for c in plan.custom]
        out += [
            "",
            *_comment(
                f"unmatched: {', '.join(show_text(c.header) for c in plan.custom)}", wrap=False
            ),
        ]
        for column in plan.custom:
            for note in column.notes:
                out += _comment(note)
        out += _comment(
            "Notifuse has no field for these. custom_string_N, custom_number_N and "
            "custom_datetime_N (N = 1..5) can hold them, but those slots are shared by the "
            "whole workspace: uncomment a line below only for a slot no other import uses."
        )
        out += [f"# {slot}" for slot in slots if slot]
    if plan.notes:
        out.append("")
        for note in plan.notes:
            out += _comment(note)
    return "\n".join(out) + "\n"
