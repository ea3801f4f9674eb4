"""Group commit edges found by mutation testing: the default batch bound, writes that arrive while a batch fails,
and a batch aborted by cancellation."""

from __future__ import annotations

import asyncio
import gc

import aiosqlite
import pytest

from bot.orders.group_commit import COMMIT_DELAY, MAX_BATCH, GroupCommit
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


async def test_writes_queued_during_a_transaction_wait_for_the_next_ones(market_db: Database) -> None:
    """A batch that formed while a transaction was being written waits ``commit_delay`` before it is taken: a write
    queued meanwhile joins it (one transaction for both instead of two)."""
    group = GroupCommit(market_db, commit_delay=2.0)
    during: list[asyncio.Future[str]] = []

    async def first(conn: aiosqlite.Connection) -> str:
        during.append(asyncio.ensure_future(group.run(writer("during"))))
        await conn.execute("INSERT INTO shop_state (key, value) VALUES ('first', 'v')")
        return "first"

    assert await group.run(first) == "first"
    await asyncio.sleep(0.05)  # the drain waits (2 s) before taking "during"
    after = asyncio.ensure_future(group.run(writer("after")))
    assert await asyncio.gather(during[0], after) == ["during", "after"]
    assert group.batches == 2  # [first], then [during, after]
    assert await keys(market_db) == ["after", "during", "first"]


async def test_without_the_delay_they_are_written_apart(market_db: Database) -> None:
    """The same with ``commit_delay=0``: the write queued during the first transaction is taken at once."""
    group = GroupCommit(market_db, commit_delay=0)
    during: list[asyncio.Future[str]] = []

    async def first(conn: aiosqlite.Connection) -> str:
        during.append(asyncio.ensure_future(group.run(writer("during"))))
        return "first"

    assert await group.run(first) == "first"
    await asyncio.sleep(0.05)
    assert during[0].done()
    assert await group.run(writer("after")) == "after"
    assert group.batches == 3


async def test_a_lone_write_is_never_delayed(market_db: Database) -> None:
    """Writes one at a time (each awaited before the next) never wait: with a delay of a minute this test would
    exceed its wall-clock bound."""
    group = GroupCommit(market_db, commit_delay=60.0)
    for key in ("a", "b", "c"):
        assert await group.run(writer(key)) == key
    assert await group.run_many_on_thread(lambda conn, items: [str(i).upper() for i in items], "d") == "D"
    assert group.batches == 4


async def test_a_drain_cancelled_while_it_waits_fails_the_queued_writes(market_db: Database) -> None:
    group = GroupCommit(market_db, commit_delay=60.0)
    during: list[asyncio.Future[str]] = []

    async def first(conn: aiosqlite.Connection) -> str:
        during.append(asyncio.ensure_future(group.run(writer("during"))))
        during.append(asyncio.ensure_future(group.run(writer("also"))))
        return "first"

    assert await group.run(first) == "first"
    await asyncio.sleep(0.05)  # the drain now waits before taking them
    assert group._task is not None
    group._task.cancel()
    results = await asyncio.gather(*during, return_exceptions=True)
    assert [repr(r) for r in results] == ["RuntimeError('write aborted')"] * 2
    assert group._task.cancelled()  # the cancellation itself is not swallowed
    assert group._queue == []
    assert await keys(market_db) == []
    group._commit_delay = 0
    assert await group.run(writer("after")) == "after"


async def test_the_default_delay_is_two_milliseconds(market_db: Database) -> None:
    assert COMMIT_DELAY == 0.002
    assert GroupCommit(market_db)._commit_delay == COMMIT_DELAY


async def test_a_caller_cancelled_while_waiting_keeps_its_write_and_the_others_outcomes(
    market_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Callers cancelled while their writes wait for a batch: the writes are still written (or refused) with
    their batch, the other callers of that batch get their own outcomes, and a refused write whose caller is
    gone leaves no "exception was never retrieved" behind."""
    group = GroupCommit(market_db)
    release = asyncio.Event()

    async def holds_the_first_batch(conn: aiosqlite.Connection) -> str:
        await release.wait()
        await conn.execute("INSERT INTO shop_state (key, value) VALUES ('first', 'v')")
        return "first"

    first = asyncio.ensure_future(group.run(holds_the_first_batch))
    await asyncio.sleep(0)  # the drain takes it: the next writes queue behind it
    gone = asyncio.ensure_future(group.run(writer("gone")))
    gone_refused = asyncio.ensure_future(group.run(writer("gone-refused", fail=True)))
    refused = asyncio.ensure_future(group.run(writer("refused", fail=True)))
    stays = asyncio.ensure_future(group.run(writer("stays")))
    await asyncio.sleep(0)
    gone.cancel()
    gone_refused.cancel()
    release.set()
    assert await first == "first"
    assert await stays == "stays"
    with pytest.raises(ValueError, match=r"^refused refused$"):
        await refused
    for cancelled in (gone, gone_refused):
        with pytest.raises(asyncio.CancelledError):
            await cancelled
    assert group.batches == 2
    assert await keys(market_db) == ["first", "gone", "stays"]
    del gone_refused
    gc.collect()
    await asyncio.sleep(0)
    assert "never retrieved" not in caplog.text
