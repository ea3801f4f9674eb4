"""Group commit: many small order writes share one SQLite transaction (and one fsync).

Each write is an ``op(conn)`` coroutine function. :meth:`GroupCommit.run` queues it and waits; one drain task
takes every op waiting at that moment (up to :data:`MAX_BATCH`), runs them in ONE ``BEGIN IMMEDIATE`` …
``COMMIT``, each inside its own ``SAVEPOINT`` so that an op that raises (an illegal transition, a failing
hook) is rolled back alone and its caller gets the exception, while the others commit. Results are handed
out only after the ``COMMIT`` returned: what a caller sees is durable. A lone write is not delayed: the drain
starts at once, and what arrives during a commit forms the next batch. A batch of ONE write (orders arriving
one at a time, the usual case below saturation) needs no savepoint: its transaction is rolled back if it
raises, which undoes it alone; that saves two of its six round trips.

Every statement is a round trip to the connection's thread (the event loop queues it, that thread wakes up
and takes the GIL, the result comes back through the loop's self-pipe), and under load those hops cost more
CPU than SQLite's own work. So writes that many callers make alike (creating orders) can be queued with
:meth:`GroupCommit.run_many` instead: consecutive items of the same ``write_many`` in a batch are written by
ONE call ``write_many(conn, items)`` (multi-row statements) inside one savepoint, a few round trips for the
whole group instead of a few per write. If that call raises, the group's savepoint is rolled back and its
items are written again one at a time, each in its own savepoint, so a failing item still fails alone (the
others' writes, hooks included, then run a second time, the first time having been rolled back).

A ``write_many`` that needs nothing but the ``sqlite3`` connection (no awaiting: creating orders when no
transition hook is registered for creations) is queued with :meth:`GroupCommit.run_many_on_thread`. A batch made of such
writes only is written in ONE round trip: ``BEGIN IMMEDIATE``, the savepoints, the writes and ``COMMIT`` all run
in one call on the connection's thread (:meth:`~bot.storage.Database.run_in_transaction`), with the same
savepoints and the same one-at-a-time retry of a failed group as above; results are still handed out only once
that call returned, that is after the ``COMMIT``. A batch that holds any other write takes the path above (the
thread writes then cost one round trip per group).

Writes that arrive while a transaction is being written (the server is busy) form the next batch; it waits
:data:`COMMIT_DELAY` (2 ms) before being taken, so that the writes arriving just after join it. With a batch
written in one round trip, the transaction is over so soon that the next batch would otherwise be smaller
(18 instead of 23 orders in the checkout benchmark), and every transaction has a cost of its own (its
``COMMIT``: the WAL frames of each page it changed, the fsync). A lone write, the first of a quiet moment, is
written at once.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aiosqlite

from bot.storage import Database
from bot.storage.thread_call import on_connection_thread

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - the item type of a batched write
Op = Callable[[aiosqlite.Connection], Awaitable[Any]]
WriteMany = Callable[[aiosqlite.Connection, Sequence[Any]], Awaitable[Sequence[Any]]]
ThreadWriteMany = Callable[[sqlite3.Connection, Sequence[Any]], Sequence[Any]]
MAX_BATCH = 200
COMMIT_DELAY = 0.002
"""Seconds a batch that formed while the previous transaction was being written waits for more writes (see the
module docstring). A lone write is never delayed."""


@dataclass(slots=True)
class _Entry:
    write_many: WriteMany | None
    """None: ``item`` is an :data:`Op`."""
    item: Any
    future: asyncio.Future[Any]
    on_thread: ThreadWriteMany | None = None
    """The write of :meth:`GroupCommit.run_many_on_thread` (``write_many`` is then the same, in a round trip)."""


Outcome = tuple[asyncio.Future[Any], Any, BaseException | None]


class GroupCommit:
    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH, commit_delay: float = COMMIT_DELAY) -> None:
        self._db = db
        self._max_batch = max_batch
        self._commit_delay = commit_delay
        self._queue: list[_Entry] = []
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        """Transactions committed so far (for tests and diagnostics)."""
        self.group_failures = 0
        """Groups of :meth:`run_many` items written again one at a time because their shared write raised."""

    async def run(self, op: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """Run ``op`` in the next group transaction; its result once committed, or what it raised."""
        result: T = await self._enqueue(None, op)
        return result

    async def run_many(
        self, write_many: Callable[[aiosqlite.Connection, Sequence[I]], Awaitable[Sequence[T]]], item: I
    ) -> T:
        """Write ``item`` with ``write_many`` in the next group transaction, sharing the call with the other
        items queued for the same ``write_many`` next to it; its result (``write_many`` returns one per item, in
        order) once committed, or what writing it alone raised."""
        result: T = await self._enqueue(write_many, item)
        return result

    async def run_many_on_thread(self, write: Callable[[sqlite3.Connection, Sequence[I]], Sequence[T]], item: I) -> T:
        """:meth:`run_many` for a ``write`` run on the connection's thread with the ``sqlite3`` connection (it
        must be quick and touch only that connection): a batch of nothing else is written in one round trip."""
        result: T = await self._enqueue(_ThreadWrite(write), item, on_thread=write)
        return result

    async def _enqueue(
        self, write_many: WriteMany | None, item: Any, *, on_thread: ThreadWriteMany | None = None
    ) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append(_Entry(write_many, item, future, on_thread))
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._drain())
        # Awaited as it is: a caller cancelled meanwhile cancels its future, and its write stays queued and is
        # written with its batch all the same (its outcome is dropped: _settle and _fail skip a future already
        # done), as it was under ``asyncio.shield``, which cost each write one more turn of the event loop.
        return await future

    async def _drain(self) -> None:
        first = True
        while self._queue:
            if not first:
                await self._linger()
            first = False  # pragma: no mutate - ``None`` reads the same in ``not first``
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            if all(entry.on_thread is not None for entry in batch):
                await self._write_on_thread(batch)
                continue
            if len(batch) == 1:
                await self._write_alone(batch[0])
                continue
            outcomes: list[Outcome] = []
            try:
                async with self._db.transaction() as conn:
                    for group in _groups(batch):
                        if group[0].write_many is not None and len(group) > 1:
                            await self._write_group(conn, group, outcomes)
                        else:
                            for entry in group:
                                outcomes.append(await self._write_one(conn, entry))
            except BaseException as exc:
                _fail(batch, exc)
                continue
            self.batches += 1
            _settle(outcomes)

    async def _linger(self) -> None:
        """Writes queued while a transaction was being written: wait :data:`COMMIT_DELAY` for more to join them.
        Cancelled meanwhile: every write queued fails with ``write aborted``, and the cancellation goes on."""
        try:
            await asyncio.sleep(self._commit_delay)
        except BaseException as exc:
            queued, self._queue = self._queue, []
            _fail(queued, exc)

    async def _write_on_thread(self, batch: list[_Entry]) -> None:
        """A batch of :meth:`run_many_on_thread` writes only: ONE call on the connection's thread
        (:func:`_batch_on_thread` inside :meth:`~bot.storage.Database.run_in_transaction`)."""
        try:
            outcomes, failures = await self._db.run_in_transaction(lambda conn: _batch_on_thread(conn, batch))
        except BaseException as exc:
            _fail(batch, exc)
            return
        self.batches += 1
        self.group_failures += failures
        _settle(outcomes)

    async def _write_alone(self, entry: _Entry) -> None:
        """A batch of one write: its transaction needs no savepoint (if the write raises, rolling the transaction
        back undoes it alone), two round trips fewer: what a write costs when writes come one at a time."""
        try:
            async with self._db.transaction() as conn:
                value = await _call(conn, entry)
        except BaseException as exc:
            _fail([entry], exc)
            return
        self.batches += 1
        entry.future.set_result(value)

    async def _write_one(self, conn: aiosqlite.Connection, entry: _Entry) -> Outcome:
        await conn.execute("SAVEPOINT order_op")  # pragma: no mutate
        try:
            value = await _call(conn, entry)
        except Exception as exc:
            await conn.execute("ROLLBACK TO order_op")  # pragma: no mutate
            await conn.execute("RELEASE order_op")  # pragma: no mutate
            return entry.future, None, exc
        await conn.execute("RELEASE order_op")  # pragma: no mutate
        return entry.future, value, None

    async def _write_group(self, conn: aiosqlite.Connection, group: list[_Entry], outcomes: list[Outcome]) -> None:
        write_many = group[0].write_many  # pragma: no mutate - every entry of a group has the same one
        assert write_many is not None  # noqa: S101 - _drain sends only batched groups here
        await conn.execute("SAVEPOINT order_group")  # pragma: no mutate
        try:
            values = _one(await write_many(conn, [entry.item for entry in group]), len(group))
        except Exception:
            await conn.execute("ROLLBACK TO order_group")  # pragma: no mutate
            await conn.execute("RELEASE order_group")  # pragma: no mutate
            self.group_failures += 1
            for entry in group:
                outcomes.append(await self._write_one(conn, entry))
            return
        await conn.execute("RELEASE order_group")  # pragma: no mutate
        done = zip(group, values, strict=True)  # pragma: no mutate - ``_one`` checked the length
        outcomes.extend((entry.future, value, None) for entry, value in done)


class _ThreadWrite:
    """A :data:`ThreadWriteMany` as a :data:`WriteMany`: one round trip to the connection's thread, for the batches
    that also hold other writes. Equal for the same ``write`` (so that :func:`_groups` groups its items)."""

    __slots__ = ("write",)

    def __init__(self, write: ThreadWriteMany) -> None:
        self.write = write

    async def __call__(self, conn: aiosqlite.Connection, items: Sequence[Any]) -> Sequence[Any]:
        return await on_connection_thread(conn, lambda c: self.write(c, items))

    def __eq__(self, other: object) -> bool:  # (never hashed: defining __eq__ leaves it unhashable)
        return isinstance(other, _ThreadWrite) and other.write == self.write


def _batch_on_thread(conn: sqlite3.Connection, batch: list[_Entry]) -> tuple[list[Outcome], int]:
    """On the connection's thread, inside the batch's transaction: what :meth:`GroupCommit._drain` does with
    round trips, done with plain calls. A lone write without a savepoint (what it raises rolls the transaction
    back); otherwise each group in a savepoint, a failed group's items again one at a time, each in its own.
    The outcomes (one per entry, in order) and how many groups failed."""
    if len(batch) == 1:
        entry = batch[0]
        return [(entry.future, _one(_thread_write(entry)(conn, [entry.item]), 1)[0], None)], 0
    outcomes: list[Outcome] = []
    failures = 0
    for group in _groups(batch):
        if len(group) == 1:
            outcomes.append(_write_one_on_thread(conn, group[0]))
            continue
        write = _thread_write(group[0])  # pragma: no mutate - every entry of a group has the same one
        conn.execute("SAVEPOINT order_group")  # pragma: no mutate
        try:
            values = _one(write(conn, [entry.item for entry in group]), len(group))
        except Exception:
            conn.execute("ROLLBACK TO order_group")  # pragma: no mutate
            conn.execute("RELEASE order_group")  # pragma: no mutate
            failures += 1
            outcomes.extend(_write_one_on_thread(conn, entry) for entry in group)
            continue
        conn.execute("RELEASE order_group")  # pragma: no mutate
        done = zip(group, values, strict=True)  # pragma: no mutate - ``_one`` checked the length
        outcomes.extend((entry.future, value, None) for entry, value in done)
    return outcomes, failures


def _write_one_on_thread(conn: sqlite3.Connection, entry: _Entry) -> Outcome:
    """:meth:`GroupCommit._write_one` on the connection's thread."""
    conn.execute("SAVEPOINT order_op")  # pragma: no mutate
    try:
        value = _one(_thread_write(entry)(conn, [entry.item]), 1)[0]
    except Exception as exc:
        conn.execute("ROLLBACK TO order_op")  # pragma: no mutate
        conn.execute("RELEASE order_op")  # pragma: no mutate
        return entry.future, None, exc
    conn.execute("RELEASE order_op")  # pragma: no mutate
    return entry.future, value, None


def _thread_write(entry: _Entry) -> ThreadWriteMany:
    write = entry.on_thread
    assert write is not None  # noqa: S101 - only batches of thread writes are written on the thread
    return write


def _settle(outcomes: list[Outcome]) -> None:
    """Hand the committed batch's outcomes to their callers."""
    for future, value, error in outcomes:
        if future.done():  # its caller was cancelled while it waited: the write is kept, its outcome dropped
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)


async def _call(conn: aiosqlite.Connection, entry: _Entry) -> Any:
    """The write of ``entry`` alone: its op, or its ``write_many`` with its one item; its result."""
    if entry.write_many is None:
        return await entry.item(conn)
    return _one(await entry.write_many(conn, [entry.item]), 1)[0]


def _fail(batch: list[_Entry], exc: BaseException) -> None:
    """The transaction of ``batch`` failed with ``exc`` (rolled back): every write of it fails with ``exc``, or
    with ``write aborted`` when ``exc`` is not an error (a cancellation), which is raised again."""
    for entry in batch:
        if not entry.future.done():
            entry.future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("write aborted"))
    if not isinstance(exc, Exception):
        raise exc


def _one(values: Sequence[Any], expected: int) -> Sequence[Any]:
    """``values`` when it holds one result per item; an error (the group is rolled back) otherwise."""
    if len(values) != expected:
        raise RuntimeError(f"write_many returned {len(values)} results for {expected} items")
    return values


def _groups(batch: list[_Entry]) -> list[list[_Entry]]:
    """``batch`` cut into runs of consecutive entries with the same ``write_many`` (plain ops: their own runs)."""
    groups: list[list[_Entry]] = []
    for entry in batch:
        # ``==``, not ``is``: each access to a bound method makes a new object, equal to the others.
        if groups and entry.write_many is not None and groups[-1][0].write_many == entry.write_many:
            groups[-1].append(entry)
        else:
            groups.append([entry])
    return groups
