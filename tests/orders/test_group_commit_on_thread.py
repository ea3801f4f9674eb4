"""Group commit of writes run on the connection's thread (``run_many_on_thread``): a batch of nothing else is ONE
round trip, its transaction included, with the same savepoints, the same one-at-a-time retry of a failed group
and the same rule that a caller sees its result only once the batch is committed."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from typing import Any

import aiosqlite
import pytest

from bot.orders.group_commit import GroupCommit
from bot.storage import Database
from tests.orders.test_group_commit import keys, writer

# A broken group commit leaves a caller waiting for ever: fail instead (tests/plugins/wall_clock.py).
pytestmark = pytest.mark.wall_clock(10)

_CONTROL = {"BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT"}


class ThreadWriter:
    """A write for the connection's thread that records its calls; refuses any item named in ``refuse`` (after
    inserting it); ``short`` drops a result of a call of several items; ``commit`` ends the transaction under the
    batch's feet."""

    def __init__(self, *, refuse: frozenset[str] = frozenset(), short: bool = False, commit: bool = False) -> None:
        self.calls: list[list[str]] = []
        self._refuse = refuse
        self._short = short
        self._commit = commit

    def __call__(self, conn: sqlite3.Connection, items: Sequence[str]) -> list[str]:
        self.calls.append(list(items))
        for key in items:
            conn.execute("INSERT INTO shop_state (key, value) VALUES (?, 'v')", (key,))
            if key in self._refuse:
                raise ValueError(f"refused {key}")
        if self._commit:
            conn.execute("COMMIT")
        results = [key.upper() for key in items]
        return results[1:] if self._short and len(items) > 1 else results


def count_round_trips(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every call queued for the connection's thread from now on."""
    calls: list[Any] = []
    conn = db.conn
    real = conn._execute

    async def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(args[0] if args and isinstance(args[0], str) else fn)
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(conn, "_execute", counting)
    return calls


async def control_statements(db: Database) -> list[str]:
    statements: list[str] = []
    await db.conn.set_trace_callback(lambda s: statements.append(s) if s.split()[0] in _CONTROL else None)
    return statements


async def test_a_batch_of_thread_writes_is_one_round_trip(market_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    group = GroupCommit(market_db)
    write = ThreadWriter()
    statements = await control_statements(market_db)
    calls = count_round_trips(market_db, monkeypatch)
    results = await asyncio.gather(*(group.run_many_on_thread(write, f"k{n:02}") for n in range(20)))
    assert results == [f"K{n:02}" for n in range(20)]
    assert write.calls == [[f"k{n:02}" for n in range(20)]]
    assert len(calls) == 1
    assert statements == ["BEGIN IMMEDIATE", "SAVEPOINT order_group", "RELEASE order_group", "COMMIT"]
    assert (group.batches, group.group_failures) == (1, 0)
    assert await keys(market_db) == [f"k{n:02}" for n in range(20)]


async def test_a_lone_thread_write_is_one_round_trip_without_a_savepoint(
    market_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = GroupCommit(market_db)
    write = ThreadWriter()
    statements = await control_statements(market_db)
    calls = count_round_trips(market_db, monkeypatch)
    assert await group.run_many_on_thread(write, "a") == "A"
    assert await group.run_many_on_thread(write, "b") == "B"
    assert len(calls) == 2
    assert statements == ["BEGIN IMMEDIATE", "COMMIT"] * 2
    assert group.batches == 2
    assert await keys(market_db) == ["a", "b"]


async def test_a_failing_item_fails_alone_and_the_group_is_retried_one_at_a_time(market_db: Database) -> None:
    group = GroupCommit(market_db)
    write = ThreadWriter(refuse=frozenset({"b"}))
    statements = await control_statements(market_db)
    results = await asyncio.gather(*(group.run_many_on_thread(write, key) for key in "abc"), return_exceptions=True)
    assert results[0] == "A"
    assert isinstance(results[1], ValueError)
    assert str(results[1]) == "refused b"
    assert results[2] == "C"
    assert write.calls == [["a", "b", "c"], ["a"], ["b"], ["c"]]
    assert (group.batches, group.group_failures) == (1, 1)
    assert await keys(market_db) == ["a", "c"]
    op = ["SAVEPOINT order_op", "RELEASE order_op"]
    assert statements == [
        "BEGIN IMMEDIATE",
        *("SAVEPOINT order_group", "ROLLBACK TO order_group", "RELEASE order_group"),
        *op,
        *("SAVEPOINT order_op", "ROLLBACK TO order_op", "RELEASE order_op"),
        *op,
        "COMMIT",
    ]


async def test_a_group_missing_a_result_is_written_one_at_a_time(market_db: Database) -> None:
    group = GroupCommit(market_db)
    write = ThreadWriter(short=True)
    assert await asyncio.gather(*(group.run_many_on_thread(write, key) for key in "ab")) == ["A", "B"]
    assert write.calls == [["a", "b"], ["a"], ["b"]]
    assert (group.batches, group.group_failures) == (1, 1)
    assert await asyncio.gather(*(group.run_many_on_thread(write, key) for key in "cd")) == ["C", "D"]
    assert (group.batches, group.group_failures) == (2, 2)
    assert await keys(market_db) == ["a", "b", "c", "d"]


async def test_an_item_without_its_result_fails_alone(market_db: Database) -> None:
    group = GroupCommit(market_db)
    calls: list[list[str]] = []

    def forgets_b(conn: sqlite3.Connection, items: Sequence[str]) -> list[str]:
        calls.append(list(items))
        for key in items:
            conn.execute("INSERT INTO shop_state (key, value) VALUES (?, 'v')", (key,))
        return [key.upper() for key in items if key != "b"]

    results = await asyncio.gather(*(group.run_many_on_thread(forgets_b, key) for key in "abc"), return_exceptions=True)
    assert results[0] == "A"
    assert repr(results[1]) == "RuntimeError('write_many returned 0 results for 1 items')"
    assert results[2] == "C"
    assert calls == [["a", "b", "c"], ["a"], ["b"], ["c"]]
    assert await keys(market_db) == ["a", "c"]  # b's row rolled back with its savepoint


async def test_a_lone_item_that_fails_is_rolled_back(market_db: Database) -> None:
    group = GroupCommit(market_db)
    write = ThreadWriter(refuse=frozenset({"x"}))
    with pytest.raises(ValueError, match="refused x"):
        await group.run_many_on_thread(write, "x")
    assert write.calls == [["x"]]
    assert (group.batches, group.group_failures) == (0, 0)
    assert await keys(market_db) == []
    assert await group.run_many_on_thread(write, "y") == "Y"
    assert group.batches == 1


async def test_a_lone_item_without_its_result_is_rolled_back(market_db: Database) -> None:
    group = GroupCommit(market_db)

    def forgets(conn: sqlite3.Connection, items: Sequence[str]) -> list[str]:
        conn.execute("INSERT INTO shop_state (key, value) VALUES ('lost', 'v')")
        return []

    with pytest.raises(RuntimeError, match=r"^write_many returned 0 results for 1 items$"):
        await group.run_many_on_thread(forgets, "a")
    assert await keys(market_db) == []


async def test_a_failed_commit_fails_every_write_and_keeps_nothing(market_db: Database) -> None:
    group = GroupCommit(market_db)
    breaks = ThreadWriter(commit=True)
    good = ThreadWriter()
    results = await asyncio.gather(
        group.run_many_on_thread(good, "a"), group.run_many_on_thread(breaks, "x"), return_exceptions=True
    )
    assert all(isinstance(r, sqlite3.OperationalError) for r in results)
    assert results[0] is results[1]  # one batch, failed as a whole
    assert group.batches == 0
    assert await group.run_many_on_thread(good, "after") == "AFTER"
    assert "after" in await keys(market_db)


async def test_a_failed_lone_commit_fails_its_write(market_db: Database) -> None:
    group = GroupCommit(market_db)
    with pytest.raises(sqlite3.OperationalError):
        await group.run_many_on_thread(ThreadWriter(commit=True), "x")
    assert group.batches == 0
    assert await group.run_many_on_thread(ThreadWriter(), "y") == "Y"


async def test_a_caller_sees_its_result_only_once_committed(market_db: Database) -> None:
    """Each caller, as soon as it has its result, finds its row from ANOTHER connection: committed."""
    group = GroupCommit(market_db)
    write = ThreadWriter()
    other = sqlite3.connect(market_db.path)
    try:

        async def check(key: str) -> bool:
            await group.run_many_on_thread(write, key)
            return other.execute("SELECT 1 FROM shop_state WHERE key = ?", (key,)).fetchone() is not None

        assert await asyncio.gather(*(check(f"k{n}") for n in range(5))) == [True] * 5
        assert await check("lone")
    finally:
        other.close()


async def test_a_batch_with_a_plain_op_keeps_the_round_trips_and_the_order(
    market_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = GroupCommit(market_db)
    write = ThreadWriter(refuse=frozenset({"x"}))
    calls = count_round_trips(market_db, monkeypatch)
    results = await asyncio.gather(
        group.run_many_on_thread(write, "a"),
        group.run_many_on_thread(write, "b"),
        group.run(writer("c")),
        group.run_many_on_thread(write, "x"),
        group.run_many_on_thread(write, "d"),
        return_exceptions=True,
    )
    assert results[:3] == ["A", "B", "c"]
    assert isinstance(results[3], ValueError)
    assert results[4] == "D"
    assert write.calls == [["a", "b"], ["x", "d"], ["x"], ["d"]]
    assert (group.batches, group.group_failures) == (1, 1)
    assert calls[0] == "BEGIN IMMEDIATE"
    assert calls[-1] == "COMMIT"
    assert len(calls) > 2
    assert await keys(market_db) == ["a", "b", "c", "d"]


async def test_a_thread_write_is_cancelled_with_its_batch(market_db: Database) -> None:
    """A batch that also holds a plain op is cancelled inside: the thread write fails with it, nothing kept."""
    group = GroupCommit(market_db)
    started = asyncio.Event()

    async def waits(conn: aiosqlite.Connection) -> None:
        await conn.execute("INSERT INTO shop_state (key, value) VALUES ('never', 'v')")
        started.set()
        await asyncio.Event().wait()

    pending = [
        asyncio.ensure_future(group.run(waits)),
        asyncio.ensure_future(group.run_many_on_thread(ThreadWriter(), "t")),
    ]
    await started.wait()
    assert group._task is not None
    group._task.cancel()
    results = await asyncio.gather(*pending, return_exceptions=True)
    assert [repr(r) for r in results] == ["RuntimeError('write aborted')"] * 2
    assert await keys(market_db) == []


async def test_two_failed_groups_in_one_batch_are_each_retried_and_counted(market_db: Database) -> None:
    """Each failed group is written again one at a time, and the groups after a failed one are still written."""
    group = GroupCommit(market_db)
    first = ThreadWriter(refuse=frozenset({"b"}))
    second = ThreadWriter(refuse=frozenset({"d"}))
    third = ThreadWriter()
    results = await asyncio.gather(
        *(group.run_many_on_thread(first, key) for key in "ab"),
        *(group.run_many_on_thread(second, key) for key in "cd"),
        *(group.run_many_on_thread(third, key) for key in "ef"),
        return_exceptions=True,
    )
    assert [r if isinstance(r, str) else type(r).__name__ for r in results] == [
        "A",
        "ValueError",
        "C",
        "ValueError",
        "E",
        "F",
    ]
    assert first.calls == [["a", "b"], ["a"], ["b"]]
    assert second.calls == [["c", "d"], ["c"], ["d"]]
    assert third.calls == [["e", "f"]]
    assert (group.batches, group.group_failures) == (1, 2)
    assert await keys(market_db) == ["a", "c", "e", "f"]


async def test_writes_queued_during_a_thread_batch_are_written_after_it(market_db: Database) -> None:
    """Writes queued while a batch is on the connection's thread form the next batch, with no other write needed
    to start it."""
    group = GroupCommit(market_db, commit_delay=0)
    entered, gate = threading.Event(), threading.Event()

    def held(conn: sqlite3.Connection, items: Sequence[str]) -> list[str]:
        entered.set()
        gate.wait(5)
        for key in items:
            conn.execute("INSERT INTO shop_state (key, value) VALUES (?, 'v')", (key,))
        return [key.upper() for key in items]

    first = asyncio.ensure_future(group.run_many_on_thread(held, "a"))
    assert await asyncio.to_thread(entered.wait, 5)
    second = asyncio.ensure_future(group.run_many_on_thread(held, "b"))
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(first, second) == ["A", "B"]
    assert group.batches == 2
    assert await keys(market_db) == ["a", "b"]
