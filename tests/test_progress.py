"""Progress as a log line and as JSON lines (`--progress-json`, what the page shows): rows
of total, rate, time left and the 429s counted by the client, on a fake clock."""

from __future__ import annotations

import io
from dataclasses import dataclass

import orjson

from importer.progress import JsonProgress, PlainProgress


@dataclass
class Counters:
    requests: int = 0
    retries: int = 0
    throttled: int = 0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_log_line_says_rows_rate_time_left_and_429s() -> None:
    out, clock, counters = io.StringIO(), Clock(), Counters()
    progress = PlainProgress(out, interval=10)
    progress._clock = clock
    progress.watch(counters)
    progress.start("sending", 1_000)
    clock.now += 5
    progress.advance(100)  # within the interval: nothing written
    clock.now += 5
    counters.throttled = 3
    progress.advance(100)
    progress.close()
    assert out.getvalue().splitlines() == [
        "importer: sending: 200/1,000 rows, 20 rows/s, about 0m40s left, 3 rate-limited (429)",
        "importer: sending: 200/1,000 rows, 20 rows/s, about 0m40s left, 3 rate-limited (429)",
    ]


def test_json_lines_carry_the_same_and_the_notes() -> None:
    out, clock, counters = io.StringIO(), Clock(), Counters()
    progress = JsonProgress(out)
    progress._clock = clock
    progress.say("update rules: 2 contacts to look up before sending")
    progress.start("looking up", 2)
    progress.watch(counters)
    clock.now += 1
    counters.requests, counters.throttled = 3, 1
    progress.advance(1)
    progress.close()
    events = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert events == [
        {"say": "update rules: 2 contacts to look up before sending"},
        {"phase": "looking up", "done": 0, "total": 2, "rate": 0.0, "eta": None,
         "requests": 0, "retries": 0, "throttled": 0},
        {"phase": "looking up", "done": 1, "total": 2, "rate": 1.0, "eta": 1.0,
         "requests": 3, "retries": 0, "throttled": 1},
        {"phase": "looking up", "done": 1, "total": 2, "rate": 1.0, "eta": 1.0,
         "requests": 3, "retries": 0, "throttled": 1},
    ]  # fmt: skip
