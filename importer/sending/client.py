"""The HTTP client of a run: one keep-alive `httpx.AsyncClient`, the limiter, retries.

Every request of a run goes through `ApiClient.call`, the one place that knows what is
retried (429, 5xx, timeouts, dropped connections), what aborts the run (401/403, or
several requests in a row failing after all their retries) and what is a per-row answer
(any other status, returned to the caller).
"""

from __future__ import annotations

import email.utils
import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import orjson

from importer.errors import AbortError
from importer.journal import Outcome, PendingRow
from importer.sending.gate import InFlightGate
from importer.sending.limiter import Clock, RateLimiter, Sleep
from importer.settings import Credentials, is_loopback

_KEY_VARS = {"minimo": "MINIMO_API_KEY", "notifuse": "NOTIFUSE_API_KEY"}


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # for 5xx, timeouts and connection errors
    throttled_attempts: int = 50  # 429s: the server is fine, only busy
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_elapsed: float = 600.0
    abort_after_failures: int = 3  # consecutive requests failing after all retries


@dataclass
class Stats:
    """Counters of one run, for the summary."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    failed: int = 0


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    raw: bytes
    uncertain: bool  # an earlier attempt may have been applied by the server

    @property
    def text(self) -> str:
        """Decoded only when needed: error texts (a JSON body needs none of it)."""
        return self.raw.decode("utf-8", "replace")


class RequestFailed(Exception):
    """A request that still failed after all its retries, for a transient reason (the
    transport, 5xx, 429): its rows are sent again later, never `error`. `cause` names the
    last reason; `uncertain`: a write may have been applied all the same."""

    def __init__(self, cause: str, attempts: int, uncertain: bool = False) -> None:
        super().__init__(f"{cause} (after {attempts} attempt{'s' if attempts > 1 else ''})")
        self.cause = cause
        self.attempts = attempts
        self.uncertain = uncertain


def error_text(status: int, body: Any, text: str) -> str:
    """SPEC §5: the body's `error` (string, or `code`+`message`) or `message`, else the start.
    A 413 says what it means: a batch is split until this is one contact's own answer."""
    if status == 413:
        return f"too large for the server ({_described(status, body, text)})"
    return _described(status, body, text)


def _described(status: int, body: Any, text: str) -> str:
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, str) and err:
            return err
        if isinstance(err, dict):
            parts = [str(err[k]) for k in ("code", "message") if err.get(k)]
            if parts:
                return ": ".join(parts)
        if isinstance(body.get("message"), str) and body["message"]:
            return str(body["message"])
    # a proxy's HTML error page: its words, not its markup
    words = re.sub(r"<[^>]*>", " ", text) if text.lstrip().startswith("<") else text
    snippet = re.sub(r"\s+", " ", words).strip()[:200]
    return f"HTTP {status}" + (f": {snippet}" if snippet else "")


def with_status(status: int, body: Any, text: str) -> str:
    """error_text, always naming the HTTP status (for retried failures and aborts)."""
    message = error_text(status, body, text)
    return message if message.startswith("HTTP ") else f"HTTP {status}: {message}"


def retry_after_seconds(
    value: str | None, date: str | None = None, now: Callable[[], float] = time.time
) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date), bounded to 5 minutes.

    An HTTP date is read against the response's own `Date` (the server's clock), so a
    skewed local clock cannot turn each 429 into a pause of minutes; without a usable
    `Date`, against the local clock."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(300.0, float(value))
    when = _http_date(value)
    if when is None:
        return None
    reference = _http_date(date) if date else None
    return max(0.0, min(300.0, when - (now() if reference is None else reference)))


def _http_date(value: str) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(value.strip()).timestamp()
    except (TypeError, ValueError):
        return None


class ApiClient:
    def __init__(
        self,
        creds: Credentials,
        *,
        rate: float | None,
        concurrency: int,
        timeout: float,
        policy: RetryPolicy = RetryPolicy(),
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = anyio.sleep,
        rng: random.Random | None = None,
        then: str = "run the same command again to resume",
    ) -> None:
        self.then = then  # the next step an abort names (`importer check`: no resume)
        self.creds = creds
        self.policy = policy
        self.stats = Stats()
        self.limiter = RateLimiter(rate, clock, sleep)
        self.gate = InFlightGate(concurrency, clock)
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._consecutive_failures = 0
        host = urlsplit(creds.base_url).hostname or ""
        self.http = httpx.AsyncClient(
            base_url=creds.base_url,
            headers={
                "Authorization": f"Bearer {creds.api_key}",
                "User-Agent": "importer/0.1",
                "Accept": "application/json",
                "Content-Type": "application/json",  # on every request: no per-request merge
            },
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            transport=transport,
            trust_env=not is_loopback(host),  # proxies for remote hosts, never for loopback
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    def redact(self, text: str) -> str:
        return text.replace(self.creds.api_key, "[redacted]")

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: dict[str, str] | None = None,
        on_send: Callable[[], object] | None = None,
    ) -> Reply:
        """Send with retries; return the first non-retryable reply, or raise RequestFailed.
        The body is `json` encoded, or `content`: JSON already encoded (see `json_array`).
        `on_send` runs right before the request goes out (after the limiter's wait)."""
        if json is not None:
            content = orjson.dumps(json)
        started = self._clock()
        attempts = throttled = 0
        uncertain = False
        while True:
            delay: float | None = None
            try:
                response = await self._attempt(method, path, content, params, on_send)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                reason = self.redact(str(exc)) or type(exc).__name__
                cause = f"cannot connect to {self.creds.base_url} ({reason})"
            except httpx.TimeoutException:
                cause, uncertain = (
                    "timed out waiting for the response",
                    uncertain or method != "GET",
                )
            except httpx.TransportError as exc:
                cause = f"connection lost ({type(exc).__name__})"
                uncertain = uncertain or method != "GET"
            else:
                raw = response.content
                body = _json_or_none(raw)
                code = response.status_code
                text = "" if body is not None and code < 400 else raw.decode("utf-8", "replace")
                if code in (401, 403):
                    raise self._rejected(code, body, text)
                if code == 429:
                    throttled += 1
                    self.stats.throttled += 1
                    delay = retry_after_seconds(
                        response.headers.get("Retry-After"), response.headers.get("Date")
                    )
                    self.limiter.on_throttle(delay)
                    cause = f"rate limited: {with_status(code, body, text)}"
                    if throttled <= self.policy.throttled_attempts and not self._late(started):
                        self.stats.retries += 1
                        await self._sleep(delay if delay is not None else self._backoff(throttled))
                        continue
                    attempts += 1
                    raise self._failed(cause, attempts + throttled - 1, uncertain)
                if code >= 500 or code == 408:  # 408: the server gave up waiting for us
                    cause = f"server error: {with_status(code, body, text)}"
                    uncertain = uncertain or method != "GET"
                else:
                    self._consecutive_failures = 0
                    self.limiter.on_success()
                    return Reply(code, body, raw, uncertain)
            attempts += 1
            if attempts >= self.policy.attempts or self._late(started):
                raise self._failed(cause, attempts + throttled, uncertain)
            self.stats.retries += 1
            await self._sleep(self._backoff(attempts))

    async def _attempt(
        self,
        method: str,
        path: str,
        content: bytes | None,
        params: dict[str, str] | None,
        on_send: Callable[[], object] | None,
    ) -> httpx.Response:
        """One request, holding an in-flight permit (never while waiting to retry)."""
        await self.gate.acquire()
        rtt: float | None = None
        try:
            await self.limiter.acquire()
            if on_send is not None:
                on_send()
            self.stats.requests += 1
            sent = self._clock()
            response = await self.http.request(method, path, content=content, params=params)
            rtt = self._clock() - sent
        finally:
            self.gate.release(rtt)
        return response

    def _late(self, started: float) -> bool:
        return self._clock() - started > self.policy.max_elapsed

    def _backoff(self, attempt: int) -> float:
        """Exponential, with 'equal jitter' so retries of many workers spread out."""
        ceiling = min(self.policy.max_delay, self.policy.base_delay * 2.0 ** (attempt - 1))
        return ceiling / 2 + float(self._rng.uniform(0, ceiling / 2))

    def _failed(self, cause: str, attempts: int, uncertain: bool) -> Exception:
        self.stats.failed += 1
        self._consecutive_failures += 1
        if self._consecutive_failures >= self.policy.abort_after_failures:
            return AbortError(
                f"Aborted: {self._consecutive_failures} requests in a row to "
                f"{self.creds.base_url} failed after all their retries; the last one: {cause}.",
                "Check the base URL and your network, or the service's status page; then "
                f"{self.then}.",
            )
        return RequestFailed(cause, attempts, uncertain)

    def _rejected(self, code: int, body: Any, text: str) -> AbortError:
        var = _KEY_VARS[self.creds.target]
        what = "workspace or key" if self.creds.target == "notifuse" else "API key"
        return AbortError(
            f"{self.creds.target.capitalize()} rejected the {what} "
            f"({self.redact(with_status(code, body, text))}).",
            f"Check {var}"
            + (" and NOTIFUSE_WORKSPACE_ID" if self.creds.target == "notifuse" else "")
            + f"; then {self.then}.",
        )


NOT_DELIVERED = "not delivered yet: "  # the error text of a row left pending by a failure


def deferred(rows: Iterable[PendingRow], failure: RequestFailed) -> list[Outcome]:
    """Rows not delivered for a transient reason: still `pending`, sent again at the end of
    the run (and by the next run), never `error` (SPEC §5)."""
    message = NOT_DELIVERED + str(failure)
    return [Outcome(r.row, "pending", error=message, uncertain=failure.uncertain) for r in rows]


def json_array(items: list[bytes]) -> bytes:
    """A JSON array of values already encoded: the journal's stored contacts go out as they
    are (decoding and encoding each again was a tenth of a Minimo send phase's CPU)."""
    return b"[" + b",".join(items) + b"]"


def json_object(members: dict[str, bytes]) -> bytes:
    """A JSON object of values already encoded (see `json_array`)."""
    return b"{" + b",".join(orjson.dumps(k) + b":" + v for k, v in members.items()) + b"}"


def _json_or_none(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
