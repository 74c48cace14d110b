"""Running the sandbox: `serve` for the CLI (blocking) and `SandboxThread` for tests."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from .app import Sandbox, build_app
from .config import SandboxConfig

T = TypeVar("T")

SHUTDOWN_TIMEOUT = 1.0  # seconds granted to in-flight requests when stopping


class _Server:
    """One listening sandbox on the current event loop."""

    def __init__(self, sandbox: Sandbox, runner: web.AppRunner, base_url: str) -> None:
        self.sandbox = sandbox
        self.runner = runner
        self.base_url = base_url

    @classmethod
    async def start(cls, config: SandboxConfig) -> _Server:
        sandbox = Sandbox(config)
        runner = web.AppRunner(
            build_app(sandbox),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=SHUTDOWN_TIMEOUT,
        )
        try:
            await runner.setup()
            site = web.TCPSite(runner, config.host, config.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            sandbox.close()
            raise
        host, port = runner.addresses[0][:2]  # the real port when config.port is 0
        shown = f"[{host}]" if ":" in host else host
        return cls(sandbox, runner, f"http://{shown}:{port}")

    async def stop(self) -> None:
        try:
            await self.runner.cleanup()
        finally:
            self.sandbox.close()


def serve(config: SandboxConfig, *, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve until SIGINT/SIGTERM, then shut down quietly; on_ready(base_url) once listening."""
    with contextlib.suppress(KeyboardInterrupt):  # if the signal handlers could not be set
        asyncio.run(_serve(config, on_ready))


async def _serve(config: SandboxConfig, on_ready: Callable[[str], None] | None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not main thread
            continue
        installed.append(sig)
    try:
        server = await _Server.start(config)
        try:
            if on_ready is not None:
                on_ready(server.base_url)
            await stop.wait()
        finally:
            await server.stop()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


class SandboxThread:
    """Context manager for tests: the sandbox on its own event loop in a daemon thread.

    ``with SandboxThread(SandboxConfig(port=0)) as sb:`` then use ``sb.base_url``;
    ``contacts()``, ``requests()`` and ``reset()`` run on the sandbox's loop, so they are
    consistent with the requests it is serving.
    """

    def __init__(self, config: SandboxConfig | None = None, *, timeout: float = 10.0) -> None:
        self.config = config if config is not None else SandboxConfig(port=0)
        self._timeout = timeout
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._server: _Server | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="importer-sandbox", daemon=True)

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        return self._server.base_url

    def __enter__(self) -> SandboxThread:
        self._thread.start()
        if not self._ready.wait(self._timeout):
            raise RuntimeError("the sandbox did not start in time")
        if self._error is not None:
            self._thread.join(self._timeout)
            raise self._error
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop already finished
                loop.call_soon_threadsafe(stop.set)
        self._thread.join(self._timeout)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to __enter__, never lost in the thread
            self._error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._server = await _Server.start(self.config)
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self._server.stop()

    def _call(self, fn: Callable[[Sandbox], T]) -> T:
        if self._loop is None or self._server is None:
            raise RuntimeError("the sandbox is not running")
        sandbox = self._server.sandbox

        async def on_loop() -> T:
            return fn(sandbox)

        coro: Coroutine[Any, Any, T] = on_loop()
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(self._timeout)

    def contacts(self) -> dict[str, Any]:
        """The /_sandbox/contacts dump: {"minimo": [...by id], "notifuse": [...by email]}."""
        return self._call(lambda sb: sb.contacts())

    def requests(self) -> list[dict[str, Any]]:
        """The /_sandbox/requests log, in arrival order."""
        return self._call(lambda sb: sb.requests())

    def reset(self) -> None:
        """Same as POST /_sandbox/reset."""
        self._call(lambda sb: sb.reset())

    def outage(self, seconds: float) -> None:
        """Same as POST /_sandbox/outage: every API request answers 503 for `seconds`."""
        self._call(lambda sb: sb.faults.start_outage(seconds))
