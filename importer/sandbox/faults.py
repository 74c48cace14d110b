"""Injected misbehaviour: per-API rate limit, random 5xx answers and dropped connections."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from .common import Reply
from .config import SandboxConfig

_BAD_GATEWAY = "<html><body><h1>502 Bad Gateway</h1></body></html>"
_UNAVAILABLE = "<html><body><h1>503 Service Unavailable</h1></body></html>"
_TOO_LARGE = "<html><body><h1>413 Request Entity Too Large</h1></body></html>"


def server_now(config: SandboxConfig) -> datetime:
    """The server's clock: the real time, skewed by `clock_skew`."""
    return datetime.now(UTC) + timedelta(seconds=config.clock_skew)


def http_date(config: SandboxConfig) -> str:
    """The `Date` header every answer carries, from the server's clock."""
    return format_datetime(server_now(config).replace(microsecond=0), usegmt=True)


class TokenBucket:
    """`rate` tokens a second, holding at most one second's worth (at least one token)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._clock = clock
        self._tokens = self.capacity
        self._last = clock()

    def take(self) -> float:
        """Take a token: 0.0 if one was available, else the seconds until one will be."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate

    def refill(self) -> None:
        self._tokens = self.capacity
        self._last = self._clock()


class Faults:
    """Decides, per API request, whether to refuse, fail or drop it.

    One RNG (seeded from the config) drives failures and drops, so a seeded run repeats.
    """

    def __init__(self, config: SandboxConfig) -> None:
        self._config = config
        self._rng = random.Random(config.seed)
        self._buckets: dict[str, TokenBucket] = {}
        self._outage_until = 0.0
        if config.rate is not None:
            self._buckets = {api: TokenBucket(config.rate) for api in ("minimo", "notifuse")}

    def rate_limited(self, api: str, body: object) -> Reply | None:
        """A 429 with `body` (each API words it differently) when `api` is over its rate."""
        bucket = self._buckets.get(api)
        if bucket is None:
            return None
        wait = bucket.take()
        if wait <= 0.0:
            return None
        headers: dict[str, str] = {}
        if self._config.retry_after == "seconds":
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
        elif self._config.retry_after == "date":
            # HTTP-dates have whole seconds: round up so a client waiting until then is not early.
            instant = server_now(self._config) + timedelta(seconds=wait)
            if instant.microsecond:
                instant = instant.replace(microsecond=0) + timedelta(seconds=1)
            headers["Retry-After"] = format_datetime(instant, usegmt=True)
        return Reply(429, body, headers=headers)

    def start_outage(self, seconds: float) -> None:
        """From now on, for `seconds`, every API request gets the 503 page a load balancer
        with no backend answers (nothing is applied)."""
        self._outage_until = time.monotonic() + seconds

    def outage(self) -> Reply | None:
        if time.monotonic() >= self._outage_until:
            return None
        return Reply(503, html=_UNAVAILABLE)

    def too_large(self, body: bytes) -> Reply | None:
        """A proxy's 413 page for a body over `max_body` (before the API sees the request)."""
        if self._config.max_body is None or len(body) <= self._config.max_body:
            return None
        return Reply(413, html=_TOO_LARGE)

    def failure(self) -> Reply | None:
        """With probability fail_rate: a 500 from the app, or a 502/503 page from a 'proxy'."""
        if self._config.fail_rate <= 0.0 or self._rng.random() >= self._config.fail_rate:
            return None
        status = self._rng.choice((500, 502, 503))
        if status == 500:
            return Reply(500, {"error": "internal error"})
        return Reply(status, html=_BAD_GATEWAY if status == 502 else _UNAVAILABLE)

    def drop(self, stage: str) -> bool:
        """Whether to drop this request's connection at `stage` ("before"/"after" the write).

        Called once per request at the configured stage only, so the RNG sequence does not
        depend on the stage chosen.
        """
        if self._config.drop != stage:
            return False
        return self._rng.random() < self._config.drop_rate

    def reset(self) -> None:
        """Full buckets and, when seeded, the RNG back at its start."""
        for bucket in self._buckets.values():
            bucket.refill()
        self._outage_until = 0.0
        self._rng = random.Random(self._config.seed)
