"""The command line's arguments: one parser per command (SPEC §2)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from importer import __version__
from importer.settings import TARGETS
from importer.state import KEEP_DAYS


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
    _reading_options(r)
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
    r.add_argument(
        "--predict",
        action="store_true",
        help="with --dry-run: look contacts up and report would_create / would_update / "
        "no_change, with what would change (read-only requests)",
    )
    r.add_argument(
        "--create-fields",
        action="store_true",
        help="Minimo: define the mapped custom fields the account does not have, first",
    )
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
    r.add_argument(
        "--progress-json", action="store_true", help="progress as JSON lines on stderr (programs)"
    )
    r.add_argument("--verbose", action="store_true")

    i = sub.add_parser(
        "inspect", help="profile a file; with a mapping, what a run would do (no network)"
    )
    i.add_argument("source", type=Path)
    i.add_argument("--mapping", type=Path, help="also report what a dry run would")
    i.add_argument("--target", choices=TARGETS, help="overrides the mapping's target")
    i.add_argument("--json", type=Path, metavar="PATH", help="also write the profile as JSON")
    _reading_options(i)
    i.add_argument("--verbose", action="store_true")

    u = sub.add_parser("undo", help="reverse the last completed run of a job")
    u.add_argument("source", type=Path)
    u.add_argument("--mapping", type=Path, required=True, help="the run's mapping file")
    u.add_argument("--target", choices=TARGETS, help="overrides the mapping's target")
    _reading_options(u)
    u.add_argument("--notifuse-mode", choices=("upsert", "import"), default="upsert")
    u.add_argument("--list", dest="list_id", help="the run's --list")
    u.add_argument("--base-url", help="overrides MINIMO_BASE_URL / NOTIFUSE_BASE_URL")
    u.add_argument("--state", type=Path, help="journal directory (default: as `run`)")
    u.add_argument("--report", type=Path, help="default: <source stem>.undo.csv")
    u.add_argument("--summary-json", type=Path, help="also write the summary as JSON here")
    u.add_argument("--rate", type=_positive_float, help="requests/s (default: found)")
    u.add_argument("--concurrency", type=_positive_int, default=8)
    u.add_argument("--timeout", type=_positive_float, default=30.0, help="seconds per request")
    u.add_argument("--max-attempts", type=_positive_int, default=5)
    u.add_argument("--quiet", action="store_true")
    u.add_argument(
        "--progress-json", action="store_true", help="progress as JSON lines on stderr (programs)"
    )
    u.add_argument("--verbose", action="store_true")

    w = sub.add_parser("ui", help="a local web page: pick a file, map, check, import, undo")
    w.add_argument("--port", type=int, default=8765, help="on 127.0.0.1 (0: any free port)")
    w.add_argument("--no-browser", action="store_true", help="print the link, open nothing")
    w.add_argument("--max-upload-mb", type=_positive_int, default=200)
    w.add_argument("--state", type=Path, help="journal directory of its runs (as `run`)")
    w.add_argument("--verbose", action="store_true")

    c = sub.add_parser("check", help="check credentials and endpoint with one cheap request")
    c.add_argument("--target", choices=TARGETS, required=True)
    c.add_argument("--base-url")
    c.add_argument("--verbose", action="store_true")

    m = sub.add_parser("mapping", help="work with mapping files")
    msub = m.add_subparsers(dest="mapping_command", required=True, parser_class=_Parser)
    sg = msub.add_parser("suggest", help="print a starter mapping for this file's headers")
    sg.add_argument("source", type=Path)
    sg.add_argument("--target", choices=TARGETS, required=True)
    _reading_options(sg)
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


def _reading_options(parser: argparse.ArgumentParser) -> None:
    """How a source is read: the same options wherever one is."""
    parser.add_argument("--sheet", help="XLSX sheet name (default: the first visible sheet)")
    parser.add_argument("--header-row", type=_positive_int, help="row number of the header")
    parser.add_argument("--delimiter", help="CSV delimiter (default: sniffed among , ; tab |)")
    parser.add_argument("--encoding", help="CSV encoding (default: detected)")
