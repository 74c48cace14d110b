"""The send phase under faults, against the real sandbox over loopback (SPEC §5).

Every scenario checks the three things a user relies on: the stored contacts are exactly
right, every row is reported once with the right status, and no two requests for one email
were ever in flight at once.
"""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal, cast

import anyio
import httpx
import orjson
import pytest

from importer.errors import AbortError
from importer.journal import AttemptLog, Journal, Outcome, PendingRow
from importer.normalizing import Staged, record
from importer.pipeline import Context, RunResult, run
from importer.progress import NullProgress
from importer.sandbox import SandboxConfig, SandboxThread
from importer.sending import engine
from importer.sending.gate import InFlightGate
from importer.settings import RunSettings
from tests.conftest import sandbox_env

ROWS = 240


def leads(path: Path, n: int = ROWS) -> Path:
    """n distinct contacts, each with its own phone."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["Email", "Phone", "City"])
        for i in range(n):
            out.writerow([f"lead{i:04d}@gmail.com", f"333 {i:07d}", f"city {i % 7}"])
    return path


def mapping(path: Path, target: str) -> Path:
    city = '"customFields.city"' if target == "minimo" else "custom_string_1"
    path.write_text(
        f'target = "{target}"\n[options]\ndefault_region = "IT"\n'
        f'[fields]\nemail = "Email"\nphone = "Phone"\n{city} = "City"\n'
    )
    return path


def go(
    tmp: Path, sb: SandboxThread, target: str, n: int = ROWS, **options: Any
) -> tuple[RunResult, list[str]]:
    settings = RunSettings(
        source=leads(tmp / "leads.csv", n),
        mapping=mapping(tmp / "m.toml", target),
        report=tmp / "report.csv",
        state_dir=tmp / "state",
        **options,
    )
    result = run(settings, Context(env=sandbox_env(sb.base_url)))
    lines = (tmp / "report.csv").read_text(encoding="utf-8-sig").splitlines()
    return result, lines


def statuses(lines: list[str]) -> list[str]:
    return [line.split(",")[3] for line in lines[1:]]


def assert_every_row_once(lines: list[str], n: int = ROWS) -> None:
    assert lines[0] == "row,email,phone,status,contact_id,error,warning,changes"
    assert [int(line.split(",")[0]) for line in lines[1:]] == list(range(2, n + 2))


def assert_stored(
    sb: SandboxThread, api: str, n: int = ROWS, missing: frozenset[int] = frozenset()
) -> None:
    stored = sb.contacts()[api]
    expected = {f"lead{i:04d}@gmail.com": f"+39333{i:07d}" for i in range(n) if i not in missing}
    assert {c["email"]: c["phone"] for c in stored} == expected


def assert_never_concurrent_per_email(sb: SandboxThread) -> None:
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for r in sb.requests():
        for email in r["emails"]:
            spans[email].append((r["start"], r["end"]))
    for email, times in spans.items():
        times.sort()
        for (_, end), (start, _) in pairwise(times):
            assert start >= end, f"two requests for {email} overlapped"


def outcomes(sb: SandboxThread) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for r in sb.requests():
        counts[r["outcome"]] += 1
    return dict(counts)


@pytest.mark.parametrize("retry_after", ["seconds", "date", "none"])
def test_rate_limited_server_gets_every_row(tmp_path: Path, retry_after: str) -> None:
    with SandboxThread(SandboxConfig(port=0, rate=40, retry_after=retry_after)) as sb:
        result, lines = go(tmp_path, sb, "minimo", batch_size=4, classify=False)
        assert result.exit_code == 0
        assert_every_row_once(lines)
        assert set(statuses(lines)) == {"upserted"}
        assert_stored(sb, "minimo")
        assert_never_concurrent_per_email(sb)
        seen = outcomes(sb)
    # the pre-flight look-up, the custom-field definitions, and one upsert per batch
    assert seen["ok"] == 2 + ROWS // 4
    assert result.summary["throttled"] == seen.get("rate_limited", 0)


@pytest.mark.parametrize("skew", [120.0, -120.0], ids=["ahead", "behind"])
def test_a_skewed_server_clock_does_not_stretch_retry_after(tmp_path: Path, skew: float) -> None:
    """Retry-After dates are read against the response's Date: 2 minutes of skew once made
    every 429 a 2-minute pause (ahead) or a retry storm (behind)."""
    config = SandboxConfig(port=0, rate=5, retry_after="date", clock_skew=skew)
    with SandboxThread(config) as sb:
        began = time.monotonic()
        result, lines = go(tmp_path, sb, "minimo", 40, batch_size=1, classify=False, rate=8)
        elapsed = time.monotonic() - began
    assert result.exit_code == 0
    assert set(statuses(lines)) == {"upserted"}
    assert result.summary["throttled"] < 20
    assert elapsed < 40, "40 requests at 5/s take about 8 s"


@pytest.mark.parametrize("thread_rows", [1, 10_000], ids=["commits-in-a-thread", "inline"])
@pytest.mark.parametrize("target", ["minimo", "notifuse"])
def test_server_errors_and_dropped_connections_are_retried(
    tmp_path: Path, target: str, thread_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "THREAD_ROWS", thread_rows)
    config = SandboxConfig(port=0, fail_rate=0.15, drop="before", drop_rate=0.15, seed=7)
    n = 100
    with SandboxThread(config) as sb:
        options: dict[str, Any] = {"batch_size": 5, "classify": False, "max_attempts": 12}
        result, lines = go(tmp_path, sb, target, n, **options)
        assert result.exit_code == 0, lines
        assert_every_row_once(lines, n)
        assert_stored(sb, target, n)
        assert_never_concurrent_per_email(sb)
        seen = outcomes(sb)
    assert seen["failed"] > 0 and seen["dropped_before"] > 0
    assert result.summary["retries"] == seen["failed"] + seen["dropped_before"]
    expected = {"minimo": {"upserted"}, "notifuse": {"created"}}[target]
    assert set(statuses(lines)) == expected


def test_response_lost_after_the_write_is_not_misreported(tmp_path: Path) -> None:
    """A Notifuse upsert applied but unanswered is re-sent; its `update` is then ours."""
    n = 100
    with SandboxThread(SandboxConfig(port=0, drop="after", drop_rate=0.2, seed=3)) as sb:
        result, lines = go(tmp_path, sb, "notifuse", n, max_attempts=12)
        assert result.exit_code == 0
        assert_every_row_once(lines, n)
        assert_stored(sb, "notifuse", n)
        assert_never_concurrent_per_email(sb)
        dropped = {e for r in sb.requests() if r["outcome"] == "dropped_after" for e in r["emails"]}
    by_email = {line.split(",")[1]: line.split(",")[3] for line in lines[1:]}
    assert dropped and {by_email[e] for e in dropped} == {"upserted"}
    assert {s for e, s in by_email.items() if e not in dropped} == {"created"}


def test_one_bad_row_in_a_batch_is_isolated(tmp_path: Path) -> None:
    with SandboxThread(SandboxConfig(port=0, reject_email=r"^lead0050@")) as sb:
        result, lines = go(tmp_path, sb, "minimo", batch_size=100, classify=False)
        assert_stored(sb, "minimo", missing=frozenset({50}))
        posts = [r for r in sb.requests() if r["method"] == "POST"]
    assert result.exit_code == 1
    assert_every_row_once(lines)
    assert lines[51] == "52,lead0050@gmail.com,'+393330000050,error,,validation_error,,"
    assert statuses(lines).count("upserted") == ROWS - 1
    # 3 batches; the bad one halves down to the bad row: 100→50→25→12→6→3→1, 2 per level
    assert len(posts) == 3 + 2 * 6


@pytest.mark.parametrize(
    ("target", "mode"), [("minimo", "upsert"), ("notifuse", "upsert"), ("notifuse", "import")]
)
def test_a_batch_over_a_proxys_body_limit_is_split(tmp_path: Path, target: str, mode: str) -> None:
    """A 413 (a proxy's body limit) halves the batch until each part fits; a contact too
    large even alone is that row's error, and every other row lands."""
    n = 60
    source = leads(tmp_path / "leads.csv", n)
    lines = source.read_text().splitlines()
    lines[11] = lines[11].replace("city 3", "x" * 3000)  # row 12: lead0010
    source.write_text("\n".join(lines) + "\n")
    settings = RunSettings(
        source=source,
        mapping=mapping(tmp_path / "m.toml", target),
        report=tmp_path / "report.csv",
        state_dir=tmp_path / "state",
        batch_size=50,
        notifuse_mode=cast(Literal["upsert", "import"], mode),
        classify=False,
    )
    with SandboxThread(SandboxConfig(port=0, max_body=2000)) as sb:
        result = run(settings, Context(env=sandbox_env(sb.base_url)))
        assert_stored(sb, target, n, missing=frozenset({10}))
        too_large = sum(r["outcome"] == "too_large" for r in sb.requests())
    report = (tmp_path / "report.csv").read_text(encoding="utf-8-sig").splitlines()
    assert result.exit_code == 1
    assert_every_row_once(report, n)
    assert report[11] == (
        "12,lead0010@gmail.com,'+393330000010,error,,too large for the server "
        "(HTTP 413: 413 Request Entity Too Large),,"
    )
    assert statuses(report).count("error") == 1
    per_contact = target == "notifuse" and mode == "upsert"
    assert too_large == 1 if per_contact else too_large > 1


def test_import_mode_matches_failed_operations_by_index(tmp_path: Path) -> None:
    with SandboxThread(SandboxConfig(port=0, reject_email=r"^lead00(07|42)@")) as sb:
        result, lines = go(tmp_path, sb, "notifuse", notifuse_mode="import", batch_size=50)
        assert_stored(sb, "notifuse", missing=frozenset({7, 42}))
    assert result.exit_code == 1
    assert_every_row_once(lines)
    assert lines[8].startswith(
        "9,lead0007@gmail.com,'+393330000007,error,,invalid contact at index 7:"
    )
    assert lines[43].startswith(
        "44,lead0042@gmail.com,'+393330000042,error,,invalid contact at index 42:"
    )
    assert statuses(lines).count("created") == ROWS - 2


def test_a_server_that_keeps_failing_aborts_with_pending_rows(tmp_path: Path) -> None:
    """Look-ups answer, every upsert fails: after 3 failed requests in a row, exit 3, and
    the rows whose requests failed stay `pending` (a transient failure is not `error`)."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(404, json={"error": "not_found"})
        return httpx.Response(
            503, text="<html><body><h1>503 Service Unavailable</h1></body></html>"
        )

    settings = RunSettings(
        source=leads(tmp_path / "leads.csv"),
        mapping=mapping(tmp_path / "m.toml", "minimo"),
        report=tmp_path / "report.csv",
        state_dir=tmp_path / "state",
        concurrency=1,
        classify=False,
        max_attempts=2,
    )
    context = Context(env=sandbox_env("http://127.0.0.1:9"), transport=httpx.MockTransport(handler))
    with pytest.raises(AbortError) as caught:
        run(settings, context)
    assert caught.value.message == (
        "Aborted: 3 requests in a row to http://127.0.0.1:9 failed after all their retries; "
        "the last one: server error: HTTP 503: 503 Service Unavailable."
    )
    lines = (tmp_path / "report.csv").read_text(encoding="utf-8-sig").splitlines()
    assert_every_row_once(lines)
    assert statuses(lines) == ["pending"] * ROWS
    assert lines[1] == (
        "2,lead0000@gmail.com,'+393330000000,pending,,not delivered yet: "
        "server error: HTTP 503: 503 Service Unavailable (after 2 attempts),,"
    )
    assert lines[201] == "202,lead0200@gmail.com,'+393330000200,pending,,,,"


def test_minimo_response_lost_after_the_write_keeps_the_looked_up_status(tmp_path: Path) -> None:
    """Look-ups happen before the write, so a re-sent batch is still reported `created`."""
    n = 40
    with SandboxThread(SandboxConfig(port=0, drop="after", drop_rate=0.2, seed=5)) as sb:
        result, lines = go(tmp_path, sb, "minimo", n, batch_size=5, max_attempts=12)
        assert_stored(sb, "minimo", n)
        assert_never_concurrent_per_email(sb)
        assert outcomes(sb)["dropped_after"] > 0
    assert result.exit_code == 0
    assert_every_row_once(lines, n)
    assert set(statuses(lines)) == {"created"}


def test_import_mode_subscribes_to_the_list(tmp_path: Path) -> None:
    n = 30
    with SandboxThread(SandboxConfig(port=0)) as sb:
        result, lines = go(tmp_path, sb, "notifuse", n, notifuse_mode="import", list_id="fiera")
        stored = sb.contacts()["notifuse"]
    assert result.exit_code == 0
    assert_every_row_once(lines, n)
    assert {c["email"]: c["lists"] for c in stored} == {
        f"lead{i:04d}@gmail.com": ["fiera"] for i in range(n)
    }


def test_a_slow_server_times_out_and_the_rows_say_so(tmp_path: Path) -> None:
    n = 3
    with SandboxThread(SandboxConfig(port=0, latency_ms=400)) as sb:
        settings = RunSettings(
            source=leads(tmp_path / "leads.csv", n),
            mapping=mapping(tmp_path / "m.toml", "notifuse"),
            report=tmp_path / "report.csv",
            state_dir=tmp_path / "state",
            timeout=0.15,
            max_attempts=2,
            concurrency=1,
        )
        with pytest.raises(AbortError) as caught:
            run(settings, Context(env=sandbox_env(sb.base_url)))
    assert caught.value.message == (
        f"Cannot reach Notifuse at {sb.base_url}: timed out waiting for the response "
        "(after 2 attempts)."
    )


def test_an_error_action_in_a_200_is_a_row_error(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(404, json={"error": "contact not found"})
        body = orjson.loads(request.content)
        if body["contact"]["email"] == "lead0001@gmail.com":
            return httpx.Response(200, json={"action": "error", "error": "phone is blocked"})
        return httpx.Response(200, json={"email": body["contact"]["email"], "action": "create"})

    settings = RunSettings(
        source=leads(tmp_path / "leads.csv", 3),
        mapping=mapping(tmp_path / "m.toml", "notifuse"),
        report=tmp_path / "report.csv",
        state_dir=tmp_path / "state",
    )
    context = Context(env=sandbox_env("http://127.0.0.1:9"), transport=httpx.MockTransport(handler))
    assert run(settings, context).exit_code == 1
    assert (tmp_path / "report.csv").read_text(encoding="utf-8-sig").splitlines()[1:] == [
        "2,lead0000@gmail.com,'+393330000000,created,,,,",
        "3,lead0001@gmail.com,'+393330000001,error,,phone is blocked,,",
        "4,lead0002@gmail.com,'+393330000002,created,,,,",
    ]


@pytest.mark.parametrize(
    ("target", "mode"), [("minimo", "upsert"), ("notifuse", "upsert"), ("notifuse", "import")]
)
def test_a_row_is_marked_attempted_just_before_its_write_is_sent(
    tmp_path: Path, target: str, mode: str
) -> None:
    """After a kill, a row whose write may have been applied must be known as such, and only
    such a row (a whole page marked at once made a rerun report rows `upserted` that were
    never sent): when a write arrives, the attempt log holds its rows and no later ones."""
    seen: list[tuple[list[int], list[int]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(404, json={"error": "not found"})
        body = orjson.loads(request.content)
        contacts = body if isinstance(body, list) else body.get("contacts") or [body["contact"]]
        emails = [c["email"] for c in contacts]
        log = AttemptLog(next((tmp_path / "state").glob("job-*.attempts")))
        seen.append(([int(e[4:8]) + 2 for e in emails], log.read()))
        if isinstance(body, list):
            return httpx.Response(200, json=[{"contactId": e} for e in emails])
        if "contact" in body:
            return httpx.Response(200, json={"email": emails[0], "action": "create"})
        return httpx.Response(200, json={"operations": [
            {"email": e, "action": "create"} for e in emails
        ]})  # fmt: skip

    settings = RunSettings(
        source=leads(tmp_path / "leads.csv", 7),
        mapping=mapping(tmp_path / "m.toml", target),
        report=tmp_path / "report.csv",
        state_dir=tmp_path / "state",
        concurrency=1,
        batch_size=3,
        classify=False,
        notifuse_mode=cast(Literal["upsert", "import"], mode),
    )
    context = Context(env=sandbox_env("http://127.0.0.1:9"), transport=httpx.MockTransport(handler))
    assert run(settings, context).exit_code == 0
    sent: list[int] = []
    for rows, logged in seen:
        sent += rows
        assert logged == sent
    assert sent == list(range(2, 9))
    assert not list((tmp_path / "state").glob("job-*.attempts")), "a completed job keeps none"


def test_workers_parked_by_the_gate_are_let_go_and_a_pending_batch_gets_its_second_pass(
    tmp_path: Path,
) -> None:
    """Two of three workers wait for the gate's room (one in flight), then are let go when
    the batches run out; a batch that a transient failure left pending is sent again once
    every other one was."""
    seen: list[list[int]] = []

    class Flaky:
        batch_size = 2

        async def send(self, rows: list[PendingRow]) -> list[Outcome]:
            seen.append([r.row for r in rows])
            if rows[0].row == 4 and seen.count([4, 5]) == 1:
                return [Outcome(r.row, "pending", error="not delivered yet: busy") for r in rows]
            return [Outcome(r.row, "created") for r in rows]

    with Journal(tmp_path / "job.sqlite", tmp_path / "account.sqlite") as journal:
        staged = [Staged(n, "pending", f"lead{n}@gmail.com", None, {"n": n}) for n in range(2, 7)]
        journal.add_staged([*map(record, staged), record(Staged(7, "error", error="bad"))])
        budget = engine.ErrorBudget(None, journal.counts())
        gate = InFlightGate(3, time.monotonic)
        gate.limit = 1.0

        async def send_all() -> None:
            with anyio.fail_after(10):  # parked workers never let go would hang here
                await engine.deliver(journal, Flaky(), 3, NullProgress(), budget, gate=gate)

        anyio.run(send_all)
        assert journal.counts() == {"created": 5, "error": 1}
    assert seen == [[2, 3], [4, 5], [6], [4, 5]]  # one worker: in order, then the second pass
