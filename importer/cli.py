"""Command line: arguments → settings → one library call → printed result and exit code.

Errors are caught here, in one place, and printed as one paragraph with the next step;
tracebacks only with --verbose.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import cast

import anyio

from importer import __version__
from importer.errors import ImporterError, UsageError
from importer.pipeline import Context, run
from importer.progress import for_stream
from importer.settings import TARGETS, RunSettings, Target, credentials_from_env, state_dir
from importer.state import KEEP_DAYS

EXIT_INTERNAL = 70


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage, as SPEC §2 wants; only the message format is ours."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"importer: error: {message}\n")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="importer",
        description="Import spreadsheets of contacts into Minimo or Notifuse, "
        "with a per-row report.",
    )
    parser.add_argument("--version", action="version", version=f"importer {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("run", help="import a spreadsheet into Minimo or Notifuse")
    r.add_argument("source", type=Path)
    r.add_argument("--mapping", type=Path, required=True, help="mapping file (TOML)")
    r.add_argument("--target", choices=TARGETS, help="overrides the mapping's target")
    r.add_argument("--sheet", help="XLSX sheet name (default: the first visible sheet)")
    r.add_argument("--header-row", type=_positive_int, help="row number of the header")
    r.add_argument("--delimiter", help="CSV delimiter (default: sniffed among , ; tab |)")
    r.add_argument("--encoding", help="CSV encoding (default: detected)")
    r.add_argument("--report", type=Path, help="report path (.csv, .xlsx or .jsonl)")
    r.add_argument(
        "--rejects", type=Path, help="write the error rows, as they were, plus an error column"
    )
    r.add_argument("--skip-unchanged", action="store_true", help="do not re-send unchanged rows")
    r.add_argument(
        "--max-error-rate",
        type=_positive_float,
        metavar="PERCENT",
        help="stop (exit 4) when more than PERCENT%% of at least 1,000 rows are errors",
    )
    r.add_argument(
        "--rejects-warnings",
        action="store_true",
        help="rejects also hold the rows sent without a value they had (a dropped phone)",
    )
    r.add_argument(
        "--report-columns",
        metavar="A,B",
        help="source columns to add to the report (e.g. name and company)",
    )
    r.add_argument(
        "--errors-ok",
        action="store_true",
        help="exit 0 when the only problem is rows the data refused (still reported)",
    )
    r.add_argument("--summary-json", type=Path, help="also write the summary as JSON here")
    r.add_argument("--dry-run", action="store_true", help="read, map and validate; send nothing")
    r.add_argument("--rate", type=_positive_float, help="requests/s (default: found automatically)")
    r.add_argument("--concurrency", type=_positive_int, default=8)
    r.add_argument("--batch-size", type=_positive_int, default=100)
    r.add_argument("--timeout", type=_positive_float, default=30.0, help="seconds per request")
    r.add_argument(
        "--max-attempts",
        type=_positive_int,
        default=5,
        help="tries per request on 5xx, timeouts and lost connections (default 5)",
    )
    r.add_argument("--base-url", help="overrides MINIMO_BASE_URL / NOTIFUSE_BASE_URL")
    r.add_argument(
        "--state", type=Path, help="journal directory (default: $XDG_STATE_HOME/importer)"
    )
    r.add_argument(
        "--fresh", action="store_true", help="discard this job's progress and start over"
    )
    classify = r.add_mutually_exclusive_group()
    classify.add_argument("--classify", dest="classify", action="store_true", default=None)
    classify.add_argument("--no-classify", dest="classify", action="store_false")
    r.add_argument("--notifuse-mode", choices=("upsert", "import"), default="upsert")
    r.add_argument("--list", dest="list_id", help="Notifuse list to subscribe to (import mode)")
    r.add_argument("--quiet", action="store_true")
    r.add_argument("--verbose", action="store_true")

    c = sub.add_parser("check", help="check credentials and endpoint with one cheap request")
    c.add_argument("--target", choices=TARGETS, required=True)
    c.add_argument("--base-url")
    c.add_argument("--verbose", action="store_true")

    m = sub.add_parser("mapping", help="work with mapping files")
    msub = m.add_subparsers(dest="mapping_command", required=True, parser_class=_Parser)
    sg = msub.add_parser("suggest", help="print a starter mapping for this file's headers")
    sg.add_argument("source", type=Path)
    sg.add_argument("--target", choices=TARGETS, required=True)
    sg.add_argument("--sheet")
    sg.add_argument("--header-row", type=_positive_int)
    sg.add_argument("--delimiter")
    sg.add_argument("--encoding")
    sg.add_argument("--verbose", action="store_true")

    st = sub.add_parser("state", help="the jobs kept under --state")
    stsub = st.add_subparsers(dest="state_command", required=True, parser_class=_Parser)
    for name, text in (
        ("list", "list the jobs: completed, incomplete or running, and their size"),
        ("prune", "remove the journals of completed jobs"),
    ):
        one = stsub.add_parser(name, help=text)
        one.add_argument("--state", type=Path, help="default: $XDG_STATE_HOME/importer")
        one.add_argument("--verbose", action="store_true")
        if name == "prune":
            one.add_argument(
                "--older-than",
                type=float,
                default=KEEP_DAYS,
                metavar="DAYS",
                help=f"completed more than DAYS ago (default {KEEP_DAYS}; 0: all completed)",
            )

    s = sub.add_parser("sandbox", help="serve local stand-ins of both APIs on loopback")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8787)
    s.add_argument("--minimo-key", default="mn-sandbox-sandboxkey")
    s.add_argument("--notifuse-key", default="nf-sandbox-key")
    s.add_argument("--workspace", default="ws_sandbox")
    s.add_argument("--rate", type=_positive_float, help="requests/s allowed per API")
    s.add_argument("--retry-after", choices=("seconds", "date", "none"), default="seconds")
    s.add_argument("--latency-ms", type=float, default=0.0)
    s.add_argument("--fail-rate", type=float, default=0.0, help="fraction answered 500/502/503")
    s.add_argument(
        "--drop", choices=("before", "after"), help="drop connections before/after the write"
    )
    s.add_argument("--drop-rate", type=float, default=0.05)
    s.add_argument("--reject-email", help="regex of emails the server refuses")
    s.add_argument("--db", help="SQLite file to keep contacts in")
    s.add_argument("--seed", type=int)
    s.add_argument(
        "--max-body", type=int, metavar="BYTES", help="answer 413 to larger request bodies"
    )
    s.add_argument(
        "--clock-skew",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="the server's clock is this far ahead (negative: behind) in Date and Retry-After",
    )
    s.add_argument("--verbose", action="store_true")
    return parser


def _run_settings(ns: argparse.Namespace) -> RunSettings:
    return RunSettings(
        source=ns.source,
        mapping=ns.mapping,
        target=cast(Target | None, ns.target),
        sheet=ns.sheet,
        header_row=ns.header_row,
        delimiter=_delimiter(ns.delimiter),
        encoding=ns.encoding,
        report=ns.report,
        rejects=ns.rejects,
        summary_json=ns.summary_json,
        dry_run=ns.dry_run,
        rate=ns.rate,
        concurrency=ns.concurrency,
        batch_size=ns.batch_size,
        base_url=ns.base_url,
        state_dir=ns.state,
        fresh=ns.fresh,
        skip_unchanged=ns.skip_unchanged,
        max_error_rate=ns.max_error_rate,
        errors_ok=ns.errors_ok,
        rejects_warnings=ns.rejects_warnings,
        report_columns=_columns(ns.report_columns),
        classify=ns.classify,
        notifuse_mode=ns.notifuse_mode,
        list_id=ns.list_id,
        timeout=ns.timeout,
        max_attempts=ns.max_attempts,
        quiet=ns.quiet,
        verbose=ns.verbose,
    )


def _columns(text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise UsageError("--report-columns needs at least one column name (A,B,...).")
    return names


def _delimiter(text: str | None) -> str | None:
    if text is None:
        return None
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    value = named.get(text.lower(), text)
    if len(value) != 1:
        raise UsageError(f"--delimiter must be one character (or tab), got {text!r}.")
    return value


def _cmd_run(ns: argparse.Namespace) -> int:
    settings = _run_settings(ns)
    context = Context(env=os.environ, progress=for_stream(sys.stderr, settings.quiet))
    result = run(settings, context)
    print(result.text, file=sys.stderr)
    return result.exit_code


def _cmd_check(ns: argparse.Namespace) -> int:
    from importer.pipeline import preflight

    creds = credentials_from_env(cast(Target, ns.target), ns.base_url, os.environ)
    started = time.monotonic()
    anyio.run(preflight, creds)
    ms = (time.monotonic() - started) * 1000
    print(
        f"OK: {creds.target.capitalize()} at {creds.base_url} accepted the credentials "
        f"({ms:.0f} ms)."
    )
    return 0


def _cmd_mapping(ns: argparse.Namespace) -> int:
    from importer.reading import ReadOptions
    from importer.suggest import suggest_for_file

    read = ReadOptions(ns.sheet, ns.header_row, _delimiter(ns.delimiter), ns.encoding)
    sys.stdout.write(suggest_for_file(ns.source, cast(Target, ns.target), read))
    return 0


def _cmd_state(ns: argparse.Namespace) -> int:
    from importer import state

    folder = state_dir(ns.state, os.environ)
    if ns.state_command == "list":
        found = state.jobs(folder)
        if not found:
            print(f"No job in {folder}.")
            return 0
        print(state.HEADER)
        for job in found:
            print(state.describe(job))
        return 0
    if ns.older_than < 0:
        raise UsageError("--older-than must be 0 or more days.")
    removed = state.prune(folder, timedelta(days=ns.older_than))
    if not removed:
        print(f"Removed no job: none completed more than {ns.older_than:g} days ago.")
        return 0
    freed = sum(job.size for job in removed)
    print(
        f"Removed {len(removed)} completed job{'s' if len(removed) > 1 else ''} "
        f"({freed / 1e6:,.1f} MB) from {folder}."
    )
    return 0


def _cmd_sandbox(ns: argparse.Namespace) -> int:
    from importer.sandbox import SandboxConfig, serve

    try:
        config = SandboxConfig(
            host=ns.host,
            port=ns.port,
            minimo_key=ns.minimo_key,
            notifuse_key=ns.notifuse_key,
            workspace=ns.workspace,
            rate=ns.rate,
            retry_after=ns.retry_after,
            latency_ms=ns.latency_ms,
            fail_rate=ns.fail_rate,
            drop=ns.drop,
            drop_rate=ns.drop_rate,
            reject_email=ns.reject_email,
            db=ns.db,
            seed=ns.seed,
            clock_skew=ns.clock_skew,
            max_body=ns.max_body,
        )
    except ValueError as exc:
        raise UsageError(f"Invalid sandbox option: {exc}.") from None

    def ready(url: str) -> None:
        print(f"sandbox listening on {url}", flush=True)

    try:
        serve(config, on_ready=ready)
    except OSError as exc:
        raise UsageError(
            f"The sandbox cannot listen on {ns.host}:{ns.port} ({exc.strerror}).",
            "Pick another --port, or stop what is using it.",
        ) from None
    return 0


def _redact(text: str) -> str:
    """Library messages can quote request headers: never let a key through."""
    for name in ("MINIMO_API_KEY", "NOTIFUSE_API_KEY"):
        key = os.environ.get(name, "").strip()
        if key:
            text = text.replace(key, "[redacted]")
    return text


COMMANDS = {
    "run": _cmd_run,
    "check": _cmd_check,
    "mapping": _cmd_mapping,
    "state": _cmd_state,
    "sandbox": _cmd_sandbox,
}


def main(argv: Sequence[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    try:
        return COMMANDS[ns.command](ns)
    except ImporterError as exc:
        if ns.verbose:
            traceback.print_exc()
        if exc.summary:
            print(exc.summary, file=sys.stderr)
        print(f"importer: error: {exc.paragraph()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("importer: interrupted. Run the same command again to resume.", file=sys.stderr)
        return 130
    except Exception as exc:
        if ns.verbose:
            traceback.print_exc()
        print(
            f"importer: internal error: {type(exc).__name__}: {_redact(str(exc))}. "
            "This is a bug in importer; "
            "run again with --verbose and report the traceback.",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
