"""Protecting the account (SPEC §9): update rules and the phone-takeover guard, driven end
to end against the sandbox, with the stored contacts asserted before and after."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import httpx

from importer.pipeline import Context, RunResult, run
from importer.sandbox import SandboxThread
from importer.settings import RunSettings
from tests.conftest import MINIMO_KEY, NOTIFUSE_KEY, WORKSPACE, sandbox_env, through


def write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, *rows])
    return path


def go(tmp: Path, sb: SandboxThread, source: Path, mapping: str, **options: Any) -> RunResult:
    (tmp / "m.toml").write_text(mapping)
    transport = options.pop("transport", None)
    settings = RunSettings(
        source=source,
        mapping=tmp / "m.toml",
        report=tmp / "report.csv",
        state_dir=options.pop("state_dir", tmp / "state"),
        **options,
    )
    return run(settings, Context(env=sandbox_env(sb.base_url), transport=transport))


def report(tmp: Path) -> list[list[str]]:
    with (tmp / "report.csv").open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))[1:]


def minimo(sb: SandboxThread) -> dict[str, dict[str, Any]]:
    """Stored Minimo contacts by email, without timestamps."""
    return {
        c["email"]: {k: v for k, v in c.items() if k not in ("createdAt", "updatedAt", "email")}
        for c in sb.contacts()["minimo"]
    }


def minimo_seed(sb: SandboxThread, contacts: list[dict[str, Any]]) -> None:
    answer = httpx.post(
        f"{sb.base_url}/public/v1/contacts",
        json=contacts,
        headers={"Authorization": f"Bearer {MINIMO_KEY}"},
    )
    assert answer.status_code == 200


def notifuse_call(sb: SandboxThread, path: str, body: dict[str, Any]) -> None:
    answer = httpx.post(
        f"{sb.base_url}{path}",
        json={"workspace_id": WORKSPACE, **body},
        headers={"Authorization": f"Bearer {NOTIFUSE_KEY}"},
    )
    assert answer.status_code == 200, answer.text


RULES = """target = "minimo"
[options]
default_region = "IT"
[fields]
email = "Email"
"customFields.company" = { column = "Company", update = "if_empty" }
"customFields.city" = { column = "City", update = "on_create" }
"customFields.note" = "Note"
"marketingConsent.email" = { column = "Newsletter", update = "protect_opt_out" }
"""
HEADER = ["Email", "Company", "City", "Note", "Newsletter"]


def test_rules_keep_what_existing_contacts_have_and_never_opt_anyone_back_in(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    minimo_seed(sandbox, [
        {"email": "a@x.it", "customFields": {"company": "ACME"},
         "marketingConsent": {"email": False}},
        {"email": "b@x.it", "customFields": {"city": "Turin"},
         "marketingConsent": {"email": True}},
    ])  # fmt: skip
    rows = [
        ["a@x.it", "Acme S.p.A.", "Rome", "called", "yes"],
        ["b@x.it", "Beta", "Milan", "", "no"],
        ["n@x.it", "Nuovo", "Bari", "new", "yes"],
    ]
    result = go(tmp_path, sandbox, write(tmp_path / "l.csv", HEADER, rows), RULES)
    assert result.exit_code == 0
    assert [line[3:7] + line[7:8] for line in report(tmp_path)] == [
        ["updated", "1", "",
         "customFields.city: kept (empty), not sent 'Rome' (update = on_create); "
         "customFields.company: kept 'ACME', not sent 'Acme S.p.A.' (update = if_empty); "
         "marketingConsent.email: kept false, not sent true (update = protect_opt_out)",
         "customFields.note: (empty) → called"],
        ["updated", "2", "",
         "customFields.city: kept 'Turin', not sent 'Milan' (update = on_create)",
         "customFields.company: (empty) → Beta; marketingConsent.email: true → false"],
        ["created", "3", "", "", ""],
    ]  # fmt: skip
    assert minimo(sandbox) == {
        "a@x.it": {"id": 1, "phone": None,
                   "customFields": {"company": "ACME", "note": "called"},
                   "marketingConsent": {"email": False}},
        "b@x.it": {"id": 2, "phone": None,
                   "customFields": {"city": "Turin", "company": "Beta"},
                   "marketingConsent": {"email": False}},
        "n@x.it": {"id": 3, "phone": None,
                   "customFields": {"company": "Nuovo", "city": "Bari", "note": "new"},
                   "marketingConsent": {"email": True}},
    }  # fmt: skip
    notes = result.summary["notes"]
    assert (
        "update rules: 3 contacts to look up before sending (the API's rate limit decides how "
        "long: 0m00s at 10/s)" in notes
    )
    assert (
        "update rules held back 4 values (1 if_empty, 2 on_create, 1 protect_opt_out): each "
        "is named in its row's warning" in notes
    )


def test_a_prediction_with_rules_is_no_change_when_only_held_back_values_differ(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    minimo_seed(sandbox, [
        {"email": "a@x.it", "customFields": {"company": "ACME"}},
        {"email": "s@x.it", "customFields": {"company": "Same"},
         "marketingConsent": {"email": True}},
    ])  # fmt: skip
    rows = [["a@x.it", "Other", "", "", ""], ["a2@x.it", "", "", "x", ""],
            ["s@x.it", "Same", "", "", "yes"]]  # fmt: skip
    source = write(tmp_path / "l.csv", HEADER, rows)
    result = go(tmp_path, sandbox, source, RULES, dry_run=True, predict=True)
    assert [(line[3], line[6], line[7]) for line in report(tmp_path)] == [
        ("no_change", "customFields.company: kept 'ACME', not sent 'Other' (update = if_empty)",
         ""),
        ("would_create", "", ""),
        ("no_change", "", ""),  # a value equal to the contact's is not held back: it is the same
    ]  # fmt: skip
    assert result.summary["counts"] == {"no_change": 2, "would_create": 1}
    assert (
        "update rules held back 1 value (1 if_empty): each is named in its row's warning"
        in result.summary["notes"]
    )


def test_rules_apply_to_the_contact_merged_from_duplicates(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    minimo_seed(sandbox, [{"email": "a@x.it", "customFields": {"company": "ACME"}}])
    rows = [["a@x.it", "First", "", "n1", ""], ["A@x.it ", "Second", "", "n2", ""]]
    go(tmp_path, sandbox, write(tmp_path / "l.csv", HEADER, rows), RULES)
    assert [line[3] for line in report(tmp_path)] == ["duplicate", "updated"]
    assert report(tmp_path)[1][6] == (
        "merged with row 2 (same email); customFields.company: kept 'ACME', not sent "
        "'Second' (update = if_empty)"
    )
    assert minimo(sandbox)["a@x.it"]["customFields"] == {"company": "ACME", "note": "n2"}


def test_a_contact_created_by_an_earlier_attempt_of_the_run_keeps_its_on_create_values(
    tmp_path: Path,
) -> None:
    """Every answer is lost after the write (and sent again): the look-up made before the
    first attempt is what the rules go by, so a re-sent row is not taken for an update."""
    from importer.sandbox import SandboxConfig

    config = SandboxConfig(port=0, drop="after", drop_rate=0.5, seed=4)
    rows = [[f"c{i}@x.it", "", f"city {i}", "", ""] for i in range(12)]
    with SandboxThread(config) as sb:
        result = go(tmp_path, sb, write(tmp_path / "l.csv", HEADER, rows), RULES,
                    batch_size=3, max_attempts=10)  # fmt: skip
        stored = minimo(sb)
        dropped = sum(r["outcome"] == "dropped_after" for r in sb.requests())
    assert result.exit_code == 0 and dropped > 0
    assert {e: c["customFields"].get("city") for e, c in stored.items()} == {
        f"c{i}@x.it": f"city {i}" for i in range(12)
    }
    assert {line[3] for line in report(tmp_path)} == {"created"}


def test_skip_unchanged_with_rules_compares_what_the_file_says(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    minimo_seed(sandbox, [{"email": "a@x.it", "customFields": {"company": "ACME"}}])
    source = write(tmp_path / "l.csv", HEADER, [["a@x.it", "Other", "", "n", ""]])
    go(tmp_path, sandbox, source, RULES)
    result = go(tmp_path, sandbox, source, RULES, skip_unchanged=True, fresh=True)
    assert [line[3] for line in report(tmp_path)] == ["unchanged"]
    assert result.summary["requests"] == 0


NOTIFUSE = """target = "notifuse"
lists = { column = "News", list = "news", update = "protect_opt_out" }
[options]
empty = "clear"
[fields]
email = "Email"
first_name = { column = "First", update = "if_empty" }
last_name = "Last"
"""


def test_notifuse_clear_with_if_empty_and_a_list_left_by_its_contact(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    notifuse_call(sandbox, "/api/contacts.import", {
        "contacts": [{"email": "a@x.it", "first_name": "Anna", "last_name": "Old"},
                     {"email": "b@x.it", "last_name": "Old"}],
        "subscribe_to_lists": ["news"],
    })  # fmt: skip
    notifuse_call(sandbox, "/api/contactLists.updateStatus",
                  {"email": "a@x.it", "list_id": "news", "status": "unsubscribed"})  # fmt: skip
    header = ["Email", "First", "Last", "News"]
    rows = [["a@x.it", "", "", "yes"], ["b@x.it", "Bea", "New", "yes"]]
    result = go(tmp_path, sandbox, write(tmp_path / "l.csv", header, rows), NOTIFUSE)
    assert result.exit_code == 0
    assert [line[6:8] for line in report(tmp_path)] == [
        ["first_name: kept 'Anna', not sent (empty) (update = if_empty); list news: kept "
         "unsubscribed, not subscribed (update = protect_opt_out)", "last_name: Old → (empty)"],
        ["", "first_name: (empty) → Bea; last_name: Old → New"],
    ]  # fmt: skip
    stored = {c["email"]: c for c in sandbox.contacts()["notifuse"]}
    assert stored["a@x.it"]["first_name"] == "Anna" and "last_name" not in stored["a@x.it"]
    assert stored["a@x.it"]["ended_lists"] == {"news": "unsubscribed"}
    assert stored["a@x.it"]["lists"] == []
    assert (stored["b@x.it"]["first_name"], stored["b@x.it"]["lists"]) == ("Bea", ["news"])


def test_notifuse_import_mode_keeps_the_creation_date_of_contacts_it_updates(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    notifuse_call(sandbox, "/api/contacts.upsert", {
        "contact": {"email": "a@x.it", "first_name": "Anna",
                    "created_at": "2020-01-02T03:04:05Z"},
    })  # fmt: skip
    mapping = NOTIFUSE.replace('empty = "clear"', "").replace("lists = {", "# lists = {")
    rows = [["a@x.it", "X", "Rossi", ""], ["n@x.it", "Nina", "Neri", ""]]
    source = write(tmp_path / "l.csv", ["Email", "First", "Last", "News"], rows)
    assert go(tmp_path, sandbox, source, mapping, notifuse_mode="import").exit_code == 0
    stored = {c["email"]: c for c in sandbox.contacts()["notifuse"]}
    assert stored["a@x.it"]["created_at"] == "2020-01-02T03:04:05Z"
    assert (stored["a@x.it"]["first_name"], stored["a@x.it"]["last_name"]) == ("Anna", "Rossi")


GUARD = """target = "minimo"
[options]
default_region = "IT"
phone_match = "{match}"
[fields]
email = "Email"
phone = "Phone"
"customFields.source" = {{ value = "fair" }}
"""


def _takeover_setup(sb: SandboxThread) -> None:
    minimo_seed(sb, [{"email": "old@x.it", "phone": "+393331234567",
                      "customFields": {"name": "Old"}}])  # fmt: skip


def test_allow_documents_minimos_takeover_by_phone(tmp_path: Path, sandbox: SandboxThread) -> None:
    """The API's own behaviour: a new email with a known phone updates that contact and
    replaces its email (what phone_match = "protect" prevents)."""
    _takeover_setup(sandbox)
    source = write(tmp_path / "l.csv", ["Email", "Phone"], [["new@x.it", "333 1234567"]])
    go(tmp_path, sandbox, source, GUARD.format(match="allow"), classify=False)
    assert minimo(sandbox) == {
        "new@x.it": {"id": 1, "phone": "+393331234567",
                     "customFields": {"name": "Old", "source": "fair"}, "marketingConsent": {}},
    }  # fmt: skip


def test_protect_creates_the_new_contact_and_sets_its_phone_after(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    _takeover_setup(sandbox)
    minimo_seed(sandbox, [{"email": "known@x.it"}])
    rows = [["new@x.it", "333 1234567"], ["known@x.it", "333 7654321"]]
    since = len(sandbox.requests())
    result = go(tmp_path, sandbox, write(tmp_path / "l.csv", ["Email", "Phone"], rows),
                GUARD.format(match="protect"), classify=False)  # fmt: skip
    assert result.exit_code == 0
    assert minimo(sandbox) == {
        "old@x.it": {"id": 1, "phone": "+393331234567", "customFields": {"name": "Old"},
                     "marketingConsent": {}},
        "known@x.it": {"id": 2, "phone": "+393337654321", "customFields": {"source": "fair"},
                       "marketingConsent": {}},
        "new@x.it": {"id": 3, "phone": "+393331234567", "customFields": {"source": "fair"},
                     "marketingConsent": {}},
    }  # fmt: skip
    assert [line[1:5] for line in report(tmp_path)] == [
        ["new@x.it", "'+393331234567", "created", "3"],
        ["known@x.it", "'+393337654321", "updated", "2"],
    ]
    writes = [(r["method"], r["path"]) for r in sandbox.requests()[since:] if r["method"] != "GET"]
    assert writes == [("POST", "/public/v1/contacts"), ("PUT", "/public/v1/contacts/3")]
    posted = [r for r in sandbox.requests()[since:] if r["method"] == "POST"]
    assert posted[0]["emails"] == ["new@x.it", "known@x.it"]
    assert (
        'phone_match = "protect": 2 contacts to look up before sending (the API\'s rate limit '
        "decides how long: 0m00s at 10/s)" in result.summary["notes"]
    )


class _RefusePut(httpx.AsyncBaseTransport):
    """The real sandbox, but every PUT is refused."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            return httpx.Response(400, json={"error": "invalid_phone_number"})
        return await through(request)


def test_protect_keeps_the_contact_when_its_phone_is_refused(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    _takeover_setup(sandbox)
    source = write(tmp_path / "l.csv", ["Email", "Phone"], [["new@x.it", "333 1234567"]])
    go(tmp_path, sandbox, source, GUARD.format(match="protect"), classify=False,
       transport=_RefusePut())  # fmt: skip
    assert report(tmp_path)[0][3:7] == [
        "created", "2", "",
        "phone +393331234567 not set on the new contact (phone_match = protect): "
        "invalid_phone_number",
    ]  # fmt: skip
    stored = minimo(sandbox)
    assert stored["old@x.it"]["phone"] == "+393331234567"
    assert stored["new@x.it"]["phone"] is None
