"""Crypto Pay with the real order service, the Market simulator and the fake Crypto Pay: from an order to one
gift, whichever of webhook and poll comes first, and what expiry, late payments and mismatches do."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

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
from bot.payments.cryptopay.provider import CryptoPayProvider, PaymentNotApplicable
from bot.payments.cryptopay.signature import webhook_key
from bot.payments.cryptopay.simulator import RunningFakeCryptoPay
from bot.payments.cryptopay.store import CryptoPayStore
from bot.payments.cryptopay.webhook import cryptopay_webhook_handler
from bot.payments.enabled import EnabledMethods
from bot.payments.provider import PaymentOutcome, PaymentStatus
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


# ---------------------------------------------------------------------- the order side, state by state
PAID = PaymentStatus(outcome=PaymentOutcome.PAID, reference="4242", amount=Decimal("20.00"), currency="EUR")


class _StaleReads:
    """The order service, but ``get`` answers an earlier snapshot: the order moved between the read and the move."""

    def __init__(self, service: OrderService, snapshot: Order) -> None:
        self._service = service
        self._snapshot = snapshot

    async def get(self, order_id: str) -> Order:
        return self._snapshot

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)


async def _expired(shop: Shop) -> Order:
    order = await shop.order()
    shop.clock.advance(timedelta(minutes=61))
    [expired] = await shop.service.expire_due()
    assert expired.id == order.id
    return expired


async def test_a_confirmation_for_an_expired_order_is_a_late_payment(shop: Shop) -> None:
    order = await _expired(shop)
    await OrderPaymentEvents(shop.service).payment_confirmed(order.id, PAID)
    await shop.settle()
    late = await shop.service.get(order.id)
    assert (late.state, late.method, late.payment_reference, late.last_error) == (
        OrderState.NEEDS_ATTENTION,
        PaymentMethod.CRYPTOPAY,
        "4242",
        "paid after the order expired",
    )
    last = (await shop.service.history(order.id))[-1]
    assert (last.to_state, last.actor, last.note) == (OrderState.NEEDS_ATTENTION, "cryptopay", LATE_NOTE)
    assert shop.gifts() == 0


async def test_a_payment_for_a_cancelled_order_cannot_be_applied(shop: Shop) -> None:
    order = await shop.order()
    await shop.service.cancel(order.id, "discord:5", "customer asked")
    events = OrderPaymentEvents(shop.service)
    for tell in (events.payment_confirmed, events.payment_late):
        with pytest.raises(PaymentNotApplicable, match=r"^the order was cancelled before the payment arrived$"):
            await tell(order.id, PAID)
    assert (await shop.service.get(order.id)).state is OrderState.CANCELLED


async def test_an_order_cancelled_while_the_confirmation_ran_cannot_take_it(shop: Shop) -> None:
    order = await shop.order()  # read while awaiting payment ...
    await shop.service.cancel(order.id, "discord:5", "customer asked")  # ... cancelled before the move
    events = OrderPaymentEvents(_StaleReads(shop.service, order))  # type: ignore[arg-type]
    with pytest.raises(PaymentNotApplicable, match=r"^the order is cancelled$"):
        await events.payment_confirmed(order.id, PAID)
    assert (await shop.service.get(order.id)).state is OrderState.CANCELLED


async def test_a_late_payment_for_an_order_still_waiting_is_an_ordinary_confirmation(shop: Shop) -> None:
    order = await shop.order()
    await OrderPaymentEvents(shop.service).payment_late(order.id, PAID)
    await shop.settle()
    done = await shop.service.get(order.id)
    assert (done.state, done.payment_reference) == (OrderState.DELIVERED, "4242")
    assert shop.gifts() == 1
    await OrderPaymentEvents(shop.service).payment_late(order.id, PAID)  # again: nothing more happens
    await shop.settle()
    assert (await shop.service.get(order.id)).state is OrderState.DELIVERED
    assert shop.gifts() == 1


async def test_a_late_payment_for_an_order_moved_meanwhile_changes_nothing(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    expired = await _expired(shop)
    await OrderPaymentEvents(shop.service).payment_late(expired.id, PAID)  # needs attention now
    caplog.set_level(logging.INFO)
    await OrderPaymentEvents(_StaleReads(shop.service, expired)).payment_late(expired.id, PAID)  # type: ignore[arg-type]
    assert f"cryptopay late payment: order moved meanwhile order_id={expired.id}" in caplog.messages
    assert (await shop.service.get(expired.id)).state is OrderState.NEEDS_ATTENTION
    notes = [t.note for t in await shop.service.history(expired.id)]
    assert notes.count(LATE_NOTE) == 1


async def test_an_expired_invoice_expires_only_an_order_still_waiting(shop: Shop) -> None:
    events = OrderPaymentEvents(shop.service)
    waiting = await shop.order()
    await events.invoice_expired(waiting.id)
    assert (await shop.service.get(waiting.id)).state is OrderState.EXPIRED
    last = (await shop.service.history(waiting.id))[-1]
    assert (last.actor, last.note) == ("cryptopay", "the Crypto Pay invoice expired")
    cancelled = await shop.order()
    await shop.service.cancel(cancelled.id, "discord:5", "customer asked")
    await events.invoice_expired(cancelled.id)
    assert (await shop.service.get(cancelled.id)).state is OrderState.CANCELLED


async def test_a_late_payment_never_takes_an_order_that_staff_confirmed_meanwhile(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    expired = await _expired(shop)  # read as expired by the late payment ...
    paid = await shop.service.repo.move(
        expired.id, OrderState.PAID, actor="staff:1", expect=OrderState.EXPIRED, sets={"paid_by": 1}
    )  # ... while staff confirmed it, and its delivery started (``fulfilling`` may also become needs_attention)
    await shop.service.repo.move(
        paid.id, OrderState.FULFILLING, actor="system", expect=OrderState.PAID, sets={"request_id": "ord-late-1"}
    )
    caplog.set_level(logging.INFO)
    await OrderPaymentEvents(_StaleReads(shop.service, expired)).payment_late(expired.id, PAID)  # type: ignore[arg-type]
    assert f"cryptopay late payment: order moved meanwhile order_id={expired.id}" in caplog.messages
    now = await shop.service.get(expired.id)
    assert (now.state, now.method, now.payment_reference, now.last_error) == (
        OrderState.FULFILLING,
        expired.method,
        expired.payment_reference,
        expired.last_error,
    )
    assert LATE_NOTE not in [t.note for t in await shop.service.history(expired.id)]
