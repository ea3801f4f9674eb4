"""A database seeded through the real repositories (orders, spending journal over the simulator, webhook store)
with known events around the spring DST change in Europe/Berlin (2026-03-29)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.market.client import MarketClient
from bot.market.journal import OperationStatus, SpendingJournal
from bot.market.request_ids import RequestIdFactory
from bot.market.retry import RetryPolicy
from bot.orders.models import OrderState
from bot.orders.repository import OrderRepository
from bot.stats.periods import Period
from bot.storage import Database
from bot.webhooks.models import WebhookEvent
from bot.webhooks.store import WebhookStore

BERLIN = ZoneInfo("Europe/Berlin")
ALICE_STAFF = 1001
BOB_STAFF = 1002
PERIOD_DAYS = (datetime(2026, 3, 27).date(), datetime(2026, 3, 30).date())


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = utc(2026, 3, 20, 12, 0)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Seeded:
    db: Database
    journal: SpendingJournal
    orders: OrderRepository
    clock: Clock

    @property
    def period(self) -> Period:
        return Period(PERIOD_DAYS[0], PERIOD_DAYS[1], BERLIN)


async def add_order(
    seeded: Seeded,
    order_id: str,
    *,
    paid_at: datetime | None,
    login: str,
    product: str,
    method: str,
    currency: str,
    amount: str,
    nle_cost: str,
    paid_by: int | None,
    deliver_at: datetime | None = None,
    refund_at: datetime | None = None,
) -> None:
    clock = seeded.clock
    clock.now = (paid_at or utc(2026, 3, 28)) - timedelta(minutes=5)
    await seeded.orders.insert(
        {
            "id": order_id,
            "token_hash": None,
            "form_token": f"form-{order_id}",
            "login": login,
            "product_key": product,
            "nle": nle_cost if product == "marketplace" else None,
            "nle_cost": Decimal(nle_cost),
            "expires_at": clock.now + timedelta(hours=1),
        },
        actor="customer",
    )
    if paid_at is None:
        return
    clock.now = paid_at
    await seeded.orders.move(
        order_id,
        OrderState.PAID,
        actor="staff" if paid_by else "provider:cryptopay",
        sets={"currency": currency, "method": method, "amount": Decimal(amount), "paid_by": paid_by},
    )
    if deliver_at is not None:
        clock.now = deliver_at
        request_id = f"ord-{order_id}-1"
        await seeded.orders.move(order_id, OrderState.FULFILLING, actor="system", sets={"request_id": request_id})
        op = await seeded.journal.create(
            "transfer-money",
            {"username": "a49", "amount": nle_cost},
            requested_by=paid_by,
            amount_nle=Decimal(nle_cost),
            request_id=request_id,
        )
        assert (await seeded.journal.run(op)).status is OperationStatus.SUCCEEDED
        await seeded.orders.move(order_id, OrderState.DELIVERED, actor="system")
    if refund_at is not None:
        clock.now = refund_at
        await seeded.orders.move(order_id, OrderState.REFUNDED, actor="staff:1", note="refunded by hand")


async def spend(seeded: Seeded, at: datetime, amount: str, by: int | None, *, user: str = "a49") -> OperationStatus:
    seeded.clock.now = at
    op = await seeded.journal.execute(
        "transfer-money", {"username": user, "amount": amount}, requested_by=by, amount_nle=None
    )
    return op.status


async def webhook(store: WebhookStore, kind: str, unique_id: int, at: datetime, amount: str) -> None:
    event = WebhookEvent(
        kind=kind,  # type: ignore[arg-type]
        unique_id=unique_id,
        username="buyer1",
        amount=Decimal(amount),
        item_id="E3yugw" if kind == "purchase" else None,
        received_at=at,
    )
    assert await store.add_event(event, body="{}", remote=None)


@pytest.fixture
def stats_clock() -> Clock:
    return Clock()


async def seed(db: Database, journal: SpendingJournal, clock: Clock, store: WebhookStore) -> Seeded:
    """Write the known events (see the module docstring) through the real repositories."""
    data = Seeded(db, journal, OrderRepository(db, clock), clock)
    # Orders. O3 is paid at 00:30 local on the first day, O4 at local midnight after the last day (out),
    # O5 one microsecond before the first local midnight (previous period), O2 after UTC midnight but on
    # local 2026-03-30 (CEST, +2 after the DST change).
    await add_order(
        data, "O1", paid_at=utc(2026, 3, 28, 10, 0), login="Alice", product="cs2-30", method="manual",
        currency="USD", amount="10.50", nle_cost="17.10", paid_by=ALICE_STAFF, deliver_at=utc(2026, 3, 28, 10, 5),
    )  # fmt: skip
    await add_order(
        data, "O2", paid_at=utc(2026, 3, 29, 22, 30), login="alice", product="marketplace", method="cryptopay",
        currency="USDT", amount="12.25", nle_cost="20.00", paid_by=None, deliver_at=utc(2026, 3, 29, 22, 31),
    )  # fmt: skip
    await add_order(
        data, "O3", paid_at=utc(2026, 3, 26, 23, 30), login="bob", product="cs2-90", method="manual",
        currency="EUR", amount="9.99", nle_cost="40.00", paid_by=BOB_STAFF, refund_at=utc(2026, 3, 27, 9, 0),
    )  # fmt: skip
    await add_order(
        data, "O4", paid_at=utc(2026, 3, 30, 22, 0), login="carol", product="cs2-30", method="manual",
        currency="USD", amount="10.50", nle_cost="17.10", paid_by=ALICE_STAFF,
    )  # fmt: skip
    await add_order(
        data, "O5", paid_at=datetime(2026, 3, 26, 22, 59, 59, 999999, tzinfo=UTC), login="dave", product="cs2-30",
        method="manual", currency="USD", amount="5.00", nle_cost="17.10", paid_by=BOB_STAFF,
    )  # fmt: skip
    await add_order(
        data, "O6", paid_at=None, login="erin", product="cs2-30", method="manual", currency="USD", amount="1",
        nle_cost="17.10", paid_by=None,
    )  # fmt: skip
    # Staff and system spending (one refused: not counted).
    assert await spend(data, utc(2026, 3, 25, 10, 0), "10.00", ALICE_STAFF) is OperationStatus.SUCCEEDED
    assert await spend(data, utc(2026, 3, 27, 8, 0), "1.05", BOB_STAFF) is OperationStatus.SUCCEEDED
    assert await spend(data, utc(2026, 3, 28, 11, 0), "2.00", None) is OperationStatus.SUCCEEDED
    assert await spend(data, utc(2026, 3, 29, 12, 0), "3.30", ALICE_STAFF) is OperationStatus.SUCCEEDED
    assert await spend(data, utc(2026, 3, 29, 13, 0), "9.00", ALICE_STAFF, user="ghost") is OperationStatus.FAILED
    # Webhook events.
    await webhook(store, "purchase", 1, utc(2026, 3, 28, 15, 0), "7.77")
    await webhook(store, "transfer", 1, utc(2026, 3, 30, 21, 59, 59), "4.44")  # 23:59:59 local: in
    await webhook(store, "transfer", 2, utc(2026, 3, 30, 22, 0), "100.00")  # local midnight: out
    await webhook(store, "purchase", 2, utc(2026, 3, 24, 9, 0), "2.50")  # previous period
    return data


@pytest.fixture
async def seeded(
    market_db: Database,
    market_client: MarketClient,
    market_ids: RequestIdFactory,
    market_retry: RetryPolicy,
    stats_clock: Clock,
) -> Seeded:
    journal = SpendingJournal(market_db, market_client, id_factory=market_ids, retry=market_retry, clock=stats_clock)
    store = WebhookStore(market_db)
    await store.start()
    try:
        return await seed(market_db, journal, stats_clock, store)
    finally:
        await store.close()
