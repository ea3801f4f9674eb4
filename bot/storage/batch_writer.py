"""A dedicated writer thread with its own SQLite connection: group commit without the event loop in the way.

:class:`BatchWriter` owns a stdlib :mod:`sqlite3` connection (WAL, ``synchronous=FULL``, ``busy_timeout``,
foreign keys) and ONE thread that serves a queue:

- :meth:`BatchWriter.submit` hands over a job and waits for its result. The thread takes every job waiting
  (up to ``max_batch``) and writes them in ONE ``BEGIN IMMEDIATE … COMMIT`` with the :class:`BatchHandler`, so
  under load one fsync covers many jobs (group commit); a lone job is committed at once. Each future is
  resolved only after the COMMIT returned. If a batch fails, each of its jobs is retried alone, so one bad
  job cannot fail its neighbours.
- :meth:`BatchWriter.run` runs any ``fn(conn)`` in a transaction of its own, between two batches.

A handler may write a batch as ONE statement without ``BEGIN``/``COMMIT`` (:meth:`BatchHandler.write_alone`):
SQLite then runs the statement in a transaction of its own, committed (durably, ``synchronous=FULL``) when the
statement returns. That is one statement step for the batch instead of three or more (each a hand-off of the
GIL between this thread and the busy event loop); a batch that needs more is written in a transaction.

The batches form by themselves: whatever arrived while one transaction was being written and committed is
the next one, so the slower the commit (a slow disk), the more jobs it covers. The thread never waits for
more (as PostgreSQL's ``commit_delay`` would): measured with the webhook benchmark, a 0.5 ms wait made
batches bigger but the pipeline slower, because each wake-up of this thread must also take the GIL back
from the busy event loop.

The GIL is also why handlers should write many rows per statement: every statement step releases it (SQLite
works without it) and must take it back, so a batch should cost a few steps, not a few per job. For the same
reason the connection caches :data:`CACHED_STATEMENTS` prepared statements, since multi-row statements
differ by their row count.

The thread starts the next transaction as soon as the previous one committed: the event loop only queues
jobs and receives results (one ``call_soon_threadsafe`` per transaction), it is never a step of the pipeline.
Work given to the thread must be quick, synchronous and touch only ``conn``.

It lives beside the main :class:`~bot.storage.Database` connection on the same WAL file: SQLite serialises
the two writers and ``busy_timeout`` covers the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from bot.storage.database import BUSY_TIMEOUT_MS, in_transaction
from bot.storage.write_health import WriteHealth

log = logging.getLogger(__name__)

T = TypeVar("T")
J = TypeVar("J")
R = TypeVar("R")
J_contra = TypeVar("J_contra", contravariant=True)
R_co = TypeVar("R_co", covariant=True)


CACHED_STATEMENTS = 512
"""Prepared statements kept by the writer's connection (the stdlib default is 128): multi-row statements
differ by their row count, and a batch should not pay to prepare them again."""


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=True, cached_statements=CACHED_STATEMENTS)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        conn.close()
        raise
    return conn


class BatchWriterClosed(RuntimeError):
    """The writer was closed; nothing was written."""


class BatchHandler(Protocol[J_contra, R_co]):
    """What a :class:`BatchWriter` writes. Every method runs on the writer's thread."""

    def write(self, conn: sqlite3.Connection, jobs: Sequence[J_contra]) -> Sequence[R_co]:
        """Write ``jobs`` inside the open transaction; one result per job, in order. Raising rolls back."""
        ...

    def write_alone(self, conn: sqlite3.Connection, jobs: Sequence[J_contra]) -> Sequence[R_co] | None:
        """Write ``jobs`` with ONE statement outside any transaction (SQLite commits it when it returns) and
        return their results, or write nothing and return ``None`` (then :meth:`write` runs in a transaction).
        Raising means nothing was written (SQLite rolled the statement back)."""
        ...

    def committed(self) -> None:
        """The transaction of the last :meth:`write` committed (e.g. make its in-memory state current)."""
        ...

    def rolled_back(self) -> None:
        """The transaction of the last :meth:`write` was rolled back (e.g. give back what it took)."""
        ...


@dataclass(slots=True)
class _Job(Generic[J, R]):
    payload: J
    future: asyncio.Future[R] | None


@dataclass(slots=True)
class _Call:
    fn: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]


_STOP = object()


class BatchWriter(Generic[J, R]):
    """One sqlite3 connection used only from its own thread; see the module docstring."""

    def __init__(
        self,
        path: Path,
        handler: BatchHandler[J, R],
        *,
        max_batch: int = 512,
    ) -> None:
        self.path = path
        self._handler = handler
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job[J, R] | _Call | object] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Future[None] | None = None
        self._closed = False
        self._stopping = False  # set by the thread itself when it must stop (before it answers anyone)
        self._serving = False  # the thread is connected and serving its queue (a flag: every submit reads it)
        self.health = WriteHealth()
        """The writes' latest database fault (a full disk...): ``/healthz`` reports it; the thread alone notes."""

    # ----------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Start the thread and connect (on the thread: the connection is used only there)."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        ready: asyncio.Future[None] = loop.create_future()
        self._stopped = loop.create_future()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="sqlite-batch-writer", daemon=True)
        self._thread.start()
        await ready
        log.info("batch writer opened path=%s", self.path)

    async def close(self) -> None:
        """Write everything already submitted, then close the connection and end the thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        if self._stopped is not None:
            await asyncio.shield(self._stopped)
        log.info("batch writer closed path=%s", self.path)

    @property
    def running(self) -> bool:
        return not self._closed and not self._stopping and self._serving

    # ----------------------------------------------------------------- submitting (event loop)
    async def submit(self, payload: J) -> R:
        """Write ``payload`` with the next batch; its result once that batch committed."""
        loop = self._require_open()
        future: asyncio.Future[R] = loop.create_future()
        self._queue.put(_Job(payload, future))
        # No shield needed: a cancelled caller cancels only its future; the job is still committed.
        return await future

    def submit_nowait(self, payload: J) -> None:
        """Write ``payload`` with the next batch without waiting for it (its result is dropped)."""
        self._require_open()
        self._queue.put(_Job(payload, None))

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(conn)`` inside a ``BEGIN IMMEDIATE … COMMIT`` of its own on the writer's thread; its result."""
        loop = self._require_open()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Call(fn, future))
        return await future

    def _require_open(self) -> asyncio.AbstractEventLoop:
        # The thread's own flag rather than Thread.is_alive() (a lock acquired on every submit, about 1% of the
        # event loop under a burst of webhooks): it goes down before the thread answers what is left queued.
        if self._closed or self._stopping or self._loop is None or not self._serving:
            raise BatchWriterClosed("batch writer is closed")
        return self._loop

    # ----------------------------------------------------------------- the thread
    def _serve(self, ready: asyncio.Future[None]) -> None:
        try:
            conn = _connect(self.path)
        except BaseException as exc:
            self._closed = True
            self._resolve(ready, exc=exc)
            self._resolve(self._stopped, None)
            return
        self._serving = True
        self._resolve(ready, None)
        try:
            self._loop_forever(conn)
        finally:
            self._serving = False
            conn.close()
            self._fail_leftovers()
            self._resolve(self._stopped, None)

    def _loop_forever(self, conn: sqlite3.Connection) -> None:
        carry: object | None = None
        while True:
            item = carry if carry is not None else self._queue.get()
            carry = None
            if item is _STOP:
                return
            if isinstance(item, _Call):
                try:
                    self._run_call(conn, item)
                except BaseException as exc:
                    log.critical("batch writer stopped error=%s", type(exc).__name__, exc_info=exc)
                    return
                continue
            jobs: list[_Job[J, R]] = [item]  # type: ignore[list-item]
            while len(jobs) < self._max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if not isinstance(nxt, _Job):
                    carry = nxt  # a call or the stop: after this batch
                    break
                jobs.append(nxt)
            try:
                self._run_batch(conn, jobs)
            except BaseException as exc:  # not an error of the jobs: the writer cannot go on (rolled back)
                self._stopping = True
                log.critical("batch writer stopped error=%s", type(exc).__name__, exc_info=exc)
                stopped = BatchWriterClosed(f"batch writer stopped: {type(exc).__name__}")
                self._settle([(job.future, None, stopped) for job in jobs])
                if carry is not None and carry is not _STOP:
                    self._queue.put(carry)
                return

    def _run_batch(self, conn: sqlite3.Connection, jobs: list[_Job[J, R]]) -> None:
        try:
            results = self._write(conn, jobs)
        except Exception as exc:
            if len(jobs) > 1:
                log.warning("batch failed, retrying one by one jobs=%d error=%s", len(jobs), type(exc).__name__)
                for job in jobs:
                    self._run_batch(conn, [job])
                return
            self._log_failure(exc)
            self._settle([(jobs[0].future, None, exc)])
            return
        self._log_success()
        self._settle([(job.future, result, None) for job, result in zip(jobs, results, strict=True)])

    def _log_failure(self, exc: Exception) -> None:
        """A failed job (or call): the first of a run of database faults with its traceback, the later ones as one
        line with the run's count (bot.storage.write_health); any other error with its traceback."""
        failures = self.health.failed(exc)
        if failures > 1:
            log.error("batch writer write failed error=%s fault=%r failures=%d", type(exc).__name__, str(exc), failures)
        else:
            log.error("batch writer write failed error=%s", type(exc).__name__, exc_info=exc)

    def _log_success(self) -> None:
        failures = self.health.succeeded()
        if failures:
            log.warning("batch writer writes again after failures=%d", failures)

    def _write(self, conn: sqlite3.Connection, jobs: list[_Job[J, R]]) -> Sequence[R]:
        """The handler's write of ``jobs`` in one transaction (or one statement: :meth:`BatchHandler.write_alone`);
        the handler hears whether it committed."""
        payloads = [job.payload for job in jobs]
        try:
            results = self._handler.write_alone(conn, payloads)
            if results is None:
                results = in_transaction(conn, lambda c: self._handler.write(c, payloads))
        except BaseException:
            self._handler.rolled_back()
            raise
        self._handler.committed()
        return results

    def _run_call(self, conn: sqlite3.Connection, call: _Call) -> None:
        try:
            result = in_transaction(conn, call.fn)
        except BaseException as exc:
            if isinstance(exc, Exception):
                self.health.failed(exc)  # its caller logs it
                self._settle([(call.future, None, exc)])
                return
            self._stopping = True
            self._settle([(call.future, None, BatchWriterClosed(f"batch writer stopped: {type(exc).__name__}"))])
            raise  # not an error of the call: the writer cannot go on
        self._log_success()
        self._settle([(call.future, result, None)])

    def _fail_leftovers(self) -> None:
        closed = BatchWriterClosed("batch writer is closed")
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Job | _Call):
                self._settle([(item.future, None, closed)])

    # ----------------------------------------------------------------- back to the event loop
    def _settle(self, outcomes: list[tuple[asyncio.Future[Any] | None, object, BaseException | None]]) -> None:
        """Resolve futures on their loop: ONE thread-safe call for a whole batch."""
        waiting = [outcome for outcome in outcomes if outcome[0] is not None]
        if not waiting or self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            self._loop.call_soon_threadsafe(_resolve_all, waiting)

    def _resolve(
        self, future: asyncio.Future[Any] | None, value: object = None, *, exc: BaseException | None = None
    ) -> None:
        if future is None:
            return
        self._settle([(future, value, exc)])


def _resolve_all(outcomes: list[tuple[asyncio.Future[Any] | None, object, BaseException | None]]) -> None:
    for future, value, exc in outcomes:
        if future is None or future.done():  # e.g. the request was cancelled
            continue
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(value)
