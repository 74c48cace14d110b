"""`importer ui`: a local web page over the same library and the same CLI (SPEC §10): pick
a file, review its mapping, check it, predict it, import it, watch it, stop it, undo it.

It listens on loopback only; every request needs the token of the URL it prints; other
Hosts and Origins are refused; uploads have a size cap; credentials stay in the
environment of the process (the page is told only which targets have them)."""

from __future__ import annotations

import asyncio
import html
import os
import shutil
import signal
import socket
import sys
import tempfile
import webbrowser
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from importer.errors import UsageError
from importer.ui.app import Server, errors, routes
from importer.ui.security import guard, new_token

HOST = "127.0.0.1"


@dataclass(frozen=True)
class UiSettings:
    port: int = 8765
    open_browser: bool = True
    max_upload_mb: int = 200
    state_dir: Path | None = None  # the runs' --state (default: as `run`)
    verbose: bool = False


def make_app(server: Server, port: int) -> web.Application:
    app = web.Application(
        middlewares=[guard(server.token, port), errors(server.verbose)],
        client_max_size=server.upload_cap + (1 << 20),
    )
    app.add_routes(routes(server))
    return app


def listening_socket(port: int) -> socket.socket:
    """Bound to 127.0.0.1 only: never reachable from another machine."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise UsageError(
            f"importer ui cannot listen on {HOST}:{port}: {exc.strerror}.",
            "Another program (or another importer ui) uses that port: pass --port 0 for a "
            "free one.",
        ) from None
    sock.listen(64)
    sock.setblocking(False)
    return sock


def _redirect(folder: Path, url: str) -> Path:
    """A page only this user can read that sends the browser to `url`: the token is never on
    a browser's command line, where any user of the machine could read it (Jupyter's way)."""
    path = folder / "open.html"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(
            f'<!doctype html><meta http-equiv="refresh" content="0;url={html.escape(url)}">'
            f'<p><a href="{html.escape(url)}">Open importer</a></p>'
        )
    return path


def serve(settings: UiSettings) -> int:
    """Serve until Ctrl-C; running imports are stopped as Ctrl-C stops them (resumable)."""
    folder = Path(tempfile.mkdtemp(prefix="importer-ui-"))
    try:
        return asyncio.run(_serve(settings, folder))
    except KeyboardInterrupt:
        return 130
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _serve(settings: UiSettings, folder: Path) -> int:
    sock = listening_socket(settings.port)
    port = sock.getsockname()[1]
    server = Server(
        folder=folder,
        token=new_token(),
        env=dict(os.environ),
        upload_cap=settings.max_upload_mb << 20,
        state=settings.state_dir,
        verbose=settings.verbose,
    )
    runner = web.AppRunner(make_app(server, port), access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    url = f"http://{HOST}:{port}/?token={server.token}"
    print(f"importer ui: open {url}", flush=True)
    print("  (Ctrl-C stops it; reports are kept only while it runs: download them)", flush=True)
    if settings.open_browser:
        webbrowser.open(_redirect(folder, url).as_uri())
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(s, stopped.set)
    await stopped.wait()
    running = list(server.running.values())
    for job in running:
        job.stop()
    for job in running:
        if job.process is not None and job.process.returncode is None:
            await job.process.wait()
    await runner.cleanup()
    print("importer ui: stopped", file=sys.stderr)
    return 0
