"""The writer thread: group commit, a bad job isolated, calls alone, batches forming by themselves, closing."""

from __future__ import annotations

import asyncio
import json
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

    def write_alone(self, conn: sqlite3.Connection, jobs: Sequence[str]) -> list[int] | None:
        return None

    def committed(self) -> None:
        self.events.append("committed")

    def rolled_back(self) -> None:
        self.events.append("rolled back")


async def test_batch_writer_groups_jobs_isolates_a_bad_one_and_runs_calls_alone(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
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
    retried = [r.getMessage() for r in caplog.records if "one by one" in r.getMessage()]
    assert retried == ["batch failed, retrying one by one jobs=3 error=RuntimeError"]
    [failed] = [r for r in caplog.records if r.getMessage().startswith("batch writer write failed")]
    assert failed.getMessage() == "batch writer write failed error=RuntimeError"
    assert failed.exc_info is not None  # not a fault of the database: its traceback, always
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


class SlowRecorder(Recorder):
    """A recorder whose first batch waits for a gate (a slow commit), so that jobs pile up meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.writing = threading.Event()

    def write(self, conn: sqlite3.Connection, jobs: Sequence[str]) -> list[int]:
        if not self.batches:
            self.writing.set()
            self.gate.wait(5)
        return super().write(conn, jobs)


async def test_jobs_arriving_during_a_commit_are_the_next_batch_and_a_lone_job_is_not_held_back(
    db: Database,
) -> None:
    handler = SlowRecorder()
    writer: BatchWriter[str, int] = BatchWriter(db.path, handler)
    await writer.start()
    first = asyncio.ensure_future(writer.submit("a"))
    assert await asyncio.to_thread(handler.writing.wait, 5)  # "a" is being written, alone
    meanwhile = [asyncio.ensure_future(writer.submit(job)) for job in ("b", "c", "d")]
    await asyncio.sleep(0.05)  # queued behind the slow transaction
    handler.gate.set()
    assert await first == 1
    assert await asyncio.gather(*meanwhile) == [1, 1, 1]
    assert await asyncio.wait_for(writer.submit("e"), timeout=10) == 1  # nothing waits for company
    assert handler.batches == [["a"], ["b", "c", "d"], ["e"]]
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
    with pytest.raises(BatchWriterClosed):  # refused at once: nobody would ever answer it
        writer.submit_nowait("b")
    with pytest.raises(BatchWriterClosed):
        await asyncio.wait_for(writer.submit("b"), 5)
    assert (await db.fetchone("SELECT count(*) FROM webhook_rejections"))[0] == 0  # type: ignore[index]
    await writer.close()
    with pytest.raises(BatchWriterClosed):
        await writer.submit("c")


class AloneRecorder(Recorder):
    """Writes a batch of ``alone…`` jobs as one statement outside a transaction (``alone-fail`` raises there)."""

    def __init__(self) -> None:
        super().__init__()
        self.alone: list[list[str]] = []

    def write_alone(self, conn: sqlite3.Connection, jobs: Sequence[str]) -> list[int] | None:
        if not all(job.startswith("alone") for job in jobs):
            return None
        assert not conn.in_transaction
        self.alone.append(list(jobs))
        if "alone-fail" in jobs:
            raise RuntimeError("refused")
        conn.execute(
            "INSERT INTO webhook_rejections (hour, count) SELECT value, 1 FROM json_each(?)", (json.dumps(jobs),)
        )
        return [len(job) for job in jobs]


async def test_a_batch_the_handler_writes_alone_skips_the_transaction_and_a_failure_is_retried_job_by_job(
    db: Database,
) -> None:
    handler = AloneRecorder()
    writer: BatchWriter[str, int] = BatchWriter(db.path, handler)
    await writer.start()
    assert await writer.submit("alone1") == 6
    assert handler.alone == [["alone1"]]
    assert handler.batches == []
    assert handler.events == ["committed"]
    assert await writer.submit("other") == 5  # the handler declined: written in a transaction
    assert handler.batches == [["other"]]
    gate = threading.Event()
    held = asyncio.ensure_future(writer.run(lambda conn: gate.wait(5)))
    jobs = [asyncio.ensure_future(writer.submit(job)) for job in ("alone2", "alone-fail")]
    await asyncio.sleep(0.05)
    gate.set()
    assert await held
    outcomes = await asyncio.gather(*jobs, return_exceptions=True)
    assert outcomes[0] == 6
    assert isinstance(outcomes[1], RuntimeError)
    assert handler.alone[1:] == [["alone2", "alone-fail"], ["alone2"], ["alone-fail"]]
    assert handler.events == ["committed", "committed", "rolled back", "committed", "rolled back"]
    rows = await db.fetchall("SELECT hour FROM webhook_rejections ORDER BY hour")
    assert [str(r[0]) for r in rows] == ["alone1", "alone2", "other"]
    await writer.close()


async def test_a_full_database_fails_each_job_says_so_once_with_its_traceback_and_recovers(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """A real SQLite fault: the writer's connection may not grow the file (``max_page_count``), as on a full
    disk. Each job fails alone (its caller answers 503), the fault is reported for /healthz, the log has the first
    failure's traceback and one line for each later one; the first write that succeeds again ends it."""
    handler = Recorder()
    writer: BatchWriter[str, int] = BatchWriter(db.path, handler)
    await writer.start()
    big = "x" * 5000  # a row that needs pages of its own

    def cap(conn: sqlite3.Connection) -> None:
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        conn.execute(f"PRAGMA max_page_count = {pages}")

    await writer.run(cap)
    assert writer.health.problem is None

    def write_big(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO webhook_rejections (hour, count) VALUES (?, 1)", ("call" + big,))

    with pytest.raises(sqlite3.OperationalError, match="full"):
        await writer.run(write_big)  # a call: its caller logs its error, the writer notes the fault
    assert writer.health.problem == "OperationalError: database or disk is full"
    assert writer.health.failures == 1
    assert not [r for r in caplog.records if r.getMessage().startswith("batch writer write failed")]
    writer.health.succeeded()  # (the run of faults below starts again from the jobs)
    for n in range(3):
        with pytest.raises(sqlite3.OperationalError, match="full"):
            await writer.submit(f"{n}{big}")
    assert writer.health.problem == "OperationalError: database or disk is full"
    failures = [r for r in caplog.records if r.getMessage().startswith("batch writer write failed")]
    assert len(failures) == 3
    assert failures[0].getMessage() == "batch writer write failed error=OperationalError"
    assert failures[0].exc_info is not None  # the first with its traceback
    assert [r.exc_info for r in failures[1:]] == [None, None]
    assert [r.getMessage() for r in failures[1:]] == [
        "batch writer write failed error=OperationalError fault='database or disk is full' failures=2",
        "batch writer write failed error=OperationalError fault='database or disk is full' failures=3",
    ]
    assert not [r for r in caplog.records if "writes again" in r.getMessage()]

    await writer.run(lambda conn: conn.execute("PRAGMA max_page_count = 1000000"))  # the operator made room
    assert writer.health.problem is None  # a write succeeded
    assert [r.getMessage() for r in caplog.records if "writes again" in r.getMessage()] == [
        "batch writer writes again after failures=3"
    ]
    assert await writer.submit(f"3{big}") == 5001
    rows = await db.fetchall("SELECT substr(hour, 1, 1) FROM webhook_rejections")
    assert [str(r[0]) for r in rows] == ["3"]  # nothing of the failed jobs
    await writer.close()


async def test_a_refused_job_is_not_a_fault_of_the_database(db: Database) -> None:
    handler = Recorder()
    writer: BatchWriter[str, int] = BatchWriter(db.path, handler)
    await writer.start()
    await writer.run(lambda conn: conn.execute("CREATE UNIQUE INDEX one_hour ON webhook_rejections (hour)"))
    assert await writer.submit("a") == 1
    with pytest.raises(sqlite3.IntegrityError):
        await writer.submit("a")
    with pytest.raises(RuntimeError):
        await writer.submit("fail")
    assert writer.health.problem is None
    assert writer.health.failures == 0
    await writer.close()
