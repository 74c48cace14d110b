"""One rate limiter for every request of a run.

Requests are paced one slot at a time (no bursts): a steady pace just under a server's
limit never trips its token bucket, while bursts do. With `--rate` the pace is fixed.
Without it the limiter finds the sustainable rate itself:

- slow start: the pace doubles every second until the first 429;
- on a 429 the server has shown its limit: while over it, the server accepts exactly its
  limit, so the pace becomes a little under the rate of *accepted* requests over the last
  few seconds (and always under the current pace) — one adjustment per second at most,
  because the 429s of requests already in flight say nothing new;
- then it probes upwards slowly (+0.5%/s), so 429s stay rare but a limit that rises is
  found again.

Retry-After delays the throttled request itself (the client waits before retrying it);
a long one (≥ 2 s: the server asks for a real stop) also pauses every other request.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class RateLimiter:
    INITIAL = 50.0
    MINIMUM = 0.2
    MAXIMUM = 5_000.0
    GROWTH = 2.0  # per second, in slow start
    PROBE = 0.005  # per second, after the first 429
    MARGIN = 0.97  # pace relative to the accepted rate measured at a 429
    CUT = 0.7  # after a 429 when nothing was accepted lately
    WINDOW = 3.0  # seconds of accepted requests that estimate the server's limit
    GLOBAL_PAUSE = 2.0  # Retry-After at least this long pauses every request

    def __init__(self, rate: float | None, clock: Clock, sleep: Sleep) -> None:
        self.adaptive = rate is None
        self.rate = rate if rate is not None else self.INITIAL
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._paused_until = 0.0
        self._slow_start = True
        self._hold_until = 0.0
        self._accepted: deque[float] = deque()
        self._started = clock()
        self._last_growth = self._started

    async def acquire(self) -> None:
        """Wait for this request's slot; slots are handed out in call order."""
        now = self._clock()
        slot = max(now, self._next, self._paused_until)
        self._next = slot + 1.0 / self.rate
        if slot > now:
            await self._sleep(slot - now)

    def accepted_rate(self, now: float) -> float:
        window = min(self.WINDOW, now - self._started)
        while self._accepted and self._accepted[0] < now - self.WINDOW:
            self._accepted.popleft()
        return len(self._accepted) / window if window > 0 else 0.0

    def on_success(self) -> None:
        now = self._clock()
        self._accepted.append(now)
        if not self.adaptive:
            return
        elapsed, self._last_growth = now - self._last_growth, now
        factor = self.GROWTH if self._slow_start else 1.0 + self.PROBE
        grown = self.rate * factor**elapsed
        # when concurrency, not the pace, is the bound, growing the pace means nothing
        ceiling = 2.0 * self.accepted_rate(now) + self.INITIAL
        self.rate = min(self.MAXIMUM, max(self.rate, min(grown, ceiling)))

    def on_throttle(self, retry_after: float | None) -> None:
        """A 429: settle under the rate the server accepted; a long Retry-After pauses all."""
        now = self._clock()
        if retry_after is not None and retry_after >= self.GLOBAL_PAUSE:
            self._paused_until = max(self._paused_until, now + retry_after)
        if not self.adaptive or now < self._hold_until:
            return
        self._slow_start = False
        self._hold_until = now + 1.0
        measured = self.accepted_rate(now)
        settled = min(self.rate, measured) * self.MARGIN if measured else self.rate * self.CUT
        self.rate = max(self.MINIMUM, settled)
        self._last_growth = now
