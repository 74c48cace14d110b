"""The sandbox's settings: one frozen value built by the CLI (or a test) and read everywhere."""

from __future__ import annotations

import re
from dataclasses import dataclass

RETRY_AFTER_MODES = ("seconds", "date", "none")
DROP_MODES = ("before", "after")


@dataclass(frozen=True)
class SandboxConfig:
    """What the sandbox accepts and which faults it injects.

    Validated on construction so a bad flag fails at start-up, not on the first request.
    """

    host: str = "127.0.0.1"
    port: int = 8787  # 0 = pick a free port
    minimo_key: str = "mn-sandbox-sandboxkey"  # full bearer token (mn-CLIENTID-APIKEY)
    notifuse_key: str = "nf-sandbox-key"
    workspace: str = "ws_sandbox"  # the only Notifuse workspace_id accepted
    # requests/s per API: token bucket holding max(1, rate) tokens; None = no limit
    rate: float | None = None
    retry_after: str = "seconds"  # "seconds" | "date" | "none"
    latency_ms: float = 0.0
    fail_rate: float = 0.0  # fraction answered 500/502/503 without applying the write
    drop: str | None = None  # None | "before" | "after" the write is applied (writes only)
    drop_rate: float = 0.05
    reject_email: str | None = None  # regex searched in the normalized email: refused as invalid
    db: str | None = None  # SQLite file keeping contacts across restarts; None = memory
    seed: int | None = None  # seeds the fault RNG for reproducible runs
    # seconds the server's clock is ahead of the real time (negative: behind): its `Date`
    # headers and HTTP-date Retry-After values are written with that clock
    clock_skew: float = 0.0
    # a request body over this many bytes is answered 413 by a "proxy" in front (HTML page)
    max_body: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0..65535, got {self.port}")
        if self.rate is not None and not self.rate > 0:
            raise ValueError(f"rate must be > 0 requests/s, got {self.rate}")
        if self.retry_after not in RETRY_AFTER_MODES:
            raise ValueError(
                f"retry_after must be one of {RETRY_AFTER_MODES}, got {self.retry_after!r}"
            )
        if not self.latency_ms >= 0:
            raise ValueError(f"latency_ms must be >= 0, got {self.latency_ms}")
        for name in ("fail_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.drop is not None and self.drop not in DROP_MODES:
            raise ValueError(f"drop must be one of {DROP_MODES} or None, got {self.drop!r}")
        if self.max_body is not None and self.max_body < 1:
            raise ValueError(f"max_body must be at least 1 byte, got {self.max_body}")
        if self.reject_email is not None:
            try:
                re.compile(self.reject_email)
            except re.error as exc:
                raise ValueError(f"reject_email is not a valid regex: {exc}") from exc

    def rejects(self, email: str) -> bool:
        """True when the configured pattern makes the server refuse this normalized email."""
        return self.reject_email is not None and re.search(self.reject_email, email) is not None
