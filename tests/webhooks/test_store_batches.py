"""The ingest transaction with many events at once: multi-row statements, duplicates, gaps, constraint errors.

Each test holds the store's writer thread (a call that waits on a gate) while it queues events, so they are
written as ONE batch, deterministically.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.notifications.outbox import queue_event_announcements
from bot.storage import Database
from bot.storage.timestamps import format_timestamp, parse_timestamp
from bot.webhooks.models import WebhookEvent
from bot.webhooks.store import StoreUnavailable, WebhookStore
from tests.webhooks.test_processor import outbox_keys, started_with, unprocessed, wired_store

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
ZONES = [UTC, timezone(timedelta(hours=3)), timezone(timedelta(hours=-9, minutes=-30)), timezone(timedelta(0))]


def purchase(uid: int) -> WebhookEvent:
    return WebhookEvent("purchase", uid, f"buyer{uid}", Decimal("0.9"), "E3yugw", NOW)


def transfer(uid: int) -> WebhookEvent:
    return WebhookEvent("transfer", uid, f"sender{uid}", Decimal("12.5"), None, NOW)


@pytest.fixture
async def store(db: Database) -> AsyncIterator[WebhookStore]:
    store, _ = wired_store(db)
    await store.start()
    yield store
    await store.close()


async def one_batch(store: WebhookStore, events: list[WebhookEvent]) -> list[bool | BaseException]:
    """Submit ``events`` while the writer is held, so that they are committed together; each one's outcome."""
    gate = threading.Event()
    held = asyncio.ensure_future(store.transaction(lambda conn: gate.wait(10)))
    await asyncio.sleep(0.05)  # the writer thread is now inside the held call
    pending: list[Awaitable[bool]] = [store.add_event(e, body="{}", remote="127.0.0.1") for e in events]
    submitted = [asyncio.ensure_future(p) for p in pending]
    await asyncio.sleep(0.05)  # every job is queued behind the held call
    gate.set()
    await held
    return list(await asyncio.gather(*submitted, return_exceptions=True))


async def stored_keys(db: Database) -> list[tuple[str, int]]:
    rows = await db.fetchall("SELECT kind, unique_id FROM webhook_events ORDER BY kind, unique_id")
    return [(str(r[0]), int(r[1])) for r in rows]


async def test_a_batch_larger_than_one_statement_is_stored_and_announced_whole(
    db: Database, store: WebhookStore
) -> None:
    assert await store.add_event(purchase(1), body="{}", remote=None)  # stored before: a redelivery below
    events = [purchase(uid) for uid in range(1, 301)] + [transfer(uid) for uid in range(1, 301)]
    events += [purchase(150), transfer(299)]  # copies inside the batch itself
    outcomes = await one_batch(store, events)  # 602 jobs: two batches of up to 512, statements of 256 rows
    assert outcomes[0] is False  # purchase 1 was stored already
    assert outcomes[1:600] == [True] * 599
    assert outcomes[600:] == [False, False]  # the first delivery of a key wins
    assert await stored_keys(db) == [("purchase", u) for u in range(1, 301)] + [("transfer", u) for u in range(1, 301)]
    keys = await outbox_keys(db)
    assert len(keys) == len(set(keys)) == 600  # one announcement per event, none twice
    assert keys[:3] == ["webhook:purchase:1", "webhook:purchase:2", "webhook:purchase:3"]  # arrival order
    assert await store.gaps() == []
    row = await db.fetchone("SELECT count(*) FROM webhook_events WHERE processed_at IS NULL")
    assert row is not None
    assert row[0] == 0


async def test_an_event_written_by_another_connection_is_a_duplicate_not_an_error(
    db: Database, store: WebhookStore
) -> None:
    assert await store.add_event(purchase(1), body="{}", remote=None)
    # Above the highest unique_id the writer knows, so it would not look it up first: the unique constraint
    # undoes the statement and the batch is sorted out by looking its rows up.
    await db.execute(
        "INSERT INTO webhook_events (kind, unique_id, username, amount, item_id, received_at, body, processed_at) "
        "VALUES ('purchase', 5, 'elsewhere', '1', 'E3yugw', '2025-01-01T12:00:00.000000Z', '{}', 'x')"
    )
    outcomes = await one_batch(store, [purchase(4), purchase(5), purchase(6)])
    assert outcomes == [True, False, True]
    assert await stored_keys(db) == [("purchase", u) for u in (1, 4, 5, 6)]
    assert await outbox_keys(db) == ["webhook:purchase:1", "webhook:purchase:4", "webhook:purchase:6"]
    assert [(g.first_missing, g.last_missing) for g in await store.gaps()] == [(2, 3)]


async def test_a_constraint_failure_is_not_mistaken_for_a_duplicate(db: Database, store: WebhookStore) -> None:
    bad = WebhookEvent("purchase", 0, "A49", Decimal("1"), "E3yugw", NOW)  # unique_id must be > 0 (CHECK)
    outcomes = await one_batch(store, [purchase(1), bad, purchase(2)])
    assert outcomes[0] is True
    assert outcomes[2] is True
    assert isinstance(outcomes[1], StoreUnavailable)  # the sender gets a 503, never a false "duplicate"
    assert await stored_keys(db) == [("purchase", 1), ("purchase", 2)]


async def test_events_racing_within_one_batch_open_no_gap(
    store: WebhookStore, caplog: pytest.LogCaptureFixture
) -> None:
    assert await one_batch(store, [purchase(3), purchase(1), purchase(2)]) == [True, True, True]
    assert await store.gaps() == []
    assert await one_batch(store, [purchase(7), purchase(5)]) == [True, True]
    assert [(g.first_missing, g.last_missing) for g in await store.gaps()] == [(4, 4), (6, 6)]
    assert not [r for r in caplog.records if "gap filled" in r.getMessage()]  # none opened, none filled


@pytest.mark.parametrize(
    "amounts", [["0.9", "12.5", "1000000000", "0.00000001", "7", "0.10", "999999999.99999999", "1E+1", "1.123456789"]]
)
async def test_stored_events_carry_the_text_paths_units(db: Database, store: WebhookStore, amounts: list[str]) -> None:
    """The ingest path inserts each amount's units and places itself (migration 0014): exactly what /stats's
    text path computes from the stored amount, well formed or not."""
    from bot.stats.sums import places, units, well_formed

    events = [WebhookEvent("transfer", uid, "sender", Decimal(text), None, NOW) for uid, text in enumerate(amounts, 1)]
    assert await one_batch(store, events) == [True] * len(events)
    ok = well_formed("amount")
    rows = await db.fetchall(
        f"SELECT amount, amount_units, amount_places, CASE WHEN {ok} THEN {units('amount')} END, "  # noqa: S608
        f"CASE WHEN {ok} THEN {places('amount')} END FROM webhook_events ORDER BY unique_id"
    )
    assert [str(r[0]) for r in rows] == [str(Decimal(text)) for text in amounts]
    assert [(r[1], r[2]) for r in rows] == [(r[3], r[4]) for r in rows]
    assert rows[0][1:3] == (90000000, 1)


async def test_duplicates_in_a_batch_whose_fan_out_is_deferred_are_still_answered_as_duplicates(
    db: Database,
) -> None:
    """A failing hook defers the fan-out of the batch's NEW events only: a redelivery in the same batch is a
    duplicate (``False``: the sender is told so and no listener hears of it), not a new, deferred event."""
    from tests.webhooks.test_processor import always_fails_for

    store, _ = wired_store(db)
    store.add_events_hook(always_fails_for(5))
    deferred: list[int] = []
    committed: list[int] = []
    store.add_deferred_listener(lambda: deferred.append(1))
    store.add_commit_listener(lambda: committed.append(1))
    await store.start()
    try:
        assert await store.add_event(purchase(1), body="{}", remote=None)
        committed.clear()
        results = await one_batch(store, [purchase(5), purchase(1), purchase(5)])
        assert results == [True, False, False]
        assert (len(deferred), len(committed)) == (1, 1)  # the one new event only
        assert await unprocessed(db) == 1
    finally:
        await store.close()


async def test_a_hook_failing_after_writing_leaves_no_trace_and_the_batch_is_stored_once_deferred(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """The fan-out runs without a savepoint: a hook that wrote before raising is undone with the whole
    transaction, and the batch is written again without its fan-out. Its events (a gap among them), its
    rejected-signature count and its sequence bookkeeping are stored once, each line logged once."""

    def writes_then_fails(conn: sqlite3.Connection, events: Sequence[WebhookEvent]) -> None:
        conn.execute(
            "INSERT INTO webhook_rejections (hour, count) VALUES ('2000-01-01T00', 1)"
        )  # a write of its own, then the failure
        if any(event.unique_id == 7 for event in events):
            raise ValueError("hook bug")

    # the announcement first (the insert's trigger): it has written the batch's rows when the hook raises
    store, deferred = await started_with(db, writes_then_fails)
    caplog.set_level(logging.INFO)
    try:
        assert await store.add_event(purchase(1), body="{}", remote=None)
        await db.execute("DELETE FROM webhook_rejections")
        store.note_rejected_signature()
        assert await one_batch(store, [purchase(5), purchase(7), purchase(5)]) == [True, True, False]
        assert deferred == [1, 1]  # once per new event of the deferred batch
        assert await stored_keys(db) == [("purchase", 1), ("purchase", 5), ("purchase", 7)]
        assert await unprocessed(db) == 2
        assert await outbox_keys(db) == ["webhook:purchase:1"]  # the announcement hook's rows were undone
        rejections = await db.fetchall("SELECT hour, count FROM webhook_rejections ORDER BY hour")
        assert [int(r[1]) for r in rejections] == [1]  # the counted rejection once; the hook's own row undone
        assert str(rejections[0][0]) != "2000-01-01T00"
        gaps = await db.fetchall("SELECT first_missing, last_missing FROM webhook_gaps")
        assert [(int(r[0]), int(r[1])) for r in gaps] == [(2, 4), (6, 6)]
        messages = [r.getMessage() for r in caplog.records]
        assert sum("sequence gap" in m for m in messages) == 2  # 2-4 and 6, each once
        deferrals = [m for m in messages if "fan-out deferred" in m]
        assert deferrals == ["webhook fan-out deferred to the processor events=2 quarantined=0 error=ValueError"]
        # the next batch fans out as usual
        assert await store.add_event(purchase(8), body="{}", remote=None)
        assert await outbox_keys(db) == ["webhook:purchase:1", "webhook:purchase:8"]
    finally:
        await store.close()


async def test_a_batch_whose_commit_fails_logs_nothing_of_it_and_its_gap_is_logged_once_stored(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """A commit can fail after every statement succeeded (on a full disk the WAL cannot grow; here a foreign key
    checked at COMMIT): nothing of the batch was stored, so the gap it saw is not logged (before, a line per
    failed attempt); written again once the fault is gone, the gap is logged once."""
    poisoned = {4}

    def fails_at_commit(conn: sqlite3.Connection, events: Sequence[WebhookEvent]) -> None:
        if poisoned & {event.unique_id for event in events}:
            poisoned.clear()
            conn.execute("PRAGMA defer_foreign_keys = ON")  # checked at COMMIT, for this transaction only
            conn.execute(
                "INSERT INTO notification_outbox (dedupe_key, target, embeds, event_id) "
                "VALUES ('dangling', 'channel:purchase', '[]', 999999)"
            )

    store, _ = await started_with(db, fails_at_commit)
    caplog.set_level(logging.INFO)
    try:
        assert await store.add_event(purchase(1), body="{}", remote=None)
        with pytest.raises(StoreUnavailable):
            await store.add_event(purchase(4), body="{}", remote=None)  # a gap (2-3), refused at COMMIT
        assert await stored_keys(db) == [("purchase", 1)]
        assert not [r for r in caplog.records if "sequence gap" in r.getMessage()]
        assert await store.add_event(purchase(4), body="{}", remote=None)  # Neverlose sends it again
        gaps = [r.getMessage() for r in caplog.records if "sequence gap" in r.getMessage()]
        assert gaps == ["webhook sequence gap kind=purchase first_missing=2 last_missing=3"]
        assert await stored_keys(db) == [("purchase", 1), ("purchase", 4)]
    finally:
        await store.close()


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.sampled_from(ZONES) | st.none()
    )
)
def test_the_stored_time_text_is_the_utc_moment_to_the_microsecond(moment: datetime) -> None:
    """:func:`format_timestamp` (every stored ``received_at``): ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` of the moment in
    UTC; :func:`parse_timestamp` reads it back. A naive moment is refused (it was taken as local time before the
    one stored-time module: its zone is unknown)."""
    if moment.tzinfo is None:
        with pytest.raises(ValueError, match=r"^timestamps must be timezone-aware$"):
            format_timestamp(moment)
        return
    utc = moment.astimezone(UTC)
    assert format_timestamp(moment) == utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    assert len(format_timestamp(moment)) == 27
    assert parse_timestamp(format_timestamp(moment)) == utc


async def test_an_event_with_a_naive_time_is_refused_and_not_stored(
    db: Database, store: WebhookStore, caplog: pytest.LogCaptureFixture
) -> None:
    """The writer refuses the naive time (its zone is unknown); the store stores nothing and says so."""
    naive = WebhookEvent("purchase", 1, "buyer1", Decimal("0.9"), "E3yugw", datetime(2026, 12, 7, 12, 0))
    with pytest.raises(StoreUnavailable):
        await store.add_event(naive, body="{}", remote=None)
    assert "error=ValueError" in caplog.text
    assert await stored_keys(db) == []
    assert await store.add_event(purchase(1), body="{}", remote=None)  # the store still works
    assert await stored_keys(db) == [("purchase", 1)]


async def test_a_hook_whose_error_ended_the_transaction_still_leaves_the_batch_stored_deferred(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite may end the transaction itself when a hook's statement fails (``RAISE(ROLLBACK)`` in a trigger, some
    I/O errors): the batch is still written again without its fan-out, and the hook's error is what is reported,
    not a failed ``ROLLBACK``."""

    def ends_the_transaction(conn: sqlite3.Connection, events: Sequence[WebhookEvent]) -> None:
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS hook_probe (x INTEGER)")
        conn.execute(
            "CREATE TEMP TRIGGER IF NOT EXISTS hook_probe_refused BEFORE INSERT ON hook_probe"
            " BEGIN SELECT RAISE(ROLLBACK, 'refused by the hook''s trigger'); END"
        )
        conn.execute("INSERT INTO hook_probe (x) VALUES (1)")

    store, deferred = await started_with(db, ends_the_transaction)
    caplog.set_level(logging.INFO)
    try:
        assert await one_batch(store, [purchase(1), purchase(2)]) == [True, True]
        assert [r.getMessage() for r in caplog.records if "fan-out deferred" in r.getMessage()] == [
            "webhook fan-out deferred to the processor events=2 quarantined=0 error=IntegrityError"
        ]
        assert deferred == [1, 1]
        assert await stored_keys(db) == [("purchase", 1), ("purchase", 2)]
        assert await unprocessed(db) == 2
        assert await outbox_keys(db) == []
    finally:
        await store.close()


async def test_the_usual_batch_is_one_statement_and_anything_else_a_transaction(
    db: Database, store: WebhookStore
) -> None:
    """New events in sequence, announced by the insert's own trigger: ONE statement per batch, autocommitted
    (durable when it returns); a gap, a redelivery, a rejected signature to count or a Python hook to run each
    need the transaction, and get it (the announcement still by the trigger alone)."""
    statements: list[str] = []
    await store.transaction(lambda conn: conn.set_trace_callback(statements.append))
    statements.clear()
    for uid in (1, 2):
        assert await store.add_event(purchase(uid), body="{}", remote=None)
    assert await one_batch(store, [purchase(3), transfer(1), purchase(4), purchase(3)]) == [True, True, True, False]
    assert statements.count("BEGIN IMMEDIATE") == 1  # the held call's (one_batch): none for the events
    assert any(s.startswith("INSERT INTO webhook_events") for s in statements)
    assert await outbox_keys(db) == [f"webhook:purchase:{u}" for u in (1, 2, 3)] + ["webhook:transfer:1"] + [
        "webhook:purchase:4"
    ]
    assert await unprocessed(db) == 0

    for needs_a_transaction in ([purchase(6)], [purchase(4)]):  # a gap (5), a redelivery
        statements.clear()
        await one_batch(store, needs_a_transaction)
        assert statements.count("BEGIN IMMEDIATE") == 2  # the held call's and the batch's
        assert not [s for s in statements if s.startswith("INSERT OR IGNORE INTO notification_outbox")]  # trigger
    assert [(g.first_missing, g.last_missing) for g in await store.gaps()] == [(5, 5)]
    statements.clear()
    store.note_rejected_signature()  # its count is stored by a job of its own, queued now: in a transaction
    assert await store.add_event(purchase(7), body="{}", remote=None)
    assert "BEGIN IMMEDIATE" in statements
    assert [tuple(r) for r in await db.fetchall("SELECT count FROM webhook_rejections")] == [(1,)]
    seen: list[int] = []
    store.add_events_hook(lambda conn, events: seen.extend(e.unique_id for e in events))
    statements.clear()
    assert await store.add_event(purchase(8), body="{}", remote=None)
    assert "BEGIN IMMEDIATE" in statements
    assert not [s for s in statements if s.startswith("INSERT OR IGNORE INTO notification_outbox")]
    assert seen == [8]
    await store.transaction(lambda conn: conn.set_trace_callback(None))
    assert await outbox_keys(db) == [f"webhook:purchase:{u}" for u in (1, 2, 3)] + ["webhook:transfer:1"] + [
        f"webhook:purchase:{u}" for u in (4, 6, 7, 8)
    ]


async def test_one_statement_batches_keep_the_sequence_for_the_next_gap(db: Database, store: WebhookStore) -> None:
    for uid in (1, 2, 3):
        assert await store.add_event(transfer(uid), body="{}", remote=None)
    assert await store.add_event(transfer(6), body="{}", remote=None)
    assert [(g.kind, g.first_missing, g.last_missing) for g in await store.gaps()] == [("transfer", 4, 5)]
    assert not await store.add_event(transfer(2), body="{}", remote=None)  # a redelivery, found stored


async def test_an_on_insert_hook_cannot_come_after_the_start(store: WebhookStore) -> None:
    with pytest.raises(RuntimeError, match="before the store starts"):
        store.add_events_hook(lambda conn, events: None, on_insert="SELECT 1")


async def test_the_trigger_queues_the_row_the_processor_s_hook_queues(db: Database, store: WebhookStore) -> None:
    assert await store.add_event(purchase(1), body="{}", remote=None)  # by the trigger
    assert await store.add_event(transfer(1), body="{}", remote=None)
    columns = "dedupe_key, target, content, embeds, event_id, state"
    by_trigger = [tuple(r) for r in await db.fetchall(f"SELECT {columns} FROM notification_outbox ORDER BY id")]  # noqa: S608
    await db.execute("DELETE FROM notification_outbox")

    def by_hook(conn: sqlite3.Connection) -> None:
        queue_event_announcements(conn, [("purchase", 1), ("transfer", 1)])

    await store.transaction(by_hook)
    assert [tuple(r) for r in await db.fetchall(f"SELECT {columns} FROM notification_outbox ORDER BY id")] == by_trigger  # noqa: S608
    assert [row[:2] for row in by_trigger] == [
        ("webhook:purchase:1", "channel:purchase"),
        ("webhook:transfer:1", "channel:transfer"),
    ]
