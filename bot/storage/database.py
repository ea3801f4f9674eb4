"""The one SQLite database: opening, pragmas, transactions, health and online backup.

All state lives in one file (``DATABASE_PATH``). The connection runs in autocommit mode
(``isolation_level=None``); writes that belong together go through :meth:`Database.transaction`, which holds
an asyncio lock so that coroutines sharing the one connection never interleave inside a transaction.
Journal mode is WAL and ``synchronous=FULL``: a commit that returned survives power loss.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.storage.migrations import Migration, apply_migrations, load_migrations
from bot.storage.thread_call import on_connection_thread
from bot.storage.write_health import WriteHealth

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5_000
MIN_SQLITE = (3, 37, 0)
"""The oldest SQLite the schema and queries work with: ``STRICT`` tables (3.37), ``RETURNING`` (3.35),
``UPDATE … FROM`` (3.33)."""
T = TypeVar("T")
Params = Sequence[Any] | dict[str, Any]


def _create_private_file(path: Path, *, exclusive: bool = False) -> None:
    """Create ``path`` (and its folder) readable by the owner only; tighten an existing file too.

    With ``exclusive`` an existing file is an error (``FileExistsError``), checked atomically.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_RDWR | os.O_CREAT | (os.O_EXCL if exclusive else 0)
    fd = os.open(path, flags, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


class Database:
    """One aiosqlite connection plus the lock that serialises transactions on it."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._lock = asyncio.Lock()
        self.health = WriteHealth()
        """The writes' latest database fault (a full disk...), for ``/healthz`` (bot.storage.write_health)."""

    @classmethod
    async def open(cls, path: Path, *, migrations: Iterable[Migration] | None = None) -> Database:
        """Open (creating with owner-only permissions) and migrate to the newest schema."""
        check_sqlite_version()
        if str(path) != ":memory:":
            try:
                _create_private_file(path)
            except OSError as exc:  # told as SQLite tells it, so that one error type says "the database"
                where = f": {exc.filename}" if exc.filename else ""
                raise sqlite3.OperationalError(f"unable to open database file: {exc.strerror or exc}{where}") from exc
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        try:
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = FULL")
            await conn.execute("PRAGMA foreign_keys = ON")
            version = await apply_migrations(conn, list(migrations or load_migrations()))
        except BaseException:
            await conn.close()
            raise
        log.info("database opened path=%s schema_version=%d", path, version)
        return cls(conn, path)

    @property
    def conn(self) -> aiosqlite.Connection:
        return self._conn

    async def close(self) -> None:
        async with self._lock:
            await self._conn.close()
        log.info("database closed path=%s", self.path)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on any error), one at a time."""
        async with self._lock:
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                self._failed(exc)
                raise
            try:
                yield self._conn
            except BaseException as exc:
                self._failed(exc)
                await self._rollback()
                raise
            try:
                await self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._failed(exc)
                # A refused COMMIT (a deferred constraint, SQLITE_BUSY) leaves the transaction open: without the
                # ROLLBACK every later BEGIN would fail ("cannot start a transaction within a transaction").
                await self._rollback()
                raise
            self._succeeded()

    def _failed(self, exc: BaseException) -> None:
        """A write failed: the first of a run of database faults is logged here (its caller logs it too)."""
        if self.health.failed(exc) == 1:
            log.error("database writes failing error=%s fault=%r", type(exc).__name__, str(exc))

    def _succeeded(self) -> None:
        failures = self.health.succeeded()
        if failures:
            log.warning("database writes again after failures=%d", failures)

    async def _rollback(self) -> None:
        """``ROLLBACK``, unless SQLite already ended the transaction itself (some errors roll it back, and a
        ``RAISE(ROLLBACK, ...)`` does): a second ROLLBACK would fail and hide the error that caused it."""
        if self._conn.in_transaction:
            await self._conn.execute("ROLLBACK")

    async def run_in_transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """:meth:`transaction` around ``fn(c)`` (``c`` the ``sqlite3`` connection), all of it in ONE round trip to the
        connection's thread (:func:`~bot.storage.thread_call.on_connection_thread`) instead of three or more:
        ``BEGIN IMMEDIATE``, ``fn``, then ``COMMIT``, or ``ROLLBACK`` and what ``fn`` raised. ``fn`` must be quick
        and touch only ``c``. Once started it runs to its end on that thread even if the caller is cancelled."""
        async with self._lock:
            try:
                result = await on_connection_thread(self._conn, lambda c: in_transaction(c, fn))
            except BaseException as exc:
                self._failed(exc)
                raise
            self._succeeded()
            return result

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement in its own transaction; return the affected row count.

        In autocommit mode a lone statement is a transaction of its own (a writing statement takes the write
        lock when it starts, waiting up to the busy timeout), so this is one round trip to the connection's
        thread instead of three (``BEGIN IMMEDIATE``, the statement, ``COMMIT``); the lock keeps it out of
        another coroutine's open transaction."""
        async with self._lock:
            try:
                cursor = await self._conn.execute(sql, params)
            except sqlite3.Error as exc:
                self._failed(exc)
                raise
            self._succeeded()
            return cursor.rowcount

    async def fetchone(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        async with self._lock, self._conn.execute(sql, params) as cursor:
            return await cursor.fetchone()

    async def fetchall(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        async with self._lock, self._conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def ping(self) -> bool:
        """True when the database answers a trivial query within a second."""
        try:
            row = await asyncio.wait_for(self.fetchone("SELECT 1"), timeout=1.0)
        except (sqlite3.Error, ValueError, TimeoutError):
            return False
        return row is not None

    async def schema_version(self) -> int:
        row = await self.fetchone("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def backup(self, destination: Path) -> None:
        """Consistent online copy through SQLite's backup API, owner-only permissions."""
        await backup_file(self._conn, destination)


def check_sqlite_version(version: tuple[int, int, int] = sqlite3.sqlite_version_info) -> None:
    """Refuse, in plain words, an SQLite older than :data:`MIN_SQLITE` (it would fail later, in the middle of a
    migration, with a syntax error)."""
    if version < MIN_SQLITE:
        found = ".".join(map(str, version))
        needed = ".".join(map(str, MIN_SQLITE))
        raise sqlite3.NotSupportedError(
            f"SQLite {needed} or newer is needed; this Python uses SQLite {found}. Use the Docker image, or a "
            "Python built with a newer SQLite (Debian 12, Ubuntu 22.04 and newer have one)."
        )


def in_transaction(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """On the connection's thread: ``fn(conn)`` between ``BEGIN IMMEDIATE`` and ``COMMIT``, rolled back if anything
    raises, a refused ``COMMIT`` included (unless SQLite already ended the transaction itself)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


async def backup_file(source: aiosqlite.Connection, destination: Path) -> None:
    """Copy the database behind ``source`` into the new file ``destination`` (refused if it exists)."""
    try:
        _create_private_file(destination, exclusive=True)
    except FileExistsError:
        raise FileExistsError(f"{destination} already exists; choose a new file name") from None
    try:
        async with aiosqlite.connect(destination) as target:
            await source.backup(target)
    except BaseException:
        os.unlink(destination)
        raise
