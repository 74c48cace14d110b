"""Long work off the request path: each check, prediction, import or undo is the CLI
itself in a child process (`python -m importer run … --progress-json`), so the page runs
exactly what a terminal runs, a stop is the SIGINT a terminal sends (the job resumes), and
the server stays free to answer. The child's progress lines are kept for the page's event
stream; its report (JSONL) is indexed once it ends, so the page reads any page of a
million-row report without holding it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sys
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from importer.reporting.report import COLUMNS

Kind = Literal["check", "predict", "import", "undo"]
LINE_LIMIT = 1 << 20  # a child's line (a long summary note) may be long
FAILED = -1  # the code of a job the page could not run or follow
PAGE = 50


@dataclass
class Job:
    id: str
    kind: Kind
    folder: Path
    argv: list[str]
    delimiter: str = ","  # of its CSV downloads: the source's, as the CLI's reports
    process: asyncio.subprocess.Process | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    said: list[str] = field(default_factory=list)  # the run's notes, as they come
    text: list[str] = field(default_factory=list)  # what it printed for a person (summary)
    code: int | None = None
    stopping: bool = False
    started: float = field(default_factory=time.monotonic)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    index: ReportIndex | None = None
    follower: asyncio.Task[None] | None = None  # kept: a task nobody holds may be collected
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one download conversion at once

    @property
    def report(self) -> Path:
        return self.folder / "report.jsonl"

    @property
    def summary(self) -> dict[str, Any] | None:
        path = self.folder / "summary.json"
        try:
            found: dict[str, Any] = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        return found

    def state(self) -> dict[str, Any]:
        """What the page shows of the job now."""
        return {
            "id": self.id, "kind": self.kind, "running": self.code is None,
            "stopping": self.stopping, "code": self.code, "progress": self.progress,
            "replayed": any("nothing sent: this job already completed" in t for t in self.text),
            "said": self.said, "text": page_text(self.text), "next": self.next_step(),
            "summary": self.summary,
            "statuses": self.index.counts() if self.index else {},
            "seconds": round(time.monotonic() - self.started, 1),
        }  # fmt: skip

    def next_step(self) -> str | None:
        """What a person does next, in the page's words (the CLI says "run the same
        command again"; here it is the same button)."""
        if self.code == 130:
            return (
                "Stopped. The rows not sent yet are pending: press Import again to go on "
                "where it stopped."
            )
        if self.code == FAILED:
            return "See above: once fixed, press the same button again (a job resumes)."
        if self.code in (3, 4):
            return "Not finished (see above): once fixed, press the same button again to resume."
        return None

    def stop(self) -> None:
        """As Ctrl-C in a terminal: the run stops sending, writes its report, and the same
        job resumes where it stopped."""
        if self.process is None or self.code is not None or self.process.returncode is not None:
            return  # it has ended (its report may still be being indexed)
        self.stopping = True
        with contextlib.suppress(ProcessLookupError):  # it ended just now
            self.process.send_signal(signal.SIGINT)
        self._touch()

    def _touch(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


def command(
    kind: Kind, source: Path, mapping: Path, folder: Path, columns: Sequence[str],
    state: Path | None, fresh: bool = False,
) -> list[str]:  # fmt: skip
    """The CLI command of a job: its outputs in the job's folder."""
    argv = [sys.executable, "-m", "importer", "undo" if kind == "undo" else "run", str(source)]
    argv += ["--mapping", str(mapping), "--report", str(folder / "report.jsonl")]
    argv += ["--summary-json", str(folder / "summary.json")]
    if state is not None:
        argv += ["--state", str(state)]
    argv.append("--progress-json")
    if kind == "undo":
        return argv
    argv += ["--rejects", str(folder / "rejects.csv")]
    shown = [c for c in columns if c.strip() and "," not in c and c not in COLUMNS]
    if shown:  # one argument with `=`: a header may start with "-"
        argv.append(f"--report-columns={','.join(shown)}")
    if kind in ("check", "predict"):
        argv.append("--dry-run")
    if kind == "predict":
        argv.append("--predict")
    if fresh and kind == "import":
        argv.append("--fresh")
    return argv


async def start(job: Job, env: dict[str, str]) -> None:
    """Start the child, and follow it in the background until it ends."""
    job.folder.mkdir(parents=True, exist_ok=True)
    try:
        job.process = await asyncio.create_subprocess_exec(
            *job.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,  # a Ctrl-C meant for the page does not stop the import
            limit=LINE_LIMIT,
        )
    except OSError as exc:
        job.text.append(f"importer: error: the run could not be started: {exc}.")
        job.code = FAILED
        return
    job.follower = asyncio.get_running_loop().create_task(_follow(job))


async def _follow(job: Job) -> None:
    """The child's progress and words as they come; its report indexed once it ends. However
    this ends, the job ends with it (never "running" for ever)."""
    assert job.process is not None and job.process.stderr is not None
    code = FAILED
    try:
        async for raw in job.process.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            event = _event(line)
            if event is None:
                job.text.append(line)
            elif "say" in event:
                job.said.append(str(event["say"]))
            else:
                job.progress = event
            job._touch()
        code = await job.process.wait()
        if job.report.exists():
            job.index = await asyncio.to_thread(ReportIndex.build, job.report)
    except (OSError, ValueError, orjson.JSONDecodeError) as exc:
        job.text.append(f"importer: error: the page lost track of this run: {exc}.")
        if job.process.returncode is None:
            job.process.kill()
        with contextlib.suppress(OSError, ValueError):
            await job.process.stderr.read()  # to its end: the pipe is closed
        await job.process.wait()
    finally:
        job.code = code  # ended only once its report can be read
        job._touch()


def page_text(lines: Sequence[str]) -> str:
    """The child's words for a person, without what only a terminal needs: the paths of its
    outputs in the page's folder (the page offers them as downloads), the CLI's Ctrl-C
    paragraph (the page says what to do instead)."""
    kept = [
        line
        for line in lines
        if not line.lstrip().startswith(("report: ", "rejects: "))
        and not line.startswith("importer: error: Interrupted by")
        and not line.startswith("importer: stopping:")
    ]
    text = "\n".join(kept).strip("\n")
    for cli, page in (
        ("run the same command again", "press the same button again"),
        ("Run the same command again", "Press the same button again"),
        ("run with --fresh to import the file again", "press Import from the start to import "
         "the file again"),
    ):  # fmt: skip
        text = text.replace(cli, page)
    return text


def _event(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        found = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return found if isinstance(found, dict) else None


class ReportIndex:
    """Where each line of a JSONL report starts, for all rows and per status: a page is a
    seek and PAGE lines read, whatever the report's length (8 bytes a row in memory)."""

    def __init__(self, path: Path, every: array[int], by_status: dict[str, array[int]]) -> None:
        self.path = path
        self.every = every
        self.by_status = by_status

    @classmethod
    def build(cls, path: Path) -> ReportIndex:
        every: array[int] = array("q")
        by_status: dict[str, array[int]] = {}
        with path.open("rb") as fh:
            offset = 0
            for line in fh:
                every.append(offset)
                status = _status(line)
                by_status.setdefault(status, array("q")).append(offset)
                offset += len(line)
        return cls(path, every, by_status)

    def counts(self) -> dict[str, int]:
        return {status: len(offsets) for status, offsets in self.by_status.items()}

    def page(self, status: str | None, number: int) -> tuple[list[dict[str, Any]], int]:
        """Rows of page `number` (from 0) of all rows or one status, and how many pages."""
        offsets = self.every if not status else self.by_status.get(status, array("q"))
        pages = max(1, -(-len(offsets) // PAGE))
        chosen = offsets[number * PAGE : (number + 1) * PAGE]
        rows = []
        with self.path.open("rb") as fh:
            for offset in chosen:
                fh.seek(offset)
                rows.append(orjson.loads(fh.readline()))
        return rows, pages


def _status(line: bytes) -> str:
    """A line's status without parsing the whole line when it can be found."""
    at = line.find(b'"status":"')
    if at < 0:
        return str(orjson.loads(line).get("status", ""))
    start = at + len(b'"status":"')
    return line[start : line.index(b'"', start)].decode()


def new_id() -> str:
    return secrets.token_hex(6)


def child_env(base: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """The child's environment: the server's (credentials come from there only)."""
    env = dict(base)
    env.pop("PYTHONINSPECT", None)
    return env
