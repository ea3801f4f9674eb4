"""Group commit edges found by mutation testing: the default batch bound, writes that arrive while a batch fails,
and a batch aborted by cancellation."""

from __future__ import annotations

import asyncio

import aiosqlite
import pytest

from bot.orders.group_commit import MAX_BATCH, GroupCommit
from bot.storage import Database
from tests.orders.test_group_commit import keys, writer

# A broken group commit leaves a caller waiting for ever: fail instead (tests/plugins/wall_clock.py).
pytestmark = pytest.mark.wall_clock(10)


async def test_the_default_batch_is_200_writes(market_db: Database) -> None:
    assert MAX_BATCH == 200
    group = GroupCommit(market_db)
    await asyncio.gather(*(group.run(writer(f"k{n:03}")) for n in range(MAX_BATCH + 1)))
    assert group.batches == 2
    assert len(await keys(market_db)) == MAX_BATCH + 1


async def test_writes_queued_during_a_failed_batch_still_run(market_db: Database) -> None:
    group = GroupCommit(market_db)
    late: list[asyncio.Future[str]] = []

    async def breaks_the_transaction(conn: aiosqlite.Connection) -> None:
        late.append(asyncio.ensure_future(group.run(writer("late"))))
        await conn.execute("INSERT INTO shop_state (key, value) VALUES ('x', 'v')")
        await conn.execute("COMMIT")  # the batch's RELEASE/COMMIT fail

    with pytest.raises(aiosqlite.OperationalError):
        await group.run(breaks_the_transaction)
    # the drain goes on with what arrived meanwhile (a hang here means it stopped with "late" queued)
    assert await asyncio.wait_for(late[0], timeout=10) == "late"
    assert "late" in await keys(market_db)


async def test_a_cancelled_batch_fails_its_writes_with_write_aborted(market_db: Database) -> None:
    group = GroupCommit(market_db)
    started = asyncio.Event()

    async def waits(conn: aiosqlite.Connection) -> None:
        await conn.execute("INSERT INTO shop_state (key, value) VALUES ('never', 'v')")
        started.set()
        await asyncio.Event().wait()

    pending = asyncio.ensure_future(group.run(waits))
    await started.wait()
    assert group._task is not None
    group._task.cancel()
    with pytest.raises(RuntimeError) as info:
        await pending
    assert str(info.value) == "write aborted"
    assert group._task.cancelled()  # the cancellation itself is not swallowed
    assert group.batches == 0
    assert await keys(market_db) == []  # rolled back
    assert await group.run(writer("after")) == "after"


async def test_writes_queued_during_a_failed_batch_of_two_still_run(market_db: Database) -> None:
    """The same when the failed batch holds two writes (its transaction, not a lone write's, fails): the drain
    goes on with what arrived meanwhile instead of stopping with it queued."""
    group = GroupCommit(market_db)
    late: list[asyncio.Future[str]] = []

    async def breaks_the_transaction(conn: aiosqlite.Connection) -> None:
        late.append(asyncio.ensure_future(group.run(writer("late"))))
        await conn.execute("COMMIT")  # the batch's RELEASE/COMMIT fail

    results = await asyncio.gather(group.run(writer("a")), group.run(breaks_the_transaction), return_exceptions=True)
    assert all(isinstance(r, aiosqlite.OperationalError) for r in results)
    assert results[0] is results[1]  # one batch of two, failed as a whole
    assert await asyncio.wait_for(late[0], timeout=10) == "late"
    assert "late" in await keys(market_db)
    assert group.batches == 1  # the late write's
