"""Shared fixtures: the real sandbox on a loopback port, and the real CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from importer.sandbox import SandboxConfig, SandboxThread

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
MAPPINGS = ROOT / "mappings"
GOLDEN = Path(__file__).resolve().parent / "golden"
MINIMO_KEY = "mn-sandbox-sandboxkey"
NOTIFUSE_KEY = "nf-sandbox-key"
WORKSPACE = "ws_sandbox"


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def shared_sandbox() -> Iterator[SandboxThread]:
    with SandboxThread(SandboxConfig(port=0)) as sb:
        yield sb


@pytest.fixture
def sandbox(shared_sandbox: SandboxThread) -> SandboxThread:
    """An empty default sandbox (one server for the session, reset for each test)."""
    shared_sandbox.reset()
    return shared_sandbox


def sandbox_env(base_url: str, **extra: str) -> dict[str, str]:
    """Credentials of both sandbox APIs, as a user would export them."""
    return {
        "MINIMO_API_KEY": MINIMO_KEY,
        "MINIMO_BASE_URL": base_url,
        "NOTIFUSE_API_KEY": NOTIFUSE_KEY,
        "NOTIFUSE_BASE_URL": base_url,
        "NOTIFUSE_WORKSPACE_ID": WORKSPACE,
        **extra,
    }


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


class Cli:
    """Runs `python -m importer` as a user would: its own process, cwd and state directory."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd

    def __call__(self, *args: str | Path, env: dict[str, str] | None = None) -> Result:
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("MINIMO_", "NOTIFUSE_", "HTTP_PROXY", "HTTPS_PROXY"))
        }
        base["XDG_STATE_HOME"] = str(self.cwd / "state")
        done = subprocess.run(
            [sys.executable, "-m", "importer", *map(str, args)],
            cwd=self.cwd,
            env={**base, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)


async def through(request: httpx.Request) -> httpx.Response:
    """`request` sent over the real network, its answer read whole: what a test transport
    does with every request it does not fault (a fresh transport each time: a run has
    several event loops)."""
    async with httpx.AsyncHTTPTransport() as real:
        answer = await real.handle_async_request(request)
        body = await answer.aread()
    return httpx.Response(answer.status_code, headers=answer.headers, content=body)
