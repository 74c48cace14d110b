"""Progress reporters behind one small interface: a tqdm bar on a terminal, a plain line at
a steady interval for cron/CI logs, or nothing (`--quiet`)."""

from __future__ import annotations

import time
from typing import Any, Protocol, TextIO

import orjson
from tqdm import tqdm


class Counters(Protocol):
    """The request counters of a run (the HTTP client's), read while it goes."""

    requests: int
    retries: int
    throttled: int


class Progress(Protocol):
    def start(self, phase: str, total: int | None) -> None: ...

    def advance(self, n: int) -> None: ...

    def close(self) -> None: ...

    def say(self, text: str) -> None:
        """A line for the person watching, before a long step (what it costs)."""

    def watch(self, counters: Counters) -> None:
        """The client's counters, from the first request on: 429s are shown as they come."""


class NullProgress:
    def start(self, phase: str, total: int | None) -> None:
        pass

    def say(self, text: str) -> None:
        pass

    def watch(self, counters: Counters) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


class _Timed:
    """Rows done in a phase, written by `_line` at most every `interval` seconds."""

    def __init__(self, stream: TextIO, interval: float) -> None:
        self.stream = stream
        self.interval = interval
        self._clock = time.monotonic
        self.phase = ""
        self.total: int | None = None
        self.done = 0
        self._started = self._last = 0.0
        self.counters: Counters | None = None

    def watch(self, counters: Counters) -> None:
        self.counters = counters

    def start(self, phase: str, total: int | None) -> None:
        self.close()
        self.phase, self.total, self.done = phase, total, 0
        self._started = self._last = self._clock()

    def advance(self, n: int) -> None:
        self.done += n
        now = self._clock()
        if now - self._last >= self.interval:
            self._last = now
            self._line(now)

    def close(self) -> None:
        if self.phase and self.done:
            self._line(self._clock())
        self.phase = ""

    def _line(self, now: float) -> None:
        raise NotImplementedError


class PlainProgress(_Timed):
    """One line every `interval` seconds: what a log file of a nightly job can hold."""

    def __init__(self, stream: TextIO, interval: float = 10.0) -> None:
        super().__init__(stream, interval)

    def _line(self, now: float) -> None:
        rate = self.done / max(now - self._started, 1e-9)
        of = eta = ""
        if self.total:
            of = f"/{self.total:,}"
            if rate > 0 and self.done < self.total:
                eta = f", about {duration((self.total - self.done) / rate)} left"
        throttled = self.counters.throttled if self.counters else 0
        limited = f", {throttled:,} rate-limited (429)" if throttled else ""
        self.stream.write(
            f"importer: {self.phase}: {self.done:,}{of} rows, {rate:,.0f} rows/s{eta}{limited}\n"
        )
        self.stream.flush()

    def say(self, text: str) -> None:
        self.stream.write(f"importer: {text}\n")
        self.stream.flush()


def duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class TqdmProgress:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.bar: tqdm[Any] | None = None

    def start(self, phase: str, total: int | None) -> None:
        self.close()
        self.bar = tqdm(total=total, desc=phase, unit=" rows", file=self.stream, dynamic_ncols=True)

    def advance(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def say(self, text: str) -> None:
        tqdm.write(f"importer: {text}", file=self.stream)

    def watch(self, counters: Counters) -> None:
        pass


class JsonProgress(_Timed):
    """One JSON object a line, for a program that shows the run (`importer ui`): the phase,
    rows done of total, rows/s, seconds left and the client's counters, at most every
    `interval` seconds and when a phase starts and ends; `{"say": text}` for the notes."""

    def __init__(self, stream: TextIO, interval: float = 0.25) -> None:
        super().__init__(stream, interval)

    def start(self, phase: str, total: int | None) -> None:
        super().start(phase, total)
        self._line(self._started)

    def say(self, text: str) -> None:
        self._write({"say": text})

    def _line(self, now: float) -> None:
        elapsed = now - self._started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = None
        if self.total and rate > 0:
            left = round(max(self.total - self.done, 0) / rate, 1)
        c = self.counters
        self._write({
            "phase": self.phase, "done": self.done, "total": self.total,
            "rate": round(rate, 1), "eta": left,
            "requests": c.requests if c else 0, "retries": c.retries if c else 0,
            "throttled": c.throttled if c else 0,
        })  # fmt: skip

    def _write(self, event: dict[str, Any]) -> None:
        self.stream.write(orjson.dumps(event).decode() + "\n")
        self.stream.flush()


def for_stream(stream: TextIO, quiet: bool, json: bool = False) -> Progress:
    if json:
        return JsonProgress(stream)
    if quiet:
        return NullProgress()
    if stream.isatty():
        return TqdmProgress(stream)
    return PlainProgress(stream)
