"""The send phase: workers take pending batches from the journal and commit the outcomes.

Each pending email is in exactly one batch (duplicates were merged while planning) and a
batch's requests, retries and look-ups run one after another in one worker, so two
requests for one email are never in flight at once.
"""

from __future__ import annotations

import contextlib
import math
import sqlite3
from collections.abc import Callable
from typing import Protocol, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from importer.errors import AbortError, ErrorRateExceeded, ImporterError
from importer.fanout import first_error
from importer.journal import Journal, Outcome, PendingRow, Recorder
from importer.progress import Progress
from importer.sending.client import NOT_DELIVERED
from importer.sending.gate import InFlightGate

T = TypeVar("T")

PAGE = 1000  # rows read from the journal at a time
PASSES = 2  # the second one sends what a transient failure left pending in the first
WATCH = 0.05  # seconds between two looks at the signals received
COMMIT_DELAY = 0.005  # seconds an acknowledgement waits for others to share its commit
# a commit of this many rows or more runs in a thread while the loop goes on sending
# (array batches: ~45% of their send phase was commits); a smaller one costs less inline than
# the hand-over and the GIL contention (per-contact upserts: 25% more CPU in a thread)
THREAD_ROWS = 100


class Sender(Protocol):
    batch_size: int

    async def send(self, rows: list[PendingRow]) -> list[Outcome]: ...


class ErrorBudget:
    """--max-error-rate: a wrong mapping or file must not burn a night's API quota.

    Judged twice, each time once at least `MINIMUM` rows count: after staging, on the rows
    staged (a wrong mapping shows there, before anything is sent); while sending, on the
    rows sent (the API refusing them). Either share above the limit stops the run (exit 4).
    """

    MINIMUM = 1000

    def __init__(self, percent: float | None, counts: dict[str, int]) -> None:
        self.percent = percent
        self.staged = sum(n for s, n in counts.items() if s not in ("skipped", "duplicate"))
        self.staged_errors = counts.get("error", 0)
        self.sent = self.sent_errors = 0

    def check_staging(self) -> None:
        self._check(self.staged_errors, self.staged, "rows read")

    def add(self, outcomes: list[Outcome]) -> None:
        self.sent += len(outcomes)
        self.sent_errors += sum(1 for o in outcomes if o.status == "error")
        self._check(self.sent_errors, self.sent, "rows sent")

    def _check(self, errors: int, rows: int, what: str) -> None:
        if self.percent is None or rows < self.MINIMUM:
            return
        share = 100.0 * errors / rows
        if share > self.percent:
            raise ErrorRateExceeded(
                f"Stopped: {share:.1f}% of the {rows:,} {what} are errors, more than "
                f"--max-error-rate {self.percent:g}%.",
                "A wrong mapping or file is the usual cause: look at the report's error column, "
                "fix, and run again (it resumes; --fresh starts over).",
            )


class Undelivered(AbortError):
    """Rows still not delivered after the run's last pass, for transient reasons (exit 3):
    they stay `pending`, and the same command sends them."""

    def __init__(self, rows: int, cause: str) -> None:
        super().__init__(
            f"{rows:,} row{'s' if rows != 1 else ''} could not be delivered, even when tried "
            f"again at the end of the run; the last reason: {cause}.",
            "They are reported `pending`: run the same command again to deliver them "
            "(nothing already acknowledged is sent twice).",
        )


async def deliver(
    journal: Journal,
    sender: Sender,
    concurrency: int,
    progress: Progress,
    budget: ErrorBudget,
    stopped: Callable[[], int | None] = lambda: None,
    gate: InFlightGate | None = None,
) -> None:
    """Send every pending row: one pass over them all, then one more over the rows that a
    transient failure left `pending` (SPEC §5), still `pending` after it: Undelivered.
    An ImporterError (abort, error rate) stops all workers and propagates; a signal that
    `stopped` returns stops them too (in-flight requests are abandoned, their rows stay
    pending), and the caller, who knows of it, ends the run."""
    recorder = journal.recorder()
    delivery = _Delivery(journal, recorder, sender, concurrency, progress, budget, gate)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_watch, stopped, tg.cancel_scope)
            for _ in range(PASSES):
                await delivery.one_pass()
                if delivery.deferred is None:
                    break
            tg.cancel_scope.cancel()  # done: stop watching
    except* (ImporterError, sqlite3.Error, OSError) as group:
        raise first_error(group) from None  # the one that stopped the run
    finally:
        recorder.close()
    if delivery.deferred is not None and stopped() is None:
        raise Undelivered(*delivery.deferred)


async def _watch(stopped: Callable[[], int | None], scope: anyio.CancelScope) -> None:
    """The run's signal handler only records a signal (importer.signals): looked at every
    WATCH seconds, it stops the workers."""
    while stopped() is None:
        await anyio.sleep(WATCH)
    scope.cancel()


class _Delivery:
    """One run's send phase: its passes share the journal writer's lock and counters."""

    def __init__(
        self,
        journal: Journal,
        recorder: Recorder,
        sender: Sender,
        concurrency: int,
        progress: Progress,
        budget: ErrorBudget,
        gate: InFlightGate | None,
    ) -> None:
        self.journal = journal
        self.recorder = recorder
        self.sender = sender
        self.concurrency = max(1, concurrency)
        self.progress = progress
        self.budget = budget
        self.gate = gate
        self.writing = anyio.Lock()  # see write_journal
        self.deferred: tuple[int, str] | None = None  # rows left pending in a pass, last cause

    async def write_journal(self, write: Callable[[T], None], arg: T, in_thread: bool) -> None:
        """The send phase's writes, one at a time (waiting for SQLite's lock instead would
        stall the event loop: its busy handler sleeps 1, 2, 5, 10… ms); in a thread, sending
        goes on meanwhile. Shielded: the connection is never left mid-write."""
        with anyio.CancelScope(shield=True):
            async with self.writing:
                if in_thread:
                    await anyio.to_thread.run_sync(write, arg)
                else:
                    write(arg)

    async def one_pass(self) -> None:
        """Every row pending now, in source order, once."""
        self.deferred = None
        # a page's batches fit: the producer, woken at every batch taken, cost 2% of a
        # per-contact run; they are in memory anyway
        batch_size = self.sender.batch_size
        buffer = max(1, self.concurrency, PAGE // batch_size)
        tx, rx = anyio.create_memory_object_stream[list[PendingRow]](buffer)
        done_tx, done_rx = anyio.create_memory_object_stream[list[Outcome]](math.inf)
        ended: list[bool] = []  # the batches ran out
        parked: set[anyio.CancelScope] = set()

        async def produce() -> None:
            async with tx:
                for page in self.journal.pending(max(PAGE, batch_size)):
                    for start in range(0, len(page), batch_size):
                        await tx.send(page[start : start + batch_size])

        async def work(
            index: int,
            batches: MemoryObjectReceiveStream[list[PendingRow]],
            done: MemoryObjectSendStream[list[Outcome]],
        ) -> None:
            """Worker number `index` sends while the gate's limit admits it (it takes no
            batch meanwhile); once the batches run out, the parked workers are let go."""
            async with batches, done:
                while not ended:
                    if self.gate is not None:
                        with anyio.CancelScope() as parking:
                            parked.add(parking)
                            await self.gate.room_for(index)
                        parked.discard(parking)
                        if parking.cancel_called:
                            return
                    if (batch := await _next(batches)) is None:
                        ended.append(True)
                        for scope in parked:
                            scope.cancel()
                        return
                    done.send_nowait(await self.sender.send(batch))  # the stream has no bound

        async def write() -> None:
            """The one writer. A commit per acknowledgement would cost more than a
            per-contact request, so the first one waits COMMIT_DELAY for those of the other
            requests in flight, and they commit together (a kill then re-sends a few ms
            more of rows)."""
            async with done_rx:
                async for outcomes in done_rx:
                    try:
                        await anyio.sleep(COMMIT_DELAY)
                    finally:  # stopped by a signal too: what was acknowledged is committed
                        while True:
                            try:
                                outcomes = outcomes + done_rx.receive_nowait()
                            except (anyio.WouldBlock, anyio.EndOfStream):
                                break
                        await self.write_journal(
                            self.recorder.record, outcomes, in_thread=len(outcomes) >= THREAD_ROWS
                        )
                    self._count(outcomes)

        async with anyio.create_task_group() as workers:
            workers.start_soon(produce)
            workers.start_soon(write)
            for index in range(self.concurrency):
                workers.start_soon(work, index, rx.clone(), done_tx.clone())
            rx.close()
            done_tx.close()

    def _count(self, outcomes: list[Outcome]) -> None:
        final = [o for o in outcomes if o.status != "pending"]
        if len(final) < len(outcomes):
            left = len(outcomes) - len(final)
            cause = next(o.error for o in reversed(outcomes) if o.status == "pending") or ""
            left += self.deferred[0] if self.deferred else 0
            self.deferred = (left, cause.removeprefix(NOT_DELIVERED))
        self.progress.advance(len(final))
        self.budget.add(final)


async def _next(stream: MemoryObjectReceiveStream[T]) -> T | None:
    """The next item, or None at the end. No checkpoint while one is at hand: with
    per-contact requests every trip through the event loop leaves a pooled connection
    idle, and httpcore probes each idle connection (two system calls) at every request."""
    try:
        with contextlib.suppress(anyio.WouldBlock):
            return stream.receive_nowait()
        return await stream.receive()
    except anyio.EndOfStream:
        return None
