"""The writer thread: group commit, a bad job isolated, calls alone, gathering under load, closing."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from bot.storage import Database
from bot.storage.batch_writer import BatchWriter, BatchWriterClosed


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "bot.sqlite3")
    yield database
    await database.close()


class Recorder:
    """A batch handler that inserts one rejection row per job (``fail`` jobs raise) and records its calls."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.events: list[str] = []

    def write(self, conn: sqlite3.Connection, jobs: Sequence[str]) -> list[int]:
        assert conn.in_transaction
        self.batches.append(list(jobs))
        for job in jobs:
            if job == "fail":
                raise RuntimeError("bad job")
            conn.execute("INSERT INTO webhook_rejections (hour, count) VALUES (?, 1)", (job,))
        return [len(job) for job in jobs]

    def committed(self) -> None:
        self.events.append("committed")

    def rolled_back(self) -> None:
        self.events.append("rolled back")


async def test_batch_writer_groups_jobs_isolates_a_bad_one_and_runs_calls_alone(db: Database) -> None:
    handler = Recorder()
    writer: BatchWriter[str, int] = BatchWriter(db.path, handler, max_batch=3)
    await writer.start()
    gate = threading.Event()
    held = asyncio.ensure_future(writer.run(lambda conn: gate.wait(5)))  # the thread is busy meanwhile
    jobs = [asyncio.ensure_future(writer.submit(job)) for job in ("a", "bb", "fail", "dddd", "eeeee")]
    await asyncio.sleep(0.05)
    gate.set()
    assert await held
    results = await asyncio.gather(*jobs, return_exceptions=True)
    assert results[:2] == [1, 2]
    assert isinstance(results[2], RuntimeError)  # only the bad job fails...
    assert results[3:] == [4, 5]  # ...its neighbours are committed
    assert handler.batches[:2] == [["a", "bb", "fail"], ["a"]], "waiting jobs share one transaction (max 3)"
    assert "rolled back" in handler.events
    rows = await db.fetchall("SELECT hour FROM webhook_rejections ORDER BY hour")
    assert [str(r[0]) for r in rows] == ["a", "bb", "dddd", "eeeee"]

    def count(conn: sqlite3.Connection) -> int:
        assert conn.in_transaction
        return int(conn.execute("SELECT count(*) FROM webhook_rejections").fetchone()[0])

    assert await writer.run(count) == 4

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO webhook_rejections (hour, count) VALUES ('x', 1)")
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await writer.run(broken)
    assert await writer.run(count) == 4  # the failed call rolled back
    await writer.close()
    with pytest.raises(BatchWriterClosed):
        await writer.submit("late")
    with pytest.raises(BatchWriterClosed):
        await writer.run(count)


async def test_under_load_the_writer_gathers_late_jobs_into_the_batch(db: Database) -> None:
    handler = Recorder()
    writer: BatchWriter[str, int] = BatchWriter(db.path, handler, gather=5.0, gather_min=3)
    await writer.start()
    gate = threading.Event()
    held = asyncio.ensure_future(writer.run(lambda conn: gate.wait(5)))
    busy = [asyncio.ensure_future(writer.submit(job)) for job in ("a", "b", "c")]  # a batch of 3: "load"
    await asyncio.sleep(0.05)
    gate.set()
    await held
    await asyncio.gather(*busy)
    first = asyncio.ensure_future(writer.submit("d"))
    await asyncio.sleep(0.1)  # well within the 5 s gather window
    second = asyncio.ensure_future(writer.submit("e"))
    await asyncio.sleep(0.01)  # let it be queued
    await writer.close()  # the stop ends the gathering at once; both are written first
    assert await asyncio.gather(first, second) == [1, 1]
    assert handler.batches == [["a", "b", "c"], ["d", "e"]]


async def test_after_a_quiet_spell_a_lone_job_is_not_held_back(db: Database) -> None:
    handler = Recorder()
    writer: BatchWriter[str, int] = BatchWriter(db.path, handler, gather=30.0, gather_min=3)
    await writer.start()
    assert await asyncio.wait_for(writer.submit("a"), timeout=10) == 1  # previous batch empty: no gathering
    assert await asyncio.wait_for(writer.submit("b"), timeout=10) == 1  # previous batch of 1: still none
    await writer.close()


class Crash(BaseException):
    """Stands for something that must stop the writer (not an error of one job)."""


async def test_a_crash_in_a_call_answers_every_waiter_and_stops_the_writer(db: Database) -> None:
    writer: BatchWriter[str, int] = BatchWriter(db.path, Recorder())
    await writer.start()

    def crash(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO webhook_rejections (hour, count) VALUES ('x', 1)")
        raise Crash

    gate = threading.Event()
    held = asyncio.ensure_future(writer.run(lambda conn: gate.wait(5)))
    crashing = asyncio.ensure_future(writer.run(crash))
    queued = asyncio.ensure_future(writer.submit("a"))  # behind the crash: never written
    await asyncio.sleep(0.05)
    gate.set()
    assert await held
    with pytest.raises(BatchWriterClosed, match="Crash"):
        await crashing
    with pytest.raises(BatchWriterClosed):
        await queued
    assert not writer.running
    assert (await db.fetchone("SELECT count(*) FROM webhook_rejections"))[0] == 0  # type: ignore[index]
    await writer.close()
