"""Cards: one message per key, posted once and edited afterwards (real outbox and SQLite, recording sink)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.guild_config import ChannelKind
from bot.notifications.cards import (
    action_row,
    button,
    card_dedupe_key,
    card_target,
    check_card,
    check_components,
    decode_components,
    encode_components,
)
from bot.notifications.dispatcher import NotificationDispatcher
from bot.notifications.outbox import CardTarget, Outbox, card_row, parse_target
from bot.storage import Database
from tests.notifications.recording import Channels, RecordingSink, blocked_error, refused_error, retry_error

ORDERS, AUDIT = 444, 333
TARGET = "card:orders:order-1"


def card(state: str) -> list[dict[str, Any]]:
    return [{"title": f"Order order-1: {state}", "description": state}]


def buttons(*ids: str) -> list[dict[str, Any]]:
    return [action_row(*(button(i.title(), f"order:{i}:order-1") for i in ids))] if ids else []


def make(db: Database, sink: RecordingSink, orders: int | None = ORDERS) -> tuple[Outbox, NotificationDispatcher]:
    outbox = Outbox(db)
    channels = Channels({ChannelKind.ORDERS: orders, ChannelKind.AUDIT: AUDIT})
    dispatcher = NotificationDispatcher(outbox, sink, channels, base_delay=0.001, max_delay=0.004, jitter=lambda: 0.0)
    return outbox, dispatcher


async def queue(outbox: Outbox, version: str, *ids: str, key: str = "order-1") -> bool:
    row = card_row(ChannelKind.ORDERS, key, version=version, embeds=card(version), components=buttons(*ids))
    async with outbox._db.transaction() as conn:
        return await outbox.enqueue_many(conn, [row]) == 1


async def waiting(db: Database) -> int:
    row = await db.fetchone("SELECT count(*) FROM notification_outbox WHERE target LIKE 'card:%' AND state = 'pending'")
    assert row is not None
    return int(row[0])


def shown(sink: RecordingSink, message_id: int) -> tuple[str, list[str]]:
    embeds, components = sink.cards[message_id]
    return embeds[0]["title"], [c["custom_id"] for row in components for c in row["components"]]


# ------------------------------------------------------------------------------------------ rows
def test_targets_keys_and_rows() -> None:
    assert card_target("orders", "AbC_-9") == "card:orders:AbC_-9"
    assert parse_target("card:orders:AbC_-9") == CardTarget(ChannelKind.ORDERS, "AbC_-9")
    for bad in ("card:orders:", "card:nope:abc", "card:orders:a b", "card:orders:" + "x" * 65):
        with pytest.raises(ValueError, match="unknown notification target"):
            parse_target(bad)
    assert parse_target("card:orders:" + "x" * 64) == CardTarget(ChannelKind.ORDERS, "x" * 64)
    with pytest.raises(ValueError, match="card key"):
        card_target("orders", "a/b")
    with pytest.raises(ValueError, match="card key"):
        card_target("orders", "")
    assert card_dedupe_key(TARGET, "3.paid") == "card:orders:order-1:3.paid"
    with pytest.raises(ValueError, match="card version"):
        card_dedupe_key(TARGET, "a b")
    with pytest.raises(ValueError, match="card version"):
        card_dedupe_key(TARGET, "v" * 41)
    row = card_row(ChannelKind.ORDERS, "order-1", version="1", embeds=card("new"), components=buttons("confirm"))
    assert row.target == TARGET
    assert row.dedupe_key == "card:orders:order-1:1"
    assert decode_components(row.content) == buttons("confirm")
    assert decode_components(None) == []
    assert decode_components("") == []
    assert encode_components([]) == "[]"


@pytest.mark.parametrize(
    ("components", "message"),
    [
        ([action_row(button("A", "a"))] * 6, "more than 5 action rows"),
        ([{"type": 2, "label": "A", "custom_id": "a"}], "are action rows"),
        (["row"], "are action rows"),
        ([{"type": 1, "components": []}], "1 to 5 buttons"),
        ([{"type": 1, "components": "x"}], "1 to 5 buttons"),
        ([action_row(*(button(str(i), str(i)) for i in range(6)))], "1 to 5 buttons"),
        ([{"type": 1, "components": [{"type": 3, "custom_id": "s"}]}], "holds buttons"),
        ([{"type": 1, "components": ["b"]}], "holds buttons"),
        ([action_row(button("", "a"))], "label is 1 to 80"),
        ([action_row(button("L" * 81, "a"))], "label is 1 to 80"),
        ([action_row(button("A", ""))], "custom_id is 1 to 100"),
        ([action_row(button("A", "c" * 101))], "custom_id is 1 to 100"),
        ([action_row(button("A", "a"), button("B", "a"))], "unique"),
    ],
)
def test_components_are_checked(components: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_components(components)


def test_components_at_the_limits_pass() -> None:
    rows = [action_row(*(button("L" * 80, f"{r}-{i}".ljust(100, "x")) for i in range(5))) for r in range(5)]
    check_components(rows)
    check_card(card("x"), encode_components(rows))


def test_a_card_needs_an_embed_and_json_components() -> None:
    with pytest.raises(ValueError, match="at least one embed"):
        check_card([], "[]")
    with pytest.raises(ValueError, match="JSON of its components"):
        check_card(card("x"), "not json")
    with pytest.raises(ValueError, match="longer than 256"):
        check_card([{"title": "t" * 257}], None)
    check_card(card("x"), None)


async def test_enqueue_refuses_a_bad_card(db: Database) -> None:
    outbox = Outbox(db)
    with pytest.raises(ValueError, match="at least one embed"):
        await outbox.enqueue_now(target=TARGET, embeds=[], content="[]", dedupe_key=f"{TARGET}:1")
    assert (await outbox.counts()).pending == 0


# ------------------------------------------------------------------------------------------ delivery
async def test_posted_once_then_edited_and_a_burst_becomes_one_edit(db: Database) -> None:
    sink = RecordingSink()
    outbox, dispatcher = make(db, sink)
    assert await queue(outbox, "1.awaiting", "confirm", "reject")
    assert not await queue(outbox, "1.awaiting", "confirm", "reject")  # the same state twice: one row
    result = await dispatcher.drain()
    assert (result.remaining, result.sent_messages, result.sent_rows) == (0, 1, 1)
    assert len(sink.card_posts) == 1
    channel, nonce, message_id = sink.card_posts[0]
    assert channel == ORDERS
    assert nonce.startswith("nlo-")
    assert shown(sink, message_id) == ("Order order-1: 1.awaiting", ["order:confirm:order-1", "order:reject:order-1"])
    assert sink.card_edits == []
    assert await outbox.card_message_id(TARGET) == message_id

    for version in ("2.paid", "3.fulfilling", "4.delivered"):  # a burst before the dispatcher runs
        await queue(outbox, version)
    result = await dispatcher.drain()
    assert (result.remaining, result.sent_messages, result.sent_rows) == (0, 1, 3)
    assert sink.card_edits == [(ORDERS, message_id)]
    assert len(sink.card_posts) == 1  # never reposted
    assert shown(sink, message_id) == ("Order order-1: 4.delivered", [])
    assert await outbox.card_message_id(TARGET) == message_id
    assert sink.sent == []  # nothing went through the plain message path


async def test_cards_of_different_keys_are_different_messages(db: Database) -> None:
    sink = RecordingSink()
    outbox, dispatcher = make(db, sink)
    await queue(outbox, "1", "confirm", key="a")
    await queue(outbox, "1", "confirm", key="b")
    await dispatcher.drain()
    assert len(sink.card_posts) == 2
    assert await outbox.card_message_id("card:orders:a") != await outbox.card_message_id("card:orders:b")
    assert await outbox.card_message_id("card:orders:c") is None


async def test_a_claimed_row_is_resent_with_its_nonce_then_edited_to_the_newest(db: Database) -> None:
    sink = RecordingSink()
    outbox, dispatcher = make(db, sink)
    await queue(outbox, "1", "confirm")
    first = (await outbox.pending())[0]
    nonce = await outbox.claim([first.id])
    # the crash: Discord created the message, the bot died before recording it
    sink.by_nonce[nonce] = 4242
    sink.cards[4242] = (card("1"), buttons("confirm"))
    await queue(outbox, "2")
    await dispatcher.drain()
    assert sink.card_posts == []  # the nonce answered with the message Discord already had
    assert sink.card_edits == [(ORDERS, 4242)]
    assert shown(sink, 4242) == ("Order order-1: 2", [])
    assert await outbox.card_message_id(TARGET) == 4242
    assert (await outbox.counts()).pending == 0


async def test_a_deleted_card_is_posted_again(db: Database) -> None:
    sink = RecordingSink()
    outbox, dispatcher = make(db, sink)
    await queue(outbox, "1", "confirm")
    await dispatcher.drain()
    old = sink.card_posts[0][2]
    del sink.cards[old]  # someone deleted it (or the orders channel changed)
    await queue(outbox, "2", "retry")
    await dispatcher.drain()
    assert len(sink.card_posts) == 2
    new = sink.card_posts[1][2]
    assert new != old
    assert shown(sink, new) == ("Order order-1: 2", ["order:retry:order-1"])
    assert await outbox.card_message_id(TARGET) == new


async def test_retry_blocked_refused_and_unconfigured(db: Database) -> None:
    sink = RecordingSink()
    outbox, dispatcher = make(db, sink, orders=None)
    await queue(outbox, "1", "confirm")
    await dispatcher.run_once()
    await dispatcher.run_once()  # the second pass posts the alert the first one queued
    assert sink.card_posts == []
    assert await waiting(db) == 1
    alert = [s for s in sink.to(AUDIT) if "not configured" in s.embeds[0]["title"]]
    assert len(alert) == 1
    assert "kind:orders" in alert[0].embeds[0]["description"]

    sink2 = RecordingSink(card_failures=[retry_error()])
    outbox, dispatcher = make(db, sink2)
    await dispatcher.run_once()
    assert sink2.card_posts == []
    assert await waiting(db) == 1
    await dispatcher.drain()
    assert len(sink2.card_posts) == 1
    assert await waiting(db) == 0

    message_id = sink2.card_posts[0][2]
    sink2.card_failures.append(blocked_error())
    await queue(outbox, "2")
    await dispatcher.run_once()
    await dispatcher.run_once()
    assert await waiting(db) == 1
    assert any("Cannot post notifications" in s.embeds[0]["title"] for s in sink2.to(AUDIT))
    dispatcher.recheck_blocked()
    await dispatcher.drain()
    assert sink2.card_edits == [(ORDERS, message_id)]

    sink2.card_failures.append(refused_error())
    await queue(outbox, "3")
    await queue(outbox, "4")
    await dispatcher.drain()
    assert await waiting(db) == 0
    assert (await outbox.counts()).undeliverable == 2
    assert any("Card could not be delivered" in s.embeds[0]["title"] for s in sink2.to(AUDIT))
    assert shown(sink2, message_id)[0] == "Order order-1: 2"  # the refused state was not shown
    assert await outbox.card_message_id(TARGET) == message_id  # the next change edits the same message
    await queue(outbox, "5")
    await dispatcher.drain()
    assert shown(sink2, message_id)[0] == "Order order-1: 5"


async def test_keys_that_share_a_prefix_are_different_cards(db: Database) -> None:
    sink = RecordingSink()
    outbox, dispatcher = make(db, sink)
    for key in ("a", "a-b", "a_b", "ab"):
        await queue(outbox, "1", "confirm", key=key)
    await dispatcher.drain()
    ids = [await outbox.card_message_id(f"card:orders:{key}") for key in ("a", "a-b", "a_b", "ab")]
    assert len(set(ids)) == 4
    await queue(outbox, "2", key="a")
    await dispatcher.drain()
    assert sink.card_edits == [(ORDERS, ids[0])]
