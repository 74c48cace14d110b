"""The HTTP client's pure parts (SPEC §5): API error texts, Retry-After, the rate limiter."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest

from importer.sandbox.faults import TokenBucket
from importer.sending.client import error_text, retry_after_seconds
from importer.sending.limiter import RateLimiter

# --------------------------------------------------------------------------- error_text


@pytest.mark.parametrize(
    ("status", "body", "text", "expected"),
    [
        (400, {"error": "validation_error"}, '{"error": "validation_error"}', "validation_error"),
        (
            422,
            {"error": {"code": "validation_error", "message": "email is invalid", "details": {}}},
            "",
            "validation_error: email is invalid",
        ),
        (422, {"error": {"code": "validation_error"}}, "", "validation_error"),
        (422, {"error": {"message": "email is invalid"}}, "", "email is invalid"),
        (400, {"message": "Invalid phone number"}, "", "Invalid phone number"),
        (400, {"error": "invalid contact", "message": "other"}, "", "invalid contact"),
        (400, {"error": "", "message": "fallback"}, "", "fallback"),
        (400, {"error": {}, "message": "fallback"}, "", "fallback"),
        (500, {"detail": "boom"}, '{"detail": "boom"}', 'HTTP 500: {"detail": "boom"}'),
        (500, ["a"], '["a"]', 'HTTP 500: ["a"]'),
        (
            502,
            None,
            "<html>\n  <head><title>502 Bad Gateway</title></head>\n"
            "\t<body>  nginx </body>\n</html>\n",
            "HTTP 502: 502 Bad Gateway nginx",
        ),
        (502, None, "Bad   gateway\n\n(upstream)", "HTTP 502: Bad gateway (upstream)"),
        (503, None, "", "HTTP 503"),
        (503, None, " \n\t ", "HTTP 503"),
        (504, None, "x" * 150 + "\n\n" + "y" * 150, "HTTP 504: " + "x" * 150 + " " + "y" * 49),
    ],
)
def test_error_text(status: int, body: Any, text: str, expected: str) -> None:
    assert error_text(status, body, text) == expected


def test_error_text_keeps_200_characters_of_the_body() -> None:
    assert error_text(502, None, "z" * 1000) == "HTTP 502: " + "z" * 200
    html = "<html><body><p>" + "abcdef " * 100 + "</p></body></html>"
    assert error_text(503, None, html) == "HTTP 503: " + "abcdef " * 28 + "abcd"


# --------------------------------------------------------------------------- Retry-After

NOW = datetime(2026, 10, 21, 7, 27, 30, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("300", 300.0),
        ("86400", 300.0),
        ("Wed, 21 Oct 2026 07:28:00 GMT", 30.0),
        ("Wed, 21 Oct 2026 07:27:30 GMT", 0.0),
        ("Wed, 21 Oct 2026 07:20:00 GMT", 0.0),
        ("Thu, 22 Oct 2026 07:28:00 GMT", 300.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("5 seconds", None),
    ],
)
def test_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value, now=lambda: NOW) == expected


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("Wed, 21 Oct 2026 07:29:30 GMT", 30.0),  # the server's clock is 2 minutes ahead
        ("Wed, 21 Oct 2026 07:25:30 GMT", 270.0),  # 2 minutes behind: it asks for 4.5 min
        ("not a date", 150.0),  # no usable Date: the local clock
    ],
)
def test_an_http_date_retry_after_is_read_against_the_responses_date(
    date: str, expected: float
) -> None:
    assert retry_after_seconds("Wed, 21 Oct 2026 07:30:00 GMT", date, now=lambda: NOW) == expected


# --------------------------------------------------------------------------- RateLimiter


class FakeTime:
    """A clock that only moves when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def slots(limiter: RateLimiter, fake: FakeTime, count: int) -> list[float]:
    """The clock time at which each of `count` sequential requests got its slot."""
    out: list[float] = []

    async def main() -> None:
        for _ in range(count):
            await limiter.acquire()
            out.append(fake.now)

    anyio.run(main)
    return out


def test_fixed_rate_paces_slots_one_over_rate_apart() -> None:
    fake = FakeTime()
    limiter = RateLimiter(4.0, fake.clock, fake.sleep)
    assert slots(limiter, fake, 5) == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    assert fake.sleeps == pytest.approx([0.25, 0.25, 0.25, 0.25])


def test_fixed_rate_no_wait_when_requests_are_already_spaced() -> None:
    fake = FakeTime()
    limiter = RateLimiter(2.0, fake.clock, fake.sleep)
    slots(limiter, fake, 1)
    fake.now = 10.0
    assert slots(limiter, fake, 2) == pytest.approx([10.0, 10.5])
    assert fake.sleeps == pytest.approx([0.5])


def test_fixed_rate_is_not_changed_by_answers() -> None:
    fake = FakeTime()
    limiter = RateLimiter(4.0, fake.clock, fake.sleep)
    limiter.on_success()
    limiter.on_throttle(None)
    assert limiter.rate == 4.0
    assert slots(limiter, fake, 2) == pytest.approx([0.0, 0.25])


def test_long_retry_after_pauses_every_request() -> None:
    fake = FakeTime()
    limiter = RateLimiter(4.0, fake.clock, fake.sleep)
    assert slots(limiter, fake, 1) == [0.0]
    limiter.on_throttle(3.0)
    assert slots(limiter, fake, 3) == pytest.approx([3.0, 3.25, 3.5])
    assert fake.sleeps[0] == pytest.approx(3.0)


def test_short_retry_after_pauses_only_the_throttled_request() -> None:
    fake = FakeTime()
    limiter = RateLimiter(4.0, fake.clock, fake.sleep)
    assert slots(limiter, fake, 1) == [0.0]
    limiter.on_throttle(RateLimiter.GLOBAL_PAUSE / 2)
    assert slots(limiter, fake, 2) == pytest.approx([0.25, 0.5])


def test_shorter_retry_after_does_not_shorten_a_pause() -> None:
    fake = FakeTime()
    limiter = RateLimiter(100.0, fake.clock, fake.sleep)
    limiter.on_throttle(5.0)
    fake.now = 1.0
    limiter.on_throttle(2.0)
    assert slots(limiter, fake, 1) == pytest.approx([5.0])


def succeed_steadily(limiter: RateLimiter, fake: FakeTime, per_second: int, seconds: float) -> None:
    """`per_second` accepted requests a second, for `seconds`, from the current time."""
    start = fake.now
    for i in range(1, int(per_second * seconds) + 1):
        fake.now = start + i / per_second
        limiter.on_success()


def test_adaptive_starts_at_initial_rate() -> None:
    fake = FakeTime()
    limiter = RateLimiter(None, fake.clock, fake.sleep)
    assert limiter.rate == RateLimiter.INITIAL
    step = 1.0 / RateLimiter.INITIAL
    for i, at in enumerate(slots(limiter, fake, 20)):  # within TOLERANCE of its slot
        assert i * step - RateLimiter.TOLERANCE - 1e-9 <= at <= i * step + 1e-9
    assert at == pytest.approx(19 * step, abs=RateLimiter.TOLERANCE)


def test_adaptive_slow_start_doubles_faster_as_the_pace_grows() -> None:
    fake = FakeTime()
    slow = RateLimiter(None, fake.clock, fake.sleep)
    slow.rate = RateLimiter.BRISK / 2  # below BRISK: one doubling a second
    succeed_steadily(slow, fake, 100, 0.5)
    assert slow.rate == pytest.approx(RateLimiter.BRISK / 2 * 2**0.5)
    fake.now = 0.0
    fast = RateLimiter(None, fake.clock, fake.sleep)
    fast.rate = 400.0  # above FASTEST * BRISK: FASTEST doublings a second
    succeed_steadily(fast, fake, 4000, 0.25)
    assert fast.rate == pytest.approx(400.0 * 2 ** (RateLimiter.FASTEST * 0.25))


def test_adaptive_growth_is_bounded_by_what_is_accepted() -> None:
    fake = FakeTime()
    limiter = RateLimiter(None, fake.clock, fake.sleep)
    fake.now = 1.0
    limiter.on_success()  # one request in a window: concurrency, not the pace, is the bound
    assert limiter.rate == pytest.approx(2.0 / RateLimiter.WINDOW + RateLimiter.INITIAL)


def test_adaptive_first_429_halves_in_slow_start_then_settles_under_the_accepted_rate() -> None:
    fake = FakeTime()
    limiter = RateLimiter(None, fake.clock, fake.sleep)
    succeed_steadily(limiter, fake, 80, 1.0)  # slow start, bounded by twice the accepted rate
    assert limiter.rate == pytest.approx(2 * 80 + RateLimiter.INITIAL, rel=0.02)
    grown = limiter.rate
    limiter.on_throttle(None)  # the episode begins at t=1: the server's bucket is empty
    assert limiter.rate == pytest.approx(grown / 2)
    succeed_steadily(limiter, fake, 30, 0.4)
    limiter.on_throttle(None)  # within HOLD of the last adjustment: only the probe's growth
    assert limiter.rate == pytest.approx(grown / 2, rel=0.01)
    succeed_steadily(limiter, fake, 30, 0.6)
    limiter.on_throttle(None)  # t=2: 30 accepted in the 1 s since the episode began
    assert limiter.rate == pytest.approx(30.0 * RateLimiter.MARGIN, rel=0.05)


def test_adaptive_429_after_a_quiet_spell_starts_a_new_episode() -> None:
    fake = FakeTime()
    limiter = RateLimiter(None, fake.clock, fake.sleep)
    limiter.on_throttle(None)
    rate = RateLimiter.INITIAL * 0.5
    assert limiter.rate == pytest.approx(rate)
    fake.now = RateLimiter.QUIET + 1.0
    limiter.on_throttle(None)  # probing crossed the limit again: a small cut only
    assert limiter.rate == pytest.approx(rate * RateLimiter.MARGIN)


def test_adaptive_probes_upwards_slowly_after_the_first_429() -> None:
    fake = FakeTime()
    limiter = RateLimiter(None, fake.clock, fake.sleep)
    limiter.on_throttle(None)
    rate = RateLimiter.INITIAL * 0.5
    succeed_steadily(limiter, fake, 30, 1.0)
    assert limiter.rate == pytest.approx(rate * (1.0 + RateLimiter.PROBE))


def test_adaptive_rate_bounds() -> None:
    fake = FakeTime()
    limiter = RateLimiter(None, fake.clock, fake.sleep)
    for second in range(30):
        fake.now = float(second)
        limiter.on_throttle(None)
    assert limiter.rate == RateLimiter.MINIMUM
    fake.now = 0.0
    fast = RateLimiter(None, fake.clock, fake.sleep)
    succeed_steadily(fast, fake, 3000, 8.0)
    assert fast.rate == RateLimiter.MAXIMUM


def test_adaptive_pacing_follows_the_new_rate() -> None:
    fake = FakeTime()
    limiter = RateLimiter(None, fake.clock, fake.sleep)
    limiter.on_throttle(None)
    step = 1.0 / (RateLimiter.INITIAL * 0.5)
    assert slots(limiter, fake, 3) == pytest.approx([0.0, step, 2 * step])


def simulate(limit: float | None, seconds: float, workers: int, latency: float) -> tuple[int, int]:
    """Workers sending back to back through the adaptive limiter to a server with the
    sandbox's token bucket (`limit`/s, one second of burst; Retry-After in whole seconds,
    as the sandbox sends it), on a fake clock. Returns (accepted, throttled)."""
    fake = FakeTime()
    bucket = TokenBucket(limit, fake.clock) if limit else None
    limiter = RateLimiter(None, fake.clock, fake.sleep)
    ready = [(0.0, w) for w in range(workers)]  # when each worker sends its next request
    accepted = throttled = 0
    while (step := min(ready))[0] < seconds:
        ready.remove(step)
        fake.now = step[0]
        with pytest.raises(StopIteration):  # the fake sleep never suspends: it moves the clock
            limiter.acquire().send(None)
        fake.now += latency
        wait = bucket.take() if bucket else 0.0
        if wait > 0:
            throttled += 1
            limiter.on_throttle(float(max(1, math.ceil(wait))))
            ready.append((fake.now + max(1, math.ceil(wait)), step[1]))
        else:
            accepted += 1
            limiter.on_success()
            ready.append((fake.now, step[1]))
    return accepted, throttled


@pytest.mark.parametrize("limit", [20.0, 50.0])
def test_adaptive_limiter_runs_at_a_token_buckets_limit_with_few_429s(limit: float) -> None:
    accepted, throttled = simulate(limit, 65.0, workers=8, latency=0.004)
    assert accepted / 65.0 >= 0.97 * limit
    assert throttled / (accepted + throttled) <= 0.015


def test_adaptive_limiter_reaches_an_unlimited_servers_speed_in_under_a_second() -> None:
    capacity = 1000.0  # 4 workers, 4 ms a request: what the server can take
    accepted, throttled = simulate(None, 10.0, workers=4, latency=4 / capacity)
    assert throttled == 0
    assert 10.0 - accepted / capacity < 1.0  # seconds lost to the slow start
