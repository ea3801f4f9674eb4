"""Delivered messages are recorded in the background, in batches (bot.notifications.marks), without weakening
the outbox's exactly-once: real SQLite files, the recording sink (it deduplicates nonces as Discord does)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.guild_config import ChannelKind
from bot.notifications.dispatcher import NotificationDispatcher
from bot.notifications.outbox import Outbox
from bot.storage import Database
from tests.notifications.recording import Channels, RecordingSink
from tests.notifications.test_dispatcher import PURCHASES, enqueue, make, titles
from tests.webhooks.helpers import open_db

ALONE = 3500
"""Two embeds this large exceed 6,000 characters: one message per row."""


class CountingSink(RecordingSink):
    """Counts every post, the ones Discord answers from its nonce memory included; waits a moment per post
    (a real round trip), so the dispatcher's marks are written while it posts."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts: list[str] = []

    async def send_message(self, channel_id: int, **kwargs: Any) -> int:
        self.attempts.append(kwargs["nonce"])
        await asyncio.sleep(0.002)
        return await super().send_message(channel_id, **kwargs)


async def _states(db: Database) -> list[tuple[str, str | None, int | None]]:
    rows = await db.fetchall("SELECT state, nonce, message_id FROM notification_outbox ORDER BY id")
    return [(r["state"], r["nonce"], r["message_id"]) for r in rows]


async def test_mark_sent_many_records_each_message_with_its_id_in_one_call(db: Database) -> None:
    outbox = Outbox(db)
    await enqueue(outbox, 5)
    ids = [row.id for row in await outbox.pending()]
    first, second, third = await outbox.claim_many([ids[:2], ids[2:4], ids[4:]])
    assert await outbox.mark_sent_many([(first, 71), (second, None)]) == 4
    assert await outbox.mark_sent_many([(first, 99)]) == 0, "a message already recorded stays as it was"
    assert await _states(db) == [
        ("sent", first, 71),
        ("sent", first, 71),
        ("sent", second, None),
        ("sent", second, None),
        ("pending", third, None),
    ]


async def test_a_pass_never_posts_again_a_message_whose_mark_is_still_being_written(db: Database) -> None:
    """Pages of two messages: every next page is read while the previous page's marks are being written."""
    sink = CountingSink()
    outbox = Outbox(db)
    channels = Channels({ChannelKind.PURCHASE: PURCHASES})
    dispatcher = NotificationDispatcher(outbox, sink, channels, page_size=2, base_delay=0.001)
    await enqueue(outbox, 40, size=ALONE)
    result = await dispatcher.drain()
    assert result.remaining == 0
    assert titles(sink, PURCHASES) == [f"event {i}" for i in range(40)]
    assert len(sink.attempts) == len(sink.sent) == 40, "each message posted once, none sent again for its nonce"
    assert {state for state, _, _ in await _states(db)} == {"sent"}


async def test_stopping_records_every_message_delivered(db: Database) -> None:
    """As the bot shuts down: close() while posting, then the loop's task is cancelled (the bot's shutdown)."""
    sink = CountingSink()
    outbox, dispatcher = make(db, sink)
    await enqueue(outbox, 200, size=ALONE)
    task = asyncio.create_task(dispatcher.run())
    for _ in range(1000):
        if len(sink.sent) >= 10:
            break
        await asyncio.sleep(0.002)
    await dispatcher.close()
    task.cancel()
    await asyncio.wait({task}, timeout=5)
    assert task.done()
    posted = {s.nonce: s.message_id for s in sink.sent}
    assert 10 <= len(posted) < 200, "stopped in the middle of the backlog"
    states = await _states(db)
    recorded = {nonce: message_id for state, nonce, message_id in states if state == "sent"}
    assert recorded == posted, "every message posted is recorded as sent, with its message id"
    assert all(nonce not in posted for state, nonce, _ in states if state == "pending")


async def test_a_crash_between_posting_and_recording_posts_again_only_with_the_same_nonce(tmp_path: Path) -> None:
    """The process dies (its database connection with it) while marks are waiting to be written: the next
    start sends those messages again with the nonce they were posted with, so Discord (here the deduplicating
    sink) shows each once; nothing else is sent twice."""

    class Crash(BaseException):
        pass

    class CrashingSink(CountingSink):
        def __init__(self, db: Database) -> None:
            super().__init__()
            self.db = db

        async def send_message(self, channel_id: int, **kwargs: Any) -> int:
            message_id = await super().send_message(channel_id, **kwargs)
            if len(self.sent) == 12 and not hasattr(self, "crashed"):
                self.crashed = True
                await self.db.close()  # the process is gone: whatever it had not written is lost
                raise Crash
            return message_id

    path = tmp_path / "bot.sqlite3"
    channels = Channels({ChannelKind.PURCHASE: PURCHASES})
    async with open_db(path) as first:
        sink = CrashingSink(first)
        await enqueue(Outbox(first), 30, size=ALONE)
        dying = NotificationDispatcher(Outbox(first), sink, channels, base_delay=0.001)
        with pytest.raises(Crash):
            await dying.drain()
        await asyncio.sleep(0.05)  # the dead process's writer got nowhere
    posted_before = {s.nonce for s in sink.sent}
    async with open_db(path) as db:
        recorded_before = {nonce for state, nonce, _ in await _states(db) if state == "sent"}
        again = NotificationDispatcher(Outbox(db), sink, channels, base_delay=0.001)
        await again.drain()
        states = await _states(db)
    assert len(posted_before) == 12
    assert recorded_before < posted_before, "the crash came between posting and recording"
    assert titles(sink, PURCHASES) == [f"event {i}" for i in range(30)], "each event in the channel once, in order"
    resent = sink.attempts[len(posted_before) :]
    resent = resent[: len(resent) - (30 - 12)]
    assert set(resent) == posted_before - recorded_before, "sent again: exactly the posted, unrecorded messages"
    by_nonce = {s.nonce: s.message_id for s in sink.sent}
    assert [(state, message_id) for state, _, message_id in states] == [
        ("sent", by_nonce[nonce]) for _, nonce, _ in states
    ]


async def test_marks_that_could_not_be_written_are_kept_and_written_by_the_next_flush(db: Database) -> None:
    from bot.notifications.marks import SentMarks

    outbox = Outbox(db)
    await enqueue(outbox, 3)
    ids = [row.id for row in await outbox.pending()]
    nonces = await outbox.claim_many([[row_id] for row_id in ids])
    marks = SentMarks(outbox)
    await db.execute("PRAGMA query_only = ON")  # the disk refuses writes for a moment
    marks.add(nonces[0], 501)
    marks.add(nonces[1], 502)
    with pytest.raises(sqlite3.OperationalError):
        await marks.flush()
    assert marks.unrecorded == 2
    assert {state for state, _, _ in await _states(db)} == {"pending"}
    await db.execute("PRAGMA query_only = OFF")
    marks.add(nonces[2], 503)  # the next message delivered: written after the two kept
    await marks.flush()
    assert marks.unrecorded == 0
    assert await _states(db) == [("sent", nonce, 501 + n) for n, nonce in enumerate(nonces)]


class _Writes:
    """A mark writer that keeps each batch it was asked to write (a real round trip's pause included)."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[str, int | None]]] = []

    async def mark_sent_many(self, marks: list[tuple[str, int | None]]) -> int:
        await asyncio.sleep(0)
        self.batches.append(list(marks))
        return len(marks)


async def test_the_marks_of_posts_made_while_the_writer_lingers_share_one_write() -> None:
    """Posts answered one after the other (the loop runs between them): their marks wait for the linger and go
    in one write; a flush does not wait for the linger to end."""
    from bot.notifications.marks import SentMarks

    writes = _Writes()
    marks = SentMarks(writes, linger=30.0)
    for n in range(20):
        marks.add(f"nlo-{n}", 1000 + n)
        for _ in range(3):
            await asyncio.sleep(0)  # the next post's round trip: the writer task gets to run
    assert writes.batches == [], "nothing written while the writer lingers"
    await asyncio.wait_for(marks.flush(), timeout=5.0)
    assert writes.batches == [[(f"nlo-{n}", 1000 + n) for n in range(20)]]
    assert marks.unrecorded == 0


async def test_marks_are_written_after_the_linger_without_a_flush() -> None:
    from bot.notifications.marks import SentMarks

    writes = _Writes()
    marks = SentMarks(writes, linger=0.01)
    marks.add("nlo-1", 7)
    for _ in range(500):
        if writes.batches:
            break
        await asyncio.sleep(0.01)
    assert writes.batches == [[("nlo-1", 7)]]
    assert marks.unrecorded == 0
