"""Group commit: many small order writes share one SQLite transaction (and one fsync).

Each write is an ``op(conn)`` coroutine function. :meth:`GroupCommit.run` queues it and waits; one drain task
takes every op waiting at that moment (up to :data:`MAX_BATCH`), runs them in ONE ``BEGIN IMMEDIATE`` …
``COMMIT``, each inside its own ``SAVEPOINT`` so that an op that raises (an illegal transition, a failing
hook) is rolled back alone and its caller gets the exception, while the others commit. Results are handed
out only after the ``COMMIT`` returned: what a caller sees is durable. A lone write is not delayed: the drain
starts at once, and what arrives during a commit forms the next batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiosqlite

from bot.storage import Database

T = TypeVar("T")
Op = Callable[[aiosqlite.Connection], Awaitable[Any]]
MAX_BATCH = 200


class GroupCommit:
    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH) -> None:
        self._db = db
        self._max_batch = max_batch
        self._queue: list[tuple[Op, asyncio.Future[Any]]] = []
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        """Transactions committed so far (for tests and diagnostics)."""

    async def run(self, op: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """Run ``op`` in the next group transaction; its result once committed, or what it raised."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((op, future))
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._drain())
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
            try:
                async with self._db.transaction() as conn:
                    for op, future in batch:
                        await conn.execute("SAVEPOINT order_op")  # pragma: no mutate
                        try:
                            value = await op(conn)
                        except Exception as exc:
                            await conn.execute("ROLLBACK TO order_op")  # pragma: no mutate
                            await conn.execute("RELEASE order_op")  # pragma: no mutate
                            outcomes.append((future, None, exc))
                        else:
                            await conn.execute("RELEASE order_op")  # pragma: no mutate
                            outcomes.append((future, value, None))
            except BaseException as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("write aborted"))
                if not isinstance(exc, Exception):
                    raise
                continue
            self.batches += 1
            for future, value, error in outcomes:
                if future.done():  # pragma: no cover - futures are shielded from their callers' cancellation
                    continue
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(value)
