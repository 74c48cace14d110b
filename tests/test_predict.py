"""Knowing before you send (SPEC §8): a predictive dry run looks contacts up with read-only
requests and reports what a run would change; Minimo's custom-field definitions are
checked before a row is sent. Driven end to end against the sandbox."""

from __future__ import annotations

import csv
import os
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from importer.errors import AbortError, Interrupted, UsageError
from importer.pipeline import Context, RunResult, run
from importer.sandbox import SandboxThread
from importer.settings import RunSettings
from tests.conftest import MINIMO_KEY, NOTIFUSE_KEY, WORKSPACE, sandbox_env, through

HEADER = ["Email", "Phone", "City"]


def write(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, *rows])
    return path


def minimo_mapping(path: Path, extra: str = "") -> Path:
    path.write_text(
        'target = "minimo"\n[options]\ndefault_region = "IT"\n[fields]\n'
        'email = "Email"\nphone = { column = "Phone", optional = true }\n'
        f'"customFields.city" = {{ column = "City", optional = true }}\n{extra}'
    )
    return path


def notifuse_mapping(path: Path) -> Path:
    path.write_text('target = "notifuse"\n[fields]\nemail = "Email"\ncustom_string_1 = "City"\n')
    return path


def go(
    tmp: Path, sb: SandboxThread, source: Path, mapping: Path, **options: Any
) -> tuple[RunResult, list[list[str]]]:
    transport = options.pop("transport", None)
    settings = RunSettings(
        source=source,
        mapping=mapping,
        report=tmp / "report.csv",
        state_dir=options.pop("state_dir", tmp / "state"),
        **options,
    )
    result = run(settings, Context(env=sandbox_env(sb.base_url), transport=transport))
    return result, report(tmp / "report.csv")


def report(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def test_a_minimo_prediction_reports_what_would_change_and_writes_nothing(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    mapping = minimo_mapping(tmp_path / "m.toml")
    first = [["a@x.it", "333 0000001", "Rome"], ["b@x.it", "", "Milan"]]
    go(tmp_path, sandbox, write(tmp_path / "first.csv", first), mapping, classify=False)
    before = sandbox.contacts()
    logged = len(sandbox.requests())
    rows = [
        ["A@x.it", "333 0000001", "Turin"],
        ["b@x.it", "", "Milan"],
        ["c@x.it", "333 0000003", "Naples"],
        ["d@x.it", "", ""],
        ["b@x.it", "", ""],
    ]
    source = write(tmp_path / "next.csv", rows)
    result, lines = go(tmp_path, sandbox, source, mapping, dry_run=True, predict=True)
    assert result.exit_code == 0
    assert lines == [
        ["row", "email", "phone", "status", "contact_id", "error", "warning", "changes"],
        ["2", "a@x.it", "'+393330000001", "would_update", "", "", "",
         "customFields.city: Rome → Turin"],
        ["3", "b@x.it", "", "duplicate", "", "", "same email as row 6: merged into it", ""],
        ["4", "c@x.it", "'+393330000003", "would_create", "", "",
         "no contact has this email, but Minimo matches a new email by phone: a contact with "
         "+393330000003 would be updated instead (phones cannot be looked up)", ""],
        ["5", "d@x.it", "", "would_create", "", "", "", ""],
        ["6", "b@x.it", "", "no_change", "", "", "merged with row 3 (same email)", ""],
    ]  # fmt: skip
    assert result.summary["counts"] == {
        "would_update": 1, "duplicate": 1, "would_create": 2, "no_change": 1,
    }  # fmt: skip
    assert result.summary["lookups"] == {
        "method": "per_email", "requests": 4, "rows": 4, "listed": 0, "left": 0,
    }  # fmt: skip
    assert "look-ups: 4 rows looked up one by one (4 requests)" in result.text
    made = sandbox.requests()[logged:]
    assert {r["method"] for r in made} == {"GET"}, "a prediction never writes"
    assert sandbox.contacts() == before


def _seed_notifuse(sb: SandboxThread, n: int) -> None:
    contacts = [{"email": f"old{i:04d}@x.it", "custom_string_1": "Rome"} for i in range(n)]
    body = {"workspace_id": WORKSPACE, "contacts": contacts}
    headers = {"Authorization": f"Bearer {NOTIFUSE_KEY}"}
    answer = httpx.post(f"{sb.base_url}/api/contacts.import", json=body, headers=headers)
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("workspace", "rows", "method", "requests"),
    [(5, 20, "listing", 2), (250, 2, "per_email", 3), (250, 4, "listing", 4)],
    ids=["small-workspace-listed", "big-workspace-one-by-one", "three-pages-beat-four"],
)
def test_notifuse_lists_the_workspace_when_that_takes_fewer_requests(
    tmp_path: Path, sandbox: SandboxThread, workspace: int, rows: int, method: str, requests: int
) -> None:
    _seed_notifuse(sandbox, workspace)
    lines = [[f"old{i:04d}@x.it", "", "Rome" if i % 2 else "Turin"] for i in range(rows - 1)]
    lines.append(["new@x.it", "", "Rome"])
    source = write(tmp_path / "leads.csv", lines)
    logged = len(sandbox.requests())
    result, found = go(
        tmp_path, sandbox, source, notifuse_mapping(tmp_path / "m.toml"), dry_run=True, predict=True
    )
    assert result.summary["lookups"]["method"] == method
    assert result.summary["lookups"]["requests"] == requests  # the count is one of them
    assert result.summary["lookups"]["rows"] == rows  # the new email too: no such contact
    assert len(sandbox.requests()) - logged == requests + 1  # and the pre-flight check
    expected = [
        "would_create" if i >= workspace else "no_change" if i % 2 else "would_update"
        for i in range(rows - 1)
    ]
    assert [line[3] for line in found[1:]] == [*expected, "would_create"]
    assert found[1][7] == "custom_string_1: Rome → Turin"


def test_notifuse_lists_subscriptions_are_changes(tmp_path: Path, sandbox: SandboxThread) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        'target = "notifuse"\nlists = { column = "News", list = "news" }\n'
        '[fields]\nemail = "Email"\n'
    )
    header = ["Email", "News"]
    go(tmp_path, sandbox, write(tmp_path / "a.csv", [["a@x.it", "yes"], ["b@x.it", "no"]], header),
       mapping)  # fmt: skip
    source = write(tmp_path / "b.csv", [["a@x.it", "yes"], ["b@x.it", "yes"]], header)
    _, lines = go(tmp_path, sandbox, source, mapping, dry_run=True, predict=True)
    assert [(line[3], line[7]) for line in lines[1:]] == [
        ("no_change", ""),
        ("would_update", "list news: (empty) → subscribed"),
    ]


class _Failing(httpx.AsyncBaseTransport):
    """The real network, except look-ups of `failing` emails (503), and a SIGINT to this
    process once `interrupt_after` look-ups went through."""

    def __init__(self, failing: frozenset[str] = frozenset(), interrupt_after: int = 0) -> None:
        self.failing = failing
        self.interrupt_after = interrupt_after
        self.lookups = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "/by-email/" in request.url.path:
            self.lookups += 1
            if self.lookups == self.interrupt_after:
                os.kill(os.getpid(), signal.SIGINT)
            if any(request.url.path.endswith("/" + e) for e in self.failing):
                return httpx.Response(503, json={"error": "busy"})
        return await through(request)


def _lookups(sb: SandboxThread, since: int) -> list[str]:
    """Emails looked up since request number `since` (the pre-flight check left out)."""
    found = [e for r in sb.requests()[since:] if "/by-email/" in r["path"] for e in r["emails"]]
    return [e for e in found if not e.startswith("preflight-check@")]


def test_a_prediction_asks_again_only_what_it_could_not_look_up(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    rows = [[f"p{i}@x.it", "", "Rome"] for i in range(6)]
    source, mapping = write(tmp_path / "l.csv", rows), minimo_mapping(tmp_path / "m.toml")
    with pytest.raises(AbortError) as caught:
        go(tmp_path, sandbox, source, mapping, dry_run=True, predict=True, max_attempts=1,
           transport=_Failing(frozenset({"p2@x.it"})))  # fmt: skip
    assert caught.value.exit_code == 3
    assert caught.value.message == (
        "1 row could not be looked up, even when asked again at the end; the last reason: "
        "server error: HTTP 503: busy."
    )
    lines = report(tmp_path / "report.csv")
    assert [line[3] for line in lines[1:]] == ["would_create"] * 2 + ["pending"] + [
        "would_create"
    ] * 3
    since = len(sandbox.requests())
    result, lines = go(tmp_path, sandbox, source, mapping, dry_run=True, predict=True)
    assert _lookups(sandbox, since) == ["p2@x.it"]
    assert [line[3] for line in lines[1:]] == ["would_create"] * 6
    assert result.exit_code == 0


def test_a_prediction_stops_on_sigint_and_resumes(tmp_path: Path, sandbox: SandboxThread) -> None:
    rows = [[f"s{i:02d}@x.it", "", "Rome"] for i in range(40)]
    source, mapping = write(tmp_path / "l.csv", rows), minimo_mapping(tmp_path / "m.toml")
    with pytest.raises(Interrupted) as caught:
        go(tmp_path, sandbox, source, mapping, dry_run=True, predict=True, concurrency=1,
           transport=_Failing(interrupt_after=10))  # fmt: skip
    assert caught.value.exit_code == 130
    first = [line[3] for line in report(tmp_path / "report.csv")[1:]]
    done = first.count("would_create")
    assert 5 <= done < 40 and first.count("pending") == 40 - done
    since = len(sandbox.requests())
    result, lines = go(tmp_path, sandbox, source, mapping, dry_run=True, predict=True)
    assert len(_lookups(sandbox, since)) == 40 - done
    assert result.exit_code == 0 and {line[3] for line in lines[1:]} == {"would_create"}


def test_predict_needs_dry_run(tmp_path: Path, sandbox: SandboxThread) -> None:
    source, mapping = write(tmp_path / "l.csv", []), minimo_mapping(tmp_path / "m.toml")
    with pytest.raises(UsageError, match="--predict only works with --dry-run"):
        go(tmp_path, sandbox, source, mapping, predict=True)


def _define(sb: SandboxThread, key: str, kind: str) -> None:
    headers = {"Authorization": f"Bearer {MINIMO_KEY}"}
    answer = httpx.post(
        f"{sb.base_url}/public/v1/custom-fields", json={"key": key, "type": kind}, headers=headers
    )
    assert answer.status_code == 201


def _defined(sb: SandboxThread) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {MINIMO_KEY}"}
    found = httpx.get(f"{sb.base_url}/public/v1/custom-fields", headers=headers).json()["data"]
    return {d["key"]: d["type"] for d in found}


def test_custom_fields_checked_against_the_accounts_definitions(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    _define(sandbox, "score", "number")
    _define(sandbox, "company", "text")
    mapping = minimo_mapping(
        tmp_path / "m.toml", '"customFields.score" = "Score"\n"customFields.compnay" = "Company"\n'
    )
    header = [*HEADER, "Score", "Company"]
    rows = [["a@x.it", "", "Rome", "12", "ACME"], ["b@x.it", "", "Milan", "lots", "Beta"]]
    source = write(tmp_path / "l.csv", rows, header)
    result, lines = go(tmp_path, sandbox, source, mapping, classify=False)
    assert result.exit_code == 1
    assert lines[2][3:6] == [
        "error", "",
        "customFields.score: 'lots' is not a number (the account defines SCORE as number)",
    ]  # fmt: skip
    assert [c["email"] for c in sandbox.contacts()["minimo"]] == ["a@x.it"]
    assert (
        "custom fields the account does not define: customFields.city, customFields.compnay "
        "(closest defined: COMPANY); Minimo would create them as sent (--create-fields "
        "defines them first)"
    ) in result.summary["notes"]
    since = len(sandbox.requests())
    result, _ = go(tmp_path, sandbox, source, mapping, dry_run=True, predict=True,
                   create_fields=True)  # fmt: skip
    assert (
        "--create-fields would define CITY, COMPNAY (a prediction defines nothing)"
        in (result.summary["notes"])
    )
    assert {r["method"] for r in sandbox.requests()[since:]} == {"GET"}
    result, _ = go(tmp_path, sandbox, source, mapping, classify=False, create_fields=True,
                   fresh=True)  # fmt: skip
    assert _defined(sandbox) == {
        "CITY": "text", "COMPANY": "text", "COMPNAY": "text", "SCORE": "number",
    }  # fmt: skip
    assert "custom field CITY created (text)" in result.summary["notes"]


def test_classification_fills_the_changes_of_a_live_run(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    mapping = minimo_mapping(tmp_path / "m.toml")
    # imported by someone else: this state folder's account record does not know it
    go(tmp_path, sandbox, write(tmp_path / "a.csv", [["a@x.it", "", "Rome"]]), mapping,
       classify=False, state_dir=tmp_path / "elsewhere")  # fmt: skip
    source = write(tmp_path / "b.csv", [["a@x.it", "", "Turin"], ["n@x.it", "", "Bari"]])
    result, lines = go(tmp_path, sandbox, source, mapping, classify=True)
    assert [(line[3], line[7]) for line in lines[1:]] == [
        ("updated", "customFields.city: Rome → Turin"),
        ("created", ""),
    ]
    assert result.summary["lookups"]["rows"] == 2
