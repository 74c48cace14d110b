"""Staging big files on every core: chunks of rows normalized by worker processes that
store them in the job database themselves, at flat memory."""

from __future__ import annotations

import multiprocessing
import os
import tomllib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice
from typing import Protocol

from importer.mapping import BoundMapping, bind, parse_mapping
from importer.normalizing.normalizer import Normalizer, StagedRecord
from importer.reading import SourceRow
from importer.settings import Target

CHUNK = 2000  # rows per batch: one transaction in the journal, one task for a worker
PARALLEL_BYTES = 8 << 20  # sources larger than this are normalized by worker processes


def cores() -> int:
    """The cores this process may use, at most 4 (what a staging or report pass can use)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(usable or 1, 4)


def workers_for(size: int) -> int:
    """Normalizing costs ~40 µs a row (phones most): use the other cores for big files."""
    return cores() if size > PARALLEL_BYTES else 1


class Store(Protocol):
    def add(self, batch: list[StagedRecord], locked: Callable[[], object]) -> None:
        """Store the batch; `locked` is called once the job database's write lock is held."""

    def close(self) -> None: ...


class Stager(Protocol):
    """Opens a Store in the process that normalizes (pickled to the workers)."""

    def open(self) -> Store: ...


def normalize_all(
    rows: Iterator[SourceRow], bound: BoundMapping, clear_empty: bool, workers: int, to: Stager
) -> Iterator[int]:
    """Normalize the rows into the store `to` opens, a CHUNK at a time; yields each chunk's
    size as it is stored. With flat memory: at most two chunks per worker are in flight.
    Workers store their chunks themselves (nothing comes back to this process) and rebuild
    the mapping from its TOML text (a bound mapping holds read-only views that do not pickle)."""
    chunks = (list(chunk) for chunk in iter(lambda: tuple(islice(rows, CHUNK)), ()))
    if workers <= 1:
        normalize = Normalizer(bound, clear_empty)
        store = to.open()
        try:
            for chunk in chunks:
                store.add(normalize.records(chunk), lambda: None)  # its own run: alive
                yield len(chunk)
        finally:
            store.close()
        return
    m = bound.mapping
    spec = (m.text, m.target, bound.headers, clear_empty, to)
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    with ProcessPoolExecutor(workers, context, initializer=_start_worker, initargs=spec) as pool:
        pending: deque[Future[int]] = deque()
        for chunk in chunks:
            pending.append(pool.submit(_normalize_chunk, chunk))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


# set once in each worker process, never in the main one (its store closes when it exits)
_worker: tuple[Normalizer, Store, int] | None = None


def _start_worker(
    text: str, target: Target, headers: tuple[str, ...], clear_empty: bool, to: Stager
) -> None:
    global _worker
    mapping = parse_mapping(tomllib.loads(text), text, "mapping", target)
    _worker = Normalizer(bind(mapping, headers, "source"), clear_empty), to.open(), os.getppid()


def _normalize_chunk(rows: list[SourceRow]) -> int:
    assert _worker is not None, "initializer ran"
    normalize, store, parent = _worker
    store.add(normalize.records(rows), lambda: _exit_if_orphaned(parent))
    return len(rows)


def _exit_if_orphaned(parent: int) -> None:
    """A worker whose run was killed must not write into the journal its rerun has reset.
    Asked with the write lock held: the rerun's reset waits for that lock, so either the
    run was alive and the reset deletes these rows after, or the worker leaves here (its
    transaction dies with it)."""
    if os.getppid() != parent:
        os._exit(1)
