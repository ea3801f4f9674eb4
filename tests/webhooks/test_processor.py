"""The fan-out: committed with the event, a crash commits neither, failures deferred, retried, given up."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bot.notifications.outbox import Outbox
from bot.storage import Database
from bot.storage.migrations import load_migrations
from bot.webhooks.feature import announce_events, quarantine_alert_hook
from bot.webhooks.models import QuarantinedBody, WebhookEvent
from bot.webhooks.processor import EventProcessor, ProcessResult
from bot.webhooks.status import collect_status
from bot.webhooks.store import EventsHook, StoreUnavailable, WebhookStore
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
    announce_events(store)
    store.add_quarantine_hook(quarantine_alert_hook(outbox))
    return store, outbox


async def started_with(db: Database, hook: EventsHook) -> tuple[WebhookStore, list[int]]:
    """A store wired as the feature wires it, with ``hook`` registered after the announcement, started; and the
    list its deferred listener appends to (once per new event whose fan-out was deferred)."""
    store, _ = wired_store(db)
    store.add_events_hook(hook)
    deferred: list[int] = []
    store.add_deferred_listener(lambda: deferred.append(1))
    await store.start()
    return store, deferred


async def outbox_keys(db: Database) -> list[str]:
    return [str(r[0]) for r in await db.fetchall("SELECT dedupe_key FROM notification_outbox ORDER BY id")]


async def unprocessed(db: Database) -> int:
    row = await db.fetchone("SELECT count(*) FROM webhook_events WHERE processed_at IS NULL")
    assert row is not None
    return int(row[0])


def always_fails_for(unique_id: int) -> Callable[[sqlite3.Connection, Sequence[WebhookEvent]], None]:
    """An events hook that raises whenever its batch holds ``unique_id``."""

    def hook(conn: sqlite3.Connection, events: Sequence[WebhookEvent]) -> None:
        if any(event.unique_id == unique_id for event in events):
            raise ValueError("cannot render this one")

    return hook


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with open_db(tmp_path / "bot.sqlite3") as database:
        yield database


async def test_fanout_commits_with_the_event(db: Database) -> None:
    store, _ = wired_store(db)
    await store.start()
    assert await store.add_event(purchase(1), body="{}", remote=None)
    assert await store.add_event(transfer(1), body="{}", remote=None)
    assert await store.quarantine(quarantined(1))
    # no processor involved: the outbox rows were committed with the events
    assert await outbox_keys(db) == [
        "webhook:purchase:1",
        "webhook:transfer:1",
        f"quarantine:{quarantined(1).body_sha256}",
    ]
    assert await unprocessed(db) == 0
    assert not await store.add_event(purchase(1), body="{}", remote=None)  # a duplicate adds nothing
    assert not await store.quarantine(quarantined(1))
    assert len(await outbox_keys(db)) == 3
    assert await EventProcessor(store).drain() == ProcessResult()
    await store.close()


async def test_crash_inside_the_ingest_transaction_stores_nothing_and_the_redelivery_is_fanned_out_once(
    db: Database,
) -> None:
    """The writer dying while the hooks run (a BaseException, as when the process is killed) commits nothing:
    the event is not acknowledged (503), so Neverlose delivers it again, and then it is stored and announced
    once. The dead writer shows in ``running`` (the health probe)."""
    store, _ = wired_store(db)

    def dies(conn: sqlite3.Connection, events: Sequence[WebhookEvent]) -> None:
        raise Crash

    store.add_events_hook(dies)
    await store.start()
    with pytest.raises(StoreUnavailable):
        await store.add_event(purchase(1), body="{}", remote=None)
    for _ in range(100):
        if not store.running:
            break
        await asyncio.sleep(0.01)
    assert not store.running
    with pytest.raises(StoreUnavailable):
        await store.add_event(purchase(2), body="{}", remote=None)
    await store.close()
    assert await outbox_keys(db) == []
    assert (await db.fetchone("SELECT count(*) FROM webhook_events"))[0] == 0  # type: ignore[index]

    restarted, _ = wired_store(db)  # the next process, on the same file
    await restarted.start()
    assert await restarted.add_event(purchase(1), body="{}", remote=None)
    assert not await restarted.add_event(purchase(1), body="{}", remote=None)
    assert await outbox_keys(db) == ["webhook:purchase:1"]
    await restarted.close()


async def test_failing_hook_never_costs_the_event_and_is_retried_with_backoff(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    failures = {2: 3}  # unique_id -> how many more calls fail (at ingest, then 2 retries)

    def flaky(conn: sqlite3.Connection, events: Sequence[WebhookEvent]) -> None:
        for event in events:
            if failures.get(event.unique_id, 0) > 0:
                failures[event.unique_id] -= 1
                raise RuntimeError("hook bug")

    store, deferred = await started_with(db, flaky)
    caplog.set_level(logging.WARNING)
    for uid in (1, 2, 3):
        assert await store.add_event(purchase(uid), body="{}", remote=None)  # stored and acknowledged all the same
    assert deferred == [1]
    assert await outbox_keys(db) == ["webhook:purchase:1", "webhook:purchase:3"]  # rolled back for 2 only
    assert await unprocessed(db) == 1
    assert any("fan-out deferred" in r.getMessage() for r in caplog.records)

    clock = FakeClock()
    processor = EventProcessor(store, base_delay=10.0, max_delay=100.0, clock=clock)
    first = await processor.drain()
    assert (first.processed, first.retrying, first.given_up) == (0, 1, 0)
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


async def test_a_failing_row_does_not_hold_up_the_rows_retried_with_it(db: Database) -> None:
    """Rows left unprocessed (here: committed before this version fanned out at ingest) are retried in one
    batch; when that fails, each alone, so the good ones go through in the same pass."""
    for uid in (1, 2, 3):
        await db.execute(
            "INSERT INTO webhook_events (kind, unique_id, username, amount, item_id, received_at, body) "
            "VALUES ('purchase', ?, 'A49', '0.9', 'E3yugw', '2025-01-01T12:00:00.000000Z', '{}')",
            (uid,),
        )
    store, _ = wired_store(db)

    store.add_events_hook(always_fails_for(2))
    await store.start()
    result = await EventProcessor(store, clock=FakeClock()).drain()
    assert (result.processed, result.retrying) == (2, 1)
    assert await outbox_keys(db) == ["webhook:purchase:1", "webhook:purchase:3"]
    await store.close()


async def test_poisoned_event_is_given_up_reported_and_never_blocks_the_rest(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    store, outbox = wired_store(db)

    store.add_events_hook(always_fails_for(2))
    await store.start()
    for uid in (1, 2, 3):
        assert await store.add_event(transfer(uid), body="{}", remote=None)
    clock = FakeClock()
    processor = EventProcessor(store, alerts=outbox, max_attempts=3, base_delay=1.0, clock=clock)
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


async def test_run_waits_for_start_then_retries_what_the_store_deferred(db: Database) -> None:
    store, _ = wired_store(db)
    broken = {"on": True}

    def fails_while_broken(conn: sqlite3.Connection, events: Sequence[WebhookEvent]) -> None:
        if broken["on"]:
            raise RuntimeError("e.g. a role table being migrated")

    store.add_events_hook(fails_while_broken)
    processor = EventProcessor(store, base_delay=0.01, max_delay=0.02)
    woken: list[int] = []
    processor.add_listener(lambda: woken.append(1))
    store.add_deferred_listener(processor.wake)
    await store.start()
    task = asyncio.create_task(processor.run())
    assert await store.add_event(purchase(1), body="{}", remote=None)
    for _ in range(20):
        await asyncio.sleep(0)
    assert await unprocessed(db) == 1  # not before start(): hooks may still be registering

    broken["on"] = False
    processor.start()
    for _ in range(250):
        if await unprocessed(db) == 0:
            break
        await asyncio.sleep(0.01)
    assert await unprocessed(db) == 0
    assert await outbox_keys(db) == ["webhook:purchase:1"]
    assert woken
    await processor.close()
    await asyncio.wait_for(task, timeout=5)
    await store.close()


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
        await store.start()
        assert (await EventProcessor(store).drain()).processed == 0
        assert await outbox_keys(db) == ["webhook:purchase:7"]
        await store.close()
