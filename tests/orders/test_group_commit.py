"""Group commit: concurrent writes share a transaction; a failing write is rolled back alone."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence

import aiosqlite
import pytest

from bot.orders.group_commit import GroupCommit
from bot.storage import Database

# A broken group commit leaves a caller waiting for ever: fail instead (tests/plugins/wall_clock.py).
pytestmark = pytest.mark.wall_clock(10)


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


async def test_a_lone_write_needs_no_savepoint(market_db: Database) -> None:
    statements: list[str] = []
    await market_db.conn.set_trace_callback(statements.append)
    group = GroupCommit(market_db)
    assert await group.run(writer("a")) == "a"
    assert await group.run_many(ManyWriter(), "b") == "B"
    await market_db.conn.set_trace_callback(None)
    insert = "INSERT INTO shop_state (key, value) VALUES ('{}', 'v')"
    assert statements == [
        *("BEGIN IMMEDIATE", insert.format("a"), "COMMIT"),
        *("BEGIN IMMEDIATE", insert.format("b"), "COMMIT"),
    ]
    assert group.batches == 2


async def test_two_writes_keep_their_savepoints(market_db: Database) -> None:
    statements: list[str] = []
    await market_db.conn.set_trace_callback(statements.append)
    group = GroupCommit(market_db)
    assert await asyncio.gather(group.run(writer("a")), group.run(writer("b"))) == ["a", "b"]
    await market_db.conn.set_trace_callback(None)
    assert statements.count("SAVEPOINT order_op") == 2
    assert group.batches == 1


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
    assert all(isinstance(r, sqlite3.OperationalError) for r in results)  # SQLite's own error, for every caller
    assert results[0] is results[1]
    assert await group.run(writer("after")) == "after"


async def test_a_write_cancelled_inside_aborts_its_batch(market_db: Database) -> None:
    group = GroupCommit(market_db)

    async def cancelled(conn: aiosqlite.Connection) -> None:
        await conn.execute("INSERT INTO shop_state (key, value) VALUES ('c', 'v')")
        raise asyncio.CancelledError

    results = await asyncio.gather(group.run(writer("a")), group.run(cancelled), return_exceptions=True)
    assert [repr(r) for r in results] == ["RuntimeError('write aborted')"] * 2
    assert await keys(market_db) == []
    assert await group.run(writer("b")) == "b"


async def test_the_database_is_usable_after_a_failed_batch(market_db: Database) -> None:
    group = GroupCommit(market_db)
    with pytest.raises(ValueError, match="refused"):
        await group.run(writer("z", fail=True))
    assert await keys(market_db) == []
    assert await group.run(writer("y")) == "y"


class ManyWriter:
    """A ``write_many`` that records its calls; refuses any item named in ``refuse``; ``short`` drops a result."""

    def __init__(self, *, refuse: frozenset[str] = frozenset(), short: bool = False) -> None:
        self.calls: list[list[str]] = []
        self._refuse = refuse
        self._short = short

    async def __call__(self, conn: aiosqlite.Connection, items: Sequence[str]) -> list[str]:
        self.calls.append(list(items))
        for key in items:
            await conn.execute("INSERT INTO shop_state (key, value) VALUES (?, 'v')", (key,))
            if key in self._refuse:
                raise ValueError(f"refused {key}")
        results = [key.upper() for key in items]
        return results[1:] if self._short and len(items) > 1 else results


async def test_batched_items_share_one_call(market_db: Database) -> None:
    group = GroupCommit(market_db)
    many = ManyWriter()
    results = await asyncio.gather(*(group.run_many(many, f"k{n:02}") for n in range(20)))
    assert results == [f"K{n:02}" for n in range(20)]
    assert many.calls == [[f"k{n:02}" for n in range(20)]]
    assert (group.batches, group.group_failures) == (1, 0)
    assert await keys(market_db) == [f"k{n:02}" for n in range(20)]


async def test_a_plain_op_between_batched_items_splits_them_in_order(market_db: Database) -> None:
    group = GroupCommit(market_db)
    many = ManyWriter()
    other = ManyWriter()
    results = await asyncio.gather(
        group.run_many(many, "a"),
        group.run_many(many, "b"),
        group.run(writer("c")),
        group.run_many(many, "d"),
        group.run_many(other, "e"),
        group.run_many(many, "f"),
    )
    assert results == ["A", "B", "c", "D", "E", "F"]
    assert many.calls == [["a", "b"], ["d"], ["f"]]
    assert other.calls == [["e"]]
    assert group.batches == 1
    assert await keys(market_db) == ["a", "b", "c", "d", "e", "f"]


async def test_a_failing_batched_item_fails_alone(market_db: Database) -> None:
    group = GroupCommit(market_db)
    many = ManyWriter(refuse=frozenset({"b"}))
    results = await asyncio.gather(
        *(group.run_many(many, key) for key in ("a", "b", "c")), group.run(writer("d")), return_exceptions=True
    )
    assert results[0] == "A"
    assert isinstance(results[1], ValueError)
    assert str(results[1]) == "refused b"
    assert results[2:] == ["C", "d"]
    assert many.calls == [["a", "b", "c"], ["a"], ["b"], ["c"]]  # the group failed: then one at a time
    assert (group.batches, group.group_failures) == (1, 1)
    assert await keys(market_db) == ["a", "c", "d"]


async def test_a_write_many_missing_a_result_is_written_one_at_a_time(market_db: Database) -> None:
    group = GroupCommit(market_db)
    many = ManyWriter(short=True)
    results = await asyncio.gather(*(group.run_many(many, key) for key in ("a", "b")))
    assert results == ["A", "B"]
    assert many.calls == [["a", "b"], ["a"], ["b"]]
    assert group.group_failures == 1
    assert await asyncio.gather(*(group.run_many(many, key) for key in ("c", "d"))) == ["C", "D"]
    assert (group.batches, group.group_failures) == (2, 2)
    assert await keys(market_db) == ["a", "b", "c", "d"]


async def test_a_lone_item_that_fails_is_rolled_back(market_db: Database) -> None:
    group = GroupCommit(market_db)
    many = ManyWriter(refuse=frozenset({"x"}))
    with pytest.raises(ValueError, match="refused x"):
        await group.run_many(many, "x")
    assert many.calls == [["x"]]
    assert group.group_failures == 0
    assert await keys(market_db) == []
    assert await group.run_many(many, "y") == "Y"


async def test_a_lone_item_failing_beside_another_write_is_written_once(market_db: Database) -> None:
    """A batched item alone in its group (next to a plain op) is written in its own savepoint: one call, and no
    group failure (the lone-write shortcut does not apply: the batch holds two writes)."""
    group = GroupCommit(market_db)
    many = ManyWriter(refuse=frozenset({"x"}))
    results = await asyncio.gather(group.run(writer("a")), group.run_many(many, "x"), return_exceptions=True)
    assert results[0] == "a"
    assert isinstance(results[1], ValueError)
    assert many.calls == [["x"]]
    assert (group.batches, group.group_failures) == (1, 0)
    assert await keys(market_db) == ["a"]


async def test_a_write_many_without_a_result_fails_its_item(market_db: Database) -> None:
    group = GroupCommit(market_db)

    async def forgets(conn: aiosqlite.Connection, items: Sequence[str]) -> list[str]:
        await conn.execute("INSERT INTO shop_state (key, value) VALUES ('lost', 'v')")
        return []

    with pytest.raises(RuntimeError, match=r"^write_many returned 0 results for 1 items$"):
        await group.run_many(forgets, "a")
    assert await keys(market_db) == []  # rolled back


async def test_writes_queued_behind_a_failed_batch_are_still_written(market_db: Database) -> None:
    group = GroupCommit(market_db)

    async def breaks_the_transaction(conn: aiosqlite.Connection) -> None:
        await conn.execute("COMMIT")

    first = asyncio.ensure_future(group.run(breaks_the_transaction))
    for _ in range(3):
        await asyncio.sleep(0)  # the drain has taken the first batch and waits on the database
    later = asyncio.ensure_future(group.run(writer("later")))
    results = await asyncio.gather(first, later, return_exceptions=True)
    assert isinstance(results[0], sqlite3.OperationalError)
    assert results[1] == "later"
    assert group.batches == 1
