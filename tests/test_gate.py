"""The in-flight gate: permits, and Vegas's rule for how many requests help."""

from __future__ import annotations

from collections.abc import Callable

import anyio

from importer.sending.gate import InFlightGate


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run_rounds(
    gate: InFlightGate, clock: Clock, rounds: int, rtt_for: Callable[[int], float]
) -> list[int]:
    """Requests completing one after another, each with the round trip `rtt_for(in flight)`;
    returns the permitted concurrency after each round of `limit` completions."""
    seen: list[int] = []
    for _ in range(rounds):
        permitted = int(gate.limit)
        for _ in range(permitted):
            rtt = rtt_for(permitted)
            clock.now += rtt / permitted
            gate.in_flight += 1  # what acquire does when a permit is free
            gate.release(rtt)
        seen.append(int(gate.limit))
    return seen


def test_a_steady_far_api_keeps_every_connection() -> None:
    clock = Clock()
    gate = InFlightGate(8, clock)
    assert run_rounds(gate, clock, 200, lambda n: 0.080)[-1] == 8


def test_a_saturated_server_or_event_loop_keeps_only_the_connections_that_help() -> None:
    clock = Clock()
    gate = InFlightGate(8, clock)
    clock.now = 0.0
    gate.in_flight += 1
    gate.release(0.001)  # one request alone: the quickest round trip
    # saturated: each request more in flight only queues (the round trip grows with them)
    seen = run_rounds(gate, clock, 200, lambda n: 0.001 * n)
    assert seen[:4] == [7, 6, 4, 4]
    assert seen[-50:] == [3] * 50  # queued = in flight - 1: within QUEUED_MIN..QUEUED_MAX


def test_the_limit_recovers_when_the_queue_drains() -> None:
    clock = Clock()
    gate = InFlightGate(8, clock)
    gate.in_flight += 1
    gate.release(0.001)
    run_rounds(gate, clock, 100, lambda n: 0.001 * n)
    assert gate.limit < 5
    clock.now += 60.0  # the quickest round trip is forgotten after BASE_BUCKETS spans
    assert run_rounds(gate, clock, 400, lambda n: 0.050)[-1] == 8


def test_permits_wait_for_a_release_and_a_cancelled_waiter_gives_its_back() -> None:
    gate = InFlightGate(2, Clock())
    order: list[str] = []

    async def main() -> None:
        await gate.acquire()
        await gate.acquire()
        assert gate.in_flight == 2

        async def third() -> None:
            await gate.acquire()
            order.append("third")

        async with anyio.create_task_group() as tg:
            tg.start_soon(third)
            await anyio.wait_all_tasks_blocked()
            assert order == []
            gate.release(None)
        assert order == ["third"] and gate.in_flight == 2

        with anyio.move_on_after(0.01):
            await gate.acquire()  # no permit: cancelled while waiting
        gate.release(None)
        gate.release(None)
        assert gate.in_flight == 0
        await gate.acquire()
        await gate.acquire()
        assert gate.in_flight == 2

    anyio.run(main)


def test_the_limit_never_exceeds_the_ceiling_nor_drops_below_one() -> None:
    clock = Clock()
    one = InFlightGate(1, clock)
    assert run_rounds(one, clock, 50, lambda n: 0.001 if clock.now < 0.01 else 0.5) == [1] * 50
    low = InFlightGate(3, clock)
    assert run_rounds(low, clock, 50, lambda n: 0.040) == [3] * 50


def test_a_worker_beyond_the_limit_waits_until_the_limit_admits_it() -> None:
    clock = Clock()
    gate = InFlightGate(4, clock)
    gate.limit = 2.0
    admitted: list[int] = []

    async def worker(index: int) -> None:
        await gate.room_for(index)
        admitted.append(index)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for index in range(4):
                tg.start_soon(worker, index)
            await anyio.wait_all_tasks_blocked()
            assert sorted(admitted) == [0, 1]
            while len(admitted) < 4:  # quick round trips: the limit grows
                clock.now += 0.001
                gate.in_flight += 1
                gate.release(0.001)
                await anyio.wait_all_tasks_blocked()
                assert len(admitted) == min(4, int(gate.limit))

    anyio.run(main)
    assert admitted[2:] == [2, 3]
