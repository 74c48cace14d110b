"""The real CLI against the real sandbox over loopback: samples into both targets."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from importer.sandbox import SandboxConfig, SandboxThread
from tests.conftest import (
    GOLDEN,
    MAPPINGS,
    MINIMO_KEY,
    NOTIFUSE_KEY,
    SAMPLES,
    WORKSPACE,
    Cli,
    sandbox_env,
)

SOURCES = [SAMPLES / "leads.csv", SAMPLES / "leads.xlsx"]


def contacts(sb: SandboxThread, api: str) -> list[dict[str, Any]]:
    """The sandbox's store without the timestamps it sets itself."""
    found: list[dict[str, Any]] = sb.contacts()[api]
    stamps = {"createdAt", "updatedAt", "created_at", "updated_at"}
    return [{k: v for k, v in c.items() if k not in stamps} for c in found]


def golden_contacts(name: str) -> Any:
    return json.loads((GOLDEN / name).read_text(encoding="utf-8"))


def report_lines(path: Path) -> list[str]:
    """The report's lines, written with `,` whatever the delimiter (the golden files' form)."""
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "CSV reports start with a BOM for Excel"
    text = raw.decode("utf-8-sig")
    delimiter = ";" if ";" in text.split("\n", 1)[0] else ","
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(
        csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    )
    return out.getvalue().splitlines()


def golden_lines(name: str) -> list[str]:
    return (GOLDEN / name).read_bytes().decode("utf-8-sig").splitlines()


def posts(sb: SandboxThread) -> list[dict[str, Any]]:
    return [r for r in sb.requests() if r["method"] == "POST"]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.suffix)
def test_samples_into_minimo(source: Path, cli: Cli, sandbox: SandboxThread) -> None:
    result = cli(
        "run",
        source,
        "--mapping",
        MAPPINGS / "minimo-leads.toml",
        "--report",
        "out.csv",
        env=sandbox_env(sandbox.base_url),
    )
    assert result.code == 1, result.stderr  # the samples hold one invalid email
    assert report_lines(cli.cwd / "out.csv") == golden_lines("leads-minimo.report.csv")
    delimiter = ";" if source.suffix == ".csv" else ","  # the CSV sample is written with ;
    header = (cli.cwd / "out.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert header == delimiter.join(
        ("row", "email", "phone", "status", "contact_id", "error", "warning", "changes")
    )
    assert contacts(sandbox, "minimo") == golden_contacts("leads-minimo.contacts.json")
    assert "12 rows: 9 created, 1 duplicate, 1 skipped, 1 error" in result.stderr
    # one array upsert for the 9 contacts, after the look-ups that classify them
    assert len(posts(sandbox)) == 1


@pytest.mark.parametrize("mode", ["upsert", "import"])
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.suffix)
def test_samples_into_notifuse(source: Path, mode: str, cli: Cli, sandbox: SandboxThread) -> None:
    result = cli(
        "run",
        source,
        "--mapping",
        MAPPINGS / "notifuse-leads.toml",
        "--report",
        "out.csv",
        "--notifuse-mode",
        mode,
        env=sandbox_env(sandbox.base_url),
    )
    assert result.code == 1, result.stderr
    assert report_lines(cli.cwd / "out.csv") == golden_lines("leads-notifuse.report.csv")
    assert contacts(sandbox, "notifuse") == golden_contacts("leads-notifuse.contacts.json")
    # upsert: one per contact, and lists.subscribe for the 5 whose Newsletter says yes;
    # import: the contacts that consented in one request (subscribe_to_lists), the others in one
    assert len(posts(sandbox)) == (9 + 5 if mode == "upsert" else 2)


def test_second_import_of_the_same_rows_reports_updated(cli: Cli, sandbox: SandboxThread) -> None:
    env = sandbox_env(sandbox.base_url)
    mapping = MAPPINGS / "minimo-leads.toml"
    cli("run", SAMPLES / "leads.csv", "--mapping", mapping, "--report", "first.csv", env=env)
    result = cli(
        "run", SAMPLES / "leads.xlsx", "--mapping", mapping, "--report", "again.csv", env=env
    )
    assert result.code == 1
    expected = [
        line.replace(",created,", ",updated,") for line in golden_lines("leads-minimo.report.csv")
    ]
    assert report_lines(cli.cwd / "again.csv") == expected
    assert contacts(sandbox, "minimo") == golden_contacts("leads-minimo.contacts.json")


def test_rerun_of_a_finished_job_sends_nothing_and_reports_the_same(
    cli: Cli, sandbox: SandboxThread
) -> None:
    env = sandbox_env(sandbox.base_url)
    args = ("run", SAMPLES / "leads.csv", "--mapping", MAPPINGS / "minimo-leads.toml")
    assert cli(*args, "--report", "a.csv", env=env).code == 1
    before = len(posts(sandbox))
    assert cli(*args, "--report", "b.csv", env=env).code == 1
    assert len(posts(sandbox)) == before
    assert report_lines(cli.cwd / "b.csv") == report_lines(cli.cwd / "a.csv")
    fresh = cli(*args, "--report", "c.csv", "--fresh", env=env)
    assert fresh.code == 1
    assert len(posts(sandbox)) == before + 1
    assert ";updated;" in (cli.cwd / "c.csv").read_text(encoding="utf-8-sig")


def test_dry_run_needs_no_credentials_and_sends_nothing(cli: Cli, sandbox: SandboxThread) -> None:
    result = cli(
        "run", SAMPLES / "leads.csv", "--mapping", MAPPINGS / "minimo-leads.toml", "--dry-run"
    )
    assert result.code == 1
    assert report_lines(cli.cwd / "leads.report.csv") == golden_lines("leads-dry-run.report.csv")
    assert "(dry run: nothing sent)" in result.stderr
    assert sandbox.requests() == []
    assert not (cli.cwd / "state").exists(), "a dry run keeps no journal"


def test_a_batch_refused_for_one_item_lands_the_others(cli: Cli) -> None:
    with SandboxThread(SandboxConfig(port=0, reject_email=r"^luca\.")) as sb:
        result = cli(
            "run",
            SAMPLES / "leads.csv",
            "--mapping",
            MAPPINGS / "minimo-leads.toml",
            "--report",
            "out.csv",
            "--no-classify",
            env=sandbox_env(sb.base_url),
        )
        stored = {c["email"] for c in contacts(sb, "minimo")}
    assert result.code == 1
    lines = report_lines(cli.cwd / "out.csv")
    assert lines[3] == "4,luca.verdi@outlook.it,'+393471234567,error,,validation_error,,"
    # --no-classify, but the mapping's protect_opt_out looked every contact up: known created
    assert [line.split(",")[3] for line in lines[1:]] == [
        "duplicate",
        "created",
        "error",
        "error",
        "created",
        "skipped",
        "created",
        "created",
        "created",
        "created",
        "created",
        "created",
    ]
    assert len(stored) == 8 and "luca.verdi@outlook.it" not in stored


def test_a_mapping_naming_a_missing_column_exits_2(cli: Cli, sandbox: SandboxThread) -> None:
    (cli.cwd / "empty.csv").write_text("Email;Nome\n", encoding="utf-8")
    result = cli(
        "run",
        "empty.csv",
        "--mapping",
        MAPPINGS / "minimo-leads.toml",
        "--dry-run",
    )
    assert result.code == 2
    assert "no column 'Cellulare' for field phone" in result.stderr


def test_header_only_file_exits_0(cli: Cli, sandbox: SandboxThread) -> None:
    (cli.cwd / "m.toml").write_text('target = "minimo"\n[fields]\nemail = "Email"\n')
    (cli.cwd / "empty.csv").write_text("Email;Nome\n", encoding="utf-8")
    result = cli("run", "empty.csv", "--mapping", "m.toml", env=sandbox_env(sandbox.base_url))
    assert result.code == 0, result.stderr
    assert "note: the file has a header but no data rows" in result.stderr
    assert report_lines(cli.cwd / "empty.report.csv") == [
        "row,email,phone,status,contact_id,error,warning,changes"
    ]


@pytest.mark.parametrize("api", ["minimo", "notifuse"])
def test_an_address_is_sent_as_written_so_an_update_stays_an_update(
    api: str, cli: Cli, sandbox: SandboxThread
) -> None:
    """email-validator rewrites xn--bcher-kva.de as bücher.de: sent so, an existing
    contact's update became a second contact."""
    if api == "minimo":
        httpx.post(
            f"{sandbox.base_url}/public/v1/contacts",
            json=[{"email": "a@xn--bcher-kva.de"}],
            headers={"Authorization": f"Bearer {MINIMO_KEY}"},
        ).raise_for_status()
    else:
        httpx.post(
            f"{sandbox.base_url}/api/contacts.upsert",
            json={"workspace_id": WORKSPACE, "contact": {"email": "a@xn--bcher-kva.de"}},
            headers={"Authorization": f"Bearer {NOTIFUSE_KEY}"},
        ).raise_for_status()
    (cli.cwd / "m.toml").write_text(f'target = "{api}"\n[fields]\nemail = "Email"\n')
    (cli.cwd / "b.csv").write_text("Email\nA@XN--BCHER-KVA.DE\n")
    result = cli("run", "b.csv", "--mapping", "m.toml", env=sandbox_env(sandbox.base_url))
    assert result.code == 0, result.stderr
    assert [c["email"] for c in contacts(sandbox, api)] == ["a@xn--bcher-kva.de"]
    contact_id = "1" if api == "minimo" else ""
    assert report_lines(cli.cwd / "b.report.csv")[1] == (
        f"2,a@xn--bcher-kva.de,,updated,{contact_id},,,"
    )
