"""The send phase: workers take pending batches from the journal and commit the outcomes.

Each pending email is in exactly one batch (duplicates were merged while planning) and a
batch's requests, retries and look-ups run one after another in one worker, so two
requests for one email are never in flight at once.
"""

from __future__ import annotations

import contextlib
import math
import signal
from collections.abc import Callable
from typing import Protocol, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from importer.errors import ErrorRateExceeded, ImporterError
from importer.journal import Journal, Outcome, PendingRow
from importer.progress import Progress
from importer.sending.gate import InFlightGate

T = TypeVar("T")

PAGE = 1000  # rows read (and marked attempted) from the journal at a time
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


async def deliver(
    journal: Journal,
    sender: Sender,
    concurrency: int,
    progress: Progress,
    budget: ErrorBudget,
    stop_signals: tuple[signal.Signals, ...] = (),
    gate: InFlightGate | None = None,
) -> int | None:
    """Send every pending row. An ImporterError (abort, error rate) stops all workers and
    propagates; one of `stop_signals` stops them too (in-flight requests are abandoned,
    their rows stay pending) and is returned."""
    # a page's batches fit: the producer, woken at every batch taken, cost 2% of a
    # per-contact run; they are in memory anyway
    buffer = max(1, concurrency, PAGE // sender.batch_size)
    tx, rx = anyio.create_memory_object_stream[list[PendingRow]](buffer)
    done_tx, done_rx = anyio.create_memory_object_stream[list[Outcome]](math.inf)
    stopped: list[int] = []
    ended: list[bool] = []  # the batches ran out
    parked: set[anyio.CancelScope] = set()

    async def write_journal(write: Callable[[T], None], arg: T, in_thread: bool) -> None:
        """The send phase's writes, one at a time (waiting for SQLite's lock instead would
        stall the event loop: its busy handler sleeps 1, 2, 5, 10… ms); in a thread, sending
        goes on meanwhile. Shielded: the connection is never left mid-write."""
        with anyio.CancelScope(shield=True):
            async with writing:
                if in_thread:
                    await anyio.to_thread.run_sync(write, arg)
                else:
                    write(arg)

    async def produce() -> None:
        async with tx:
            for page in journal.pending(max(PAGE, sender.batch_size)):
                await write_journal(recorder.attempt, page, in_thread=True)
                for start in range(0, len(page), sender.batch_size):
                    await tx.send(page[start : start + sender.batch_size])

    async def work(
        index: int,
        batches: MemoryObjectReceiveStream[list[PendingRow]],
        done: MemoryObjectSendStream[list[Outcome]],
    ) -> None:
        """Worker number `index` sends while the gate's limit admits it (it takes no batch
        meanwhile); once the batches run out, the parked workers are let go."""
        async with batches, done:
            while not ended:
                if gate is not None:
                    with anyio.CancelScope() as parking:
                        parked.add(parking)
                        await gate.room_for(index)
                    parked.discard(parking)
                    if parking.cancel_called:
                        return
                if (batch := await _next(batches)) is None:
                    ended.append(True)
                    for scope in parked:
                        scope.cancel()
                    return
                done.send_nowait(await sender.send(batch))  # the stream has no bound

    async def write() -> None:
        """The one writer. A commit per acknowledgement would cost more than a per-contact
        request, so the first one waits COMMIT_DELAY for those of the other requests in
        flight, and they commit together (a kill then re-sends a few ms more of rows)."""
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
                    await write_journal(
                        recorder.record, outcomes, in_thread=len(outcomes) >= THREAD_ROWS
                    )
                progress.advance(len(outcomes))
                budget.add(outcomes)

    async def watch(scope: anyio.CancelScope) -> None:
        with anyio.open_signal_receiver(*stop_signals) as received:
            async for signum in received:
                stopped.append(signum)
                scope.cancel()

    recorder = journal.recorder()
    writing = anyio.Lock()  # see write_journal
    try:
        async with anyio.create_task_group() as tg:
            async with anyio.create_task_group() as workers:
                if stop_signals:
                    tg.start_soon(watch, tg.cancel_scope)
                workers.start_soon(produce)
                workers.start_soon(write)
                for index in range(max(1, concurrency)):
                    workers.start_soon(work, index, rx.clone(), done_tx.clone())
                rx.close()
                done_tx.close()
            tg.cancel_scope.cancel()  # done: stop watching signals
    except* ImporterError as group:
        raise _first(group) from None
    finally:
        recorder.close()
    return stopped[0] if stopped else None


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


def _first(group: BaseExceptionGroup[ImporterError]) -> BaseException:
    """The first error of (nested) task groups: the one that stopped the run."""
    found: BaseException = group
    while isinstance(found, BaseExceptionGroup):
        found = found.exceptions[0]
    return found
