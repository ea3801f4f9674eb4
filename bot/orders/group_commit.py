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
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aiosqlite

from bot.storage import Database

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - the item type of a batched write
Op = Callable[[aiosqlite.Connection], Awaitable[Any]]
WriteMany = Callable[[aiosqlite.Connection, Sequence[Any]], Awaitable[Sequence[Any]]]
MAX_BATCH = 200


@dataclass(slots=True)
class _Entry:
    write_many: WriteMany | None
    """None: ``item`` is an :data:`Op`."""
    item: Any
    future: asyncio.Future[Any]


Outcome = tuple[asyncio.Future[Any], Any, BaseException | None]


class GroupCommit:
    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH) -> None:
        self._db = db
        self._max_batch = max_batch
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

    async def _enqueue(self, write_many: WriteMany | None, item: Any) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append(_Entry(write_many, item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._drain())
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
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
            for future, value, error in outcomes:
                if future.done():  # pragma: no cover - futures are shielded from their callers' cancellation
                    continue  # pragma: no mutate - unreachable (above), so ``break`` reads the same
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(value)

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
