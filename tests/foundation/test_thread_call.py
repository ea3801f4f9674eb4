"""A function run on the aiosqlite connection's own thread: one round trip, inside the caller's transaction."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from bot.storage import Database
from bot.storage.thread_call import on_connection_thread


async def test_runs_on_the_connections_thread_inside_the_open_transaction(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        seen: dict[str, object] = {}

        def write(conn: sqlite3.Connection) -> int:
            seen["thread"] = threading.get_ident()
            seen["in_transaction"] = conn.in_transaction
            conn.execute("INSERT INTO shop_state (key, value) VALUES ('a', '1')")
            conn.execute("INSERT INTO shop_state (key, value) VALUES ('b', '2')")
            return int(conn.execute("SELECT COUNT(*) FROM shop_state WHERE key IN ('a', 'b')").fetchone()[0])

        async def write_then_fail() -> None:
            async with db.transaction() as conn:
                assert await on_connection_thread(conn, write) == 2
                raise RuntimeError("undo")

        with pytest.raises(RuntimeError, match="undo"):
            await write_then_fail()
        assert seen == {"thread": db.conn._thread.ident, "in_transaction": True}
        assert seen["thread"] != threading.get_ident()
        assert await db.fetchall("SELECT key FROM shop_state WHERE key IN ('a', 'b')") == []  # rolled back with it
        async with db.transaction() as conn:
            assert await on_connection_thread(conn, write) == 2
        assert [r[0] for r in await db.fetchall("SELECT key FROM shop_state WHERE key IN ('a', 'b') ORDER BY key")] == [
            "a",
            "b",
        ]
    finally:
        await db.close()


async def test_what_the_function_raises_is_raised_to_the_caller(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    try:

        def broken(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO no_such_table VALUES (1)")

        with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
            await on_connection_thread(db.conn, broken)
        assert await on_connection_thread(db.conn, lambda c: c.execute("SELECT 7").fetchone()[0]) == 7
    finally:
        await db.close()


async def test_a_closed_connection_refuses(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    conn = db.conn
    await db.close()
    with pytest.raises(ValueError, match="no active connection"):
        await on_connection_thread(conn, lambda c: c.execute("SELECT 1").fetchone())
