"""What an unknown outcome means (SPEC §5, §6): a row whose request failed for a transient
reason is never final, a write whose outcome is unknown is never trusted as unchanged, and
a row is `attempted` only once its request went out."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from importer.errors import AbortError
from importer.journal import Journal, Outcome, PendingRow
from importer.normalizing import Staged, record
from importer.pipeline import Context, run
from importer.sandbox import SandboxConfig, SandboxThread
from importer.settings import RunSettings
from tests.conftest import MINIMO_KEY, NOTIFUSE_KEY, WORKSPACE, sandbox_env
from tests.test_delivery import leads, mapping
from tests.test_resume import finish, start


def report(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))[1:]


def statuses(path: Path) -> list[str]:
    return [line[3] for line in report(path)]


def test_an_outage_leaves_rows_pending_and_the_same_command_delivers_them(tmp_path: Path) -> None:
    """The sandbox stops mid-run: exit 3 and no row `error`; restarted, the same command
    delivers every row that was not (once, an outage made 20 rows final errors)."""
    n = 600
    leads(tmp_path / "leads.csv", n)
    mapping(tmp_path / "m.toml", "minimo")
    db = str(tmp_path / "sandbox.sqlite")
    extra = ("--rate", "100", "--batch-size", "10", "--max-attempts", "3", "--no-classify")
    with SandboxThread(SandboxConfig(port=0, db=db)) as sb:
        port = int(sb.base_url.rsplit(":", 1)[1])
        proc = start(tmp_path, sb, "minimo", *extra)
        while sum(r["status"] == 200 for r in sb.requests() if r["method"] == "POST") < 15:
            time.sleep(0.01)
    code, _, err = finish(proc)  # the sandbox is gone: connections refused
    assert code == 3, err
    assert "Aborted: 3 requests in a row" in err
    first = statuses(tmp_path / "report.csv")
    assert "error" not in first
    assert 15 <= first.count("upserted") < n and first.count("pending") == n - first.count(
        "upserted"
    )
    with SandboxThread(SandboxConfig(port=port, db=db)) as sb:
        assert len(sb.contacts()["minimo"]) == first.count("upserted")
        code, _, err = finish(start(tmp_path, sb, "minimo", *extra))
        assert code == 0, err
        assert len(sb.contacts()["minimo"]) == n
        sent = [r for r in sb.requests() if r["method"] == "POST"]
    assert statuses(tmp_path / "report.csv") == ["upserted"] * n
    assert sum(len(r["emails"]) for r in sent) == first.count("pending")


def _flaky(failing: dict[str, int]) -> httpx.MockTransport:
    """Minimo whose upserts fail (503) while a row's email has failures left."""
    created: dict[str, int] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(404, json={"error": "not_found"})
        emails = [c["email"] for c in orjson.loads(request.content)]
        if any(failing.get(e, 0) > 0 for e in emails):
            for e in emails:
                failing[e] = failing.get(e, 0) - 1
            return httpx.Response(503, json={"error": "busy"})
        ids = [created.setdefault(e, len(created) + 1) for e in emails]
        return httpx.Response(200, json=[{"contactId": str(i)} for i in ids])

    return httpx.MockTransport(handler)


def _settings(tmp_path: Path, n: int, **options: Any) -> RunSettings:
    return RunSettings(
        source=leads(tmp_path / "leads.csv", n),
        mapping=mapping(tmp_path / "m.toml", "minimo"),
        report=tmp_path / "report.csv",
        state_dir=tmp_path / "state",
        batch_size=1,
        concurrency=1,
        max_attempts=1,
        **options,
    )


def test_rows_whose_requests_failed_are_sent_again_at_the_end_of_the_run(tmp_path: Path) -> None:
    """A flaky hour that never fails three times in a row loses nothing: the rows whose
    request failed are tried again once everything else was sent."""
    failing = {"lead0003@gmail.com": 1, "lead0007@gmail.com": 1}
    context = Context(env=sandbox_env("http://127.0.0.1:9"), transport=_flaky(failing))
    result = run(_settings(tmp_path, 10), context)
    assert result.exit_code == 0
    lines = report(tmp_path / "report.csv")
    assert [line[3] for line in lines] == ["created"] * 10
    # rows 5 and 9 were sent last: their contacts were created last
    assert [line[4] for line in lines] == ["1", "2", "3", "9", "4", "5", "6", "10", "7", "8"]
    assert result.summary["retries"] == 0
    # the custom-field definitions, look-ups, then 10 upserts and 2 again
    assert result.summary["requests"] == 1 + 10 + 12


def test_rows_still_failing_at_the_end_of_the_run_exit_3_pending(tmp_path: Path) -> None:
    failing = {"lead0003@gmail.com": 2}
    context = Context(env=sandbox_env("http://127.0.0.1:9"), transport=_flaky(failing))
    with pytest.raises(AbortError) as caught:
        run(_settings(tmp_path, 10), context)
    assert caught.value.exit_code == 3
    assert caught.value.paragraph() == (
        "1 row could not be delivered, even when tried again at the end of the run; the last "
        "reason: server error: HTTP 503: busy (after 1 attempt). They are reported `pending`: "
        "run the same command again to deliver them (nothing already acknowledged is sent "
        "twice)."
    )
    lines = report(tmp_path / "report.csv")
    assert [line[3] for line in lines].count("created") == 9
    assert lines[3][3:6] == [
        "pending",
        "",
        "not delivered yet: server error: HTTP 503: busy (after 1 attempt)",
    ]
    # and the next run delivers it: the server is fine again
    again = run(_settings(tmp_path, 10), context)
    assert again.exit_code == 0
    assert [line[3] for line in report(tmp_path / "report.csv")] == ["created"] * 10


def _post(base_url: str, api: str, body: Any) -> None:
    if api == "minimo":
        url, key = f"{base_url}/public/v1/contacts", MINIMO_KEY
    else:
        url, key = f"{base_url}/api/contacts.upsert", NOTIFUSE_KEY
        body = {"workspace_id": WORKSPACE, "contact": body}
    httpx.post(url, json=body, headers={"Authorization": f"Bearer {key}"}).raise_for_status()


@pytest.mark.parametrize("api", ["minimo", "notifuse"])
def test_skip_unchanged_never_trusts_a_write_whose_outcome_is_unknown(
    tmp_path: Path, api: str
) -> None:
    """Night A sends Old (acknowledged); night B sends New and the answer is lost after the
    server applied it; night C sends Old with --skip-unchanged: it must be sent, or the
    account keeps New for good."""
    db = str(tmp_path / "sandbox.sqlite")
    field = '"customFields.city"' if api == "minimo" else "custom_string_1"
    (tmp_path / "m.toml").write_text(
        f'target = "{api}"\n[fields]\nemail = "Email"\n{field} = "City"\n'
    )

    def night(name: str, city: str, config: SandboxConfig) -> tuple[int, str]:
        (tmp_path / f"{name}.csv").write_text(
            f"Email,City\nuser0@gmail.com,{city}\n{name}@gmail.com,x\n"  # each night's file
        )
        settings = RunSettings(
            source=tmp_path / f"{name}.csv",
            mapping=tmp_path / "m.toml",
            report=tmp_path / f"{name}.report.csv",
            state_dir=tmp_path / "state",
            skip_unchanged=True,
            max_attempts=2,
        )
        with SandboxThread(config) as sb:
            try:
                code = run(settings, Context(env=sandbox_env(sb.base_url))).exit_code
            except AbortError as exc:
                code = exc.exit_code
            stored = next(c for c in sb.contacts()[api] if c["email"] == "user0@gmail.com")
        return code, stored["customFields"]["city"] if api == "minimo" else stored[
            "custom_string_1"
        ]

    with SandboxThread(SandboxConfig(port=0)) as sb:
        port = int(sb.base_url.rsplit(":", 1)[1])
    normal = SandboxConfig(port=port, db=db)
    dropping = SandboxConfig(port=port, db=db, drop="after", drop_rate=1.0)
    assert night("a", "Old", normal) == (0, "Old")
    assert night("b", "New", dropping) == (3, "New")
    assert statuses(tmp_path / "b.report.csv") == ["pending", "pending"]
    assert night("c", "Old", normal) == (0, "Old")
    assert statuses(tmp_path / "c.report.csv") == ["updated", "created"]


def test_skip_unchanged_counts_how_a_row_is_sent(tmp_path: Path) -> None:
    """The same rows imported to another list are not unchanged: they must be subscribed."""
    with SandboxThread(SandboxConfig(port=0)) as sb:
        for list_id in ("newsletter", "webinar", "webinar"):
            settings = RunSettings(
                source=leads(tmp_path / "leads.csv", 5),
                mapping=mapping(tmp_path / "m.toml", "notifuse"),
                report=tmp_path / f"{list_id}.csv",
                state_dir=tmp_path / "state",
                notifuse_mode="import",
                list_id=list_id,
                skip_unchanged=True,
                fresh=True,
            )
            result = run(settings, Context(env=sandbox_env(sb.base_url)))
            assert result.exit_code == 0
        lists = {c["email"]: c["lists"] for c in sb.contacts()["notifuse"]}
    assert set(map(tuple, lists.values())) == {("newsletter", "webinar")}
    assert statuses(tmp_path / "webinar.csv") == ["unchanged"] * 5  # the third time only


def test_after_a_kill_only_rows_really_sent_are_uncertain(tmp_path: Path) -> None:
    """Notifuse: contacts that exist already (not through this importer) are `updated`.
    Killed and rerun, a row re-sent after an attempt with an unknown outcome may be
    `upserted`, and only such a row: at most the requests in flight at the kill (once, a
    whole page of 1,000 rows was marked attempted before any was sent)."""
    n = 400
    leads(tmp_path / "leads.csv", n)
    mapping(tmp_path / "m.toml", "notifuse")
    with SandboxThread(SandboxConfig(port=0, latency_ms=10)) as sb:
        for i in range(n):
            _post(sb.base_url, "notifuse", {"email": f"lead{i:04d}@gmail.com"})
        proc = start(tmp_path, sb, "notifuse", "--concurrency", "4")
        while sum(r["status"] == 200 for r in sb.requests() if "upsert" in r["path"]) < n + 80:
            time.sleep(0.01)
        proc.kill()
        proc.communicate()
        code, _, err = finish(start(tmp_path, sb, "notifuse", "--concurrency", "4"))
    assert code == 0, err
    found = statuses(tmp_path / "report.csv")
    assert found.count("updated") + found.count("upserted") == n
    assert found.count("upserted") <= 4 + 4  # in flight, and answered but not yet committed


def test_a_killed_runs_attempt_log_marks_its_unanswered_rows_attempted(tmp_path: Path) -> None:
    """The log holds every row whose write went out; the next run marks those still pending
    as attempted (their outcome is unknown), and only those."""
    with Journal(tmp_path / "job.sqlite", tmp_path / "account.sqlite") as journal:
        staged = [Staged(n, "pending", f"u{n}@gmail.com", None, {"n": n}) for n in range(2, 12)]
        journal.add_staged([record(s) for s in staged])
        sent = [PendingRow(n, f"u{n}@gmail.com", b"{}", 0, None, None) for n in (3, 4, 5, 6, 9)]
        journal.attempts.mark(sent[:3])
        journal.attempts.mark(sent[3:])
        recorder = journal.recorder()
        recorder.record([Outcome(3, "created"), Outcome(4, "created")])  # answered
        recorder.close()
        with journal.attempts.path.open("ab") as log:
            log.write(b"\x07\x00\x00")  # a write cut short by the kill
    with Journal(tmp_path / "job.sqlite", tmp_path / "account.sqlite") as journal:
        journal.fold_attempts()
        marked = [r.row for page in journal.pending(100) for r in page if r.attempted]
        assert marked == [5, 6, 9]
        assert not journal.attempts.path.exists()
