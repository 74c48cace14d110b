"""The send phase: workers take pending batches from the journal and commit the outcomes.

Each pending email is in exactly one batch (duplicates were merged while planning) and a
batch's requests, retries and look-ups run one after another in one worker, so two
requests for one email are never in flight at once.
"""

from __future__ import annotations

from typing import Protocol

import anyio
from anyio.abc import ObjectReceiveStream

from importer.errors import ImporterError
from importer.journal import Journal, Outcome, PendingRow
from importer.progress import Progress


class Sender(Protocol):
    batch_size: int

    async def preflight(self) -> None: ...

    async def send(self, rows: list[PendingRow]) -> list[Outcome]: ...


async def deliver(journal: Journal, sender: Sender, concurrency: int, progress: Progress) -> None:
    """Send every pending row; an ImporterError (abort) stops all workers and propagates."""
    tx, rx = anyio.create_memory_object_stream[list[PendingRow]](max(1, concurrency))

    async def produce() -> None:
        async with tx:
            for batch in journal.pending(sender.batch_size):
                await tx.send(batch)

    async def work(batches: ObjectReceiveStream[list[PendingRow]]) -> None:
        async with batches:
            async for batch in batches:
                outcomes = await sender.send(batch)
                journal.record(outcomes)
                progress.advance(len(batch))

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(produce)
            for _ in range(max(1, concurrency)):
                tg.start_soon(work, rx.clone())
            rx.close()
    except* ImporterError as group:
        raise group.exceptions[0] from None
