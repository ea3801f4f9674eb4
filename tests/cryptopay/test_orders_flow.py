"""Crypto Pay with the real order service, the Market simulator and the fake Crypto Pay: from an order to one
gift, whichever of webhook and poll comes first, and what expiry, late payments and mismatches do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.market.client import MarketClient
from bot.market.journal import SpendingJournal
from bot.market.models import Product
from bot.market.simulator.state import SimulatorState
from bot.notifications.outbox import Outbox
from bot.orders.cryptopay_events import LATE_NOTE, OrderPaymentEvents
from bot.orders.models import Order, OrderState
from bot.orders.service import OrderService
from bot.payments.cryptopay.provider import CryptoPayProvider
from bot.payments.cryptopay.signature import webhook_key
from bot.payments.cryptopay.simulator import RunningFakeCryptoPay
from bot.payments.cryptopay.store import CryptoPayStore
from bot.payments.cryptopay.webhook import cryptopay_webhook_handler
from bot.payments.enabled import EnabledMethods
from bot.payments.registry import PaymentRegistry
from bot.shop.catalog import PaymentMethod
from bot.shop.price_table import PriceEntry, PriceTable
from bot.storage import Database
from tests.cryptopay.conftest import audit_rows
from tests.orders.conftest import Clock


@dataclass
class Shop:
    service: OrderService
    provider: CryptoPayProvider
    fake: RunningFakeCryptoPay
    market: SimulatorState
    clock: Clock
    db: Database

    async def order(self, login: str = "darth") -> Order:
        order = await self.service.create_for_discord_user(1, login, "cs2-30")
        order = await self.service.choose_method(order.id, PaymentMethod.CRYPTOPAY)
        assert (order.method, order.amount, order.currency) == (PaymentMethod.CRYPTOPAY, Decimal("20.00"), "EUR")
        return order

    async def invoice_id(self, order: Order) -> int:
        start = await self.service.payment_start(order)
        assert start is not None
        assert start.redirect_url is not None
        assert start.redirect_url.startswith(self.fake.base_url + "/pay/")
        return int(str(start.reference))

    async def settle(self) -> None:
        await self.fake.fake.idle()
        await self.provider.drain()
        await self.service.drain()

    def gifts(self) -> int:
        return sum(1 for e in self.market.request_log if e.method == "gift-product" and e.effect_applied)


@pytest.fixture
async def shop(
    market_db: Database,
    market_client: MarketClient,
    market_journal: SpendingJournal,
    market_state: SimulatorState,
    cp_provider: CryptoPayProvider,
    cp_store: CryptoPayStore,
    cp_fake: RunningFakeCryptoPay,
    cp_clock: Clock,
) -> AsyncIterator[Shop]:
    prices = PriceTable(market_db)
    await prices.put(PriceEntry("cs2-30", "EUR", Decimal("20.00")), updated_by=None)
    registry = PaymentRegistry()
    registry.add(cp_provider)
    service = OrderService(
        market_db,
        market=market_client,
        journal=market_journal,
        prices=prices,
        methods=EnabledMethods(market_db, cryptopay_enabled=True),
        providers=registry,
        order_ttl=timedelta(minutes=60),
        outbox=Outbox(market_db),
        clock=cp_clock,
        base_url=lambda: "https://shop.example",
    )
    cp_provider.events = OrderPaymentEvents(service)
    app = web.Application()
    app.router.add_post(
        "/hooks/cryptopay",
        cryptopay_webhook_handler(cp_store, webhook_key(cp_fake.token), on_recorded=cp_provider.on_recorded),
    )
    server = TestServer(app)
    await server.start_server()
    cp_fake.state.webhook_url = str(server.make_url("/hooks/cryptopay"))
    try:
        yield Shop(service, cp_provider, cp_fake, market_state, cp_clock, market_db)
    finally:
        await service.close()
        await server.close()


async def test_webhook_pays_and_delivers_exactly_once(shop: Shop) -> None:
    order = await shop.order()
    invoice_id = await shop.invoice_id(order)
    assert shop.fake.state.invoices[invoice_id].payload == order.id
    assert shop.fake.state.invoices[invoice_id].description == "CS2, 30 days"
    shop.fake.state.webhook_faults.duplicate = 1
    assert await shop.fake.pay(invoice_id)
    await shop.settle()
    await shop.provider.poll_pass()  # the poll sees the same payment: nothing more happens
    await shop.settle()
    done = await shop.service.get(order.id)
    assert done.state is OrderState.DELIVERED
    assert done.payment_reference == str(invoice_id)
    assert shop.gifts() == 1
    darth = shop.market.user("darth")
    assert darth is not None
    assert darth.subscription_days[Product.CS2] == 30
    history = [(t.to_state, t.actor) for t in await shop.service.history(order.id)]
    assert (OrderState.PAID, "cryptopay") in history


async def test_poll_delivers_when_the_webhook_is_lost(shop: Shop) -> None:
    order = await shop.order()
    invoice_id = await shop.invoice_id(order)
    shop.fake.state.webhook_faults.lose = 1
    assert await shop.fake.pay(invoice_id)
    await shop.settle()
    assert (await shop.service.get(order.id)).state is OrderState.AWAITING_PAYMENT
    await shop.provider.poll_pass()
    await shop.settle()
    assert (await shop.service.get(order.id)).state is OrderState.DELIVERED
    assert shop.gifts() == 1


async def test_expired_invoice_expires_the_order(shop: Shop) -> None:
    order = await shop.order()
    await shop.invoice_id(order)
    shop.clock.advance(timedelta(minutes=60))
    await shop.provider.poll_pass()
    expired = await shop.service.get(order.id)
    assert expired.state is OrderState.EXPIRED
    assert (await shop.service.history(order.id))[-1].actor == "cryptopay"


async def test_late_payment_goes_to_staff_not_to_delivery(shop: Shop) -> None:
    order = await shop.order()
    invoice_id = await shop.invoice_id(order)
    shop.fake.state.webhook_faults.hold = True
    assert await shop.fake.pay(invoice_id)  # paid at the last second; the webhook is delayed
    shop.clock.advance(timedelta(minutes=61))
    [expired] = await shop.service.expire_due()  # the order expires and withdraws its invoice
    assert expired.id == order.id
    shop.fake.fake.release_held()
    await shop.settle()
    late = await shop.service.get(order.id)
    assert late.state is OrderState.NEEDS_ATTENTION
    assert late.payment_reference == str(invoice_id)
    assert late.last_error == "paid after the order expired"
    assert (await shop.service.history(order.id))[-1].note == LATE_NOTE
    assert shop.gifts() == 0
    titles = [row["embeds"][0]["title"] for row in await audit_rows(shop.db)]
    assert "Crypto Pay: paid after expiry" in titles
    status = await shop.provider.poll(order.id)  # what /order refund shows staff
    assert status is not None
    assert status.details["paid_asset"] == "USDT"
    assert status.details["paid_amount"] == "21.99999997"


async def test_payment_for_a_cancelled_order_is_reported(shop: Shop) -> None:
    order = await shop.order()
    invoice_id = await shop.invoice_id(order)
    shop.fake.state.webhook_faults.hold = True
    assert await shop.fake.pay(invoice_id)
    await shop.service.cancel(order.id, "discord:5", "customer asked")
    shop.fake.fake.release_held()
    await shop.settle()
    assert (await shop.service.get(order.id)).state is OrderState.CANCELLED
    assert shop.gifts() == 0
    titles = [row["embeds"][0]["title"] for row in await audit_rows(shop.db)]
    assert titles == ["Crypto Pay: paid after expiry", "Crypto Pay: payment not applied"]


async def test_tampered_amount_is_never_delivered(shop: Shop) -> None:
    order = await shop.order()
    invoice_id = await shop.invoice_id(order)
    shop.fake.state.invoices[invoice_id].amount = Decimal("0.20")  # a forged cheaper invoice, correctly signed
    assert await shop.fake.pay(invoice_id)
    await shop.settle()
    await shop.provider.poll_pass()
    await shop.settle()
    assert (await shop.service.get(order.id)).state is OrderState.AWAITING_PAYMENT
    assert shop.gifts() == 0
    [alert] = await audit_rows(shop.db)
    fields = {f["name"]: f["value"] for f in alert["embeds"][0]["fields"]}
    assert fields["Reason"] == "amount 0.20 instead of 20.00 EUR"


async def test_not_offered_for_a_currency_crypto_pay_lacks(shop: Shop) -> None:
    prices = PriceTable(shop.db)
    await prices.replace_all([PriceEntry("cs2-30", "CHF", Decimal("19.00"))], updated_by=None)
    order = await shop.service.create_for_discord_user(1, "darth", "cs2-30")
    assert await shop.service.offer(order) is None
