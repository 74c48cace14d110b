"""Exit codes and messages of SPEC §2, through the real CLI; keys never echoed."""

from __future__ import annotations

import socket

import pytest

from importer.sandbox import SandboxThread
from tests.conftest import MAPPINGS, MINIMO_KEY, SAMPLES, Cli, sandbox_env

LEADS = SAMPLES / "leads.csv"
MINIMO = MAPPINGS / "minimo-leads.toml"
NOTIFUSE = MAPPINGS / "notifuse-leads.toml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_missing_key_exits_2_before_reading(cli: Cli) -> None:
    result = cli("run", "no-such-file.csv", "--mapping", MINIMO)
    assert result.code == 2
    assert result.stderr == (
        "importer: error: MINIMO_API_KEY is not set. "
        "Export your Minimo API key as MINIMO_API_KEY and run again.\n"
    )


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("mn-abc", "MINIMO_API_KEY is not of the form mn-CLIENTID-APIKEY."),
        ("mn-client-se\r\ncret", "MINIMO_API_KEY contains characters that cannot be part"),
        ("mn-client-sècret", "MINIMO_API_KEY contains characters that cannot be part"),
    ],
)
def test_malformed_key_exits_2_and_is_never_echoed(cli: Cli, key: str, message: str) -> None:
    result = cli("run", LEADS, "--mapping", MINIMO, env={"MINIMO_API_KEY": key})
    assert result.code == 2
    assert message in result.stderr
    assert "cret" not in result.stderr + result.stdout
    assert "abc" not in result.stderr + result.stdout


def test_key_with_surrounding_whitespace_is_stripped(cli: Cli, sandbox: SandboxThread) -> None:
    env = sandbox_env(sandbox.base_url, MINIMO_API_KEY=f"  {MINIMO_KEY}\r\n")
    result = cli("run", LEADS, "--mapping", MINIMO, env=env)
    assert result.code == 1, result.stderr
    assert "9 created" in result.stderr


def test_rejected_key_aborts_with_3_after_one_request(cli: Cli, sandbox: SandboxThread) -> None:
    wrong = "mn-sandbox-wrongkey"
    result = cli(
        "run", LEADS, "--mapping", MINIMO, env=sandbox_env(sandbox.base_url, MINIMO_API_KEY=wrong)
    )
    assert result.code == 3
    assert result.stderr == (
        "importer: error: Minimo rejected the API key (HTTP 401: unauthorized). "
        "Check MINIMO_API_KEY; then run the same command again to resume.\n"
    )
    assert len(sandbox.requests()) == 1
    assert wrong not in result.stderr


def test_rejected_notifuse_workspace_aborts_with_3(cli: Cli, sandbox: SandboxThread) -> None:
    env = sandbox_env(sandbox.base_url, NOTIFUSE_WORKSPACE_ID="ws_other")
    result = cli("run", LEADS, "--mapping", NOTIFUSE, env=env)
    assert result.code == 3
    assert "Notifuse rejected the workspace or key (HTTP 403: workspace not found" in result.stderr
    assert "Check NOTIFUSE_API_KEY and NOTIFUSE_WORKSPACE_ID" in result.stderr


def test_unreachable_server_aborts_with_3(cli: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = cli("run", LEADS, "--mapping", MINIMO, "--max-attempts", "2", env=sandbox_env(url))
    assert result.code == 3
    assert result.stderr.startswith(
        f"importer: error: Cannot reach Minimo at {url}: cannot connect"
    )
    assert (
        "(after 2 attempts). Check the base URL and your network; nothing was sent."
        in result.stderr
    )


def test_plain_http_to_a_remote_host_is_refused(cli: Cli) -> None:
    env = sandbox_env("http://api.minimo.it")
    result = cli("run", LEADS, "--mapping", MINIMO, env=env)
    assert result.code == 2
    assert "uses plain http:// for a non-loopback host (api.minimo.it)" in result.stderr


def test_notifuse_needs_its_base_url(cli: Cli) -> None:
    env = {"NOTIFUSE_API_KEY": "nf-key", "NOTIFUSE_WORKSPACE_ID": "ws_1"}
    result = cli("run", LEADS, "--mapping", NOTIFUSE, env=env)
    assert result.code == 2
    assert "NOTIFUSE_BASE_URL is not set." in result.stderr


def test_list_without_import_mode_exits_2(cli: Cli, sandbox: SandboxThread) -> None:
    result = cli(
        "run", LEADS, "--mapping", NOTIFUSE, "--list", "news", env=sandbox_env(sandbox.base_url)
    )
    assert result.code == 2
    assert "--list only works with --notifuse-mode import" in result.stderr
    assert sandbox.requests() == []


def test_clear_with_import_mode_exits_2(cli: Cli, sandbox: SandboxThread) -> None:
    mapping = cli.cwd / "clear.toml"
    mapping.write_text(
        'target = "notifuse"\n[options]\nempty = "clear"\n[fields]\nemail = "E-mail"\n'
    )
    result = cli(
        "run",
        LEADS,
        "--mapping",
        mapping,
        "--notifuse-mode",
        "import",
        env=sandbox_env(sandbox.base_url),
    )
    assert result.code == 2
    assert 'empty = "clear" cannot be used with --notifuse-mode import' in result.stderr


def test_missing_source_and_bad_usage_exit_2(cli: Cli) -> None:
    missing = cli("run", "nope.csv", "--mapping", MINIMO, "--dry-run")
    assert missing.code == 2
    assert (
        missing.stderr == "importer: error: Source file nope.csv does not exist. Check the path.\n"
    )
    usage = cli("run", LEADS)
    assert usage.code == 2
    assert "the following arguments are required: --mapping" in usage.stderr


def test_errors_have_no_traceback_unless_verbose(cli: Cli) -> None:
    quiet = cli("run", "nope.csv", "--mapping", MINIMO, "--dry-run")
    verbose = cli("run", "nope.csv", "--mapping", MINIMO, "--dry-run", "--verbose")
    assert "Traceback" not in quiet.stderr
    assert "Traceback" in verbose.stderr
    assert verbose.code == 2


def test_check_reports_ok_and_rejection(cli: Cli, sandbox: SandboxThread) -> None:
    ok = cli("check", "--target", "minimo", env=sandbox_env(sandbox.base_url))
    assert ok.code == 0
    assert ok.stdout.startswith(f"OK: Minimo at {sandbox.base_url} accepted the credentials (")
    bad = cli(
        "check",
        "--target",
        "notifuse",
        env=sandbox_env(sandbox.base_url, NOTIFUSE_API_KEY="nf-wrong"),
    )
    assert bad.code == 3
    assert bad.stderr == (
        "importer: error: Notifuse rejected the workspace or key (HTTP 401: unauthorized). "
        "Check NOTIFUSE_API_KEY and NOTIFUSE_WORKSPACE_ID; then run importer check again.\n"
    )  # a check has nothing to resume


def test_mapping_suggest_prints_a_mapping_that_runs(cli: Cli) -> None:
    suggested = cli("mapping", "suggest", LEADS, "--target", "notifuse")
    assert suggested.code == 0, suggested.stderr
    assert 'target = "notifuse"\n' in suggested.stdout
    assert 'email = "E-mail"\n' in suggested.stdout
    (cli.cwd / "suggested.toml").write_text(suggested.stdout, encoding="utf-8")
    dry = cli("run", LEADS, "--mapping", "suggested.toml", "--dry-run")
    assert dry.code == 1, dry.stderr  # the one invalid email of the samples
    assert "12 rows: 1 duplicate, 1 skipped, 9 valid, 1 error" in dry.stderr


def test_an_unwritable_report_path_exits_2_before_anything_is_sent(
    cli: Cli, sandbox: SandboxThread
) -> None:
    (cli.cwd / "afile").write_text("x")
    result = cli(
        "run", LEADS, "--mapping", MINIMO, "--report", "afile/report.csv",
        env=sandbox_env(sandbox.base_url),
    )  # fmt: skip
    assert result.code == 2
    assert result.stderr == (
        "importer: error: Cannot write afile/report.csv: a part of that path is a file, not a "
        "folder. "
        "Choose another path, or make its folder writable.\n"
    )
    assert sandbox.requests() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--report", "leads.csv"),
            "--report leads.csv is the same file as the source: it would be overwritten. "
            "Give --report another path.",
        ),
        (
            ("--report", "out.csv", "--rejects", "./out.csv"),
            "--rejects out.csv is the same file as --report: it would be overwritten. "
            "Give --rejects another path.",
        ),
        (
            ("--summary-json", "m.toml"),
            "--summary-json m.toml is the same file as the mapping: it would be overwritten. "
            "Give --summary-json another path.",
        ),
        (
            ("--report", "folder.csv"),
            "--report folder.csv is a folder. Give --report the path of a file in it.",
        ),
    ],
)
def test_an_output_that_would_overwrite_an_input_or_output_exits_2_first(
    cli: Cli, sandbox: SandboxThread, args: tuple[str, ...], message: str
) -> None:
    (cli.cwd / "leads.csv").write_bytes(LEADS.read_bytes())
    (cli.cwd / "m.toml").write_bytes(MINIMO.read_bytes())
    (cli.cwd / "folder.csv").mkdir()
    result = cli(
        "run", "leads.csv", "--mapping", "m.toml", *args, env=sandbox_env(sandbox.base_url)
    )
    assert (result.code, result.stderr) == (2, f"importer: error: {message}\n")
    assert sandbox.requests() == []
    assert (cli.cwd / "leads.csv").read_bytes() == LEADS.read_bytes()
    assert (cli.cwd / "m.toml").read_bytes() == MINIMO.read_bytes()
