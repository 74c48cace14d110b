"""Planning: decide what is sent, once staging is complete, with SQL over the job database.

- In-file duplicates (same normalized email) are merged in file order into the last
  occurrence, which is sent once; the earlier rows become `duplicate` (SPEC §5).
- Minimo only: rows with different emails and one phone. Minimo matches by phone when the
  email is unknown, so the later row would overwrite the earlier contact: it is sent
  without the phone, with a warning naming the first row.
"""

from __future__ import annotations

from typing import Any

from importer.journal import Journal
from importer.settings import Target

_TABLES = ("customFields", "marketingConsent")


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


def resolve_duplicates(journal: Journal) -> int:
    """Merge every group of same-email rows into its last row; returns rows merged away."""
    merged_away = 0
    for group in journal.duplicate_groups():
        payload: dict[str, Any] = {}
        for row in group:
            payload = merge_payloads(payload, row.payload)
        *earlier, survivor = group
        journal.merge(survivor.row, payload, [r.row for r in earlier])
        merged_away += len(earlier)
    return merged_away


def resolve_shared_phones(journal: Journal) -> int:
    """Keep a shared phone on its first row only; returns how many rows lost it."""
    dropped = 0
    for group in journal.shared_phone_groups():
        first, *later = group
        for row in later:
            payload = {k: v for k, v in row.payload.items() if k != "phone"}
            journal.drop_phone(
                row.row,
                payload,
                f"phone {row.payload.get('phone')} is also on row {first.row} ({first.email}): "
                "sent without phone, or Minimo would merge the two contacts",
            )
            dropped += 1
    return dropped


def plan(journal: Journal, target: Target) -> None:
    resolve_duplicates(journal)
    if target == "minimo":
        resolve_shared_phones(journal)
