"""Dispatcher behaviour through the DiscordSink protocol (real outbox and SQLite, recording sink)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bot.guild_config import ChannelKind
from bot.notifications.dispatcher import NotificationDispatcher, plan_messages
from bot.notifications.outbox import Outbox, OutboxRow
from bot.storage import Database
from tests.notifications.recording import Channels, RecordingSink, blocked_error, refused_error, retry_error

PURCHASES, TRANSFERS, AUDIT = 111, 222, 333


def embed(n: int, size: int = 10) -> dict[str, Any]:
    return {"title": f"event {n}", "description": "d" * size}


def make(db: Database, sink: RecordingSink, channels: Channels | None = None) -> tuple[Outbox, NotificationDispatcher]:
    outbox = Outbox(db)
    resolver = channels or Channels(
        {ChannelKind.PURCHASE: PURCHASES, ChannelKind.TRANSFER: TRANSFERS, ChannelKind.AUDIT: AUDIT}
    )
    dispatcher = NotificationDispatcher(outbox, sink, resolver, base_delay=0.001, max_delay=0.004, jitter=lambda: 0.0)
    return outbox, dispatcher


async def enqueue(outbox: Outbox, n: int, target: str = "channel:purchase", size: int = 10, key: str = "") -> None:
    for i in range(n):
        await outbox.enqueue_now(target=target, embeds=[embed(i, size)], dedupe_key=f"{key}{target}:{i}")


def titles(sink: RecordingSink, channel_id: int) -> list[str]:
    return [e["title"] for s in sink.to(channel_id) for e in s.embeds]


# ------------------------------------------------------------------------------------------ planning
def _row(i: int, *, nonce: str | None = None, embeds: int = 1, size: int = 10, content: str | None = None) -> OutboxRow:
    return OutboxRow(i, f"k{i}", "channel:purchase", content, [embed(i, size)] * embeds, nonce, 0)


def test_plan_packs_ten_embeds_per_message() -> None:
    plan = plan_messages([_row(i) for i in range(1, 26)])
    assert [len(m.rows) for m in plan] == [10, 10, 5]
    assert [r.id for m in plan for r in m.rows] == list(range(1, 26))


def test_plan_respects_the_6000_character_total() -> None:
    plan = plan_messages([_row(i, size=1500) for i in range(1, 6)])
    assert [len(m.rows) for m in plan] == [3, 2]


def test_plan_keeps_claimed_messages_and_content_rows_alone() -> None:
    rows = [
        _row(1, nonce="nlo-1"),
        _row(2, nonce="nlo-1"),
        _row(3),
        _row(4, content="hi"),
        _row(5),
        _row(6, embeds=9),
        _row(7, embeds=2),
    ]
    plan = plan_messages(rows)
    assert [([r.id for r in m.rows], m.nonce) for m in plan] == [
        ([1, 2], "nlo-1"),
        ([3], None),
        ([4], None),
        ([5, 6], None),
        ([7], None),
    ]


# ------------------------------------------------------------------------------------------ outbox
async def test_enqueue_validates_and_dedupes(db: Database) -> None:
    outbox = Outbox(db)
    assert await outbox.enqueue_now(target="channel:purchase", embeds=[embed(1)], dedupe_key="a")
    assert not await outbox.enqueue_now(target="channel:purchase", embeds=[embed(2)], dedupe_key="a")
    for bad in ("channel:nope", "dm:abc", "role:1:2", "user:1", "channel:0"):
        with pytest.raises(ValueError, match="target"):
            await outbox.enqueue_now(target=bad, embeds=[embed(1)], dedupe_key=bad)
    with pytest.raises(ValueError, match="embed"):
        await outbox.enqueue_now(target="channel:1", embeds=[{"title": "t" * 300}], dedupe_key="b")
    with pytest.raises(ValueError, match="no message"):
        await outbox.enqueue_now(target="role:1:2:3", embeds=[embed(1)], dedupe_key="c")
    with pytest.raises(ValueError, match="content or embeds"):
        await outbox.enqueue_now(target="dm:5", embeds=[], dedupe_key="d")
    assert (await outbox.counts()).pending == 1


# ------------------------------------------------------------------------------------------ delivery
async def test_burst_is_batched_in_order(db: Database) -> None:
    sink = RecordingSink()
    outbox, dispatcher = make(db, sink)
    await enqueue(outbox, 95)
    result = await dispatcher.drain()
    assert result.remaining == 0
    assert len(sink.to(PURCHASES)) == 10
    assert titles(sink, PURCHASES) == [f"event {i}" for i in range(95)]
    rows = await db.fetchall("SELECT state, message_id, nonce FROM notification_outbox")
    assert {r["state"] for r in rows} == {"sent"}
    assert {r["message_id"] for r in rows} == {s.message_id for s in sink.sent}
    assert all(len(s.nonce) <= 25 and s.nonce.startswith("nlo-") for s in sink.sent)


async def test_targets_go_to_their_channels(db: Database) -> None:
    sink = RecordingSink()
    outbox, dispatcher = make(db, sink)
    await enqueue(outbox, 2, "channel:purchase")
    await enqueue(outbox, 3, "channel:transfer")
    await enqueue(outbox, 1, "channel:444")
    await enqueue(outbox, 1, "dm:55")
    await dispatcher.drain()
    assert len(titles(sink, PURCHASES)) == 2
    assert len(titles(sink, TRANSFERS)) == 3
    assert len(titles(sink, 444)) == 1
    assert len(titles(sink, 900_055)) == 1


async def test_transient_failures_back_off_then_deliver_once(db: Database) -> None:
    sink = RecordingSink(failures=[retry_error(), retry_error(), retry_error()])
    outbox, dispatcher = make(db, sink)
    await enqueue(outbox, 3)
    first = await dispatcher.run_once()
    assert first.sent_rows == 0
    assert dispatcher._state.retry["channel:purchase"].failures == 1
    await dispatcher.drain()
    assert titles(sink, PURCHASES) == ["event 0", "event 1", "event 2"]
    row = await db.fetchone("SELECT attempts, last_error, state FROM notification_outbox LIMIT 1")
    assert row is not None
    assert row["state"] == "sent"
    assert row["attempts"] == 4


async def test_backoff_is_capped_and_grows(db: Database) -> None:
    now = [0.0]
    sink = RecordingSink(failures=[retry_error() for _ in range(6)])
    outbox = Outbox(db)
    dispatcher = NotificationDispatcher(
        outbox,
        sink,
        Channels({ChannelKind.PURCHASE: PURCHASES}),
        base_delay=1.0,
        max_delay=8.0,
        clock=lambda: now[0],
        jitter=lambda: 1.0,
    )
    await enqueue(outbox, 1)
    delays = []
    for _ in range(6):
        await dispatcher.run_once()
        until = dispatcher._state.retry["channel:purchase"].until
        delays.append(until - now[0])
        assert (await dispatcher.run_once()).sent_rows == 0  # not due: nothing is tried
        now[0] = until
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert (await dispatcher.run_once()).sent_rows == 1


async def test_unconfigured_channel_waits_and_is_reported_once(db: Database) -> None:
    sink = RecordingSink()
    channels = Channels({ChannelKind.AUDIT: AUDIT})
    outbox, dispatcher = make(db, sink, channels)
    await enqueue(outbox, 3)
    for _ in range(3):
        await dispatcher.drain()
    assert sink.to(PURCHASES) == []
    alerts = sink.to(AUDIT)
    assert len(alerts) == 1
    assert "not configured" in alerts[0].embeds[0]["title"]
    assert (await outbox.counts()).pending == 3
    channels.ids[ChannelKind.PURCHASE] = PURCHASES
    dispatcher.forget_problems()
    await dispatcher.drain()
    assert titles(sink, PURCHASES) == ["event 0", "event 1", "event 2"]


async def test_unconfigured_audit_is_only_logged(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    sink = RecordingSink()
    outbox, dispatcher = make(db, sink, Channels({}))
    await enqueue(outbox, 1, "channel:audit")
    await enqueue(outbox, 1, "channel:purchase")
    await dispatcher.drain()
    await dispatcher.drain()
    assert sink.sent == []
    problems = [r for r in caplog.records if "notification problem" in r.getMessage()]
    assert len(problems) == 2
    # the purchase alert waits for an audit channel, with the rest
    assert (await outbox.counts()).pending == 3


async def test_blocked_channel_waits_reports_once_and_recovers(db: Database) -> None:
    sink = RecordingSink(failures=[blocked_error()])
    outbox, dispatcher = make(db, sink)
    await enqueue(outbox, 4)
    await dispatcher.drain()
    await dispatcher.drain()
    assert sink.to(PURCHASES) == []
    alerts = sink.to(AUDIT)
    assert len(alerts) == 1
    assert "Cannot post" in alerts[0].embeds[0]["title"]
    assert (await outbox.counts()).pending == 4
    dispatcher.forget_problems()  # e.g. permissions fixed and /setup run again
    await dispatcher.drain()
    assert len(titles(sink, PURCHASES)) == 4
    assert len(sink.to(PURCHASES)) == 1  # the same claimed message, sent once


async def test_refused_batch_is_split_and_the_bad_row_dropped(db: Database) -> None:
    sink = RecordingSink(failures=[refused_error(), refused_error()])
    outbox, dispatcher = make(db, sink)
    await enqueue(outbox, 3)
    await dispatcher.drain()
    # the batch of 3 was refused, then split; the first single was refused again and dropped
    assert titles(sink, PURCHASES) == ["event 1", "event 2"]
    counts = await outbox.counts()
    assert (counts.sent, counts.undeliverable, counts.pending) == (3, 1, 0)  # + the audit alert
    assert "could not be delivered" in sink.to(AUDIT)[0].embeds[0]["title"]


async def test_closed_dms_are_undeliverable_once(db: Database) -> None:
    sink = RecordingSink(failures=[blocked_error(50007)])
    outbox, dispatcher = make(db, sink)
    await enqueue(outbox, 2, "dm:77")
    await dispatcher.drain()
    await dispatcher.drain()
    counts = await outbox.counts()
    assert counts.undeliverable == 2
    assert counts.pending == 0
    assert len(sink.to(AUDIT)) == 1
    assert sink.to(900_077) == []


async def test_dm_channel_that_cannot_be_opened(db: Database) -> None:
    sink = RecordingSink(dm_failures=[blocked_error(10013)])
    outbox, dispatcher = make(db, sink)
    await enqueue(outbox, 2, "dm:78")
    await dispatcher.drain()
    assert (await outbox.counts()).undeliverable == 2
    assert len(sink.to(AUDIT)) == 1


async def test_role_grants(db: Database) -> None:
    sink = RecordingSink(role_failures=[retry_error(), blocked_error()])
    outbox, dispatcher = make(db, sink)
    await outbox.enqueue_now(target="role:1:2:3", embeds=[], dedupe_key="r1")
    await outbox.enqueue_now(target="role:1:2:4", embeds=[], dedupe_key="r2")
    await dispatcher.drain()
    # role:1:2:3 failed once (retry) then was granted; role:1:2:4 was refused (blocked) for good
    assert sink.roles == [(1, 2, 3)]
    rows = await db.fetchall("SELECT dedupe_key, state FROM notification_outbox WHERE target LIKE 'role:%' ORDER BY id")
    assert [(r[0], r[1]) for r in rows] == [("r1", "sent"), ("r2", "undeliverable")]
    assert len(sink.to(AUDIT)) == 1


async def test_crash_after_post_before_record_is_not_posted_twice(db: Database) -> None:
    class Crash(BaseException):
        pass

    class CrashingSink(RecordingSink):
        crashed = False

        async def send_message(self, channel_id: int, **kwargs: Any) -> int:
            message_id = await super().send_message(channel_id, **kwargs)
            if len(self.sent) == 3 and not self.crashed:
                self.crashed = True
                raise Crash
            return message_id

    sink = CrashingSink()
    outbox, dispatcher = make(db, sink)
    await enqueue(outbox, 25)
    with pytest.raises(Crash):
        await dispatcher.drain()
    # new process: same database, same (nonce-deduplicating) Discord
    await enqueue(outbox, 5, "channel:purchase", key="later")  # more arrives meanwhile
    again = NotificationDispatcher(outbox, sink, Channels({ChannelKind.PURCHASE: PURCHASES}), base_delay=0.001)
    await again.drain()
    assert len(sink.sent) == 4
    assert titles(sink, PURCHASES) == [f"event {i}" for i in range(25)] + [f"event {i}" for i in range(5)]
    rows = await db.fetchall("SELECT nonce, message_id FROM notification_outbox")
    by_nonce = {s.nonce: s.message_id for s in sink.sent}
    assert all(by_nonce[r["nonce"]] == r["message_id"] for r in rows)


async def test_run_loop_wakes_and_stops(db: Database) -> None:
    import asyncio

    sink = RecordingSink()
    outbox, dispatcher = make(db, sink)
    task = asyncio.create_task(dispatcher.run())
    await enqueue(outbox, 2)
    dispatcher.wake()
    for _ in range(200):
        if len(titles(sink, PURCHASES)) == 2:
            break
        await asyncio.sleep(0.005)
    assert len(titles(sink, PURCHASES)) == 2
    await dispatcher.close()
    await asyncio.wait_for(task, timeout=5)


def test_alert_payload_is_json_serialisable() -> None:
    from bot.notifications.embeds import alert_embed

    json.dumps(alert_embed("a", "b"))


async def test_recheck_blocked_retries_without_a_second_alert(db: Database) -> None:
    sink = RecordingSink(failures=[blocked_error()])
    outbox, dispatcher = make(db, sink)
    await enqueue(outbox, 2)
    await dispatcher.drain()
    await dispatcher.drain()  # the alert is an outbox row of its own
    assert len(sink.to(AUDIT)) == 1
    sink.failures.append(blocked_error())
    dispatcher.recheck_blocked()  # Discord reported a role change, but the channel is still forbidden
    await dispatcher.drain()
    await dispatcher.drain()
    assert sink.to(PURCHASES) == []
    assert len(sink.to(AUDIT)) == 1, "the alert is not repeated"
    dispatcher.recheck_blocked()  # fixed now
    await dispatcher.drain()
    assert titles(sink, PURCHASES) == ["event 0", "event 1"]


# ------------------------------------------------------------------------------------------ draining (issue 17)
class CountingOutbox(Outbox):
    """The real outbox, counting the pending-row queries (one per pass) and what they asked for."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.queries: list[tuple[str, ...]] = []

    async def pending(self, *, limit: int = 2000, exclude: Any = (), target: str | None = None) -> list[OutboxRow]:
        self.queries.append(tuple(exclude))
        return await super().pending(limit=limit, exclude=exclude, target=target)


def loop_dispatcher(
    db: Database, sink: RecordingSink, channels: Channels | None = None, *, page_size: int = 20
) -> tuple[CountingOutbox, NotificationDispatcher]:
    outbox = CountingOutbox(db)
    resolver = channels or Channels(
        {ChannelKind.PURCHASE: PURCHASES, ChannelKind.TRANSFER: TRANSFERS, ChannelKind.AUDIT: AUDIT}
    )
    dispatcher = NotificationDispatcher(
        outbox,
        sink,
        resolver,
        base_delay=0.001,
        max_delay=0.004,
        blocked_delay=3600.0,
        poll_interval=3600.0,  # never reached: the loop must not depend on it
        page_size=page_size,
        jitter=lambda: 0.0,
    )
    return outbox, dispatcher


async def wait_until(predicate: Any, *, guard: float = 30.0) -> None:
    """Poll ``predicate`` until true; the guard only catches a hang (it is no timing assertion)."""
    async with asyncio.timeout(guard):
        while not await predicate():
            await asyncio.sleep(0.01)


async def test_run_loop_drains_a_backlog_many_pages_long_without_a_wake_up(db: Database) -> None:
    sink = RecordingSink()
    outbox, dispatcher = loop_dispatcher(db, sink, page_size=20)
    await enqueue(outbox, 250)  # 12.5 pages of 20 rows
    task = asyncio.create_task(dispatcher.run())

    async def drained() -> bool:
        return (await outbox.counts()).pending == 0

    await wait_until(drained)
    await dispatcher.close()
    await asyncio.wait_for(task, timeout=5)
    assert titles(sink, PURCHASES) == [f"event {i}" for i in range(250)]
    assert len(sink.to(PURCHASES)) == 25  # still packed 10 embeds per message
    assert len(outbox.queries) >= 13


async def test_rows_of_waiting_targets_never_hide_the_rows_behind_them(db: Database) -> None:
    sink = RecordingSink(failures=[blocked_error()])
    channels = Channels({ChannelKind.TRANSFER: TRANSFERS, ChannelKind.AUDIT: AUDIT})  # purchase: unconfigured
    outbox, dispatcher = loop_dispatcher(db, sink, channels, page_size=10)
    await enqueue(outbox, 30, "channel:444")  # blocked: three pages at the head of the outbox
    await enqueue(outbox, 30, "channel:purchase")  # unconfigured: three more pages
    await enqueue(outbox, 4, "channel:transfer")  # deliverable, behind six pages of waiting rows
    await dispatcher.drain()
    assert titles(sink, TRANSFERS) == ["event 0", "event 1", "event 2", "event 3"]
    assert sink.to(444) == []
    assert sink.to(PURCHASES) == []
    assert sorted(e["title"] for s in sink.to(AUDIT) for e in s.embeds) == [
        "Cannot post notifications",
        "Notification channel not configured",
    ]
    assert {"channel:444", "channel:purchase"} <= set(outbox.queries[-1])
    assert (await outbox.counts()).pending == 60


async def test_a_target_in_backoff_does_not_hide_the_rows_behind_it(db: Database) -> None:
    now = [0.0]

    class FailingChannel(RecordingSink):
        async def send_message(self, channel_id: int, **kwargs: Any) -> int:
            if channel_id == 444:
                raise retry_error()
            return await super().send_message(channel_id, **kwargs)

    sink = FailingChannel()
    outbox = CountingOutbox(db)
    dispatcher = NotificationDispatcher(
        outbox, sink, Channels({ChannelKind.TRANSFER: TRANSFERS}), page_size=10, clock=lambda: now[0]
    )
    await enqueue(outbox, 25, "channel:444")
    await enqueue(outbox, 3, "channel:transfer")
    first = await dispatcher.run_once()  # the page holds only channel:444 rows: it fails and backs off
    assert (first.sent_rows, first.progressed) == (0, False)
    second = await dispatcher.run_once()  # now left out of the query: the transfers come through
    assert outbox.queries[-1] == ("channel:444",)
    assert second.sent_rows == 3
    assert titles(sink, TRANSFERS) == ["event 0", "event 1", "event 2"]
    now[0] += 3600.0  # backoff over: tried again (and failing again)
    await dispatcher.run_once()
    assert outbox.queries[-1] == ()


async def test_run_loop_waits_instead_of_spinning_on_rows_that_wait(db: Database) -> None:
    sink = RecordingSink(failures=[blocked_error()])
    channels = Channels({ChannelKind.AUDIT: AUDIT})  # purchase and transfer: unconfigured
    outbox, dispatcher = loop_dispatcher(db, sink, channels, page_size=10)
    await enqueue(outbox, 25, "channel:444")  # blocked
    await enqueue(outbox, 25, "channel:purchase")  # unconfigured
    task = asyncio.create_task(dispatcher.run())

    async def alerted() -> bool:
        return len(titles(sink, AUDIT)) == 2

    await wait_until(alerted)
    passes = len(outbox.queries)
    await asyncio.sleep(0.3)  # nothing can be sent: the loop must sleep, not pass again and again
    assert len(outbox.queries) == passes
    assert (await outbox.counts()).pending == 50
    await dispatcher.close()
    await asyncio.wait_for(task, timeout=5)


async def test_claim_many_claims_messages_together_and_refuses_a_second_claim(db: Database) -> None:
    outbox = Outbox(db)
    await enqueue(outbox, 5)
    ids = [row.id for row in await outbox.pending()]
    nonces = await outbox.claim_many([ids[:3], ids[3:]])
    assert nonces == [f"nlo-{ids[0]}", f"nlo-{ids[3]}"]
    rows = await outbox.pending()
    assert [row.nonce for row in rows] == [nonces[0]] * 3 + [nonces[1]] * 2
    with pytest.raises(RuntimeError, match="claimed concurrently"):
        await outbox.claim_many([ids[4:]])
    assert [row.nonce for row in await outbox.pending()] == [nonces[0]] * 3 + [nonces[1]] * 2  # rolled back


def test_a_429_wait_is_read_from_discord_headers() -> None:
    from bot.notifications.discord_sink import _retry_after

    assert _retry_after({"X-RateLimit-Reset-After": "0.250", "Retry-After": "1"}) == 0.25
    assert _retry_after({"Retry-After": "3"}) == 3.0
    assert _retry_after({"X-RateLimit-Reset-After": "soon", "Retry-After": "2"}) == 2.0
    assert _retry_after({"X-RateLimit-Reset-After": "nan", "Retry-After": "-1"}) is None
    assert _retry_after({"X-RateLimit-Reset-After": "inf"}) is None
    assert _retry_after({"X-RateLimit-Reset-After": "0"}) == 0.0
    assert _retry_after({}) is None


async def test_a_retry_after_longer_than_the_backoff_is_waited(db: Database) -> None:
    from bot.notifications.discord_sink import DeliveryError

    now = [100.0]
    limited = DeliveryError("retry", status=429, code=0, text="rate limited", retry_after=7.5)
    sink = RecordingSink(failures=[limited, retry_error()])
    outbox = Outbox(db)
    dispatcher = NotificationDispatcher(
        outbox, sink, Channels({ChannelKind.PURCHASE: PURCHASES}), base_delay=1.0, clock=lambda: now[0]
    )
    await enqueue(outbox, 1)
    await dispatcher.run_once()
    assert dispatcher._state.retry["channel:purchase"].until == 107.5  # retry_after, not the 0.5-1 s backoff
    now[0] = 107.5
    await dispatcher.run_once()  # an ordinary failure: the backoff alone (failure 2: 1-2 s)
    assert 108.5 <= dispatcher._state.retry["channel:purchase"].until <= 109.5
