"""`importer undo` (SPEC §9) against the sandbox: the stored contacts before the run, after
it, and after its undo; never a blind restore; a killed undo resumed."""

from __future__ import annotations

import csv
import os
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from importer.errors import AbortError, Interrupted, UsageError
from importer.pipeline import Context, run
from importer.sandbox import SandboxThread
from importer.settings import RunSettings
from importer.undo import UndoSettings, undo
from tests.conftest import MINIMO_KEY, NOTIFUSE_KEY, WORKSPACE, Cli, sandbox_env, through
from tests.test_protect import minimo, minimo_seed, notifuse_call, write

MINIMO = """target = "minimo"
[fields]
email = "Email"
"customFields.company" = "Company"
"customFields.note" = { column = "Note", optional = true }
"marketingConsent.email" = { column = "News", optional = true }
"""
HEADER = ["Email", "Company", "Note", "News"]


def imported(tmp: Path, sb: SandboxThread, rows: list[list[str]], mapping: str = MINIMO,
             header: list[str] = HEADER, **options: Any) -> Path:  # fmt: skip
    source = write(tmp / "leads.csv", header, rows)
    (tmp / "m.toml").write_text(mapping)
    state = options.pop("state_dir", tmp / "state")
    settings = RunSettings(
        source=source, mapping=tmp / "m.toml", report=tmp / "run.csv", state_dir=state,
        **options,
    )  # fmt: skip
    run(settings, Context(env=sandbox_env(sb.base_url)))
    return source


def undone(tmp: Path, sb: SandboxThread, **options: Any) -> tuple[int, dict[str, Any]]:
    transport = options.pop("transport", None)
    state = options.pop("state_dir", tmp / "state")
    settings = UndoSettings(
        source=tmp / "leads.csv", mapping=tmp / "m.toml", state_dir=state,
        report=tmp / "undo.csv", **options,
    )  # fmt: skip
    return undo(settings, sandbox_env(sb.base_url), transport)


def lines(tmp: Path) -> list[list[str]]:
    with (tmp / "undo.csv").open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))[1:]


def _put(sb: SandboxThread, contact_id: int, body: dict[str, Any]) -> None:
    answer = httpx.put(f"{sb.base_url}/public/v1/contacts/{contact_id}", json=body,
                       headers={"Authorization": f"Bearer {MINIMO_KEY}"})  # fmt: skip
    assert answer.status_code == 200


def test_undo_deletes_what_the_run_created_and_restores_what_it_updated(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    minimo_seed(sandbox, [{"email": "a@x.it", "customFields": {"company": "ACME"},
                           "marketingConsent": {"email": False}}])  # fmt: skip
    before = minimo(sandbox)
    rows = [["a@x.it", "Acme S.p.A.", "called", "true"], ["n@x.it", "Nuova", "", ""],
            ["", "", "", ""], ["A@x.it", "Acme S.p.A.", "called", "true"]]  # fmt: skip
    imported(tmp_path, sandbox, rows, classify=True)
    assert minimo(sandbox)["a@x.it"]["customFields"] == {"company": "Acme S.p.A.", "note": "called"}
    code, summary = undone(tmp_path, sandbox)
    assert code == 0
    assert lines(tmp_path) == [
        ["2", "a@x.it", "", "untouched", "", "", "", ""],
        ["3", "n@x.it", "", "deleted", "2", "", "", ""],
        ["4", "", "", "untouched", "", "", "", ""],
        ["5", "a@x.it", "", "restored", "1", "",
         "customFields.note: not there before the run, stays as it wrote it (Minimo cannot "
         "remove a field)",
         "customFields.company: Acme S.p.A. → ACME; marketingConsent.email: true → false"],
    ]  # fmt: skip
    after = minimo(sandbox)
    assert after["a@x.it"] == {
        **before["a@x.it"],
        "customFields": {"company": "ACME", "note": "called"},
    }
    assert sandbox.contacts()["minimo"][1]["deleted"] is True  # a soft delete
    lookup = httpx.get(f"{sandbox.base_url}/public/v1/contacts/by-email/n%40x.it",
                       headers={"Authorization": f"Bearer {MINIMO_KEY}"})  # fmt: skip
    assert lookup.status_code == 404
    assert summary["counts"] == {"untouched": 2, "deleted": 1, "restored": 1}


def test_undo_refuses_a_contact_changed_since_the_run(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    minimo_seed(sandbox, [{"email": "a@x.it", "customFields": {"company": "ACME"}}])
    imported(tmp_path, sandbox, [["a@x.it", "Run", "", ""], ["n@x.it", "New", "", ""]],
             classify=True)  # fmt: skip
    _put(sandbox, 1, {"customFields": {"company": "Edited by hand"}})
    _put(sandbox, 2, {"customFields": {"company": "Also edited"}})
    since = len(sandbox.requests())
    code, _ = undone(tmp_path, sandbox)
    assert code == 1
    assert [line[3:6] for line in lines(tmp_path)] == [
        ["not_undone", "1", "changed since the run: customFields.company is now Edited by "
         "hand (the run wrote Run)"],
        ["not_undone", "2", "changed since the run: customFields.company is now Also edited "
         "(the run wrote New)"],
    ]  # fmt: skip
    assert {r["method"] for r in sandbox.requests()[since:]} == {"GET"}
    assert minimo(sandbox)["a@x.it"]["customFields"] == {"company": "Edited by hand"}


def test_undo_after_a_run_that_captured_nothing_touches_nothing(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    imported(tmp_path, sandbox, [["a@x.it", "A", "", ""]], classify=False)
    since = len(sandbox.requests())
    code, _ = undone(tmp_path, sandbox)
    assert code == 1
    assert lines(tmp_path)[0][3:6] == [
        "not_undone", "1",
        "the run did not know whether it created or updated this contact (reported upserted): "
        "nothing to undo it with (--classify, update rules or snapshot = true look contacts up)",
    ]  # fmt: skip
    assert sandbox.requests()[since:] == []
    assert len(minimo(sandbox)) == 1


def test_an_update_is_undone_only_where_the_run_captured_it(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    """A contact the account's record already knew needs no look-up to be classified, so
    nothing of it was captured; snapshot = true looks every row up, and then it is."""
    first = tmp_path / "first"
    first.mkdir()
    imported(first, sandbox, [["a@x.it", "One", "", ""]], state_dir=tmp_path / "state")
    imported(tmp_path, sandbox, [["a@x.it", "Two", "", ""]], classify=True)
    undone(tmp_path, sandbox)
    assert lines(tmp_path)[0][3] == "not_undone"
    assert lines(tmp_path)[0][5].startswith("nothing was captured before the write")
    snapshot = tmp_path / "snap"
    snapshot.mkdir()
    imported(snapshot, sandbox, [["a@x.it", "Three", "", ""]],
             mapping=MINIMO.replace("[fields]", "[options]\nsnapshot = true\n[fields]"),
             state_dir=tmp_path / "state")  # fmt: skip
    code, _ = undone(snapshot, sandbox, state_dir=tmp_path / "state")
    assert code == 0
    assert lines(snapshot)[0][3:8] == [
        "restored", "1", "", "", "customFields.company: Three → Two",
    ]  # fmt: skip
    assert minimo(sandbox)["a@x.it"]["customFields"] == {"company": "Two"}


class _Interrupting(httpx.AsyncBaseTransport):
    """The real sandbox; a SIGINT to this process at the `after`-th DELETE."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.deletes = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            self.deletes += 1
            if self.deletes == self.after:
                os.kill(os.getpid(), signal.SIGINT)
        return await through(request)


def test_an_undo_interrupted_resumes_where_it_stopped(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    rows = [[f"c{i:02d}@x.it", "X", "", ""] for i in range(30)]
    imported(tmp_path, sandbox, rows, classify=True)
    with pytest.raises(Interrupted) as caught:
        undone(tmp_path, sandbox, concurrency=1, transport=_Interrupting(after=8))
    assert caught.value.exit_code == 130
    first = [line[3] for line in lines(tmp_path)]
    assert 5 <= first.count("deleted") < 30 and first.count("pending") == 30 - first.count(
        "deleted"
    )
    code, _ = undone(tmp_path, sandbox)
    assert code == 0 and {line[3] for line in lines(tmp_path)} == {"deleted"}
    deletes = [r for r in sandbox.requests() if r["method"] == "DELETE"]
    assert len(deletes) == 30, "no contact deleted twice"
    again, summary = undone(tmp_path, sandbox)
    assert again == 0 and summary["requests"] == 0
    assert summary["notes"][0].startswith("already undone on ")


def test_notifuse_undo_clears_new_fields_and_gives_back_a_list_left(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    notifuse_call(sandbox, "/api/contacts.import", {
        "contacts": [{"email": "a@x.it", "first_name": "Anna"}], "subscribe_to_lists": ["news"],
    })  # fmt: skip
    notifuse_call(sandbox, "/api/contactLists.updateStatus",
                  {"email": "a@x.it", "list_id": "news", "status": "unsubscribed"})  # fmt: skip
    mapping = (  # Notifuse's upserts need no look-up: snapshot = true captures the rows
        'target = "notifuse"\nlists = [{ column = "News", list = "news" }, '
        '{ column = "Promo", list = "promo" }]\n[options]\nsnapshot = true\n[fields]\n'
        'email = "Email"\nfirst_name = "First"\nlast_name = "Last"\n'
    )
    header = ["Email", "First", "Last", "News", "Promo"]
    rows = [["a@x.it", "Annie", "Rossi", "yes", "yes"], ["n@x.it", "Nina", "", "yes", ""]]
    imported(tmp_path, sandbox, rows, mapping=mapping, header=header, classify=True)
    code, _ = undone(tmp_path, sandbox)
    assert code == 0, lines(tmp_path)
    assert [line[3:8] for line in lines(tmp_path)] == [
        ["restored", "", "",
         "still subscribed to promo: not a member before the run (a membership cannot be "
         "removed through the API)",
         "first_name: Annie → Anna; last_name: Rossi → (empty); list news: active → "
         "unsubscribed"],
        ["deleted", "", "", "", ""],
    ]  # fmt: skip
    (a,) = sandbox.contacts()["notifuse"]
    assert (a["email"], a["first_name"], "last_name" in a) == ("a@x.it", "Anna", False)
    assert (a["lists"], a["ended_lists"]) == (["promo"], {"news": "unsubscribed"})


def test_undo_needs_a_completed_run_of_the_same_job(cli: Cli, sandbox: SandboxThread) -> None:
    (cli.cwd / "m.toml").write_text(MINIMO)
    write(cli.cwd / "leads.csv", HEADER, [["a@x.it", "A", "", ""]])
    done = cli("undo", "leads.csv", "--mapping", "m.toml", env=sandbox_env(sandbox.base_url))
    assert done.code == 2
    assert "No run of this job was found under" in done.stderr
    run_done = cli("run", "leads.csv", "--mapping", "m.toml", env=sandbox_env(sandbox.base_url))
    assert run_done.code == 0
    done = cli("undo", "leads.csv", "--mapping", "m.toml", env=sandbox_env(sandbox.base_url))
    assert done.code == 0, done.stderr
    said = done.stderr.splitlines()
    assert said[0] == "importer: undoing: 1/1 rows, " + said[0].split(", ")[1]  # progress
    assert said[1:3] == ["importer: undo of leads.csv → minimo", "  1 row: 1 deleted"]
    again = cli("run", "leads.csv", "--mapping", "m.toml", env=sandbox_env(sandbox.base_url))
    assert again.code == 0
    assert "(1 created), and was undone on 2026-" in again.stderr
    assert "; run with --fresh to import the file again." in again.stderr
    elsewhere = UndoSettings(source=cli.cwd / "leads.csv", mapping=cli.cwd / "m.toml",
                             state_dir=cli.cwd / "elsewhere")  # fmt: skip
    with pytest.raises(UsageError):
        undo(elsewhere, sandbox_env(sandbox.base_url))


def test_notifuse_key_never_in_the_undo_outputs(tmp_path: Path, sandbox: SandboxThread) -> None:
    mapping = 'target = "notifuse"\n[fields]\nemail = "Email"\nfirst_name = "First"\n'
    imported(tmp_path, sandbox, [["a@x.it", "A"]], mapping=mapping, header=["Email", "First"])
    undone(tmp_path, sandbox, summary_json=tmp_path / "s.json")
    for out in (tmp_path / "undo.csv", tmp_path / "s.json"):
        assert NOTIFUSE_KEY not in out.read_text()
    assert WORKSPACE not in (tmp_path / "undo.csv").read_text()


def test_a_key_rejected_during_undo_is_an_abort_that_says_what_to_do(
    cli: Cli, sandbox: SandboxThread
) -> None:
    (cli.cwd / "m.toml").write_text(MINIMO)
    write(cli.cwd / "leads.csv", HEADER, [["a@x.it", "A", "", ""]])
    assert cli("run", "leads.csv", "--mapping", "m.toml", "--classify",
               env=sandbox_env(sandbox.base_url)).code == 0  # fmt: skip
    wrong = sandbox_env(sandbox.base_url, MINIMO_API_KEY="mn-sandbox-wrongkey")
    done = cli("undo", "leads.csv", "--mapping", "m.toml", env=wrong)
    assert done.code == 3, done.stderr
    assert "Minimo rejected the API key (HTTP 401: unauthorized). Check MINIMO_API_KEY" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr and "bug" not in done.stderr
    assert len(minimo(sandbox)) == 1


def test_undo_never_deletes_a_contact_minimo_matched_by_phone(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    """Under phone_match = "allow" Minimo gives a new email to the contact that has the
    row's phone: the run's look-up (by email) reported the row created, but the contact was
    there before. Undo sees it and leaves it."""
    minimo_seed(sandbox, [{"email": "paolo@x.it", "phone": "+393471234567",
                           "customFields": {"company": "Paolo Srl"}}])  # fmt: skip
    mapping = MINIMO.replace("[fields]", '[options]\ndefault_region = "IT"\nsnapshot = true\n'
                             '[fields]\nphone = "Phone"')  # fmt: skip
    imported(tmp_path, sandbox, [["luca@x.it", "", "", "", "347 123 4567"]], mapping=mapping,
             header=[*HEADER, "Phone"])  # fmt: skip
    assert minimo(sandbox)["luca@x.it"]["id"] == 1  # Paolo, taken over: the API's behaviour
    code, _ = undone(tmp_path, sandbox)
    assert code == 1
    (line,) = lines(tmp_path)
    assert line[3] == "not_undone"
    assert line[5].startswith("the contact was created before the run (")
    assert line[5].endswith(
        "): Minimo matched this row to it by phone and gave it this email, so it is not deleted"
    )
    assert "deleted" not in sandbox.contacts()["minimo"][0]


def test_a_created_contact_holding_values_the_run_did_not_write_is_not_deleted() -> None:
    from importer.undo.apis import _existed_before

    written = {"email": "luca@x.it", "phone": "+393471234567", "customFields": {"a": "1"}}
    ours = {"id": 1, "email": "luca@x.it", "phone": "+393471234567",
            "customFields": {"a": "1"}, "marketingConsent": {}}  # fmt: skip
    assert _existed_before(ours, written, None) is None
    theirs = {**ours, "customFields": {"a": "1", "company": "Paolo Srl"}}
    assert _existed_before(theirs, written, None) == (
        "the contact holds values the run did not write (customFields.company): it was there "
        "before the run (Minimo matches a new email by phone) or was given them since, so it "
        "is not deleted"
    )


class _ListStatusDown(httpx.AsyncBaseTransport):
    """The real sandbox, except Notifuse's contactLists.updateStatus: 503."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/contactLists.updateStatus":
            return httpx.Response(503, json={"error": "down"})
        return await through(request)


def test_a_list_left_by_its_contact_is_given_back_even_when_the_fields_went_first(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    """The fields restored, the list's status refused for a while: the row stays pending,
    and the undo run again sets the list back (it does not stop at "fields as before")."""
    notifuse_call(sandbox, "/api/contacts.import", {
        "contacts": [{"email": "a@x.it", "first_name": "Anna"}], "subscribe_to_lists": ["news"],
    })  # fmt: skip
    notifuse_call(sandbox, "/api/contactLists.updateStatus",
                  {"email": "a@x.it", "list_id": "news", "status": "unsubscribed"})  # fmt: skip
    mapping = (
        'target = "notifuse"\nlists = { column = "News", list = "news" }\n[options]\n'
        'snapshot = true\n[fields]\nemail = "Email"\nfirst_name = "First"\n'
    )
    imported(tmp_path, sandbox, [["a@x.it", "Annie", "yes"]], mapping=mapping,
             header=["Email", "First", "News"])  # fmt: skip
    assert sandbox.contacts()["notifuse"][0]["lists"] == ["news"]
    with pytest.raises(AbortError):  # 503s after every retry: the run's abort
        undone(tmp_path, sandbox, transport=_ListStatusDown(), max_attempts=1)
    assert sandbox.contacts()["notifuse"][0]["first_name"] == "Anna"  # the fields went first
    code, _ = undone(tmp_path, sandbox)
    assert code == 0, lines(tmp_path)
    assert lines(tmp_path)[0][3:8] == [
        "restored", "", "",
        "already as before the run (restored by an earlier attempt of this undo?)",
        "list news: active → unsubscribed",
    ]  # fmt: skip
    (a,) = sandbox.contacts()["notifuse"]
    assert (a["lists"], a["ended_lists"]) == ([], {"news": "unsubscribed"})
