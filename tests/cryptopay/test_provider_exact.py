"""CryptoPayProvider's answers pinned down exactly: the status of each kind of row and the staff alert for a
payment the order side could not take (mutation testing showed both could be wrong unnoticed)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest

from bot.notifications.embeds import COLOR_PROBLEM
from bot.payments.cryptopay.provider import CryptoPayProvider, PaymentNotStarted
from bot.payments.cryptopay.simulator import FakeCryptoPayState, RunningFakeCryptoPay
from bot.payments.cryptopay.store import CryptoPayStore
from bot.payments.provider import PaymentOutcome, PaymentStart, PaymentStatus
from bot.storage import Database
from tests.cryptopay.conftest import RecordingEvents, audit_rows, pay_with_webhook_lost, payment_request
from tests.orders.conftest import Clock


async def test_status_of_an_order_whose_invoice_is_being_created(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock
) -> None:
    cp_state.faults.fail_next("createInvoice", status=502)  # outcome unknown: the row stays "creating"
    with pytest.raises(PaymentNotStarted):
        await cp_provider.start(payment_request(cp_clock))
    assert await cp_provider.poll("order-1") == PaymentStatus(
        outcome=PaymentOutcome.PENDING,
        reference=None,
        amount=Decimal("20.00"),
        currency="EUR",
        paid_at=None,
        details={},
    )
    assert await cp_provider.poll("nothing") is None


async def test_status_of_an_open_then_cancelled_invoice(
    cp_provider: CryptoPayProvider, cp_clock: Clock, cp_state: FakeCryptoPayState
) -> None:
    await cp_provider.start(payment_request(cp_clock, amount=Decimal("12.34"), currency="USD"))
    pending = PaymentStatus(
        outcome=PaymentOutcome.PENDING, reference="1001", amount=Decimal("12.34"), currency="USD", details={}
    )
    assert await cp_provider.poll("order-1") == pending
    await cp_provider.cancel("order-1")
    assert await cp_provider.poll("order-1") == PaymentStatus(
        outcome=PaymentOutcome.CANCELLED, reference="1001", amount=Decimal("12.34"), currency="USD", details={}
    )
    assert await cp_provider.stored_details("order-1") == {}


async def test_status_of_an_expired_invoice(cp_provider: CryptoPayProvider, cp_clock: Clock) -> None:
    await cp_provider.start(payment_request(cp_clock))
    cp_clock.advance(timedelta(hours=1))
    status = await cp_provider.poll("order-1")  # asks Crypto Pay: expired there
    assert status == PaymentStatus(
        outcome=PaymentOutcome.EXPIRED, reference="1001", amount=Decimal("20.00"), currency="EUR", details={}
    )


async def test_status_of_a_paid_invoice_carries_the_payers_details(
    cp_provider: CryptoPayProvider, cp_fake: RunningFakeCryptoPay, cp_clock: Clock, cp_events: RecordingEvents
) -> None:
    await pay_with_webhook_lost(cp_provider, cp_fake, cp_clock)
    status = await cp_provider.poll("order-1")
    await cp_provider.drain()
    assert status is not None
    assert (status.outcome, status.reference, status.amount, status.currency, status.paid_at) == (
        PaymentOutcome.PAID,
        "1001",
        Decimal("20.00"),
        "EUR",
        cp_clock.now,
    )
    assert status.details["invoice_id"] == "1001"
    assert status.details["paid_asset"] == "USDT"
    assert await cp_provider.stored_details("order-1") == status.details
    [(order_id, told)] = cp_events.confirmed
    assert (order_id, told) == ("order-1", status)


async def test_an_unapplied_payment_is_alerted_with_the_order_sides_reason(
    cp_provider: CryptoPayProvider,
    cp_fake: RunningFakeCryptoPay,
    cp_clock: Clock,
    cp_events: RecordingEvents,
    market_db: Database,
    cp_store: CryptoPayStore,
) -> None:
    cp_events.refuse = "the order was cancelled before the payment arrived"
    await pay_with_webhook_lost(cp_provider, cp_fake, cp_clock)
    await cp_provider.poll_pass()
    await cp_provider.drain()
    assert await audit_rows(market_db) == [
        {
            "dedupe_key": "cryptopay:unapplied:order-1",
            "target": "channel:audit",
            "embeds": [
                {
                    "title": "Crypto Pay: payment not applied",
                    "description": "A Crypto Pay payment arrived but its order could not take it. Nothing was "
                    "delivered; refund it by hand (`/order show` lists the payer's details).",
                    "color": COLOR_PROBLEM,
                    "fields": [
                        {"name": "Order", "value": "order-1", "inline": False},
                        {
                            "name": "Reason",
                            "value": "the order was cancelled before the payment arrived",
                            "inline": False,
                        },
                    ],
                }
            ],
        }
    ]
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert stored.confirmed
    assert await cp_provider.confirm("order-1") is False  # told once


async def test_an_invoice_deleted_at_crypto_pay_does_not_stop_the_poll_of_the_others(
    cp_provider: CryptoPayProvider,
    cp_fake: RunningFakeCryptoPay,
    cp_state: FakeCryptoPayState,
    cp_clock: Clock,
    cp_events: RecordingEvents,
    cp_store: CryptoPayStore,
) -> None:
    await cp_provider.start(payment_request(cp_clock, "order-1"))  # the rows are polled oldest first
    cp_clock.advance(timedelta(seconds=1))
    await pay_with_webhook_lost(cp_provider, cp_fake, cp_clock, "order-2")
    cp_clock.advance(timedelta(seconds=1))
    await cp_provider.start(payment_request(cp_clock, "order-3"))
    cp_state.delete_invoice({"invoice_id": "1001"})  # by hand in @CryptoBot: getInvoices no longer lists it
    cp_clock.advance(timedelta(hours=1, seconds=5))  # order-3's invoice expires
    await cp_provider.poll_pass()
    await cp_provider.drain()
    assert [o for o, _ in cp_events.confirmed] == ["order-2"]
    assert cp_events.expired == ["order-3"]
    first = await cp_store.get("order-1")
    assert first is not None
    assert first.state.value == "active"  # nothing learnt about it


async def test_a_creation_still_settling_costs_no_api_call(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock
) -> None:
    cp_state.faults.fail_next("createInvoice", status=502)
    with pytest.raises(PaymentNotStarted):
        await cp_provider.start(payment_request(cp_clock))
    cp_state.request_log.clear()
    await cp_provider.poll_pass()
    assert cp_state.request_log == []
    cp_clock.advance(timedelta(seconds=30))  # settled: now it is looked for by payload
    await cp_provider.poll_pass()
    assert [m for m, _ in cp_state.request_log] == ["getInvoices"]


async def test_an_order_cancelled_before_its_invoice_existed_is_answered_without_asking(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock
) -> None:
    cp_state.faults.fail_next("createInvoice", status=502)
    with pytest.raises(PaymentNotStarted):
        await cp_provider.start(payment_request(cp_clock))
    await cp_provider.cancel("order-1")  # no invoice id: nothing to delete
    cp_state.request_log.clear()
    assert await cp_provider.poll("order-1") == PaymentStatus(
        outcome=PaymentOutcome.CANCELLED, reference=None, amount=Decimal("20.00"), currency="EUR", details={}
    )
    assert cp_state.request_log == []


async def test_an_invoice_paid_before_its_lost_answer_is_found_sends_the_buyer_to_the_order(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock, cp_events: RecordingEvents
) -> None:
    cp_state.faults.delay_next("createInvoice", seconds=5, after_effect=True)  # created, answer never arrives
    starting = asyncio.create_task(cp_provider.start(payment_request(cp_clock)))
    for _ in range(500):  # until Crypto Pay holds the invoice
        if 1001 in cp_state.invoices:
            break
        await asyncio.sleep(0.01)
    assert cp_state.mark_paid(cp_state.invoices[1001], "USDT")  # the buyer pays before the answer is given up on
    start = await starting
    assert start == PaymentStart(reference="1001", redirect_url="https://shop.example/orders/order-1")
    await cp_provider.drain()
    assert [o for o, _ in cp_events.confirmed] == ["order-1"]
