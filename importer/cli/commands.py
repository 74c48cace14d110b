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
from typing import Any, cast

import anyio

from importer.cli.parser import build_parser
from importer.errors import ImporterError, UsageError
from importer.pipeline import Context, run
from importer.progress import for_stream
from importer.reading import ReadOptions
from importer.settings import RunSettings, Target, credentials_from_env, state_dir

EXIT_INTERNAL = 70


def _job(ns: argparse.Namespace) -> dict[str, Any]:
    """What `run` and `undo` are both given: the job's identity and how to send."""
    return {
        "source": ns.source,
        "mapping": ns.mapping,
        "target": cast(Target | None, ns.target),
        "sheet": ns.sheet,
        "header_row": ns.header_row,
        "delimiter": _delimiter(ns.delimiter),
        "encoding": ns.encoding,
        "notifuse_mode": ns.notifuse_mode,
        "list_id": ns.list_id,
        "base_url": ns.base_url,
        "state_dir": ns.state,
        "report": ns.report,
        "summary_json": ns.summary_json,
        "rate": ns.rate,
        "concurrency": ns.concurrency,
        "timeout": ns.timeout,
        "max_attempts": ns.max_attempts,
    }


def _run_settings(ns: argparse.Namespace) -> RunSettings:
    return RunSettings(
        **_job(ns),
        rejects=ns.rejects,
        dry_run=ns.dry_run,
        predict=ns.predict,
        create_fields=ns.create_fields,
        batch_size=ns.batch_size,
        fresh=ns.fresh,
        skip_unchanged=ns.skip_unchanged,
        max_error_rate=ns.max_error_rate,
        errors_ok=ns.errors_ok,
        rejects_warnings=ns.rejects_warnings,
        report_columns=_columns(ns.report_columns),
        classify=ns.classify,
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
    progress = for_stream(sys.stderr, settings.quiet, json=ns.progress_json)
    context = Context(env=os.environ, progress=progress)
    result = run(settings, context)
    print(result.text, file=sys.stderr)
    return result.exit_code


def _cmd_undo(ns: argparse.Namespace) -> int:
    from importer.undo import UndoSettings, summary_text, undo

    settings = UndoSettings(**_job(ns))
    progress = for_stream(sys.stderr, ns.quiet, json=ns.progress_json)
    code, summary = undo(settings, os.environ, progress=progress)
    if not ns.quiet or code:
        print(summary_text(summary), file=sys.stderr)
    return code


def _cmd_ui(ns: argparse.Namespace) -> int:
    from importer.ui import UiSettings, serve

    if not 0 <= ns.port <= 65535:
        raise UsageError(f"--port must be 0 to 65535, got {ns.port}.")
    settings = UiSettings(
        port=ns.port,
        open_browser=not ns.no_browser,
        max_upload_mb=ns.max_upload_mb,
        state_dir=ns.state,
        verbose=ns.verbose,
    )
    return serve(settings)


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


def _read_options(ns: argparse.Namespace) -> ReadOptions:
    return ReadOptions(ns.sheet, ns.header_row, _delimiter(ns.delimiter), ns.encoding)


def _cmd_mapping(ns: argparse.Namespace) -> int:
    from importer.suggest import suggest_for_file

    sys.stdout.write(suggest_for_file(ns.source, cast(Target, ns.target), _read_options(ns)))
    return 0


def _cmd_inspect(ns: argparse.Namespace) -> int:
    from importer.inspect import InspectSettings, inspect, render_table, write_json

    settings = InspectSettings(
        ns.source, _read_options(ns), ns.mapping, cast(Target | None, ns.target)
    )
    found = inspect(settings)
    sys.stdout.write(render_table(found))
    if ns.json is not None:
        write_json(found, ns.json)
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
    "inspect": _cmd_inspect,
    "undo": _cmd_undo,
    "ui": _cmd_ui,
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
