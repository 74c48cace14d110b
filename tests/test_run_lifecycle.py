"""A run from start to end (SPEC §2, §6): its summary while it runs, signals after sending,
a completed job run again, a state folder that cannot be written, journals that go."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from importer.errors import ImporterError
from importer.journal import Recorder
from importer.pipeline import Context, run
from importer.reporting import write_job_report
from importer.sandbox import SandboxConfig, SandboxThread
from importer.settings import RunSettings
from tests.conftest import MAPPINGS, SAMPLES, Cli, sandbox_env
from tests.test_delivery import leads, mapping
from tests.test_resume import start

LEADS = SAMPLES / "leads.csv"
MINIMO = MAPPINGS / "minimo-leads.toml"


def settings(tmp: Path, n: int = 50, **options: Any) -> RunSettings:
    return RunSettings(
        source=leads(tmp / "leads.csv", n),
        mapping=mapping(tmp / "m.toml", "minimo"),
        report=tmp / "report.csv",
        summary_json=tmp / "summary.json",
        state_dir=tmp / "state",
        **options,
    )


def report_statuses(path: Path) -> list[str]:
    return [line.split(",")[3] for line in path.read_text(encoding="utf-8-sig").splitlines()[1:]]


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_right_after_sending_still_writes_the_report(
    tmp_path: Path, sandbox: SandboxThread, monkeypatch: pytest.MonkeyPatch, signum: int, code: int
) -> None:
    """Between the send phase and the report the defaults were back: SIGTERM killed the run
    with no report, SIGINT exited 130 without one. Now the report is whole, then the exit."""

    def signalled_first(*args: Any) -> dict[str, int]:
        os.kill(os.getpid(), signum)  # arrives as the report starts
        time.sleep(0.05)
        return write_job_report(*args)

    monkeypatch.setattr("importer.pipeline.write_job_report", signalled_first)
    with pytest.raises(ImporterError) as caught:
        run(settings(tmp_path, classify=False), Context(env=sandbox_env(sandbox.base_url)))
    assert caught.value.exit_code == code
    assert report_statuses(tmp_path / "report.csv") == ["upserted"] * 50
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["status"], summary["exit_code"]) == ("completed", code)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, "handlers given back at the end"


def test_a_completed_job_run_again_sends_nothing_and_says_so(
    cli: Cli, sandbox: SandboxThread
) -> None:
    env = sandbox_env(sandbox.base_url)
    args = ("run", LEADS, "--mapping", MINIMO, "--summary-json", "s.json")
    assert cli(*args, "--report", "a.csv", env=env).code == 1
    before = len(sandbox.requests())
    again = cli(*args, "--report", "b.csv", env=env)
    assert again.code == 1  # the code the job ended with
    assert len(sandbox.requests()) == before, "not even the pre-flight request"
    assert re.fullmatch(
        r"importer: nothing sent: this job already completed on \d{4}-\d\d-\d\d \d\d:\d\d UTC "
        r"\(9 created, 1 duplicate, 1 skipped, 1 error\); run with --fresh to import the file "
        r"again\. Report: b\.csv\n",
        again.stderr,
    ), again.stderr
    assert (cli.cwd / "b.csv").read_bytes() == (cli.cwd / "a.csv").read_bytes()
    summary = json.loads((cli.cwd / "s.json").read_text())
    assert (summary["status"], summary["exit_code"], summary["requests"]) == ("replayed", 1, 0)


def test_the_summary_says_running_until_the_run_ends(tmp_path: Path) -> None:
    """A killed run leaves no summary of yesterday behind: a scheduler would read it as
    today's result."""
    leads(tmp_path / "leads.csv", 400)
    mapping(tmp_path / "m.toml", "minimo")
    summary = tmp_path / "summary.json"
    summary.write_text('{"status": "completed", "exit_code": 0}')
    with SandboxThread(SandboxConfig(port=0, latency_ms=20)) as sb:
        proc = start(tmp_path, sb, "minimo", "--summary-json", str(summary))
        while not [r for r in sb.requests() if r["method"] == "POST"]:
            time.sleep(0.01)
        assert json.loads(summary.read_text())["status"] == "running"
        proc.kill()
        proc.communicate()
    assert json.loads(summary.read_text()) == {
        "status": "running",
        "source": str(tmp_path / "leads.csv"),
    }


def test_a_state_folder_that_cannot_be_written_exits_2_naming_it(
    cli: Cli, sandbox: SandboxThread
) -> None:
    (cli.cwd / "afile").write_text("x")
    result = cli(
        "run", LEADS, "--mapping", MINIMO, "--state", "afile/state",
        env=sandbox_env(sandbox.base_url),
    )  # fmt: skip
    assert (result.code, result.stderr) == (
        2,
        "importer: error: The state folder afile/state cannot be written (Not a directory). Pass "
        "--state with a writable folder (or set XDG_STATE_HOME); nothing was sent.\n",
    )
    assert sandbox.requests() == []


def test_a_disk_that_fills_while_sending_exits_3_with_the_report(
    tmp_path: Path, sandbox: SandboxThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once "This is a bug" (exit 70) with no report and no summary."""
    real = Recorder.record
    calls: list[int] = []

    def full(self: Recorder, outcomes: Any) -> None:
        calls.append(1)
        if len(calls) > 2:
            raise sqlite3.OperationalError("database or disk is full")
        real(self, outcomes)

    monkeypatch.setattr(Recorder, "record", full)
    options = {"classify": False, "batch_size": 5, "concurrency": 1}
    with pytest.raises(ImporterError) as caught:
        run(settings(tmp_path, **options), Context(env=sandbox_env(sandbox.base_url)))
    job = next((tmp_path / "state").glob("job-*.sqlite"))
    assert caught.value.exit_code == 3
    assert caught.value.paragraph() == (
        f"The job database {job} cannot be written (database or disk is full). Free some "
        "space (or make the folder writable); then run the same command again to resume: "
        "nothing acknowledged is sent twice."
    )
    found = report_statuses(tmp_path / "report.csv")
    assert found[:10] == ["upserted"] * 10 and set(found[10:]) == {"pending"}
    assert json.loads((tmp_path / "summary.json").read_text())["exit_code"] == 3
    monkeypatch.setattr(Recorder, "record", real)  # space freed: the same command resumes
    assert (
        run(settings(tmp_path, **options), Context(env=sandbox_env(sandbox.base_url))).exit_code
        == 0
    )
    assert report_statuses(tmp_path / "report.csv") == ["upserted"] * 50


def test_state_list_and_prune(cli: Cli, sandbox: SandboxThread) -> None:
    env = sandbox_env(sandbox.base_url)
    state = cli.cwd / "st"
    (cli.cwd / "one.csv").write_text("Email\na@gmail.com\n")
    (cli.cwd / "two.csv").write_text("Email\nb@gmail.com\nc@gmail.com\n")
    (cli.cwd / "m.toml").write_text('target = "minimo"\n[fields]\nemail = "Email"\n')
    for name in ("one", "two"):
        assert cli("run", f"{name}.csv", "--mapping", "m.toml", "--state", state, env=env).code == 0
    listed = cli("state", "list", "--state", state)
    assert listed.code == 0
    header, *lines = listed.stdout.splitlines()
    assert header.split() == ["job", "target", "size", "state", "source"]
    lines.sort(key=lambda line: line.rsplit("/", 1)[1])  # staged within the same second
    assert len(lines) == 2
    assert "minimo" in lines[0] and "completed" in lines[0] and ", exit 0: 1 created" in lines[0]
    assert lines[0].endswith(str(cli.cwd / "one.csv"))
    assert ", exit 0: 2 created" in lines[1] and lines[1].endswith(str(cli.cwd / "two.csv"))
    kept = cli("state", "prune", "--state", state)
    assert (kept.code, kept.stdout) == (
        0,
        "Removed no job: none completed more than 30 days ago.\n",
    )
    pruned = cli("state", "prune", "--state", state, "--older-than", "0")
    assert pruned.code == 0
    assert pruned.stdout.startswith("Removed 2 completed jobs (")
    assert not list(state.glob("job-*")), "every file of both jobs"
    assert list(state.glob("account-*.sqlite")), "the account's known table stays"


def test_journals_of_jobs_completed_30_days_ago_go_at_the_next_run(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    first = settings(tmp_path, 3)
    assert run(first, Context(env=sandbox_env(sandbox.base_url))).exit_code == 0
    old = next((tmp_path / "state").glob("job-*.sqlite"))
    with sqlite3.connect(old) as db:
        (done,) = db.execute("SELECT value FROM meta WHERE key = 'completed'").fetchone()
        info = json.loads(done)
        info["at"] = (datetime.now(UTC) - timedelta(days=31)).isoformat(timespec="seconds")
        db.execute("UPDATE meta SET value = ? WHERE key = 'completed'", (json.dumps(info),))
    assert run(settings(tmp_path, 4), Context(env=sandbox_env(sandbox.base_url))).exit_code == 0
    assert not old.exists()
    assert len(list((tmp_path / "state").glob("job-*.sqlite"))) == 1
