"""A second, synchronous SQLite connection that runs a whole write transaction in ONE hop to its thread.

:class:`BatchWriter` owns a stdlib :mod:`sqlite3` connection (WAL, ``synchronous=FULL``, ``busy_timeout``,
foreign keys) and a single-thread executor. ``await writer.run(fn)`` runs ``fn(conn)`` on that thread between
``BEGIN IMMEDIATE`` and ``COMMIT`` (``ROLLBACK`` if ``fn`` raises) and returns its result, so a hot path that
needs several statements pays for one round trip to the thread instead of one per statement, and never waits
for a turn of a busy event loop between statements. ``fn`` must be quick, synchronous and touch only ``conn``.

It lives beside the main :class:`~bot.storage.Database` connection on the same WAL file: SQLite serialises
the two writers and ``busy_timeout`` covers the wait.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from bot.storage.database import BUSY_TIMEOUT_MS

log = logging.getLogger(__name__)

T = TypeVar("T")


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=True)
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


class BatchWriter:
    """One sqlite3 connection used only from its own thread; see the module docstring."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-batch-writer")
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    @classmethod
    async def open(cls, path: Path) -> BatchWriter:
        """Connect (on the writer's thread: the connection is used only there)."""
        writer = cls(path)
        try:
            await writer._call(writer._open)
        except BaseException:
            writer._executor.shutdown(wait=False)
            raise
        log.info("batch writer opened path=%s", path)
        return writer

    def _open(self) -> None:
        self._conn = _connect(self.path)

    async def _call(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(conn)`` inside ``BEGIN IMMEDIATE`` … ``COMMIT`` on the writer's thread; its result."""
        if self._closed:
            raise BatchWriterClosed("batch writer is closed")
        return await self._call(lambda: self._transaction(fn))

    def _transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn
        if conn is None:
            raise BatchWriterClosed("batch writer is closed")
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    async def close(self) -> None:
        """Close the connection (after any transaction already submitted), then the thread."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._call(self._close)
        finally:
            self._executor.shutdown(wait=True)
        log.info("batch writer closed path=%s", self.path)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
