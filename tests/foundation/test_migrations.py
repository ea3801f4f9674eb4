"""Migrations: fresh database, upgrade from every earlier version, atomicity, file permissions."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import aiosqlite
import pytest

from bot.storage import Database
from bot.storage.migrations import Migration, MigrationError, apply_migrations, load_migrations


async def _schema(path: Path) -> list[tuple[str, str]]:
    async with (
        aiosqlite.connect(path) as conn,
        conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ) as cursor,
    ):
        return [(str(r[0]), str(r[1])) for r in await cursor.fetchall()]


def test_migrations_are_numbered_consecutively() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].name == "init"


async def test_fresh_database(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "bot.sqlite3"
    db = await Database.open(path)
    try:
        assert await db.schema_version() == len(load_migrations())
        journal = await db.fetchone("PRAGMA journal_mode")
        assert journal is not None
        assert journal[0] == "wal"
        fk = await db.fetchone("PRAGMA foreign_keys")
        assert fk is not None
        assert fk[0] == 1
        sync = await db.fetchone("PRAGMA synchronous")
        assert sync is not None
        assert sync[0] == 2  # FULL
    finally:
        await db.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_existing_file_permissions_are_tightened(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    path.touch(mode=0o644)
    path.chmod(0o644)
    db = await Database.open(path)
    await db.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("start", range(len(load_migrations())))
async def test_upgrade_from_every_earlier_version(tmp_path: Path, start: int) -> None:
    migrations = load_migrations()
    fresh = tmp_path / "fresh.sqlite3"
    db = await Database.open(fresh)
    await db.close()

    old = tmp_path / "old.sqlite3"
    async with aiosqlite.connect(old, isolation_level=None) as conn:
        assert await apply_migrations(conn, migrations[:start]) == start
    db = await Database.open(old)
    try:
        assert await db.schema_version() == len(migrations)
    finally:
        await db.close()
    assert await _schema(old) == await _schema(fresh)


async def test_reopen_is_a_no_op(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    db = await Database.open(path)
    await db.execute("INSERT INTO install_meta (key, value) VALUES ('k', 'v')")
    await db.close()
    db = await Database.open(path)
    try:
        row = await db.fetchone("SELECT value FROM install_meta WHERE key = 'k'")
        assert row is not None
        assert row["value"] == "v"
    finally:
        await db.close()


async def test_failing_migration_rolls_back_everything(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    good = Migration(1, "good", "CREATE TABLE a (x INTEGER);")
    bad = Migration(2, "bad", "CREATE TABLE b (x INTEGER); THIS IS NOT SQL;")
    with pytest.raises(sqlite3.OperationalError):
        await Database.open(path, migrations=[good, bad])
    async with aiosqlite.connect(path) as conn:
        async with conn.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        assert row is not None
        assert row[0] == 0
        async with conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'") as cursor:
            row = await cursor.fetchone()
        assert row is not None
        assert row[0] == 0


async def test_database_newer_than_the_bot_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    async with aiosqlite.connect(path) as conn:
        await conn.execute("PRAGMA user_version = 999")
        await conn.commit()
    with pytest.raises(MigrationError, match="newer than this bot"):
        await Database.open(path)


async def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bot.sqlite3")
    try:

        async def failing_write() -> None:
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO install_meta (key, value) VALUES ('a', 'b')")
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            await failing_write()
        assert await db.fetchone("SELECT 1 FROM install_meta WHERE key = 'a'") is None
        assert await db.ping()
    finally:
        await db.close()
    assert not await db.ping()


async def test_orders_stats_leaves_out_the_orders_awaiting_payment(tmp_path: Path) -> None:
    """Migration 0015: an existing database's orders_stats keeps the orders that left awaiting_payment and drops
    the others; a new order gets its entry when it leaves that state (no entry to write per checkout)."""
    migrations = load_migrations()
    path = tmp_path / "bot.sqlite3"
    insert = (
        "INSERT INTO orders (id, form_token, login, product_key, nle_cost, state, created_at, updated_at, expires_at,"
        " amount) VALUES (?, 'f', 'buyer', 'cs2-30', '1', ?, 't', 't', 't', '9.90')"
    )
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        assert await apply_migrations(conn, migrations[:14]) == 14
        for order_id, state in (("A", "awaiting_payment"), ("P", "paid"), ("E", "expired"), ("R", "refunded")):
            await conn.execute(insert, (order_id * 22, state))
    db = await Database.open(path)
    try:
        assert await db.schema_version() >= 15
        through_index = "SELECT id, amount_units FROM orders INDEXED BY orders_stats WHERE state <> 'awaiting_payment'"
        assert sorted(tuple(r) for r in await db.fetchall(through_index)) == [
            ("E" * 22, 990000000),
            ("P" * 22, 990000000),
            ("R" * 22, 990000000),
        ]
        with pytest.raises(sqlite3.OperationalError, match="no query solution"):  # a partial index: not for all rows
            await db.fetchall("SELECT id FROM orders INDEXED BY orders_stats")
        await db.execute(insert, ("N" * 22, "awaiting_payment"))
        await db.execute("UPDATE orders SET state = 'paid' WHERE id IN (?, ?)", ("N" * 22, "A" * 22))
        assert sorted(str(r[0]) for r in await db.fetchall(through_index)) == [c * 22 for c in "AENPR"]
        assert [tuple(r) for r in await db.fetchall("PRAGMA integrity_check")] == [("ok",)]
    finally:
        await db.close()
