"""Progress reporters behind one small interface: a tqdm bar on a terminal, a plain line at
a steady interval for cron/CI logs, or nothing (`--quiet`)."""

from __future__ import annotations

import time
from typing import Any, Protocol, TextIO

from tqdm import tqdm


class Progress(Protocol):
    def start(self, phase: str, total: int | None) -> None: ...

    def advance(self, n: int) -> None: ...

    def close(self) -> None: ...

    def say(self, text: str) -> None:
        """A line for the person watching, before a long step (what it costs)."""


class NullProgress:
    def start(self, phase: str, total: int | None) -> None:
        pass

    def say(self, text: str) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


class PlainProgress:
    """One line every `interval` seconds: what a log file of a nightly job can hold."""

    def __init__(self, stream: TextIO, interval: float = 10.0) -> None:
        self.stream = stream
        self.interval = interval
        self._clock = time.monotonic
        self.phase = ""
        self.total: int | None = None
        self.done = 0
        self._started = self._last = 0.0

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

    def _line(self, now: float) -> None:
        rate = self.done / max(now - self._started, 1e-9)
        of = eta = ""
        if self.total:
            of = f"/{self.total:,}"
            if rate > 0 and self.done < self.total:
                eta = f", about {duration((self.total - self.done) / rate)} left"
        self.stream.write(
            f"importer: {self.phase}: {self.done:,}{of} rows, {rate:,.0f} rows/s{eta}\n"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.phase and self.done:
            self._line(self._clock())
        self.phase = ""

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


def for_stream(stream: TextIO, quiet: bool) -> Progress:
    if quiet:
        return NullProgress()
    if stream.isatty():
        return TqdmProgress(stream)
    return PlainProgress(stream)
