"""How many requests are in flight: as many as make the run faster, up to --concurrency.

TCP Vegas's rule, applied to requests. With `limit` requests in flight, a round trip of
`rtt` against the quickest one seen lately (`base`) means `limit * (1 - base / rtt)` of
them are queued somewhere — on the server, or in this process when its own CPU is the
bound (loopback, a fast server). More than `QUEUED_MAX` queued: one fewer in flight per
round; fewer than `QUEUED_MIN`: one more, up to the ceiling. A far API with a steady
latency keeps every connection; a saturated one, or our own event loop, keeps only
those that add speed. Extra connections cost CPU: httpcore probes every idle pooled
connection (two system calls) at each request.
"""

from __future__ import annotations

from collections import deque

import anyio

from importer.sending.limiter import Clock


class InFlightGate:
    QUEUED_MIN = 1.0
    QUEUED_MAX = 3.0
    SMOOTHING = 0.05  # weight of each round trip in the average
    BASE_SPAN = 2.0  # seconds per bucket of the quickest round trip
    BASE_BUCKETS = 5  # the base is the quickest of the last few buckets (~10 s)

    def __init__(self, ceiling: int, clock: Clock) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = float(self.ceiling)
        self.in_flight = 0
        self._clock = clock
        self._waiters: deque[anyio.Event] = deque()
        self._grown: anyio.Event | None = None  # set when the limit admits one more worker
        self._average: float | None = None
        self._bases: deque[tuple[float, float]] = deque()  # (bucket start, quickest)

    async def acquire(self) -> None:
        """A permit; at once (no checkpoint) when one is free."""
        if self.in_flight < int(self.limit) and not self._waiters:
            self.in_flight += 1
            return
        granted = anyio.Event()
        self._waiters.append(granted)
        try:
            await granted.wait()
        except BaseException:
            if granted.is_set():  # granted, then cancelled before it could run: give it back
                self.release(None)
            else:
                self._waiters.remove(granted)
            raise

    async def room_for(self, worker: int) -> None:
        """Wait while the limit leaves worker number `worker` (from 0) without a permit.
        Workers beyond the limit that took batches anyway would each wait for a permit at
        every request: a task switch per request (5% of per-contact upserts on loopback)."""
        while worker >= int(self.limit):
            if self._grown is None:
                self._grown = anyio.Event()
            await self._grown.wait()

    def release(self, rtt: float | None) -> None:
        """Give the permit back; `rtt` is the request's round trip when it got an answer."""
        self.in_flight -= 1
        if rtt is not None:
            self._adjust(rtt)
        while self._waiters and self.in_flight < int(self.limit):
            self.in_flight += 1
            self._waiters.popleft().set()

    def _adjust(self, rtt: float) -> None:
        now = self._clock()
        if not self._bases or now - self._bases[-1][0] >= self.BASE_SPAN:
            self._bases.append((now, rtt))
            if len(self._bases) > self.BASE_BUCKETS:
                self._bases.popleft()
        elif rtt < self._bases[-1][1]:
            self._bases[-1] = (self._bases[-1][0], rtt)
        base = min(quickest for _, quickest in self._bases)
        average = rtt if self._average is None else self._average
        self._average = average = average + self.SMOOTHING * (rtt - average)
        queued = self.limit * (1.0 - base / average) if average > 0 else 0.0
        if queued > self.QUEUED_MAX:
            self.limit = max(1.0, self.limit - 1.0 / self.limit)
        elif queued < self.QUEUED_MIN:
            admitted = int(self.limit)
            self.limit = min(float(self.ceiling), self.limit + 1.0 / self.limit)
            if int(self.limit) > admitted and self._grown is not None:
                self._grown.set()
                self._grown = None
