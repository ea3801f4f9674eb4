"""A function run on the aiosqlite connection's own thread: one round trip, inside the caller's transaction."""

from __future__ import annotations

import asyncio
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


async def test_a_transaction_in_one_round_trip_commits_or_rolls_back(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    statements: list[str] = []
    try:
        await db.conn.set_trace_callback(statements.append)

        def write(conn: sqlite3.Connection) -> bool:
            conn.execute("INSERT INTO shop_state (key, value) VALUES ('a', '1')")
            return conn.in_transaction

        assert await db.run_in_transaction(write) is True

        def write_then_fail(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO shop_state (key, value) VALUES ('b', '2')")
            raise LookupError("undo")

        with pytest.raises(LookupError, match="undo"):
            await db.run_in_transaction(write_then_fail)
        await db.conn.set_trace_callback(None)
        assert [s.split()[0] for s in statements] == ["BEGIN", "INSERT", "COMMIT", "BEGIN", "INSERT", "ROLLBACK"]
        assert [r[0] for r in await db.fetchall("SELECT key FROM shop_state WHERE key IN ('a', 'b')")] == ["a"]
        assert not db.conn.in_transaction
    finally:
        await db.close()


async def test_a_transaction_in_one_round_trip_waits_for_the_open_one(tmp_path: Path) -> None:
    """It takes the database's lock: it starts only once the transaction open on the connection has ended."""
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        async with db.transaction() as conn:
            waiting = asyncio.ensure_future(db.run_in_transaction(lambda c: c.execute("SELECT 1").fetchone()[0]))
            for _ in range(5):
                await asyncio.sleep(0.01)
            assert not waiting.done()
            await conn.execute("INSERT INTO shop_state (key, value) VALUES ('a', '1')")
        assert await waiting == 1
    finally:
        await db.close()
