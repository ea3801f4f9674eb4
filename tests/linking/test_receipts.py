"""Receipts and role grants for linked customers, through the real webhook store and outbox tables."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from bot.linking.links import LinkRepository
from bot.linking.receipts import ReceiptHooks
from bot.linking.roles import RoleKey, RoleMappings
from bot.market.journal import Operation, OperationStatus
from bot.notifications.outbox import Outbox
from bot.storage import Database
from bot.webhooks.models import WebhookEvent
from bot.webhooks.store import WebhookStore
from tests.linking.conftest import Harness

GUILD = 111
ROLE_ITEM = 501
ROLE_CS2 = 502
ROLE_OTHER_GUILD = 503
BUYER = 42
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


class Wakes:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def wakes() -> Wakes:
    return Wakes()


@pytest.fixture
def hooks(db: Database, wakes: Wakes) -> ReceiptHooks:
    return ReceiptHooks(db, Outbox(db), wake=wakes)


@pytest.fixture
async def store(db: Database, hooks: ReceiptHooks) -> AsyncIterator[WebhookStore]:
    webhook_store = WebhookStore(db)
    webhook_store.add_events_hook(hooks.on_events)
    await webhook_store.start()
    yield webhook_store
    await webhook_store.close()


@pytest.fixture
async def linked(db: Database) -> LinkRepository:
    links = LinkRepository(db)
    await links.link(BUYER, "1001", "A49")
    roles = RoleMappings(db)
    await roles.add(GUILD, RoleKey.ITEM, "E3yugw", ROLE_ITEM, created_by=1)
    await roles.add(GUILD + 1, RoleKey.ITEM, "E3yugw", ROLE_OTHER_GUILD, created_by=1)
    await roles.add(GUILD, RoleKey.PRODUCT, "cs2", ROLE_CS2, created_by=1)
    return links


async def _outbox(db: Database) -> list[dict[str, Any]]:
    rows = await db.fetchall("SELECT target, dedupe_key, embeds FROM notification_outbox ORDER BY id")
    return [{"target": r[0], "dedupe_key": r[1], "embeds": json.loads(r[2])} for r in rows]


def _purchase(unique_id: int, username: str, item: str = "E3yugw") -> WebhookEvent:
    return WebhookEvent("purchase", unique_id, username, Decimal("0.9"), item, NOW)


def _operation(
    method: str, params: dict[str, Any], *, status: OperationStatus = OperationStatus.SUCCEEDED
) -> Operation:
    return Operation(
        id=7,
        request_id="nlrb-abc-7",
        method=method,
        params=params,
        requested_by=1,
        guild_id=GUILD,
        created_at=NOW,
        updated_at=NOW,
        status=status,
        attempts=1,
        result="{}",
        error=None,
        confirmed_on_retry=False,
        amount_nle=None,
    )


@pytest.mark.usefixtures("linked")
async def test_purchase_by_linked_buyer_queues_receipt_and_roles(db: Database, store: WebhookStore) -> None:
    assert await store.add_event(_purchase(89968, "a49"), body="{}", remote=None)  # login match ignores case
    rows = await _outbox(db)
    targets = [r["target"] for r in rows]
    assert targets == [
        f"dm:{BUYER}",
        f"role:{GUILD}:{BUYER}:{ROLE_ITEM}",
        f"role:{GUILD + 1}:{BUYER}:{ROLE_OTHER_GUILD}",
    ]
    receipt = rows[0]["embeds"][0]
    assert receipt["title"] == "Receipt: market purchase"
    assert "0.9 NLE" in json.dumps(receipt)
    assert "89968" in json.dumps(receipt)
    assert rows[1]["embeds"] == []

    # a duplicate delivery of the same event queues nothing more
    assert not await store.add_event(_purchase(89968, "A49"), body="{}", remote=None)
    assert len(await _outbox(db)) == 3


@pytest.mark.usefixtures("linked")
async def test_unlinked_buyer_and_transfers_queue_nothing(db: Database, store: WebhookStore) -> None:
    assert await store.add_event(_purchase(1, "someone-else"), body="{}", remote=None)
    transfer = WebhookEvent("transfer", 2, "A49", Decimal(1), None, NOW)
    assert await store.add_event(transfer, body="{}", remote=None)
    assert await _outbox(db) == []


@pytest.mark.usefixtures("linked")
async def test_purchase_of_an_unmapped_item_queues_only_the_receipt(db: Database, store: WebhookStore) -> None:
    assert await store.add_event(_purchase(5, "A49", item="Other1"), body="{}", remote=None)
    assert [r["target"] for r in await _outbox(db)] == [f"dm:{BUYER}"]


@pytest.mark.usefixtures("linked")
async def test_staff_gift_to_linked_login(db: Database, hooks: ReceiptHooks, wakes: Wakes) -> None:
    await hooks.on_spending(_operation("gift-product", {"username": "A49", "product": "cs2", "cnt": 0}))
    rows = await _outbox(db)
    assert [r["target"] for r in rows] == [f"dm:{BUYER}", f"role:{GUILD}:{BUYER}:{ROLE_CS2}"]
    assert "CS2, 30 days" in rows[0]["embeds"][0]["description"]
    assert wakes.count == 1
    # the same operation again (e.g. a re-driven hook) queues nothing twice
    await hooks.on_spending(_operation("gift-product", {"username": "A49", "product": "cs2", "cnt": 0}))
    assert len(await _outbox(db)) == 2


@pytest.mark.usefixtures("linked")
@pytest.mark.parametrize(
    ("method", "params", "targets", "text"),
    [
        ("give-for-free", {"username": "A49", "code": "E3yugw"}, ["dm", "role", "role"], "item E3yugw"),
        ("transfer-money", {"username": "A49", "amount": "12.5"}, ["dm"], "12.5 NLE"),
    ],
)
async def test_staff_item_and_transfer(
    db: Database, hooks: ReceiptHooks, method: str, params: dict[str, Any], targets: list[str], text: str
) -> None:
    await hooks.on_spending(_operation(method, params))
    rows = await _outbox(db)
    assert [r["target"].split(":")[0] for r in rows] == targets
    assert text in rows[0]["embeds"][0]["description"]


@pytest.mark.usefixtures("linked")
async def test_staff_spending_skipped_when_unlinked_or_not_succeeded(
    db: Database, hooks: ReceiptHooks, wakes: Wakes
) -> None:
    await hooks.on_spending(_operation("gift-product", {"username": "nobody", "product": "cs2", "cnt": 0}))
    await hooks.on_spending(
        _operation("gift-product", {"username": "A49", "product": "cs2", "cnt": 0}, status=OperationStatus.FAILED)
    )
    assert await _outbox(db) == []
    assert wakes.count == 0


async def test_linking_through_the_flow_dms_the_member(harness: Harness, wakes: Wakes) -> None:
    harness.service.attach_outbox(Outbox(harness.db), wake=wakes)
    status, _ = await harness.link(harness.browser(), BUYER)
    assert status == 200
    rows = await _outbox(harness.db)
    assert [r["target"] for r in rows] == [f"dm:{BUYER}"]
    assert "A49" in rows[0]["embeds"][0]["description"]
    assert wakes.count == 1
    # a refused link (account held by someone else) sends nothing
    status, _ = await harness.link(harness.browser(), BUYER + 1)
    assert status == 409
    assert len(await _outbox(harness.db)) == 1


async def test_buyers_of_one_batch_are_looked_up_together(db: Database, store: WebhookStore) -> None:
    from tests.webhooks.test_store_batches import one_batch

    ticks = iter(range(60))
    links = LinkRepository(db, clock=lambda: NOW.replace(second=next(ticks)))
    await links.link(BUYER, "1001", "A49")
    await links.link(43, "1002", "B7")
    await links.link(44, "1003", "b7")  # the same login, verified later (renamed accounts): this link wins
    events = [_purchase(1, "a49"), _purchase(2, "nobody"), _purchase(3, "B7"), _purchase(4, "A49")]
    assert await one_batch(store, events) == [True, True, True, True]
    keys = [(r["target"], r["dedupe_key"]) for r in await _outbox(db)]
    assert keys == [
        (f"dm:{BUYER}", "linking:receipt:purchase:1"),
        ("dm:44", "linking:receipt:purchase:3"),
        (f"dm:{BUYER}", "linking:receipt:purchase:4"),
    ]


async def test_each_buyer_of_a_batch_gets_the_receipt_in_their_language_from_one_look_up(
    db: Database, hooks: ReceiptHooks
) -> None:
    """Three linked buyers (two languages stored, one unknown: the channel language) in one batch: the
    receipts are each buyer's language, and the members' languages are read with one statement."""
    import sqlite3

    from bot.i18n.preferences import member_key

    links = LinkRepository(db)
    await links.link(BUYER, "1001", "A49")
    await links.link(43, "1002", "B7")
    await links.link(44, "1003", "C8")
    await db.execute(
        "INSERT INTO guild_config (key, value) VALUES (?, 'ru'), (?, 'en')", (member_key(43), member_key(44))
    )
    conn = sqlite3.connect(db.path, isolation_level=None)
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        conn.execute("BEGIN IMMEDIATE")
        events = [_purchase(1, "A49"), _purchase(2, "B7"), _purchase(3, "C8"), _purchase(4, "B7")]
        hooks.on_events(conn, events)
        conn.execute("COMMIT")
    finally:
        conn.close()
    assert sum("guild_config" in sql for sql in statements) == 1
    titles = {r["dedupe_key"]: r["embeds"][0]["title"] for r in await _outbox(db) if r["embeds"]}
    from bot.i18n import t

    assert titles == {
        "linking:receipt:purchase:1": t("en", "receipt.purchase.title"),  # nothing stored: the channel language
        "linking:receipt:purchase:2": t("ru", "receipt.purchase.title"),
        "linking:receipt:purchase:3": t("en", "receipt.purchase.title"),
        "linking:receipt:purchase:4": t("ru", "receipt.purchase.title"),
    }
    assert t("ru", "receipt.purchase.title") != t("en", "receipt.purchase.title")
