"""End to end through real HTTP: webhook receiver → SQLite → outbox → dispatcher → discord.py → fake Discord."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import discord
import pytest

from bot.guild_config import GuildConfig
from bot.notifications.discord_sink import DiscordHttpSink
from bot.notifications.dispatcher import NotificationDispatcher
from bot.notifications.embeds import Embed
from bot.notifications.outbox import Outbox
from bot.settings import Settings
from bot.storage import Database
from tests.fake_discord import FakeDiscord
from tests.webhooks.helpers import Receiver, purchase, running_receiver, transfer


@asynccontextmanager
async def discord_http(fake: FakeDiscord) -> AsyncIterator[discord.http.HTTPClient]:
    """A logged-in discord.py HTTP client (Route.BASE already points at the fake)."""
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    await http.static_login(fake.token)
    try:
        yield http
    finally:
        await http.close()


@pytest.fixture
def settings(make_settings: Callable[..., Settings], discord_py_at_fake: FakeDiscord) -> Settings:
    ids = {name: str(channel.id) for name, channel in discord_py_at_fake.channels.items()}
    return make_settings(
        PURCHASE_CHANNEL_ID=ids["purchases"], TRANSFER_CHANNEL_ID=ids["transfers"], AUDIT_CHANNEL_ID=ids["audit"]
    )


def dispatcher_for(db: Database, settings: Settings, sink: Any) -> NotificationDispatcher:
    return NotificationDispatcher(Outbox(db), sink, GuildConfig(db, settings), base_delay=0.001, max_delay=0.01)


def unique_ids(fake: FakeDiscord, channel: str) -> list[int]:
    found = []
    for message in fake.messages(channel):
        for embed in message.get("embeds", []):
            fields = {f["name"]: f["value"] for f in embed.get("fields", [])}
            found.append(int(fields["Unique ID"]))
    return found


async def post_all(receiver: Receiver, bodies: list[dict[str, Any]], concurrency: int = 50) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(body: dict[str, Any]) -> None:
        async with gate:
            status, answer = await receiver.post(body)
            assert status == 200, answer

    await asyncio.gather(*(one(b) for b in bodies))


async def test_burst_of_1000_events_becomes_about_100_messages(
    db: Database, settings: Settings, discord_py_at_fake: FakeDiscord
) -> None:
    fake = discord_py_at_fake
    async with running_receiver(db) as receiver:
        await post_all(receiver, [purchase(uid) for uid in range(1, 1001)])
    async with discord_http(fake) as http:
        dispatcher = dispatcher_for(db, settings, DiscordHttpSink(http))
        result = await dispatcher.drain()
    assert result.remaining == 0
    messages = fake.messages("purchases")
    assert len(messages) == 100
    assert all(len(m["embeds"]) == 10 for m in messages)
    assert sorted(unique_ids(fake, "purchases")) == list(range(1, 1001))
    rows = await db.fetchall("SELECT DISTINCT message_id FROM notification_outbox")
    assert {int(r[0]) for r in rows} == {int(m["id"]) for m in messages}
    fake.assert_no_violations()


async def test_live_delivery_while_events_arrive(
    db: Database, settings: Settings, discord_py_at_fake: FakeDiscord
) -> None:
    fake = discord_py_at_fake
    async with discord_http(fake) as http, running_receiver(db) as receiver:
        dispatcher = dispatcher_for(db, settings, DiscordHttpSink(http))
        receiver.processor.add_listener(dispatcher.wake)  # as wired in production: fan-out wakes delivery
        task = asyncio.create_task(dispatcher.run())
        await post_all(receiver, [transfer(uid) for uid in range(1, 201)] + [purchase(uid) for uid in range(1, 51)])
        await receiver.processor.drain()
        await dispatcher.drain()
        await dispatcher.close()
        await asyncio.wait_for(task, timeout=5)
    assert sorted(unique_ids(fake, "transfers")) == list(range(1, 201))
    assert sorted(unique_ids(fake, "purchases")) == list(range(1, 51))
    assert len(fake.messages("transfers")) < 200
    fake.assert_no_violations()


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs."""


class CrashAfterPosting(DiscordHttpSink):
    """Posts for real, then 'dies' before the dispatcher can record the message id."""

    def __init__(self, http: discord.http.HTTPClient, crash_on: int) -> None:
        super().__init__(http)
        self.posts = 0
        self.crash_on = crash_on

    async def send_message(self, channel_id: int, *, content: str | None, embeds: list[Embed], nonce: str) -> int:
        message_id = await super().send_message(channel_id, content=content, embeds=embeds, nonce=nonce)
        self.posts += 1
        if self.posts == self.crash_on:
            raise Crash
        return message_id


async def test_restart_mid_backlog_notifies_every_event_exactly_once(
    db: Database, settings: Settings, discord_py_at_fake: FakeDiscord
) -> None:
    fake = discord_py_at_fake
    async with running_receiver(db) as receiver:
        await post_all(receiver, [purchase(uid) for uid in range(1, 301)] + [transfer(uid) for uid in range(1, 101)])
    async with discord_http(fake) as http:
        with pytest.raises(Crash):
            await dispatcher_for(db, settings, CrashAfterPosting(http, crash_on=7)).drain()
    assert len(fake.messages("purchases")) + len(fake.messages("transfers")) == 7
    # The 7th message is on Discord but not recorded: its rows are still pending, claimed with its nonce (the
    # messages planned after it in that pass are claimed too, each with its own nonce, not yet sent).
    seventh = (fake.messages("purchases") + fake.messages("transfers"))[-1]
    pending = await db.fetchall("SELECT state FROM notification_outbox WHERE nonce = ?", (seventh["nonce"],))
    assert [r[0] for r in pending] == ["pending"] * 10
    sent = await db.fetchone("SELECT count(*) FROM notification_outbox WHERE state = 'sent'")
    assert sent is not None
    assert sent[0] == 60

    # more events arrive while the bot is down; then a new process starts on the same database
    async with running_receiver(db) as receiver:
        await post_all(receiver, [purchase(uid) for uid in range(301, 321)] + [purchase(uid) for uid in range(1, 11)])
    async with discord_http(fake) as http:
        await dispatcher_for(db, settings, DiscordHttpSink(http)).drain()

    purchases = unique_ids(fake, "purchases")
    transfers = unique_ids(fake, "transfers")
    assert sorted(purchases) == list(range(1, 321))
    assert sorted(transfers) == list(range(1, 101))
    assert Counter(purchases).most_common(1)[0][1] == 1
    nonces = [m.get("nonce") for m in fake.messages("purchases") + fake.messages("transfers")]
    assert len(nonces) == len(set(nonces))
    counts = await Outbox(db).counts()
    assert (counts.pending, counts.undeliverable) == (0, 0)
    fake.assert_no_violations()


async def test_rate_limits_are_respected_and_still_exactly_once(
    db: Database, settings: Settings, discord_py_at_fake: FakeDiscord
) -> None:
    fake = discord_py_at_fake
    channel = fake.channels["purchases"].id
    fake.inject_rate_limit(f"/channels/{channel}/messages", count=3, retry_after=0.01)
    async with running_receiver(db) as receiver:
        await post_all(receiver, [purchase(uid) for uid in range(1, 31)])
    async with discord_http(fake) as http:
        await dispatcher_for(db, settings, DiscordHttpSink(http)).drain()
    assert sorted(unique_ids(fake, "purchases")) == list(range(1, 31))
    assert len(fake.messages("purchases")) == 3
    posts = [c for c in fake.calls if c.method == "POST" and c.path.endswith(f"/channels/{channel}/messages")]
    assert [c.status for c in posts].count(429) == 3


async def test_discord_down_then_back(db: Database, settings: Settings, discord_py_at_fake: FakeDiscord) -> None:
    fake = discord_py_at_fake
    async with running_receiver(db) as receiver:
        await post_all(receiver, [transfer(uid) for uid in range(1, 6)])
    async with discord_http(fake) as http:
        dispatcher = dispatcher_for(db, settings, DiscordHttpSink(http))
        await fake.set_down(True)
        first = await dispatcher.run_once()
        assert first.sent_rows == 0
        await fake.set_down(False)
        await dispatcher.drain()
    assert sorted(unique_ids(fake, "transfers")) == [1, 2, 3, 4, 5]


async def test_missing_permissions_and_closed_dms(
    db: Database, settings: Settings, discord_py_at_fake: FakeDiscord
) -> None:
    fake = discord_py_at_fake
    outbox = Outbox(db)
    fake.close_dms(fake.member)
    await outbox.enqueue_now(target=f"dm:{fake.member.id}", embeds=[{"title": "receipt"}], dedupe_key="dm1")
    await outbox.enqueue_now(target=f"dm:{fake.owner.id}", embeds=[{"title": "hello"}], dedupe_key="dm2")
    await outbox.enqueue_now(
        target=f"role:{fake.guild.id}:{fake.member.id}:{fake.staff_role.id}", embeds=[], dedupe_key="role1"
    )
    async with discord_http(fake) as http:
        await dispatcher_for(db, settings, DiscordHttpSink(http)).drain()
    assert [m["embeds"][0]["title"] for m in fake.dm_messages(fake.owner)] == ["hello"]
    assert fake.staff_role.id in fake.member_roles(fake.member)
    counts = await outbox.counts()
    assert (counts.undeliverable, counts.pending) == (1, 0)
    audit = fake.messages("audit")
    assert len(audit) == 1
    assert "could not be delivered" in audit[0]["embeds"][0]["title"]


# ------------------------------------------------------------------------------------------ issue 17
def loop_dispatcher_for(db: Database, settings: Settings, sink: Any, *, page_size: int) -> NotificationDispatcher:
    """As wired in production but with a small page and a poll interval never reached."""
    return NotificationDispatcher(
        Outbox(db),
        sink,
        GuildConfig(db, settings),
        base_delay=0.001,
        max_delay=0.01,
        poll_interval=3600.0,
        page_size=page_size,
    )


async def wait_drained(db: Database, *, guard: float = 60.0) -> None:
    """Until no row is pending; the guard only catches a hang (no timing assertion)."""
    outbox = Outbox(db)
    async with asyncio.timeout(guard):
        while (await outbox.counts()).pending:
            await asyncio.sleep(0.02)


async def test_run_loop_drains_a_backlog_of_many_pages_through_discord_py(
    db: Database, settings: Settings, discord_py_at_fake: FakeDiscord
) -> None:
    fake = discord_py_at_fake
    async with running_receiver(db) as receiver:
        await post_all(receiver, [purchase(uid) for uid in range(1, 601)])
    async with discord_http(fake) as http:
        dispatcher = loop_dispatcher_for(db, settings, DiscordHttpSink(http), page_size=100)  # six pages
        task = asyncio.create_task(dispatcher.run())
        await wait_drained(db)
        await dispatcher.close()
        await asyncio.wait_for(task, timeout=5)
    assert sorted(unique_ids(fake, "purchases")) == list(range(1, 601))
    assert len(fake.messages("purchases")) == 60
    fake.assert_no_violations()


def message_posts(fake: FakeDiscord, channel: int) -> list[Any]:
    return fake.calls_to("POST", f"/channels/{channel}/messages")


def assert_waited(posts: list[Any], retry_after: float) -> None:
    """After every 429, the next request on the route came only once ``retry_after`` had passed: no request was
    made during the wait."""
    for limited in (c for c in posts if c.status == 429):
        during = [c for c in posts if limited.at < c.at < limited.at + retry_after - 0.02]
        assert during == [], f"{len(during)} request(s) during a {retry_after} s rate limit"


async def test_a_429_retry_after_is_waited_without_spinning(
    db: Database, settings: Settings, discord_py_at_fake: FakeDiscord
) -> None:
    fake = discord_py_at_fake
    channel = fake.channels["purchases"].id
    async with running_receiver(db) as receiver:
        await post_all(receiver, [purchase(uid) for uid in range(1, 101)])
    fake.inject_rate_limit(f"/channels/{channel}/messages", count=1, retry_after=0.5)
    async with discord_http(fake) as http:
        dispatcher = loop_dispatcher_for(db, settings, DiscordHttpSink(http), page_size=30)
        task = asyncio.create_task(dispatcher.run())
        await wait_drained(db)
        await dispatcher.close()
        await asyncio.wait_for(task, timeout=5)
    posts = message_posts(fake, channel)
    assert [c.status for c in posts] == [429] + [200] * 10
    assert posts[0].response == {
        "message": "You are being rate limited.",
        "code": 0,
        "retry_after": 0.5,
        "global": False,
    }
    assert_waited(posts, 0.5)
    assert sorted(unique_ids(fake, "purchases")) == list(range(1, 101))


async def test_a_429_that_outlasts_discord_py_retries_backs_off_for_retry_after(
    db: Database, settings: Settings, discord_py_at_fake: FakeDiscord
) -> None:
    fake = discord_py_at_fake
    channel = fake.channels["purchases"].id
    async with running_receiver(db) as receiver:
        await post_all(receiver, [purchase(uid) for uid in range(1, 21)])
    # discord.py tries a request 5 times (sleeping retry_after after each 429), then gives up: the dispatcher
    # must then back off for retry_after (its own backoff here is 1-10 ms), not hammer the route
    fake.inject_rate_limit(f"/channels/{channel}/messages", count=7, retry_after=0.2)
    async with discord_http(fake) as http:
        dispatcher = loop_dispatcher_for(db, settings, DiscordHttpSink(http), page_size=100)
        first = await dispatcher.run_once()
        assert (first.sent_rows, first.progressed) == (0, False)
        backoff = dispatcher._state.retry["channel:purchase"]
        assert backoff.until - time.monotonic() > 0.1  # at least retry_after (0.2 s) from the 5th 429
        task = asyncio.create_task(dispatcher.run())
        await wait_drained(db)
        await dispatcher.close()
        await asyncio.wait_for(task, timeout=5)
    posts = message_posts(fake, channel)
    assert [c.status for c in posts] == [429] * 7 + [200] * 2
    assert_waited(posts, 0.2)
    assert sorted(unique_ids(fake, "purchases")) == list(range(1, 21))
    assert len({m["nonce"] for m in fake.messages("purchases")}) == 2
