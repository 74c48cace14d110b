"""One rate limiter for every request of a run.

Requests are paced one slot at a time (no bursts): a steady pace just under a server's
limit never trips its token bucket, while bursts do. With `--rate` the pace is fixed.
Without it the limiter finds the sustainable rate itself:

- slow start: the pace grows by `rate / BRISK` doublings a second (at most `FASTEST`)
  until the first 429, and only while the server keeps up (when concurrency is the
  bound, a faster pace means nothing). Few 429s come of it even so, since a throttled
  request holds its worker for the Retry-After or backoff: against a token bucket
  (tests/test_client_units.py) it stays under 2% 429s at 20 and 50 requests/s and
  reaches a fast server's speed in about a second;
- the first 429 of an episode cuts the pace — by half in slow start, by the margin later —
  because the server's bucket is now known to be empty;
- while the episode lasts (429s less than `QUIET` seconds apart), the server is accepting
  exactly its limit, so at most every `HOLD` seconds the pace becomes `MARGIN` times the
  rate accepted since the episode began (a measure free of the bucket's initial burst);
- then it probes upwards slowly, so 429s stay rare but a limit that rises is found again.

Retry-After delays the throttled request itself (the client waits before retrying it);
a long one (≥ `GLOBAL_PAUSE`: the server asks for a real stop) pauses every request.
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
    BRISK = 25.0  # requests/s above which slow start doubles more than once a second
    FASTEST = 8.0  # doublings a second in slow start, at most
    PROBE = 0.003  # per second, after the first 429
    MARGIN = 0.97  # pace relative to the accepted rate measured during a 429 episode
    HOLD = 0.5  # seconds between two adjustments
    QUIET = 3.0  # seconds without a 429 that end an episode
    WINDOW = 0.5  # seconds of accepted requests that bound the growth
    GLOBAL_PAUSE = 2.0  # Retry-After at least this long pauses every request
    TOLERANCE = 0.01  # seconds a request may go early (the pace itself is kept)

    def __init__(self, rate: float | None, clock: Clock, sleep: Sleep) -> None:
        self.adaptive = rate is None
        self.rate = rate if rate is not None else self.INITIAL
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._paused_until = 0.0
        self._slow_start = True
        self._started = clock()
        self._last_growth = self._started
        self._recent: deque[float] = deque()  # accepted in the last WINDOW seconds
        self._accepted = 0  # accepted in all
        self._last_throttle = float("-inf")
        self._episode = (0.0, 0)  # (start, accepted then)
        self._hold_until = 0.0

    async def acquire(self) -> None:
        """Wait for this request's slot; slots are handed out in call order."""
        now = self._clock()
        slot = max(now, self._next, self._paused_until)
        self._next = slot + 1.0 / self.rate
        if slot - now > self.TOLERANCE:  # a timer per request costs more than 10 ms of drift
            await self._sleep(slot - now)

    def recent_rate(self, now: float) -> float:
        while self._recent and self._recent[0] < now - self.WINDOW:
            self._recent.popleft()
        window = min(self.WINDOW, now - self._started)
        return len(self._recent) / window if window > 0 else 0.0

    def on_success(self) -> None:
        now = self._clock()
        self._accepted += 1
        self._recent.append(now)
        if not self.adaptive:
            return
        elapsed, self._last_growth = now - self._last_growth, now
        if self._slow_start:
            doublings = max(1.0, min(self.FASTEST, self.rate / self.BRISK))
            grown = self.rate * 2.0 ** (doublings * elapsed)
        else:
            grown = self.rate * (1.0 + self.PROBE) ** elapsed
        ceiling = 2.0 * self.recent_rate(now) + self.INITIAL
        self.rate = min(self.MAXIMUM, max(self.rate, min(grown, ceiling)))

    def on_throttle(self, retry_after: float | None) -> None:
        """A 429: cut the pace, then settle under what the server accepts."""
        now = self._clock()
        if retry_after is not None and retry_after >= self.GLOBAL_PAUSE:
            self._paused_until = max(self._paused_until, now + retry_after)
        if self.adaptive:
            if now - self._last_throttle > self.QUIET:
                self._episode = (now, self._accepted)
                self.rate *= 0.5 if self._slow_start else self.MARGIN
                self._hold_until = now + self.HOLD
            elif now >= self._hold_until:
                start, accepted = self._episode
                measured = (self._accepted - accepted) / (now - start)
                self.rate = min(self.rate, measured) * self.MARGIN
                self._hold_until = now + self.HOLD
            self.rate = max(self.MINIMUM, self.rate)
            self._slow_start = False
            self._last_growth = now
        self._last_throttle = now
