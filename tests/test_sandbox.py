"""The sandbox over real loopback sockets: API semantics, faults, the request log, SQLite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from importer.sandbox import SandboxConfig, SandboxThread

MINIMO_KEY = "mn-sandbox-sandboxkey"
NOTIFUSE_KEY = "nf-sandbox-key"
WS = "ws_sandbox"
CONTACTS = "/public/v1/contacts"


@contextmanager
def running(**options: Any) -> Iterator[tuple[SandboxThread, httpx.Client, httpx.Client]]:
    """A sandbox with `options`, and one client per API carrying the right key."""
    with (
        SandboxThread(SandboxConfig(port=0, **options)) as sb,
        httpx.Client(base_url=sb.base_url, headers=_auth(MINIMO_KEY), timeout=5) as mn,
        httpx.Client(base_url=sb.base_url, headers=_auth(NOTIFUSE_KEY), timeout=5) as nf,
    ):
        yield sb, mn, nf


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[SandboxThread, httpx.Client, httpx.Client]]:
    with running() as trio:
        yield trio


@pytest.fixture
def sb(shared: tuple[SandboxThread, httpx.Client, httpx.Client]) -> SandboxThread:
    shared[0].reset()
    return shared[0]


@pytest.fixture
def mn(shared: tuple[SandboxThread, httpx.Client, httpx.Client], sb: SandboxThread) -> httpx.Client:
    return shared[1]


@pytest.fixture
def nf(shared: tuple[SandboxThread, httpx.Client, httpx.Client], sb: SandboxThread) -> httpx.Client:
    return shared[2]


def upsert(nf: httpx.Client, contact: Any, workspace: str | None = WS) -> httpx.Response:
    body: dict[str, Any] = {"contact": contact}
    if workspace is not None:
        body["workspace_id"] = workspace
    return nf.post("/api/contacts.upsert", json=body)


def import_(nf: httpx.Client, contacts: list[Any], **extra: Any) -> httpx.Response:
    return nf.post("/api/contacts.import", json={"workspace_id": WS, "contacts": contacts, **extra})


def notifuse_contact(nf: httpx.Client, email: str) -> dict[str, Any]:
    r = nf.get("/api/contacts.getByEmail", params={"workspace_id": WS, "email": email})
    assert r.status_code == 200, r.text
    contact: dict[str, Any] = r.json()["contact"]
    return contact


def _lists(contact: dict[str, Any]) -> list[str]:
    """A contact's lists as the API shows them (contact_lists, every one active here)."""
    assert {m["status"] for m in contact["contact_lists"]} <= {"active"}
    return [m["list_id"] for m in contact["contact_lists"]]


def minimo_view(sb: SandboxThread) -> list[dict[str, Any]]:
    """Minimo contacts without their timestamps, for exact comparisons."""
    return [
        {k: v for k, v in c.items() if k not in ("createdAt", "updatedAt")}
        for c in sb.contacts()["minimo"]
    ]


# --- Minimo ----------------------------------------------------------------------------


def test_minimo_array_creates_then_updates_by_email(sb: SandboxThread, mn: httpx.Client) -> None:
    r = mn.post(
        CONTACTS,
        json=[
            {"email": "Ann@X.it", "customFields": {"plan": "free"}},
            {"email": "bob@x.it", "marketingConsent": {"email": True}},
        ],
    )
    assert r.status_code == 200
    assert r.json() == [{"contactId": "1"}, {"contactId": "2"}]
    r = mn.post(CONTACTS, json=[{"email": "ANN@x.it", "customFields": {"city": "Roma"}}])
    assert r.json() == [{"contactId": "1"}]
    r = mn.post(CONTACTS, json={"email": "carl@x.it", "phone": "+393391234567"})
    assert r.json() == [{"contactId": "3"}]  # a single object also answers with an array
    assert minimo_view(sb) == [
        {
            "id": 1,
            "email": "ann@x.it",
            "phone": None,
            "customFields": {"plan": "free", "city": "Roma"},
            "marketingConsent": {},
        },
        {
            "id": 2,
            "email": "bob@x.it",
            "phone": None,
            "customFields": {},
            "marketingConsent": {"email": True},
        },
        {
            "id": 3,
            "email": "carl@x.it",
            "phone": "+393391234567",
            "customFields": {},
            "marketingConsent": {},
        },
    ]
    contact = sb.contacts()["minimo"][0]
    assert contact["createdAt"].endswith("Z")
    assert contact["updatedAt"] >= contact["createdAt"]


def test_minimo_matches_by_phone_and_changes_the_email(sb: SandboxThread, mn: httpx.Client) -> None:
    mn.post(CONTACTS, json=[{"email": "old@x.it", "phone": "+393391234567"}])
    r = mn.post(CONTACTS, json=[{"email": "new@x.it", "phone": "+393391234567"}])
    assert r.json() == [{"contactId": "1"}]
    assert [(c["id"], c["email"]) for c in sb.contacts()["minimo"]] == [(1, "new@x.it")]
    assert mn.get(f"{CONTACTS}/by-email/old@x.it").status_code == 404
    assert mn.get(f"{CONTACTS}/by-email/new@x.it").json()["data"]["id"] == 1
    # Email beats phone: an existing email keeps its contact even with another's phone.
    mn.post(CONTACTS, json=[{"email": "other@x.it"}])
    r = mn.post(CONTACTS, json=[{"email": "other@x.it", "phone": "+393391234567"}])
    assert r.json() == [{"contactId": "2"}]


def test_minimo_deep_merges_custom_fields_and_keeps_omitted_consent(
    sb: SandboxThread, mn: httpx.Client
) -> None:
    mn.post(
        CONTACTS,
        json=[
            {
                "email": "a@x.it",
                "customFields": {"address": {"city": "Roma", "zip": "00100"}, "plan": "free"},
                "marketingConsent": {"email": True, "whatsapp": False},
            }
        ],
    )
    mn.post(
        CONTACTS,
        json=[
            {
                "email": "a@x.it",
                "customFields": {"address": {"zip": "00184", "street": "Via Roma"}},
                "marketingConsent": {"whatsapp": True},
            }
        ],
    )
    [contact] = sb.contacts()["minimo"]
    assert contact["customFields"] == {
        "address": {"city": "Roma", "zip": "00184", "street": "Via Roma"},
        "plan": "free",
    }
    assert contact["marketingConsent"] == {"email": True, "whatsapp": True}


@pytest.mark.parametrize(
    ("bad_item", "error"),
    [
        ({"email": "not-an-email"}, "validation_error"),
        ({"email": "a b@x.it"}, "validation_error"),
        ({"email": "a@nodot"}, "validation_error"),
        ({"email": "a@@x.it"}, "validation_error"),
        ({"phone": "+393391234567"}, "validation_error"),
        ({"email": 12}, "validation_error"),
        ({"email": "c@x.it", "phone": "+39 339 1234567"}, "invalid_phone_number"),
        ({"email": "c@x.it", "phone": "3391234567"}, "invalid_phone_number"),
        ({"email": "c@x.it", "phone": 393391234567}, "invalid_phone_number"),
        ({"email": "c@x.it", "customFields": ["x"]}, "validation_error"),
        ({"email": "c@x.it", "marketingConsent": {"email": "yes"}}, "validation_error"),
        ({"email": "c@x.it", "marketingConsent": True}, "validation_error"),
        ("c@x.it", "validation_error"),
    ],
)
def test_minimo_one_invalid_item_rejects_the_whole_array(
    sb: SandboxThread, mn: httpx.Client, bad_item: Any, error: str
) -> None:
    mn.post(CONTACTS, json=[{"email": "keep@x.it", "customFields": {"n": 1}}])
    before = sb.contacts()
    r = mn.post(
        CONTACTS,
        json=[{"email": "new@x.it"}, {"email": "keep@x.it", "customFields": {"n": 2}}, bad_item],
    )
    assert r.status_code == 400
    assert r.json() == {"error": error}
    assert sb.contacts() == before


def test_minimo_rejects_empty_array_and_malformed_json(sb: SandboxThread, mn: httpx.Client) -> None:
    r = mn.post(CONTACTS, json=[])
    assert (r.status_code, r.json()) == (400, {"error": "validation_error"})
    r = mn.post(CONTACTS, content=b"[{", headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()) == (400, {"error": "invalid_json"})
    assert sb.contacts()["minimo"] == []
    assert [e["outcome"] for e in sb.requests()] == ["invalid", "invalid"]


def test_reject_email_refuses_matching_addresses_on_both_apis() -> None:
    with running(reject_email=r"@blocked\.") as (sb, mn, nf):
        r = mn.post(CONTACTS, json=[{"email": "ok@x.it"}, {"email": "Someone@BLOCKED.it"}])
        assert (r.status_code, r.json()) == (400, {"error": "validation_error"})
        r = upsert(nf, {"email": "a@blocked.it"})
        assert (r.status_code, r.json()) == (
            400,
            {"error": "invalid contact: invalid email format"},
        )
        r = import_(nf, [{"email": "ok@x.it"}, {"email": "a@blocked.it"}])
        assert r.json() == {
            "operations": [
                {
                    "email": "",
                    "action": "error",
                    "error": "invalid contact at index 1: email is required",
                },
                {"email": "ok@x.it", "action": "create"},
            ]
        }
        assert sb.contacts()["minimo"] == []


def test_minimo_by_email_decodes_percent_encoded_addresses(
    sb: SandboxThread, mn: httpx.Client
) -> None:
    r = mn.post(CONTACTS, json=[{"email": "a+b@x.it"}, {"email": "c#d@x.it"}])
    assert r.json() == [{"contactId": "1"}, {"contactId": "2"}]
    for email, contact_id in [("a+b@x.it", 1), ("c#d@x.it", 2), ("A+B@X.IT", 1)]:
        r = mn.get(f"{CONTACTS}/by-email/{quote(email, safe='')}")
        assert r.status_code == 200, email
        data = r.json()["data"]
        assert (data["id"], data["email"]) == (contact_id, email.lower())
        assert set(data) == {
            "id",
            "email",
            "phone",
            "customFields",
            "marketingConsent",
            "createdAt",
            "updatedAt",
        }
    # `+` left unencoded in a path is a plus, not a space.
    assert mn.get(f"{CONTACTS}/by-email/a+b@x.it").json()["data"]["id"] == 1
    r = mn.get(f"{CONTACTS}/by-email/nobody%40x.it")
    assert (r.status_code, r.json()) == (404, {"error": "not_found"})
    paths = [e["path"] for e in sb.requests() if e["method"] == "GET"]
    assert paths[:2] == [f"{CONTACTS}/by-email/a%2Bb%40x.it", f"{CONTACTS}/by-email/c%23d%40x.it"]


def test_unauthorized_requests_get_401(sb: SandboxThread) -> None:
    with httpx.Client(base_url=sb.base_url, timeout=5) as anon:
        for headers in (
            {},
            _auth("mn-sandbox-wrong"),
            _auth(NOTIFUSE_KEY),
            {"Authorization": MINIMO_KEY},
        ):
            r = anon.post(CONTACTS, json=[{"email": "a@x.it"}], headers=headers)
            assert (r.status_code, r.json()) == (401, {"error": "unauthorized"})
        r = anon.post(
            "/api/contacts.upsert",
            json={"workspace_id": WS, "contact": {"email": "a@x.it"}},
            headers=_auth(MINIMO_KEY),
        )
        assert (r.status_code, r.json()) == (401, {"error": "unauthorized"})
    assert sb.contacts() == {"minimo": [], "notifuse": []}
    log = sb.requests()
    assert [e["outcome"] for e in log] == ["unauthorized"] * 5
    assert [e["status"] for e in log] == [401] * 5


def test_minimo_put_updates_by_id(sb: SandboxThread, mn: httpx.Client) -> None:
    mn.post(
        CONTACTS,
        json=[{"email": "old@x.it", "customFields": {"a": 1}, "marketingConsent": {"email": True}}],
    )
    mn.post(CONTACTS, json=[{"email": "taken@x.it"}])
    r = mn.put(f"{CONTACTS}/1", json={"email": "New@x.it", "customFields": {"b": 2}})
    assert (r.status_code, r.json()) == (200, {"id": 1, "phone": None})
    r = mn.put(f"{CONTACTS}/1", json={"phone": "+393391234567"})
    assert r.json() == {"id": 1, "phone": "+393391234567"}
    assert minimo_view(sb)[0] == {
        "id": 1,
        "email": "new@x.it",
        "phone": "+393391234567",
        "customFields": {"a": 1, "b": 2},
        "marketingConsent": {"email": True},
    }
    for path in (f"{CONTACTS}/99", f"{CONTACTS}/abc"):
        r = mn.put(path, json={"phone": "+393391234567"})
        assert (r.status_code, r.json()) == (404, {"message": "Contact not found"})
    r = mn.put(f"{CONTACTS}/1", json={"phone": "339"})
    assert (r.status_code, r.json()) == (400, {"error": "invalid_phone_number"})
    r = mn.put(f"{CONTACTS}/1", json={"email": "taken@x.it"})
    assert (r.status_code, r.json()) == (400, {"error": "validation_error"})
    assert minimo_view(sb)[0]["email"] == "new@x.it"
    put_log = [e for e in sb.requests() if e["method"] == "PUT"]
    assert put_log[0]["emails"] == ["new@x.it", "old@x.it"]


# --- Notifuse --------------------------------------------------------------------------


def test_notifuse_upsert_creates_updates_and_null_clears(
    sb: SandboxThread, nf: httpx.Client
) -> None:
    r = upsert(
        nf,
        {
            "email": "\u00a0 Ann@X.IT\t",
            "first_name": " Ann\u00a0",
            "phone": "+393391234567",
            "custom_number_1": 2.5,
            "custom_datetime_1": "2024-05-01T09:00:00+02:00",
            "custom_json_1": [1, {"a": True}],
        },
    )
    assert (r.status_code, r.json()) == (200, {"email": "ann@x.it", "action": "create"})
    r = upsert(nf, {"email": "ann@x.it", "phone": None, "last_name": "Rossi"})
    assert (r.status_code, r.json()) == (200, {"email": "ann@x.it", "action": "update"})
    contact = notifuse_contact(nf, " ANN@x.it ")
    assert {k: v for k, v in contact.items() if k not in ("created_at", "updated_at")} == {
        "email": "ann@x.it",
        "first_name": "Ann",
        "last_name": "Rossi",
        "custom_number_1": 2.5,
        "custom_datetime_1": "2024-05-01T09:00:00+02:00",
        "custom_json_1": [1, {"a": True}],
        "contact_lists": [],
    }
    assert contact["created_at"].endswith("Z")
    stored = {k: v for k, v in contact.items() if k != "contact_lists"}
    assert sb.contacts()["notifuse"] == [{**stored, "lists": []}]


@pytest.mark.parametrize(
    ("contact", "error"),
    [
        (
            {"email": "a@x.it", "phone": 393391234567},
            "invalid type for phone: expected string, got Number",
        ),
        (
            {"email": "a@x.it", "postcode": {"x": 1}},
            "invalid type for postcode: expected string, got Object",
        ),
        (
            {"email": "a@x.it", "job_title": ["x"]},
            "invalid type for job_title: expected string, got Array",
        ),
        (
            {"email": "a@x.it", "country": True},
            "invalid type for country: expected string, got Boolean",
        ),
        (
            {"email": "a@x.it", "custom_number_2": "5"},
            "invalid type for custom_number_2: expected number, got String",
        ),
        (
            {"email": "a@x.it", "custom_number_2": False},
            "invalid type for custom_number_2: expected number, got Boolean",
        ),
        (
            {"email": "a@x.it", "custom_json_3": "{}"},
            "invalid type for custom_json_3: expected object or array, got String",
        ),
        ({"email": "a@x.it", "nickname": "Al"}, "unknown field: nickname"),
        ({"first_name": "Al"}, "email is required"),
        ({"email": None}, "email is required"),
        ({"email": " \u00a0"}, "email is required"),
        ({"email": "a@x"}, "invalid email format"),
        ({"email": "a b@x.it"}, "invalid email format"),
    ],
)
def test_notifuse_upsert_is_strict(nf: httpx.Client, contact: Any, error: str) -> None:
    r = upsert(nf, contact)
    assert (r.status_code, r.json()) == (400, {"error": f"invalid contact: {error}"})


@pytest.mark.parametrize(
    "value", ["2024-05-01", "2024-05-01T09:00:00", "2024-05-01 09:00", 1714550400, "yesterday"]
)
def test_notifuse_datetimes_must_be_rfc3339(nf: httpx.Client, value: Any) -> None:
    r = upsert(nf, {"email": "a@x.it", "custom_datetime_1": value})
    assert r.status_code == 400
    assert r.json()["error"].startswith("invalid contact: ")
    assert "custom_datetime_1" in r.json()["error"]


def test_notifuse_request_level_errors(sb: SandboxThread, nf: httpx.Client) -> None:
    r = upsert(nf, {"email": "a@x.it"}, workspace="ws_other")
    assert (r.status_code, r.json()) == (403, {"error": "workspace not found or access denied"})
    r = upsert(nf, {"email": "a@x.it"}, workspace=None)
    assert (r.status_code, r.json()) == (400, {"error": "workspace_id is required"})
    r = nf.post("/api/contacts.upsert", json={"workspace_id": WS})
    assert (r.status_code, r.json()) == (400, {"error": "contact is required"})
    missing: tuple[list[Any] | None, ...] = ([], None)
    for contacts in missing:
        r = nf.post("/api/contacts.import", json={"workspace_id": WS, "contacts": contacts})
        assert (r.status_code, r.json()) == (400, {"error": "contacts array is required"})
    r = nf.get("/api/contacts.getByEmail", params={"workspace_id": "ws_other", "email": "a@x.it"})
    assert (r.status_code, r.json()) == (403, {"error": "workspace not found or access denied"})
    r = nf.get("/api/contacts.getByEmail", params={"workspace_id": WS, "email": "a@x.it"})
    assert (r.status_code, r.json()) == (404, {"error": "Contact not found"})
    assert sb.contacts()["notifuse"] == []


def test_notifuse_import_errors_first_dedup_last_wins(sb: SandboxThread, nf: httpx.Client) -> None:
    upsert(nf, {"email": "b@x.it", "last_name": "Keep", "created_at": "2020-01-01T00:00:00Z"})
    assert notifuse_contact(nf, "b@x.it")["created_at"] == "2020-01-01T00:00:00Z"
    r = import_(
        nf,
        [
            {"email": "a@x.it", "first_name": "First"},
            {"first_name": "No email"},
            {"email": "b@x.it", "last_name": None, "first_name": "Bea"},
            {"email": "c@x.it", "phone": 39},
            {"email": " A@X.it", "first_name": "Last"},
            {"email": "not-an-email"},
            {"email": "d@x.it", "created_at": "2021-06-01T10:00:00Z"},
        ],
        subscribe_to_lists=["news", "alpha"],
    )
    assert r.status_code == 200
    assert r.json() == {
        "operations": [
            {
                "email": "",
                "action": "error",
                "error": "invalid contact at index 1: email is required",
            },
            {
                "email": "",
                "action": "error",
                "error": "invalid contact at index 3: "
                "invalid type for phone: expected string, got Number",
            },
            {
                "email": "",
                "action": "error",
                "error": "invalid contact at index 5: email is required",
            },
            {"email": "a@x.it", "action": "create"},
            {"email": "b@x.it", "action": "update"},
            {"email": "d@x.it", "action": "create"},
        ]
    }
    a, b, d = (notifuse_contact(nf, e) for e in ("a@x.it", "b@x.it", "d@x.it"))
    assert a["first_name"] == "Last"  # the last duplicate wins
    assert b["last_name"] == "Keep"  # null does not clear in an import
    assert b["first_name"] == "Bea"
    assert b["created_at"] != "2020-01-01T00:00:00Z"  # re-set because it was not sent
    assert d["created_at"] == "2021-06-01T10:00:00Z"
    assert _lists(a) == _lists(b) == _lists(d) == ["alpha", "news"]
    import_(nf, [{"email": "a@x.it"}], subscribe_to_lists=["beta"])
    assert _lists(notifuse_contact(nf, "a@x.it")) == ["alpha", "beta", "news"]
    assert [c["email"] for c in sb.contacts()["notifuse"]] == ["a@x.it", "b@x.it", "d@x.it"]


# --- faults ----------------------------------------------------------------------------


def _burst(mn: httpx.Client, nf: httpx.Client) -> tuple[list[httpx.Response], list[httpx.Response]]:
    minimo = [mn.get(f"{CONTACTS}/by-email/a%40x.it") for _ in range(5)]
    notifuse = [
        nf.get("/api/contacts.getByEmail", params={"workspace_id": WS, "email": "a@x.it"})
        for _ in range(5)
    ]
    return minimo, notifuse


def test_rate_limit_with_retry_after_seconds() -> None:
    with running(rate=2) as (sb, mn, nf):
        minimo, notifuse = _burst(mn, nf)
        # Each API has its own bucket of 2 tokens.
        assert [r.status_code for r in minimo[:3]] == [404, 404, 429]
        assert [r.status_code for r in notifuse[:3]] == [404, 404, 429]
        assert minimo[2].json() == {"error": "rate_limit_exceeded"}
        assert notifuse[2].json() == {"error": "rate limit exceeded"}
        assert minimo[2].headers["Retry-After"] == "1"
        # The inspection routes are never limited.
        for _ in range(5):
            assert httpx.get(f"{sb.base_url}/_sandbox/contacts").status_code == 200
        log = sb.requests()
        assert [e["outcome"] for e in log][:3] == ["ok", "ok", "rate_limited"]
        assert sum(e["status"] == 429 for e in log) == sum(
            r.status_code == 429 for r in minimo + notifuse
        )
        time.sleep(0.55)  # one token back at 2/s
        assert mn.get(f"{CONTACTS}/by-email/a%40x.it").status_code == 404


def test_rate_limit_with_retry_after_date() -> None:
    with running(rate=2, retry_after="date") as (_, mn, nf):
        minimo, _ = _burst(mn, nf)
        header = minimo[2].headers["Retry-After"]
        assert header.endswith(" GMT")
        wait = (parsedate_to_datetime(header) - datetime.now(UTC)).total_seconds()
        assert 0 < wait <= 2


def test_clock_skew_moves_date_and_retry_after_together() -> None:
    with running(rate=2, retry_after="date", clock_skew=-120) as (_, mn, nf):
        minimo, _ = _burst(mn, nf)
        date = parsedate_to_datetime(minimo[2].headers["Date"])
        behind = (datetime.now(UTC) - date).total_seconds()
        assert 119 <= behind <= 122
        wait = (parsedate_to_datetime(minimo[2].headers["Retry-After"]) - date).total_seconds()
        assert 0 < wait <= 2


def test_rate_limit_without_retry_after() -> None:
    with running(rate=2, retry_after="none") as (_, mn, nf):
        minimo, _ = _burst(mn, nf)
        assert minimo[2].status_code == 429
        assert "Retry-After" not in minimo[2].headers


def test_failures_answer_500_502_503_without_writing() -> None:
    with running(fail_rate=1.0, seed=7) as (sb, mn, nf):
        responses = [mn.post(CONTACTS, json=[{"email": f"u{i}@x.it"}]) for i in range(30)]
        responses.append(upsert(nf, {"email": "n@x.it"}))
        by_status = {r.status_code: r for r in responses}
        assert set(by_status) == {500, 502, 503}
        assert by_status[500].json() == {"error": "internal error"}
        assert by_status[502].headers["Content-Type"].startswith("text/html")
        assert by_status[502].text == "<html><body><h1>502 Bad Gateway</h1></body></html>"
        assert by_status[503].text == "<html><body><h1>503 Service Unavailable</h1></body></html>"
        assert sb.contacts() == {"minimo": [], "notifuse": []}
        assert {e["outcome"] for e in sb.requests()} == {"failed"}


def test_drop_before_writes_nothing() -> None:
    with running(drop="before", drop_rate=1.0) as (sb, mn, nf):
        with pytest.raises(httpx.RemoteProtocolError):
            mn.post(CONTACTS, json=[{"email": "a@x.it"}])
        with pytest.raises(httpx.RemoteProtocolError):
            upsert(nf, {"email": "a@x.it"})
        assert sb.contacts() == {"minimo": [], "notifuse": []}
        log = sb.requests()
        assert [(e["status"], e["outcome"]) for e in log] == [(None, "dropped_before")] * 2
        assert log[0]["emails"] == ["a@x.it"]


def test_drop_after_applies_the_write() -> None:
    with running(drop="after", drop_rate=1.0) as (sb, mn, nf):
        with pytest.raises(httpx.RemoteProtocolError):
            mn.post(CONTACTS, json=[{"email": "a@x.it"}])
        with pytest.raises(httpx.RemoteProtocolError):
            upsert(nf, {"email": "a@x.it"})
        dump = sb.contacts()
        assert [c["email"] for c in dump["minimo"]] == ["a@x.it"]
        assert [c["email"] for c in dump["notifuse"]] == ["a@x.it"]
        assert [(e["status"], e["outcome"]) for e in sb.requests()] == [(None, "dropped_after")] * 2


def test_latency_is_added_to_api_requests_only() -> None:
    with running(latency_ms=150) as (sb, mn, _):
        started = time.monotonic()
        mn.post(CONTACTS, json=[{"email": "a@x.it"}])
        assert time.monotonic() - started >= 0.15
        [entry] = sb.requests()
        assert entry["end"] - entry["start"] >= 0.15
        started = time.monotonic()
        httpx.get(f"{sb.base_url}/_sandbox/requests")
        assert time.monotonic() - started < 0.15


# --- inspection, reset, persistence, lifecycle ------------------------------------------


def test_request_log_and_http_inspection_routes(
    sb: SandboxThread, mn: httpx.Client, nf: httpx.Client
) -> None:
    mn.post(CONTACTS, json=[{"email": "A@x.it"}, {"email": "b@x.it"}, {"email": "a@x.it"}])
    import_(nf, [{"email": " C@x.it"}, {"email": "bad"}])
    nf.get("/api/contacts.getByEmail", params={"workspace_id": WS, "email": "C@X.it"})
    log = httpx.get(f"{sb.base_url}/_sandbox/requests").json()
    assert log == sb.requests()
    assert [
        {k: e[k] for k in ("api", "method", "path", "status", "emails", "outcome")} for e in log
    ] == [
        {
            "api": "minimo",
            "method": "POST",
            "path": CONTACTS,
            "status": 200,
            "emails": ["a@x.it", "b@x.it"],
            "outcome": "ok",
        },
        {
            "api": "notifuse",
            "method": "POST",
            "path": "/api/contacts.import",
            "status": 200,
            "emails": ["c@x.it", "bad"],
            "outcome": "ok",
        },
        {
            "api": "notifuse",
            "method": "GET",
            "path": "/api/contacts.getByEmail",
            "status": 200,
            "emails": ["c@x.it"],
            "outcome": "ok",
        },
    ]
    assert all(e["start"] <= e["end"] for e in log)
    assert log[0]["end"] <= log[1]["start"]
    dump = httpx.get(f"{sb.base_url}/_sandbox/contacts").json()
    assert dump == sb.contacts()
    assert [c["id"] for c in dump["minimo"]] == [1, 2]
    assert httpx.post(f"{sb.base_url}/_sandbox/reset").status_code == 200
    assert sb.contacts() == {"minimo": [], "notifuse": []}
    assert sb.requests() == []
    assert mn.post(CONTACTS, json=[{"email": "z@x.it"}]).json() == [{"contactId": "1"}]


def test_sqlite_db_keeps_contacts_across_restarts(tmp_path: Path) -> None:
    db = str(tmp_path / "sandbox.db")
    with running(db=db) as (_, mn, nf):
        mn.post(CONTACTS, json=[{"email": "a@x.it", "customFields": {"k": "v"}}])
        upsert(nf, {"email": "n@x.it", "first_name": "Nina"})
    with running(db=db) as (sb, mn, nf):
        assert minimo_view(sb) == [
            {
                "id": 1,
                "email": "a@x.it",
                "phone": None,
                "customFields": {"k": "v"},
                "marketingConsent": {},
            }
        ]
        assert notifuse_contact(nf, "n@x.it")["first_name"] == "Nina"
        assert mn.post(CONTACTS, json=[{"email": "b@x.it"}]).json() == [{"contactId": "2"}]
        assert mn.get(f"{CONTACTS}/by-email/a%40x.it").json()["data"]["id"] == 1
        sb.reset()
    with running(db=db) as (sb, _, _):
        assert sb.contacts() == {"minimo": [], "notifuse": []}


@pytest.mark.parametrize(
    "options",
    [
        {"rate": 0},
        {"retry_after": "never"},
        {"fail_rate": 1.5},
        {"drop": "during"},
        {"drop_rate": -0.1},
        {"reject_email": "("},
        {"port": 70000},
    ],
)
def test_config_rejects_bad_values(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SandboxConfig(**options)


def test_port_in_use_is_reported_by_the_thread_runner(sb: SandboxThread) -> None:
    port = int(sb.base_url.rsplit(":", 1)[1])
    with pytest.raises(OSError), SandboxThread(SandboxConfig(port=port)):
        pass


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_stops_quietly_on_signal(sig: signal.Signals) -> None:
    code = (
        "from importer.sandbox import SandboxConfig, serve\n"
        "serve(SandboxConfig(port=0), on_ready=lambda url: print(url, flush=True))\n"
    )
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    with subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        r = httpx.post(f"{url}{CONTACTS}", json=[{"email": "a@x.it"}], headers=_auth(MINIMO_KEY))
        assert r.json() == [{"contactId": "1"}]
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=10)
    assert (proc.returncode, out, err) == (0, "", "")


def test_notifuse_lists_subscribe_keeps_membership(sb: SandboxThread, nf: httpx.Client) -> None:
    upsert(nf, {"email": "a@x.it", "first_name": "Anna"})
    body = {"workspace_id": WS, "contact": {"email": " A@X.IT "}, "list_ids": ["news"]}
    assert nf.post("/api/lists.subscribe", json=body).json() == {"success": True}
    body["list_ids"] = ["news", "webinar"]
    body["contact"] = {"email": "new@x.it"}  # a new contact is created, then subscribed
    assert nf.post("/api/lists.subscribe", json=body).status_code == 200
    found = nf.get("/api/contacts.getByEmail", params={"workspace_id": WS, "email": "a@x.it"})
    assert (found.json()["contact"]["first_name"], _lists(found.json()["contact"])) == (
        "Anna",
        ["news"],
    )
    assert {c["email"]: c["lists"] for c in sb.contacts()["notifuse"]} == {
        "a@x.it": ["news"],
        "new@x.it": ["news", "webinar"],
    }
    refused = nf.post("/api/lists.subscribe", json={**body, "list_ids": []})
    assert (refused.status_code, refused.json()) == (
        400,
        {"error": "list_ids must be a non-empty array of strings"},
    )


def test_minimo_custom_field_definitions(mn: httpx.Client) -> None:
    assert mn.get("/public/v1/custom-fields").json() == {"data": []}
    made = mn.post("/public/v1/custom-fields", json={"key": "company", "displayName": "Company"})
    assert made.status_code == 201
    assert made.json()["data"] == {
        "key": "COMPANY", "displayName": "Company", "type": "text", "category": None,
    }  # fmt: skip
    again = mn.post("/public/v1/custom-fields", json={"key": "Company", "type": "number"})
    assert (again.status_code, again.json()) == (400, {"error": "key already exists"})
    bad = mn.post("/public/v1/custom-fields", json={"key": "x", "type": "colour"})
    assert bad.status_code == 400
    mn.post("/public/v1/custom-fields", json={"key": "score", "type": "number"})
    assert [(d["key"], d["type"]) for d in mn.get("/public/v1/custom-fields").json()["data"]] == [
        ("COMPANY", "text"),
        ("SCORE", "number"),
    ]


def test_minimo_soft_delete_and_restore(mn: httpx.Client, sb: SandboxThread) -> None:
    mn.post(CONTACTS, json=[{"email": "a@x.it", "phone": "+393331234567"}])
    assert mn.delete(f"{CONTACTS}/1").json() == {"id": 1, "deleted": True}
    assert mn.get(f"{CONTACTS}/by-email/a%40x.it").status_code == 404
    assert mn.delete(f"{CONTACTS}/1").status_code == 404
    assert mn.delete(f"{CONTACTS}/99").status_code == 404
    # matched by neither email nor phone: an upsert creates another contact
    assert mn.post(CONTACTS, json=[{"email": "b@x.it", "phone": "+393331234567"}]).json() == [
        {"contactId": "2"}
    ]
    restored = mn.put(f"{CONTACTS}/1", json={"customFields": {"back": "yes"}})
    assert restored.json() == {"id": 1, "phone": "+393331234567"}
    assert mn.get(f"{CONTACTS}/by-email/a%40x.it").json()["data"]["customFields"] == {"back": "yes"}
    assert "deleted" not in sb.contacts()["minimo"][0]


def test_notifuse_listing_count_and_delete(nf: httpx.Client) -> None:
    import_(nf, [{"email": f"c{i}@x.it"} for i in range(5)], subscribe_to_lists=["news"])
    assert nf.get("/api/contacts.count", params={"workspace_id": WS}).json() == {
        "total_contacts": 5
    }
    seen, cursor, pages = [], None, 0
    while True:
        params = {"workspace_id": WS, "limit": "2", "with_contact_lists": "true"}
        if cursor:
            params["cursor"] = cursor
        page = nf.get("/api/contacts.list", params=params).json()
        pages += 1
        seen += [(c["email"], _lists(c)) for c in page["contacts"]]
        cursor = page.get("next_cursor")
        if cursor is None:
            break
    assert pages == 3
    assert seen == [(f"c{i}@x.it", ["news"]) for i in range(5)]
    plain = nf.get("/api/contacts.list", params={"workspace_id": WS, "limit": "100"}).json()
    assert "contact_lists" not in plain["contacts"][0] and "next_cursor" not in plain
    too_many = nf.get("/api/contacts.list", params={"workspace_id": WS, "limit": "101"})
    assert too_many.status_code == 400
    gone = nf.post("/api/contacts.delete", json={"workspace_id": WS, "email": " C1@x.it"})
    assert gone.json() == {"success": True}
    missing = nf.post("/api/contacts.delete", json={"workspace_id": WS, "email": "c1@x.it"})
    assert (missing.status_code, missing.json()) == (404, {"error": "Contact not found"})
    assert nf.get("/api/contacts.count", params={"workspace_id": WS}).json()["total_contacts"] == 4
