"""Planning: decide what is sent, once staging is complete, with SQL over the job database.

- In-file duplicates (same normalized email) are merged in file order into the last
  occurrence, which is sent once; the earlier rows become `duplicate` (SPEC §5).
- Minimo only: rows with different emails and one phone. Minimo matches by phone when the
  email is unknown, so the later row would overwrite the earlier contact: it is sent
  without the phone, with a warning naming the first row.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

from importer.journal import GroupedRow, Journal
from importer.settings import Target

_TABLES = ("customFields", "marketingConsent")
WRITE_BATCH = 1000  # groups recorded at a time


def merge_payloads(
    base: dict[str, Any], later: dict[str, Any], tables: tuple[str, ...] = _TABLES
) -> dict[str, Any]:
    """Later non-empty values win; Minimo's field tables merge key by key, while any other
    value (a JSON object included) is replaced whole."""
    merged = dict(base)
    for key, value in later.items():
        if key in tables and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_payloads(merged[key], value, ())
        elif value not in (None, "") or key not in merged:
            merged[key] = value
    return merged


def resolve_duplicates(journal: Journal) -> dict[int, int]:
    """Merge every group of same-email rows into its last row. Returns, for each merged
    contact whose phone came from an earlier row, that row (a shared-phone warning names
    the row the phone was written on)."""
    origins: dict[int, int] = {}

    def merges() -> Iterator[tuple[GroupedRow, list[int]]]:
        for group in journal.duplicate_groups():
            merged = _merged(group)
            phone = merged.payload.get("phone")
            came = [r.row for r in group if phone and r.payload.get("phone") == phone]
            if came and came[-1] != merged.row:
                origins[merged.row] = came[-1]
            yield merged, [r.row for r in group[:-1]]

    chunks = merges()
    while chunk := list(islice(chunks, WRITE_BATCH)):
        journal.merge(chunk)
    return origins


def _merged(group: list[GroupedRow]) -> GroupedRow:
    """The group's last row with every row's values merged in file order; consents to lists
    too, key by key: a later "No" wins over an earlier "Yes", a blank over nothing."""
    payload: dict[str, Any] = {}
    lists: dict[str, bool] = {}
    for row in group:
        payload = merge_payloads(payload, row.payload)
        lists.update(row.lists or {})
    last = group[-1]
    return GroupedRow(last.row, last.email, payload, lists or None)


def resolve_shared_phones(journal: Journal, origins: dict[int, int] | None = None) -> int:
    """Keep a shared phone on its first row only; returns how many rows lost it. The
    warning names the row the phone was written on (`origins`: a merged contact's)."""
    origins = origins or {}

    def holder(first: GroupedRow) -> str:
        written = origins.get(first.row)
        if written is None:
            return f"row {first.row} ({first.email})"
        return f"row {written} ({first.email}, merged into row {first.row})"

    drops = (
        (
            row._replace(payload={k: v for k, v in row.payload.items() if k != "phone"}),
            f"phone {row.payload.get('phone')} is also on {holder(group[0])}: sent without "
            "phone, or Minimo would merge the two contacts",
        )
        for group in journal.shared_phone_groups()
        for row in group[1:]
    )
    dropped = 0
    while chunk := list(islice(drops, WRITE_BATCH)):
        journal.drop_phones(chunk)
        dropped += len(chunk)
    return dropped


def plan(journal: Journal, target: Target) -> None:
    origins = resolve_duplicates(journal)
    journal.apply_changes()  # shared phones are looked for among the merged rows
    if target == "minimo":
        resolve_shared_phones(journal, origins)
        journal.apply_changes()
