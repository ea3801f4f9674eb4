"""Read-only connections that let the queries of one ``/stats`` answer run side by side.

The bot's one aiosqlite connection runs one statement at a time. The figures of an answer are independent
grouped scans (this period's orders, spending and webhooks, the previous period, the top buyers); SQLite runs a
statement without holding Python's GIL, so on two connections, each in a worker thread, two of them compute at
once on the two cores. The database is in WAL mode: readers see the last committed state and neither block the
bot's writes nor wait for them. Each statement is a snapshot of its own, as it was on the shared connection.

The connections are opened for one answer and closed after it (no idle memory, no long-lived snapshot). An
in-memory database cannot be opened twice: its queries stay on the shared connection, one at a time.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bot.storage import Database
from bot.storage.database import BUSY_TIMEOUT_MS

LANES = 2
"""Connections per answer: the machine the bot is sized for has two cores."""

Fetch = Callable[[str, Sequence[Any]], Coroutine[Any, Any, Sequence[Sequence[Any]]]]
"""Runs one query and returns its rows."""


def _open(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(
        f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def _fetchall(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    return conn.execute(sql, params).fetchall()


def _close(connections: list[sqlite3.Connection]) -> None:
    for conn in connections:
        conn.close()


@asynccontextmanager
async def read_lanes(db: Database, lanes: int = LANES) -> AsyncIterator[Fetch]:
    """A ``fetch`` that runs each query on the first free one of ``lanes`` read-only connections."""
    if str(db.path) == ":memory:":

        async def shared(sql: str, params: Sequence[Any]) -> Sequence[Sequence[Any]]:
            return await db.fetchall(sql, params)

        yield shared
        return
    connections: list[sqlite3.Connection] = []
    try:
        for _ in range(lanes):
            connections.append(await asyncio.to_thread(_open, db.path))
        free: asyncio.Queue[sqlite3.Connection] = asyncio.Queue()
        for conn in connections:
            free.put_nowait(conn)

        running: set[asyncio.Future[list[Any]]] = set()

        async def fetch(sql: str, params: Sequence[Any]) -> Sequence[Sequence[Any]]:
            conn = await free.get()
            job = asyncio.ensure_future(asyncio.to_thread(_fetchall, conn, sql, params))
            running.add(job)

            def finished(_: object) -> None:
                running.discard(job)
                free.put_nowait(conn)  # only once the thread is done with it
                if not job.cancelled():
                    job.exception()  # retrieved here too: a caller cancelled meanwhile no longer awaits it

            job.add_done_callback(finished)
            return await asyncio.shield(job)  # a cancelled caller leaves the thread to finish its statement

        yield fetch
    finally:
        if running:  # a query failed or the answer was cancelled: no connection is closed under a thread
            await asyncio.wait(running)
        await asyncio.to_thread(_close, connections)
