"""Items of a journal's pages handled `concurrency` at a time, until they are all handled or
a stop is asked for: the look-up stage and undo run their requests this way."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import anyio
import anyio.abc

from importer.errors import ImporterError

T = TypeVar("T")
WATCH = 0.05  # seconds between two looks at `stopped`


async def each(
    pages: Iterable[list[T]],
    handle: Callable[[T], Awaitable[None]],
    concurrency: int,
    stopped: Callable[[], object],
    flush: Callable[[], None],
) -> None:
    """`handle` every item, `concurrency` at a time; once `stopped()` is not None, what is
    in flight is cancelled. `flush` runs at the end however it ended (even cancelled): what
    was handled is kept."""
    send, receive = anyio.create_memory_object_stream[T](concurrency * 2)

    async def produce() -> None:
        async with send:
            for page in pages:
                for item in page:
                    await send.send(item)

    async def work(items: anyio.abc.ObjectReceiveStream[T]) -> None:
        async with items:
            async for item in items:
                await handle(item)

    async def watch(scope: anyio.CancelScope) -> None:
        while stopped() is None:
            await anyio.sleep(WATCH)
        scope.cancel()

    try:
        async with anyio.create_task_group() as outer:
            outer.start_soon(watch, outer.cancel_scope)
            async with anyio.create_task_group() as tg:
                tg.start_soon(produce)
                for _ in range(max(1, concurrency)):
                    tg.start_soon(work, receive.clone())
                receive.close()
            outer.cancel_scope.cancel()  # done: stop watching
    except* (ImporterError, sqlite3.Error, OSError) as group:
        raise first_error(group) from None  # an abort (a rejected key) is itself, not a group
    finally:
        with anyio.CancelScope(shield=True):
            flush()


def first_error(group: BaseExceptionGroup[Exception]) -> BaseException:
    """The first error of (nested) task groups: the one that stopped the work."""
    found: BaseException = group
    while isinstance(found, BaseExceptionGroup):
        found = found.exceptions[0]
    return found
