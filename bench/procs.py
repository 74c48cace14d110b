"""Processes the benchmark measures: one child at a time, and the sandbox beside it.

Each measured command runs in its own process so the importer's CPU and memory are its
own (the sandbox is another process): wall time from spawn to exit; CPU from `os.wait4`'s
rusage (which includes the worker processes the child reaped); memory by polling /proc
every 50 ms: the largest VmHWM of the child or any descendant, and the most RSS they held
together. Not ru_maxrss: Linux carries the forking parent's high-water mark into the
child's across exec, so a child of a 300 MB harness would report 300 MB. Times use
`time.monotonic`, the clock the sandbox stamps its request log with.

Children import the code from a snapshot taken when the run starts (`freeze_code`), so
edits made to importer/ meanwhile cannot mix two versions into one table.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(Path(sys.executable))  # the venv's python: `make bench` runs us with it
MINIMO_KEY = "mn-sandbox-sandboxkey"
NOTIFUSE_KEY = "nf-sandbox-key"
WORKSPACE = "ws_sandbox"
_TICK = os.sysconf("SC_CLK_TCK")
_POLL = 0.05  # seconds between two looks at a running child (kill_when, timeout)
_READY = re.compile(r"sandbox listening on (\S+)")
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


@dataclass(frozen=True)
class Measured:
    """One finished child process."""

    argv: tuple[str, ...]
    code: int  # exit status, or -N when killed by signal N
    started: float  # time.monotonic() at spawn
    wall: float  # seconds
    cpu: float  # user + system seconds of the child
    peak_rss_mb: float  # the largest VmHWM of the child or one of its descendants
    peak_tree_mb: float  # the most RSS the child and its descendants held together (sampled)
    stdout: str
    stderr: str
    killed: bool  # we sent SIGKILL (on purpose, or at the timeout)


def freeze_code(dest: Path) -> Path:
    """Copy importer/ and bench/ (without its cache) to `dest`: what the children import."""
    if dest.exists():
        shutil.rmtree(dest)
    for package in ("importer", "bench"):
        shutil.copytree(
            ROOT / package,
            dest / package,
            ignore=shutil.ignore_patterns("__pycache__", ".cache", "*.md"),
        )
    return dest


def code_digest(code: Path) -> str:
    """A short hash of the snapshot's importer/ sources, to tell two runs' code apart."""
    digest = hashlib.sha256()
    for path in sorted((code / "importer").rglob("*.py")):
        digest.update(path.relative_to(code).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def clean_env(code: Path, base_url: str | None = None) -> dict[str, str]:
    """The caller's environment without API credentials or proxies, plus the sandbox's.

    PYTHONPATH puts the code snapshot ahead of the editable install of the repository.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MINIMO_", "NOTIFUSE_")) and "proxy" not in k.lower()
    }
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONPATH"] = str(code)
    if base_url is not None:
        env |= {
            "MINIMO_API_KEY": MINIMO_KEY,
            "MINIMO_BASE_URL": base_url,
            "NOTIFUSE_API_KEY": NOTIFUSE_KEY,
            "NOTIFUSE_BASE_URL": base_url,
            "NOTIFUSE_WORKSPACE_ID": WORKSPACE,
        }
    return env


def run_measured(
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    timeout: float,
    kill_when: Callable[[], bool] | None = None,
    log_name: str = "run",
) -> Measured:
    """Run to completion and measure it; SIGKILL when `kill_when()` (polled) says so.

    Output goes to files in `cwd`, never pipes: a chatty child cannot block on a full pipe.
    A run still going after `timeout` seconds is killed and raises TimeoutError.
    """
    cwd.mkdir(parents=True, exist_ok=True)
    out_path, err_path = cwd / f"{log_name}.stdout.txt", cwd / f"{log_name}.stderr.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.monotonic()
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=err)
        done = threading.Event()
        killed: list[str] = []  # why, once killed
        memory = TreeMemory(proc.pid)

        def watch() -> None:
            deadline = started + timeout
            while not done.wait(_POLL):
                memory.sample()
                reason = "timeout" if time.monotonic() > deadline else None
                if reason is None and kill_when is not None and kill_when():
                    reason = "asked"
                if reason is not None:
                    killed.append(reason)
                    with contextlib.suppress(ProcessLookupError):  # already gone
                        os.kill(proc.pid, signal.SIGKILL)
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            done.set()
            watcher.join()
        wall = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped by wait4: tell Popen so it does not wait again
    if killed == ["timeout"]:
        raise TimeoutError(f"{shlex.join(argv[:6])} ... still running after {timeout:.0f} s")
    return Measured(
        argv=tuple(argv),
        code=code,
        started=started,
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=memory.hwm_kib / 1024,
        peak_tree_mb=max(memory.tree_kib, memory.hwm_kib) / 1024,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
        killed=bool(killed),
    )


class TreeMemory:
    """Peak memory of a process and its descendants, from /proc, one `sample()` at a time."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.hwm_kib = 0  # the largest VmHWM seen (kept by the kernel between samples)
        self.tree_kib = 0  # the largest sum of VmRSS (shared pages counted in each process)

    def sample(self) -> None:
        total, todo = 0, [self.pid]
        while todo:
            proc = Path(f"/proc/{todo.pop()}")
            try:
                status = dict(
                    line.split(":", 1) for line in (proc / "status").read_text().splitlines()
                )
                total += int(status["VmRSS"].split()[0])
                self.hwm_kib = max(self.hwm_kib, int(status["VmHWM"].split()[0]))
                for task in (proc / "task").iterdir():
                    todo += map(int, (task / "children").read_text().split())
            except (OSError, KeyError, ValueError):  # exited meanwhile, or a zombie
                continue
        self.tree_kib = max(self.tree_kib, total)


class Sandbox:
    """`python -m importer sandbox --port 0 FLAGS` on loopback, for the length of a `with`."""

    def __init__(
        self,
        flags: tuple[str, ...],
        log_dir: Path,
        env: dict[str, str],
        start_timeout: float = 30.0,
    ) -> None:
        self.flags = flags
        self.number = 0  # set by whoever numbers the sandboxes of a run
        self.argv = [PYTHON, "-m", "importer", "sandbox", "--port", "0", *flags]
        log_dir.mkdir(parents=True, exist_ok=True)
        self._stderr = (log_dir / "sandbox.stderr.txt").open("wb")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        try:
            self.url = self._wait_ready(start_timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if not ready:
                break
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the sandbox exited: {' '.join(self.argv)}")
            found = _READY.search(line)
            if found:
                url = found.group(1)
                if not url.startswith("http://127.0.0.1:"):
                    raise RuntimeError(f"the sandbox is not on loopback: {url}")
                return url
        raise RuntimeError(f"the sandbox did not start within {timeout:.0f} s")

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()

    def cpu(self) -> float:
        """User + system CPU seconds the sandbox has used so far (/proc/<pid>/stat)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK

    def _call(self, method: str, path: str) -> Any:
        request = urllib.request.Request(self.url + path, method=method)
        with _LOCAL.open(request, timeout=120) as response:
            return json.loads(response.read())

    def requests(self) -> list[dict[str, Any]]:
        """The request log, in arrival order (see importer/sandbox/app.py)."""
        found: list[dict[str, Any]] = self._call("GET", "/_sandbox/requests")
        return found

    def contacts(self, api: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("GET", "/_sandbox/contacts")[api]
        return found

    def reset(self) -> None:
        """Empty store and log: the next measurement starts from the same state."""
        self._call("POST", "/_sandbox/reset")
