"""Service edges found by mutation testing of ``__init__``, ``check`` and ``_record_check``: what the constructor
is given is what the service uses, and a check holds its order's own lock."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal

import pytest

from bot.market.client import MarketClient
from bot.market.journal import SpendingJournal
from bot.market.simulator.runner import RunningSimulator
from bot.orders.models import OrderState
from bot.orders.service import OrderService
from bot.payments.registry import PaymentRegistry
from bot.shop.price_table import PriceTable
from bot.storage import Database
from tests.orders.conftest import Clock, order_service
from tests.orders.test_service import checked


@dataclass
class Woken:
    """An order service built with a ``wake`` callback that counts its calls."""

    service: OrderService
    calls: list[int]


@pytest.fixture
def woken(
    market_db: Database,
    market_client: MarketClient,
    market_journal: SpendingJournal,
    shop: PriceTable,
    providers: PaymentRegistry,
    clock: Clock,
) -> Woken:
    calls: list[int] = []
    return Woken(
        order_service(market_db, market_client, market_journal, shop, providers, clock, wake=lambda: calls.append(1)),
        calls,
    )


async def test_the_wake_given_to_the_constructor_is_called_for_a_new_alert(
    woken: Woken, market_sim: RunningSimulator
) -> None:
    service = woken.service
    order = await checked(service)
    assert woken.calls == []
    market_sim.state.balance = Decimal("1.00")
    assert (await service.check(order.id)).check_reason == "low_balance"
    assert woken.calls == [1]


async def test_a_check_waits_for_its_orders_lock(orders: OrderService) -> None:
    order = await checked(orders)
    async with orders._lock(order.id):
        running = asyncio.ensure_future(orders.check(order.id))
        done, _ = await asyncio.wait([running], timeout=2.0)
        assert not done  # the order's lock is held: the check waits for it
    assert (await running).state is OrderState.AWAITING_PAYMENT


async def test_a_block_for_the_same_reason_is_not_alerted_again(
    woken: Woken, market_sim: RunningSimulator, market_db: Database
) -> None:
    """Still blocked for the same reason, with something else changed (the cost): recorded, no new alert, no wake."""
    from bot.market.models import Plan, PlanPrice, Product

    service = woken.service
    market_sim.state.balance = Decimal("1.00")
    order = await checked(service)
    assert (order.check_reason, woken.calls) == ("low_balance", [1])
    plans = market_sim.state.products[Product.CS2].prices
    plans[Plan.DAYS_30] = PlanPrice(days=30, cnt=Plan.DAYS_30, nle=Decimal("18.40"), rub=Decimal("1500"))
    again = await service.check(order.id)
    assert (again.check_reason, again.nle_cost) == ("low_balance", Decimal("18.40"))
    assert woken.calls == [1]
    assert len(await market_db.fetchall("SELECT 1 FROM notification_outbox")) == 1
