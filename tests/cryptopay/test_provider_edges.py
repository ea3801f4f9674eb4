"""CryptoPayProvider edges the mutation run pointed at: the per-order lock between a creation and a cancel."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.payments.cryptopay.client import CryptoPayClient
from bot.payments.cryptopay.matching import RowState
from bot.payments.cryptopay.provider import CryptoPayProvider
from bot.payments.cryptopay.simulator import FakeCryptoPayState, RunningFakeCryptoPay
from bot.payments.cryptopay.store import CryptoPayStore
from tests.cryptopay.conftest import RecordingEvents, pay_with_webhook_lost, payment_request
from tests.orders.conftest import Clock


async def test_cancel_during_a_creation_waits_for_it_and_withdraws_the_new_invoice(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock, cp_store: CryptoPayStore
) -> None:
    cp_state.faults.delay_next("createInvoice", seconds=0.3)
    starting = asyncio.create_task(cp_provider.start(payment_request(cp_clock)))
    for _ in range(100):  # until the intent is stored and createInvoice is on its way
        await asyncio.sleep(0.01)
        stored = await cp_store.get("order-1")
        if stored is not None:
            break
    assert stored is not None
    assert stored.state is RowState.CREATING
    await cp_provider.cancel("order-1")
    assert starting.done()  # the cancel waited for the creation
    start = await starting
    assert start.reference is not None
    assert cp_state.invoices == {}  # the invoice created meanwhile was deleted at Crypto Pay
    assert [m for m, _ in cp_state.request_log] == ["createInvoice", "deleteInvoice"]
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert (stored.state, stored.invoice_id) == (RowState.CANCELLED, int(start.reference))


async def test_the_default_clock_is_aware_utc(
    cp_client: CryptoPayClient, cp_store: CryptoPayStore, cp_state: FakeCryptoPayState, cp_clock: Clock
) -> None:
    provider = CryptoPayProvider(cp_client, cp_store, assets=["USDT"])  # the wall clock, as in production
    try:
        request = replace(payment_request(cp_clock), expires_at=datetime.now(UTC) + timedelta(hours=1))
        start = await provider.start(request)
        assert start.reference is not None
        [fields] = [fields for method, fields in cp_state.request_log if method == "createInvoice"]
        assert 3590 <= int(fields["expires_in"]) <= 3600
    finally:
        await provider.close()


async def test_redrive_counts_every_order_it_confirmed(
    cp_provider: CryptoPayProvider,
    cp_fake: RunningFakeCryptoPay,
    cp_clock: Clock,
    cp_events: RecordingEvents,
    cp_store: CryptoPayStore,
) -> None:
    for order_id in ("order-1", "order-2"):
        await pay_with_webhook_lost(cp_provider, cp_fake, cp_clock, order_id)
    events, cp_provider.events = cp_provider.events, None  # the order side is not there yet
    await cp_provider.poll_pass()
    await cp_provider.drain()
    assert [row.order_id for row in await cp_store.unconfirmed()] == ["order-1", "order-2"]
    cp_provider.events = events
    assert await cp_provider.redrive() == 2
    assert sorted(o for o, _ in cp_events.confirmed) == ["order-1", "order-2"]
    assert await cp_provider.redrive() == 0


async def test_a_background_confirmation_that_succeeds_logs_no_error(
    cp_provider: CryptoPayProvider,
    cp_fake: RunningFakeCryptoPay,
    cp_clock: Clock,
    cp_events: RecordingEvents,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await pay_with_webhook_lost(cp_provider, cp_fake, cp_clock)
    await cp_provider.poll("order-1")  # records the payment, confirms it in the background
    await cp_provider.drain()
    assert [o for o, _ in cp_events.confirmed] == ["order-1"]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_drain_waits_out_a_failing_confirmation_without_raising(
    cp_provider: CryptoPayProvider,
    cp_fake: RunningFakeCryptoPay,
    cp_clock: Clock,
    cp_events: RecordingEvents,
    cp_store: CryptoPayStore,
) -> None:
    await pay_with_webhook_lost(cp_provider, cp_fake, cp_clock)
    cp_events.broken = "database locked"
    await cp_provider.poll("order-1")
    await cp_provider.drain()  # the failure is logged by the task's callback, not raised here
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert (stored.state, stored.confirmed) == (RowState.PAID, False)


async def test_confirm_tells_nothing_for_an_unknown_or_unpaid_order(
    cp_provider: CryptoPayProvider, cp_clock: Clock, cp_events: RecordingEvents
) -> None:
    assert await cp_provider.confirm("no-such-order") is False
    await cp_provider.start(payment_request(cp_clock))  # an open invoice, not paid
    assert await cp_provider.confirm("order-1") is False
    assert (cp_events.confirmed, cp_events.late) == ([], [])


async def test_a_slow_confirmation_does_not_hold_up_another_order(
    cp_provider: CryptoPayProvider, cp_fake: RunningFakeCryptoPay, cp_clock: Clock, cp_events: RecordingEvents
) -> None:
    for order_id in ("order-1", "order-2"):
        await pay_with_webhook_lost(cp_provider, cp_fake, cp_clock, order_id)
    events, cp_provider.events = cp_provider.events, None
    await cp_provider.poll_pass()
    await cp_provider.drain()
    cp_provider.events = events
    release = asyncio.Event()
    told: list[str] = []

    async def slow_for_order_1(order_id: str, status: object) -> None:
        if order_id == "order-1":
            await release.wait()
        told.append(order_id)

    cp_events.payment_confirmed = slow_for_order_1  # type: ignore[method-assign]
    first = asyncio.create_task(cp_provider.confirm("order-1"))
    await asyncio.sleep(0.05)
    assert await asyncio.wait_for(cp_provider.confirm("order-2"), 1.0) is True
    assert told == ["order-2"]
    release.set()
    assert await first is True
    assert told == ["order-2", "order-1"]
