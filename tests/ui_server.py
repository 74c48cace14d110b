"""`importer ui` as a user starts it: its own process (`--port 0 --no-browser`), the link
it prints, the sandbox's credentials in its environment; stopped with Ctrl-C (SIGINT)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from importer.ui.security import TOKEN_HEADER


@dataclass
class Ui:
    url: str  # as printed: with the token
    base: str
    token: str
    process: subprocess.Popen[str]
    output: str = ""  # what it printed (stdout and stderr), once stopped

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {TOKEN_HEADER: self.token, **kwargs.pop("headers", {})}
        return httpx.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def job(self, body: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
        """Start a job and wait until it has ended and its report is indexed."""
        started = self.call("POST", "/api/jobs", json=body)
        assert started.status_code == 200, started.text
        return self.wait(started.json()["id"], timeout)

    def wait(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        """The job's state once it has ended and its report is indexed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state: dict[str, Any] = self.call("GET", f"/api/jobs/{job_id}").json()
            if not state["running"]:
                return state
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not end in {timeout} s")


@contextmanager
def running_ui(tmp: Path, env: dict[str, str], *extra: str) -> Iterator[Ui]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MINIMO_", "NOTIFUSE_", "HTTP_PROXY", "HTTPS_PROXY"))
    }
    argv = [sys.executable, "-m", "importer", "ui", "--port", "0", "--no-browser"]
    process = subprocess.Popen(
        [*argv, "--state", str(tmp / "state"), *extra],
        env={**base, **env, "XDG_STATE_HOME": str(tmp / "xdg")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    found: Ui | None = None
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("importer ui: open http://127.0.0.1:"), line
        url = line.split("open ", 1)[1].strip()
        base_url, token = url.split("/?token=")
        found = Ui(url, base_url, token, process)
        yield found
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        printed = []
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                printed.append(stream.read())
                stream.close()
        if found is not None:
            found.output = "".join(printed)
