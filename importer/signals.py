"""SIGINT and SIGTERM over a whole run: one handler from start to end (SPEC §2, §6).

Before anything is staged, a signal raises `Interrupted` where the run is. From the send
phase on, it is only recorded: the send phase looks at it and stops its workers, and the
report and summary are written before the run ends with 130 or 143. The handler is never
handed back to Python's defaults in between (asyncio's own signal handling did that when
the send phase ended, and a SIGTERM then killed the run with no report).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from importer.errors import Interrupted

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """`with StopSignals() as signals:` for the run; `signals.deferred()` around the part
    that must finish its outputs; `signals.received` is the first signal, if any."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._raising = True
        self._old: dict[signal.Signals, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for s in STOP_SIGNALS:
                self._old[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._old.items():
            signal.signal(s, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._raising:
            raise Interrupted(signum)
        if self.received is None:
            self.received = signum
            print(
                "importer: stopping: in-flight requests are abandoned, the report is being "
                "written…",
                file=sys.stderr,
                flush=True,
            )

    def poll(self) -> int | None:
        return self.received

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Signals are recorded, not raised, inside; a signal received before raises now."""
        if self.received is not None:
            raise Interrupted(self.received)
        self._raising = False
        try:
            yield
        finally:
            self._raising = True

    def check(self) -> None:
        """Raise the recorded signal, once the outputs are written."""
        if self.received is not None:
            raise Interrupted(self.received)
