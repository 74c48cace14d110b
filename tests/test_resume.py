"""Journal, resume and nightly delta (SPEC §6): kill it anywhere, run it again, same result."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from importer.sandbox import SandboxConfig, SandboxThread
from tests.conftest import MINIMO_KEY, sandbox_env
from tests.test_delivery import leads, mapping

N = 600


def command(tmp: Path, target: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "importer", "run", str(tmp / "leads.csv"),
        "--mapping", str(tmp / "m.toml"), "--report", str(tmp / "report.csv"),
        "--state", str(tmp / "state"), "--batch-size", "20", "--quiet", *extra,
    ]  # fmt: skip


def start(
    tmp: Path, sb: SandboxThread, target: str, *extra: str, **env: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(tmp, target, *extra),
        env={"PATH": "/usr/bin:/bin", **sandbox_env(sb.base_url), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def setup(tmp: Path, target: str, n: int = N) -> None:
    leads(tmp / "leads.csv", n)
    mapping(tmp / "m.toml", target)


def outcome(tmp: Path, sb: SandboxThread) -> tuple[list[list[str]], list[tuple[str, Any]]]:
    """The report with contact ids checked against the store, and the store without ids."""
    with (tmp / "report.csv").open(encoding="utf-8-sig", newline="") as fh:
        report = list(csv.reader(fh))
    stored = sb.contacts()["minimo"]
    ids = {c["email"]: str(c["id"]) for c in stored}
    for line in report[1:]:
        assert line[4] == ids.get(line[1], ""), line
        line[4] = "id"
    contacts = sorted((c["email"], (c["phone"], c["customFields"])) for c in stored)
    return report, contacts


def baseline(tmp: Path, target: str = "minimo") -> tuple[float, Any]:
    setup(tmp, target)
    with SandboxThread(SandboxConfig(port=0, latency_ms=15)) as sb:
        began = time.monotonic()
        code, _, err = finish(start(tmp, sb, target))
        assert code == 0, err
        return time.monotonic() - began, outcome(tmp, sb)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[float, Any]:
    return baseline(tmp_path_factory.mktemp("baseline"))


@pytest.mark.parametrize("fraction", [0.15, 0.4, 0.65, 0.9])
def test_sigkill_anywhere_then_rerun_gives_the_uninterrupted_result(
    tmp_path: Path, uninterrupted: tuple[float, Any], fraction: float
) -> None:
    seconds, expected = uninterrupted
    setup(tmp_path, "minimo")
    with SandboxThread(SandboxConfig(port=0, latency_ms=15)) as sb:
        proc = start(tmp_path, sb, "minimo")
        time.sleep(seconds * fraction)
        proc.kill()
        proc.communicate()
        code, _, err = finish(start(tmp_path, sb, "minimo"))
        assert code == 0, err
        assert outcome(tmp_path, sb) == expected
        sent = [e for r in sb.requests() if r["method"] == "POST" for e in r["emails"]]
    # the batches in flight at the kill, and those answered within the writer's COMMIT_DELAY
    assert len(sent) - N <= 2 * 20 * 8, "at most the batches in flight at the kill are re-sent"


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_and_sigterm_write_the_report_and_resume(
    tmp_path: Path, uninterrupted: tuple[float, Any], signum: int, code: int
) -> None:
    _, expected = uninterrupted
    setup(tmp_path, "minimo")
    summary = tmp_path / "summary.json"
    with SandboxThread(SandboxConfig(port=0, latency_ms=15)) as sb:
        # small batches: the look-ups that classify come first, then many short POSTs
        small = ("--batch-size", "2")
        proc = start(tmp_path, sb, "minimo", "--summary-json", str(summary), *small)
        while sum(r["status"] == 200 for r in sb.requests() if r["method"] == "POST") < 3:
            time.sleep(0.05)
        time.sleep(0.2)  # some rows acknowledged and journaled, most not yet sent
        proc.send_signal(signum)
        got, _, err = finish(proc)
        assert got == code, err
        name = "SIGINT" if signum == signal.SIGINT else "SIGTERM"
        assert err.endswith(
            f"  report: {tmp_path / 'report.csv'}\nimporter: error: Interrupted by {name}. "
            "Run the same command again to resume where it stopped.\n"
        )
        assert "Traceback" not in err
        with (tmp_path / "report.csv").open(encoding="utf-8-sig", newline="") as fh:
            statuses = [line[3] for line in csv.reader(fh)][1:]
        assert "pending" in statuses and "created" in statuses
        assert json.loads(summary.read_text())["exit_code"] == code
        again, _, err = finish(start(tmp_path, sb, "minimo", *small))
        assert again == 0, err
        assert outcome(tmp_path, sb) == expected


def test_a_second_run_of_the_same_job_refuses(tmp_path: Path) -> None:
    setup(tmp_path, "minimo")
    with SandboxThread(SandboxConfig(port=0, latency_ms=15)) as sb:
        first = start(tmp_path, sb, "minimo")
        time.sleep(1.0)
        code, _, err = finish(start(tmp_path, sb, "minimo"))
        assert finish(first)[0] == 0
    assert code == 2
    assert err == (
        "importer: error: Another run of this same job is in progress (its journal is "
        "locked). Wait for it to finish, or stop it; then run again to resume.\n"
    )


def test_a_changed_file_is_a_new_job_and_skip_unchanged_sends_only_the_change(
    tmp_path: Path,
) -> None:
    setup(tmp_path, "minimo", 100)
    with SandboxThread(SandboxConfig(port=0)) as sb:
        assert finish(start(tmp_path, sb, "minimo", "--skip-unchanged"))[0] == 0
        posts_before = [r for r in sb.requests() if r["method"] == "POST"]
        text = (tmp_path / "leads.csv").read_text()
        (tmp_path / "leads.csv").write_text(
            text.replace(
                "lead0042@gmail.com,333 0000042,city 0", "lead0042@gmail.com,333 0000042,Milano"
            )
        )
        summary = tmp_path / "summary.json"
        code, _, err = finish(
            start(tmp_path, sb, "minimo", "--skip-unchanged", "--summary-json", str(summary))
        )
        posts = [r for r in sb.requests() if r["method"] == "POST"][len(posts_before) :]
        stored = {c["email"]: c["customFields"]["city"] for c in sb.contacts()["minimo"]}
    assert code == 0, err
    assert [p["emails"] for p in posts] == [["lead0042@gmail.com"]]
    report = (tmp_path / "report.csv").read_text(encoding="utf-8-sig").splitlines()[1:]
    assert [line.split(",")[3] for line in report] == ["unchanged"] * 42 + ["updated"] + [
        "unchanged"
    ] * 57
    assert stored["lead0042@gmail.com"] == "Milano"
    data = json.loads(summary.read_text())
    assert data["counts"] == {"unchanged": 99, "updated": 1}
    assert data["requests_saved"] == 5
    assert "99 rows unchanged since the last import: 5 requests saved" in data["notes"]


def test_max_error_rate_stops_before_burning_the_quota(tmp_path: Path) -> None:
    with (tmp_path / "leads.csv").open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["Email", "Phone", "City"])
        for i in range(1200):
            email = f"lead{i}@gmail.com" if i % 2 else f"lead{i} at gmail.com"
            out.writerow([email, "", "x"])
    mapping(tmp_path / "m.toml", "minimo")
    with SandboxThread(SandboxConfig(port=0)) as sb:
        code, _, err = finish(start(tmp_path, sb, "minimo", "--max-error-rate", "10"))
        assert [r["method"] for r in sb.requests()] == ["GET"]  # the pre-flight only
    assert code == 4
    assert err.endswith(
        "importer: error: Stopped: 50.0% of the 1,200 rows read are errors, more than "
        "--max-error-rate 10%. A wrong mapping or file is the usual cause: look at the report's "
        "error column, fix, and run again (it resumes; --fresh starts over).\n"
    )
    report = (tmp_path / "report.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(report) == 1201 and report[2].split(",")[3] == "pending"


def test_keys_never_reach_any_output(tmp_path: Path) -> None:
    setup(tmp_path, "minimo", 50)
    rejects, summary = tmp_path / "rejects.csv", tmp_path / "summary.json"
    with SandboxThread(SandboxConfig(port=0, reject_email="lead0007")) as sb:
        proc = start(
            tmp_path, sb, "minimo", "--rejects", str(rejects), "--summary-json", str(summary),
            "--verbose", MINIMO_API_KEY=f"{MINIMO_KEY}\r",
        )  # fmt: skip
        code, out, err = finish(proc)
        wrong = start(tmp_path, sb, "minimo", "--fresh", MINIMO_API_KEY="mn-sandbox-WRONGKEY\r")
        code2, out2, err2 = finish(wrong)
    assert (code, code2) == (1, 3)
    texts = [out, err, out2, err2]
    texts += [p.read_bytes().decode("utf-8", "replace") for p in tmp_path.rglob("*") if p.is_file()]
    for text in texts:
        assert "sandboxkey" not in text and "WRONGKEY" not in text


def test_xlsx_report_and_rejects_that_import_again(tmp_path: Path) -> None:
    setup(tmp_path, "minimo", 30)
    (tmp_path / "leads.csv").write_text(
        (tmp_path / "leads.csv").read_text().replace("city 3", "=HYPERLINK(1)")
    )
    report, rejects = tmp_path / "report.xlsx", tmp_path / "rejects.csv"
    with SandboxThread(SandboxConfig(port=0, reject_email="lead000[35]")) as sb:
        cmd = command(tmp_path, "minimo", "--rejects", str(rejects))
        cmd[cmd.index("--report") + 1] = str(report)
        done = subprocess.run(
            cmd, env={"PATH": "/usr/bin:/bin", **sandbox_env(sb.base_url)},
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    wb = load_workbook(report)
    ws = wb["Report"]
    assert (ws.freeze_panes, ws.auto_filter.ref) == ("A2", "A1:H31")
    assert [c.value for c in ws[1]] == [
        "row",
        "email",
        "phone",
        "status",
        "contact_id",
        "error",
        "warning",
        "changes",
    ]
    assert [c.value for c in ws[5]][:4] == [5, "lead0003@gmail.com", "+393330000003", "error"]
    assert ws["D5"].fill.fgColor.rgb == "00FFC7CE" and ws["D4"].fill.fgColor.rgb != "00FFC7CE"
    assert ws["C4"].data_type == "s"
    wb.close()
    assert rejects.read_text(encoding="utf-8-sig").splitlines() == [
        "row,Email,Phone,City,error",
        "5,lead0003@gmail.com,333 0000003,'=HYPERLINK(1),validation_error",
        "7,lead0005@gmail.com,333 0000005,city 5,validation_error",
    ]


def test_a_run_killed_while_staging_stages_again(tmp_path: Path) -> None:
    """A journal whose staging never completed is discarded and the file staged anew."""
    from importer.journal import Journal, account_path, journal_path
    from importer.mapping import load_mapping
    from importer.normalizing import Staged, record
    from importer.pipeline import Context, job_identity, run
    from importer.settings import RunSettings, credentials_from_env

    setup(tmp_path, "minimo", 50)
    settings = RunSettings(
        source=tmp_path / "leads.csv", mapping=tmp_path / "m.toml",
        report=tmp_path / "report.csv", state_dir=tmp_path / "state",
    )  # fmt: skip
    with SandboxThread(SandboxConfig(port=0)) as sb:
        env = sandbox_env(sb.base_url)
        creds = credentials_from_env("minimo", None, env)
        path = journal_path(
            tmp_path / "state", job_identity(settings, load_mapping(settings.mapping), creds)
        )
        with Journal(path, account_path(tmp_path / "state", creds.account)) as journal:
            journal.add_staged([record(Staged(2, "error", error="half-staged garbage"))])
        result = run(settings, Context(env=env))
        assert len(sb.contacts()["minimo"]) == 50
    assert result.summary["counts"] == {"created": 50}


def test_acknowledgements_reach_the_account_once_even_after_a_kill(tmp_path: Path) -> None:
    """`known` is written after sending; a run killed first leaves it to the next run."""
    from importer.journal import Journal, Outcome
    from importer.normalizing import Staged, record

    account = tmp_path / "account.sqlite"

    def stage(name: str, email: str) -> Journal:
        journal = Journal(tmp_path / name, account)
        journal.add_staged([record(Staged(2, "pending", email, None, {"email": email}))])
        return journal

    def acknowledge(journal: Journal, contact_id: str) -> None:
        recorder = journal.recorder()
        recorder.record([Outcome(2, "created", contact_id)])
        recorder.close()

    with stage("a.sqlite", "a@gmail.com") as a:
        acknowledge(a, "c1")  # and killed before the copy
        assert a.known(["a@gmail.com"]) == {}
    with Journal(tmp_path / "a.sqlite", account) as a:
        a.sync_known("minimo")  # the next run of job a, before sending
        assert a.known(["a@gmail.com"]) == {"a@gmail.com": "c1"}
    with stage("b.sqlite", "a@gmail.com") as b:  # a later job updates the same contact
        acknowledge(b, "c2")
        b.sync_known("minimo")
    with Journal(tmp_path / "a.sqlite", account) as a:
        a.sync_known("minimo")  # job a again: what it copied once is not copied again
        assert a.known(["a@gmail.com"]) == {"a@gmail.com": "c2"}
