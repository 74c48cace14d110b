"""One rate limiter for every request of a run.

Requests are paced one slot at a time (no bursts), which is what keeps a run just under a
server's token bucket. With `--rate` the pace is fixed; without it the limiter finds the
sustainable rate itself: it doubles per second until the first 429 (slow start), then
grows by about one request/s per second, and on a 429 slows down by a factor and honours
Retry-After by pausing every request until then.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class RateLimiter:
    INITIAL = 10.0
    MINIMUM = 0.5
    MAXIMUM = 10_000.0
    DECREASE = 0.7

    def __init__(self, rate: float | None, clock: Clock, sleep: Sleep) -> None:
        self.adaptive = rate is None
        self.rate = rate if rate is not None else self.INITIAL
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._paused_until = 0.0
        self._slow_start = True
        self._hold_until = 0.0

    async def acquire(self) -> None:
        """Wait for this request's slot; slots are handed out in call order."""
        now = self._clock()
        slot = max(now, self._next, self._paused_until)
        self._next = slot + 1.0 / self.rate
        if slot > now:
            await self._sleep(slot - now)

    def on_success(self) -> None:
        if not self.adaptive:
            return
        step = 1.0 if self._slow_start else 1.0 / self.rate
        self.rate = min(self.MAXIMUM, self.rate + step)

    def on_throttle(self, retry_after: float | None) -> None:
        """A 429: pause until Retry-After, and (adaptive) slow down once per burst of 429s."""
        now = self._clock()
        if retry_after is not None:
            self._paused_until = max(self._paused_until, now + retry_after)
        if self.adaptive and now >= self._hold_until:
            self._slow_start = False
            self.rate = max(self.MINIMUM, self.rate * self.DECREASE)
            self._hold_until = now + 1.0
