"""The background fan-out: restart safety, atomicity of hooks + processed mark, retries and poisoned events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import aiosqlite
import pytest

from bot.notifications.outbox import Outbox
from bot.storage import Database
from bot.storage.batch_writer import BatchWriter, BatchWriterClosed
from bot.storage.migrations import load_migrations
from bot.webhooks.feature import event_notification_hook, quarantine_alert_hook
from bot.webhooks.models import QuarantinedBody, WebhookEvent
from bot.webhooks.processor import EventProcessor
from bot.webhooks.status import collect_status
from bot.webhooks.store import WebhookStore
from tests.webhooks.helpers import open_db

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


class Crash(BaseException):
    """Stands for the process dying in the middle of a transaction."""


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def purchase(uid: int) -> WebhookEvent:
    return WebhookEvent("purchase", uid, "A49", Decimal("0.9"), "E3yugw", NOW)


def transfer(uid: int) -> WebhookEvent:
    return WebhookEvent("transfer", uid, "A49", Decimal("2.5"), None, NOW)


def quarantined(n: int) -> QuarantinedBody:
    return QuarantinedBody(
        body=f'{{"kind": "refund", "n": {n}, "signature": "x"}}',
        body_sha256=f"{n:064x}",
        reason="unknown kind",
        kind="refund",
        remote="127.0.0.1",
        received_at=NOW,
    )


def wired_store(db: Database) -> tuple[WebhookStore, Outbox]:
    outbox = Outbox(db)
    store = WebhookStore(db)
    store.add_batch_event_hook(event_notification_hook(outbox))
    store.add_quarantine_hook(quarantine_alert_hook(outbox))
    return store, outbox


async def outbox_keys(db: Database) -> list[str]:
    return [str(r[0]) for r in await db.fetchall("SELECT dedupe_key FROM notification_outbox ORDER BY id")]


async def unprocessed(db: Database) -> int:
    row = await db.fetchone("SELECT count(*) FROM webhook_events WHERE processed_at IS NULL")
    assert row is not None
    return int(row[0])


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with open_db(tmp_path / "bot.sqlite3") as database:
        yield database


async def test_crash_after_commit_before_fanout_is_fanned_out_once_after_restart(db: Database) -> None:
    # first "process": the events are committed and acknowledged, then it dies before any fan-out ran
    store, _ = wired_store(db)
    await store.start()
    assert await store.add_event(purchase(1), body="{}", remote=None)
    assert await store.add_event(transfer(1), body="{}", remote=None)
    assert await store.quarantine(quarantined(1))
    await store.close()
    assert await outbox_keys(db) == []
    assert await unprocessed(db) == 2

    # second "process": a new store and processor on the same database file
    again, _ = wired_store(db)
    await again.start()
    processor = EventProcessor(db, again.hooks, base_delay=0.001)
    assert (await processor.drain()).processed == 3
    expected = ["webhook:purchase:1", "webhook:transfer:1", f"quarantine:{quarantined(1).body_sha256}"]
    assert await outbox_keys(db) == expected
    assert await unprocessed(db) == 0
    assert (await processor.drain()).processed == 0
    third = EventProcessor(db, again.hooks)  # yet another start: nothing is fanned out twice
    assert (await third.drain()).processed == 0
    assert await outbox_keys(db) == expected
    assert await again.fanout_counts() == (0, 0)
    await again.close()


async def test_crash_in_the_middle_of_the_fanout_rolls_back_everything(db: Database) -> None:
    store, _ = wired_store(db)
    calls: list[int] = []

    async def dies_on_the_second_event(conn: aiosqlite.Connection, event: WebhookEvent) -> None:
        calls.append(event.unique_id)
        if len(calls) == 2:
            raise Crash

    store.add_event_hook(dies_on_the_second_event)
    await store.start()
    for uid in (1, 2, 3):
        assert await store.add_event(purchase(uid), body="{}", remote=None)
    with pytest.raises(Crash):
        await EventProcessor(db, store.hooks).drain()
    # the batch hook had already queued all three rows: rolled back with the processed marks
    assert await outbox_keys(db) == []
    assert await unprocessed(db) == 3
    await store.close()

    restarted, _ = wired_store(db)
    await restarted.start()
    assert (await EventProcessor(db, restarted.hooks).drain()).processed == 3
    assert await outbox_keys(db) == [f"webhook:purchase:{uid}" for uid in (1, 2, 3)]
    await restarted.close()


async def test_failing_hook_is_rolled_back_and_retried_with_backoff(db: Database) -> None:
    store, _ = wired_store(db)
    failures = {2: 3}  # unique_id -> how many more calls fail (the first batch attempt + 2 attempts of its own)

    async def flaky(conn: aiosqlite.Connection, event: WebhookEvent) -> None:
        if failures.get(event.unique_id, 0) > 0:
            failures[event.unique_id] -= 1
            raise RuntimeError("hook bug")

    store.add_event_hook(flaky)
    await store.start()
    for uid in (1, 2, 3):
        assert await store.add_event(purchase(uid), body="{}", remote=None)
    clock = FakeClock()
    processor = EventProcessor(db, store.hooks, base_delay=10.0, max_delay=100.0, clock=clock)

    first = await processor.drain()
    assert (first.processed, first.retrying, first.given_up) == (2, 1, 0)  # the others are not held up
    assert await outbox_keys(db) == ["webhook:purchase:1", "webhook:purchase:3"]
    row = await db.fetchone(
        "SELECT processed_at, fanout_attempts, fanout_error FROM webhook_events WHERE unique_id = 2"
    )
    assert row is not None
    assert (row[0], row[1], row[2]) == (None, 1, "RuntimeError")

    assert (await processor.drain()).processed == 0  # backing off: not retried yet
    clock.now += 10.0
    assert (await processor.drain()).retrying == 1  # second failure; the delay doubles
    clock.now += 10.0
    assert (await processor.drain()).processed == 0
    clock.now += 10.0
    assert (await processor.drain()).processed == 1
    assert await outbox_keys(db) == ["webhook:purchase:1", "webhook:purchase:3", "webhook:purchase:2"]
    assert await unprocessed(db) == 0
    await store.close()


async def test_poisoned_event_is_given_up_reported_and_never_blocks_the_rest(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    store, outbox = wired_store(db)

    async def poisoned(conn: aiosqlite.Connection, event: WebhookEvent) -> None:
        if event.unique_id == 2:
            raise ValueError("cannot render this one")

    store.add_event_hook(poisoned)
    await store.start()
    for uid in (1, 2, 3):
        assert await store.add_event(transfer(uid), body="{}", remote=None)
    clock = FakeClock()
    processor = EventProcessor(db, store.hooks, alerts=outbox, max_attempts=3, base_delay=1.0, clock=clock)
    caplog.set_level(logging.WARNING, logger="bot.webhooks.processor")

    given_up = 0
    for _ in range(10):
        given_up += (await processor.drain()).given_up
        assert await store.add_event(transfer(4 + _), body="{}", remote=None)  # later events keep flowing
        clock.now += 100.0
    assert given_up == 1
    await processor.drain()

    row = await db.fetchone(
        "SELECT id, processed_at, fanout_attempts, fanout_failed_at FROM webhook_events WHERE unique_id = 2"
    )
    assert row is not None
    assert row["processed_at"] is None
    assert row["fanout_attempts"] == 3
    assert row["fanout_failed_at"] is not None
    keys = await outbox_keys(db)
    assert f"webhook:fanout-failed:webhook_events:{row['id']}" in keys
    assert "webhook:transfer:2" not in keys
    assert {f"webhook:transfer:{uid}" for uid in (1, 3, *range(4, 14))} <= set(keys)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "given up" in r.getMessage()]
    assert len(errors) == 1
    assert "unique_id=2" in errors[0].getMessage()
    assert await store.fanout_counts() == (0, 1)
    status = await collect_status(store, outbox, webhook_url=None)
    assert (status.fanout_waiting, status.fanout_failed) == (0, 1)
    await store.close()


async def test_run_waits_for_start_then_follows_commits(db: Database) -> None:
    store, _ = wired_store(db)
    processor = EventProcessor(db, store.hooks, min_interval=0.0)
    woken: list[int] = []
    processor.add_listener(lambda: woken.append(1))
    store.add_commit_listener(processor.wake)
    await store.start()
    task = asyncio.create_task(processor.run())
    assert await store.add_event(purchase(1), body="{}", remote=None)
    for _ in range(20):
        await asyncio.sleep(0)
    assert await unprocessed(db) == 1  # not before start(): hooks may still be registering

    processor.start()
    for uid in (2, 3):
        assert await store.add_event(purchase(uid), body="{}", remote=None)
    for _ in range(250):
        if await unprocessed(db) == 0:
            break
        await asyncio.sleep(0.01)
    assert await unprocessed(db) == 0
    assert woken
    await store.close()
    await processor.close()
    await asyncio.wait_for(task, timeout=5)


async def test_upgrade_marks_existing_rows_as_already_fanned_out(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = await Database.open(path, migrations=load_migrations()[:5])
    await old.execute(
        "INSERT INTO webhook_events (kind, unique_id, username, amount, item_id, received_at, body) "
        "VALUES ('purchase', 7, 'A49', '0.9', 'E3yugw', '2025-01-01T00:00:00.000000Z', '{}')"
    )
    await old.execute(
        "INSERT INTO notification_outbox (dedupe_key, target, embeds) VALUES ('webhook:purchase:7', "
        "'channel:purchase', '[]')"
    )
    await old.close()
    async with open_db(path) as db:
        assert await unprocessed(db) == 0
        store, _ = wired_store(db)
        assert (await EventProcessor(db, store.hooks).drain()).processed == 0
        assert await outbox_keys(db) == ["webhook:purchase:7"]


async def test_batch_writer_one_transaction_per_call(db: Database) -> None:
    writer = await BatchWriter.open(db.path)

    def insert(conn: object, value: int, fail: bool) -> int:
        import sqlite3

        assert isinstance(conn, sqlite3.Connection)
        assert conn.in_transaction
        conn.execute("INSERT INTO webhook_rejections (hour, count) VALUES (?, 1)", (f"h{value}",))
        if fail:
            raise RuntimeError("boom")
        return value * 2

    assert await writer.run(lambda conn: insert(conn, 1, False)) == 2
    with pytest.raises(RuntimeError):
        await writer.run(lambda conn: insert(conn, 2, True))
    rows = await db.fetchall("SELECT hour FROM webhook_rejections ORDER BY hour")
    assert [str(r[0]) for r in rows] == ["h1"]  # committed; the failed call rolled back
    await writer.close()
    with pytest.raises(BatchWriterClosed):
        await writer.run(lambda conn: insert(conn, 3, False))


async def test_fanout_yields_to_ingest_but_never_lags_more_than_max_lag(db: Database) -> None:
    """While ingest commits keep coming, the fan-out waits (ingest gets the write lock first); past
    ``max_lag`` it processes ONE batch and yields again; once ingest is quiet it drains everything."""
    store, _ = wired_store(db)
    await store.start()
    for uid in range(1, 12):
        assert await store.add_event(purchase(uid), body="{}", remote=None)
    busy = {"on": True}
    loop = asyncio.get_running_loop()

    def last_ingest() -> float:
        return loop.time() if busy["on"] else 0.0  # "a batch was committed just now" while busy

    processor = EventProcessor(db, store.hooks, batch_size=2, last_ingest=last_ingest, ingest_quiet=0.01, max_lag=0.2)
    processor.start()
    runner = asyncio.create_task(processor.run())
    await asyncio.sleep(0.1)
    assert await unprocessed(db) == 11, "no fan-out while ingest is active and max_lag has not passed"
    await asyncio.sleep(0.2)
    remaining = await unprocessed(db)
    assert 0 < remaining < 11, "past max_lag one batch at a time goes through, not everything"
    busy["on"] = False
    for _ in range(300):
        if await unprocessed(db) == 0:
            break
        await asyncio.sleep(0.01)
    assert await unprocessed(db) == 0
    await processor.close()
    await runner
    await store.close()
