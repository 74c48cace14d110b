"""Planning (SPEC §5): merging the payloads of in-file duplicates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from importer.journal import Journal, changes
from importer.normalizing import Staged, record
from importer.planning import merge_payloads, plan


@pytest.mark.parametrize(
    ("base", "later", "expected"),
    [
        ({}, {"email": "a@gmail.com"}, {"email": "a@gmail.com"}),
        ({"phone": "+393391234567"}, {"phone": "+41791234567"}, {"phone": "+41791234567"}),
        ({"phone": "+393391234567"}, {"phone": None}, {"phone": "+393391234567"}),
        ({"first_name": "Mario"}, {"first_name": ""}, {"first_name": "Mario"}),
        ({"first_name": "Mario"}, {}, {"first_name": "Mario"}),
        (
            {"first_name": "Mario"},
            {"last_name": "Rossi"},
            {"first_name": "Mario", "last_name": "Rossi"},
        ),
        ({}, {"first_name": None}, {"first_name": None}),
        ({"first_name": None}, {"first_name": "Mario"}, {"first_name": "Mario"}),
        (
            {"marketingConsent": {"email": True}},
            {"marketingConsent": {"email": False}},
            {"marketingConsent": {"email": False}},
        ),
        (
            {"customFields": {"company": "ACME", "tier": "gold"}},
            {"customFields": {"tier": "bronze", "source": "fiera"}},
            {"customFields": {"company": "ACME", "tier": "bronze", "source": "fiera"}},
        ),
        (
            {"customFields": {"company": "ACME"}},
            {"customFields": {"company": None}},
            {"customFields": {"company": "ACME"}},
        ),
        (
            {"customFields": {"company": "ACME"}, "marketingConsent": {"email": True}},
            {"marketingConsent": {"whatsapp": False}},
            {
                "customFields": {"company": "ACME"},
                "marketingConsent": {"email": True, "whatsapp": False},
            },
        ),
        ({"custom_number_1": 0}, {"custom_number_1": 5}, {"custom_number_1": 5}),
        ({"custom_number_1": 5}, {"custom_number_1": 0}, {"custom_number_1": 0}),
        ({"custom_json_1": {"a": 1}}, {"custom_json_1": [1, 2]}, {"custom_json_1": [1, 2]}),
    ],
    ids=[
        "new-key",
        "later-wins",
        "none-does-not-overwrite",
        "empty-string-does-not-overwrite",
        "missing-key-kept",
        "keys-from-both",
        "none-only-in-later-kept",
        "value-over-none",
        "consent-later-wins",
        "custom-fields-merged",
        "nested-none-does-not-overwrite",
        "tables-merged-independently",
        "zero-replaced",
        "zero-is-a-value",
        "json-replaced-not-merged",
    ],
)
def test_merge_payloads(
    base: dict[str, Any], later: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert merge_payloads(base, later) == expected


def test_merge_in_file_order() -> None:
    rows: list[dict[str, Any]] = [
        {"email": "a@gmail.com", "phone": "+393391234567", "customFields": {"company": "ACME"}},
        {"email": "a@gmail.com", "customFields": {"tier": "gold"}, "first_name": None},
        {"email": "a@gmail.com", "phone": "+393401234567", "customFields": {"company": None}},
    ]
    payload: dict[str, Any] = {}
    for row in rows:
        payload = merge_payloads(payload, row)
    assert payload == {
        "email": "a@gmail.com",
        "phone": "+393401234567",
        "customFields": {"company": "ACME", "tier": "gold"},
        "first_name": None,
    }


def test_merge_does_not_mutate_its_inputs() -> None:
    base: dict[str, Any] = {"customFields": {"company": "ACME"}, "phone": "+393391234567"}
    later: dict[str, Any] = {"customFields": {"tier": "gold"}, "phone": None}
    merged = merge_payloads(base, later)
    assert merged == {"customFields": {"company": "ACME", "tier": "gold"}, "phone": "+393391234567"}
    assert base == {"customFields": {"company": "ACME"}, "phone": "+393391234567"}
    assert later == {"customFields": {"tier": "gold"}, "phone": None}


@pytest.mark.parametrize(
    ("base", "later", "expected"),
    [
        (
            {"custom_json_1": {"theme": "dark", "lang": "it"}},
            {"custom_json_1": {"lang": "en"}},
            {"custom_json_1": {"lang": "en"}},
        ),
        (
            {"customFields": {"prefs": {"theme": "dark", "lang": "it"}, "tier": "gold"}},
            {"customFields": {"prefs": {"lang": "en"}}},
            {"customFields": {"prefs": {"lang": "en"}, "tier": "gold"}},
        ),
    ],
    ids=["notifuse-custom-json", "minimo-json-custom-field"],
)
def test_a_json_object_value_is_replaced_not_merged(
    base: dict[str, Any], later: dict[str, Any], expected: dict[str, Any]
) -> None:
    """A JSON object is one field value: the later one wins whole (only field tables merge)."""
    assert merge_payloads(base, later) == expected


def test_plan_applies_its_changes_in_small_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Changes are written APPLY_BATCH rows a transaction, in row order: every batch lands,
    and shared phones are found among the rows as merged."""
    monkeypatch.setattr(changes, "APPLY_BATCH", 2)
    rows: list[tuple[str, str | None, dict[str, Any]]] = [
        ("a@gmail.com", "+393391234567", {"customFields": {"company": "ACME"}}),  # 2
        ("b@gmail.com", "+393401234567", {}),  # 3
        ("a@gmail.com", None, {"customFields": {"tier": "gold"}}),  # 4
        ("c@gmail.com", "+393391234567", {}),  # 5: a's phone, once a is merged
        ("b@gmail.com", "+393401234567", {}),  # 6
        ("b@gmail.com", None, {}),  # 7
        ("d@gmail.com", "+393401234567", {}),  # 8: b's phone
    ]
    with Journal(tmp_path / "job.sqlite") as j:
        staged = []
        for number, (email, phone, extra) in enumerate(rows, start=2):
            payload = {"email": email, **({"phone": phone} if phone else {}), **extra}
            staged.append(record(Staged(number, "pending", email, phone, payload)))
        j.add_staged(staged)
        plan(j, "minimo")
        report = [(r.row, r.phone, r.status, r.warning) for r in j.report_rows(dry_run=True)]
        found = j.db.execute("SELECT payload FROM rows WHERE row = 4").fetchone()
    survivor = orjson.loads(found[0])
    assert report == [
        (2, "+393391234567", "duplicate", "same email as row 4: merged into it"),
        (3, "+393401234567", "duplicate", "same email as row 7: merged into it"),
        (4, "+393391234567", "valid", "merged with row 2 (same email)"),
        (
            5,
            "",
            "valid",
            "phone +393391234567 is also on row 2 (a@gmail.com, merged into row 4): sent without "
            "phone, "
            "or Minimo would merge the two contacts",
        ),
        (6, "+393401234567", "duplicate", "same email as row 7: merged into it"),
        (7, "+393401234567", "valid", "merged with rows 3, 6 (same email)"),
        (
            8,
            "",
            "valid",
            "phone +393401234567 is also on row 6 (b@gmail.com, merged into row 7): sent without "
            "phone, "
            "or Minimo would merge the two contacts",
        ),
    ]
    assert survivor == {
        "email": "a@gmail.com",
        "phone": "+393391234567",
        "customFields": {"company": "ACME", "tier": "gold"},
    }
