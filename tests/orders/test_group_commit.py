"""Group commit: concurrent writes share a transaction; a failing write is rolled back alone."""

from __future__ import annotations

import asyncio

import aiosqlite
import pytest

from bot.orders.group_commit import GroupCommit
from bot.storage import Database


async def keys(db: Database) -> list[str]:
    return [row["key"] for row in await db.fetchall("SELECT key FROM shop_state ORDER BY key")]


def writer(key: str, *, fail: bool = False):  # type: ignore[no-untyped-def]
    async def op(conn: aiosqlite.Connection) -> str:
        await conn.execute("INSERT INTO shop_state (key, value) VALUES (?, 'v')", (key,))
        if fail:
            raise ValueError(f"refused {key}")
        return key

    return op


async def test_concurrent_writes_share_one_transaction(market_db: Database) -> None:
    group = GroupCommit(market_db)
    results = await asyncio.gather(*(group.run(writer(f"k{n:02}")) for n in range(30)))
    assert results == [f"k{n:02}" for n in range(30)]
    assert group.batches == 1
    assert await keys(market_db) == [f"k{n:02}" for n in range(30)]


async def test_a_lone_write_is_committed_at_once(market_db: Database) -> None:
    group = GroupCommit(market_db)
    assert await group.run(writer("a")) == "a"
    assert await group.run(writer("b")) == "b"
    assert group.batches == 2
    assert await keys(market_db) == ["a", "b"]


async def test_a_failing_write_is_rolled_back_alone(market_db: Database) -> None:
    group = GroupCommit(market_db)
    results = await asyncio.gather(
        group.run(writer("a")), group.run(writer("b", fail=True)), group.run(writer("c")), return_exceptions=True
    )
    assert results[0] == "a"
    assert isinstance(results[1], ValueError)
    assert str(results[1]) == "refused b"
    assert results[2] == "c"
    assert group.batches == 1
    assert await keys(market_db) == ["a", "c"]


async def test_batches_are_bounded(market_db: Database) -> None:
    group = GroupCommit(market_db, max_batch=4)
    await asyncio.gather(*(group.run(writer(f"k{n}")) for n in range(10)))
    assert group.batches == 3
    assert len(await keys(market_db)) == 10


async def test_a_failed_commit_fails_every_write_of_the_batch(market_db: Database) -> None:
    group = GroupCommit(market_db)

    async def breaks_the_transaction(conn: aiosqlite.Connection) -> None:
        await conn.execute("INSERT INTO shop_state (key, value) VALUES ('x', 'v')")
        await conn.execute("COMMIT")  # ends the transaction under the batch's feet: its RELEASE/COMMIT fail

    results = await asyncio.gather(group.run(writer("a")), group.run(breaks_the_transaction), return_exceptions=True)
    assert all(isinstance(r, Exception) for r in results)
    assert await group.run(writer("after")) == "after"


async def test_the_database_is_usable_after_a_failed_batch(market_db: Database) -> None:
    group = GroupCommit(market_db)
    with pytest.raises(ValueError, match="refused"):
        await group.run(writer("z", fail=True))
    assert await keys(market_db) == []
    assert await group.run(writer("y")) == "y"
