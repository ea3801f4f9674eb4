"""CryptoPayProvider against the fake Crypto Pay: one invoice per order whatever happens, poll fallback,
expiry, late payments, cancel, re-drive."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from decimal import Decimal

import pytest

from bot.payments.cryptopay.client import CryptoPayClient
from bot.payments.cryptopay.matching import RowState
from bot.payments.cryptopay.provider import CryptoPayProvider, PaymentNotStarted
from bot.payments.cryptopay.simulator import FakeCryptoPayState, RunningFakeCryptoPay
from bot.payments.cryptopay.store import CryptoPayStore
from bot.payments.provider import PaymentOutcome, PaymentStart
from bot.shop.catalog import PaymentMethod
from bot.storage import Database
from tests.cryptopay.conftest import RecordingEvents, audit_rows, pay_with_webhook_lost, payment_request
from tests.orders.conftest import Clock


@pytest.fixture(autouse=True)
def _info_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)


def creates(state: FakeCryptoPayState) -> list[dict[str, str]]:
    return [fields for method, fields in state.request_log if method == "createInvoice"]


def test_method_and_currencies(cp_provider: CryptoPayProvider) -> None:
    assert cp_provider.method is PaymentMethod.CRYPTOPAY
    for currency in ("USD", "EUR", "RUB", "UAH", "ILS"):
        assert cp_provider.offers(currency) is True
    for currency in ("XYZ", "eur", "", "USDT", "CHF"):
        assert cp_provider.offers(currency) is False


def test_assets_required(cp_client: CryptoPayClient, cp_store: CryptoPayStore) -> None:
    with pytest.raises(ValueError, match=r"^assets must name at least one asset$"):
        CryptoPayProvider(cp_client, cp_store, assets=[])


async def test_start_creates_one_invoice_with_the_order_fields(
    cp_provider: CryptoPayProvider,
    cp_state: FakeCryptoPayState,
    cp_fake: RunningFakeCryptoPay,
    cp_clock: Clock,
    cp_store: CryptoPayStore,
) -> None:
    start = await cp_provider.start(payment_request(cp_clock))
    invoice = cp_state.invoices[1001]
    assert start == PaymentStart(reference="1001", redirect_url=f"{cp_fake.base_url}/pay/{invoice.hash}")
    assert creates(cp_state) == [
        {
            "currency_type": "fiat",
            "fiat": "EUR",
            "amount": "20.00",
            "accepted_assets": "USDT,TON",
            "payload": "order-1",
            "description": "CS2 — 30 days for darth",
            "expires_in": "3600",
            "allow_comments": "false",
            "paid_btn_name": "callback",
            "paid_btn_url": "https://shop.example/orders/order-1",
        }
    ]
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert (stored.state, stored.invoice_id, stored.amount, stored.fiat, stored.pay_url) == (
        RowState.ACTIVE,
        1001,
        Decimal("20.00"),
        "EUR",
        start.redirect_url,
    )


async def test_reload_and_double_press_never_create_a_second_invoice(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock
) -> None:
    request = payment_request(cp_clock)
    first, second = await asyncio.gather(cp_provider.start(request), cp_provider.start(request))
    again = await cp_provider.start(request)
    assert first == second == again
    assert len(creates(cp_state)) == 1
    assert [m for m, _ in cp_state.request_log] == ["createInvoice"]  # reuse costs no API call


async def test_expires_in_is_what_is_left_of_the_order(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock
) -> None:
    request = payment_request(cp_clock)
    cp_clock.advance(timedelta(minutes=45, seconds=30))
    await cp_provider.start(request)
    assert creates(cp_state)[0]["expires_in"] == "870"


@pytest.mark.parametrize("left", [timedelta(0), timedelta(milliseconds=999), timedelta(minutes=-5)])
async def test_expired_order_creates_nothing(
    cp_provider: CryptoPayProvider,
    cp_state: FakeCryptoPayState,
    cp_clock: Clock,
    cp_store: CryptoPayStore,
    left: timedelta,
) -> None:
    with pytest.raises(PaymentNotStarted, match=r"^This order has expired\. Start again from Neverlose's site\.$"):
        await cp_provider.start(payment_request(cp_clock, expires_at=cp_clock.now + left))
    assert cp_state.request_log == []
    assert await cp_store.get("order-1") is None


async def test_one_second_left_is_enough(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock
) -> None:
    await cp_provider.start(payment_request(cp_clock, expires_at=cp_clock.now + timedelta(seconds=1)))
    assert creates(cp_state)[0]["expires_in"] == "1"


async def test_long_ttl_is_capped(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock
) -> None:
    await cp_provider.start(payment_request(cp_clock, expires_at=cp_clock.now + timedelta(days=40)))
    assert creates(cp_state)[0]["expires_in"] == "2678400"


async def test_relative_return_url_gets_no_button(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock
) -> None:
    await cp_provider.start(payment_request(cp_clock, return_url="/orders/order-1"))
    assert "paid_btn_url" not in creates(cp_state)[0]


async def test_currency_not_accepted(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock
) -> None:
    with pytest.raises(PaymentNotStarted, match=r"^Crypto Pay does not accept this order's currency\.$"):
        await cp_provider.start(payment_request(cp_clock, currency="CHF"))
    assert cp_state.request_log == []


async def test_refused_creation_leaves_no_intent(
    cp_client: CryptoPayClient, cp_store: CryptoPayStore, cp_state: FakeCryptoPayState, cp_clock: Clock
) -> None:
    provider = CryptoPayProvider(cp_client, cp_store, assets=["DOGE"], clock=cp_clock)
    with pytest.raises(
        PaymentNotStarted, match=r"^Crypto Pay refused to create the invoice\. Please contact support\.$"
    ):
        await provider.start(payment_request(cp_clock))
    assert await cp_store.get("order-1") is None
    assert cp_state.invoices == {}


async def test_timeout_after_creation_adopts_the_invoice_found_by_payload(
    cp_provider: CryptoPayProvider,
    cp_state: FakeCryptoPayState,
    cp_fake: RunningFakeCryptoPay,
    cp_clock: Clock,
    cp_store: CryptoPayStore,
) -> None:
    cp_state.faults.delay_next("createInvoice", seconds=5, after_effect=True)  # created, answer never arrives
    start = await cp_provider.start(payment_request(cp_clock))
    assert [m for m, _ in cp_state.request_log] == ["createInvoice", "getInvoices"]
    assert list(cp_state.invoices) == [1001]
    assert start.reference == "1001"
    assert start.redirect_url == f"{cp_fake.base_url}/pay/{cp_state.invoices[1001].hash}"
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert (stored.state, stored.invoice_id) == (RowState.ACTIVE, 1001)
    assert await cp_provider.start(payment_request(cp_clock)) == start
    assert len(creates(cp_state)) == 1


async def test_failure_before_creation_waits_then_creates_once(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock, cp_store: CryptoPayStore
) -> None:
    cp_state.faults.fail_next("createInvoice", status=502)  # nothing created
    with pytest.raises(PaymentNotStarted, match=r"^Crypto Pay did not answer\. Reload this page in a moment\.$"):
        await cp_provider.start(payment_request(cp_clock))
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert (stored.state, stored.invoice_id) == (RowState.CREATING, None)
    cp_clock.advance(timedelta(seconds=29))
    with pytest.raises(PaymentNotStarted, match=r"^Your invoice is being created\. Reload this page in a moment\.$"):
        await cp_provider.start(payment_request(cp_clock))  # too soon: an in-flight creation may still land
    assert len(creates(cp_state)) == 1
    cp_clock.advance(timedelta(seconds=1))
    start = await cp_provider.start(payment_request(cp_clock))
    assert start.reference == "1001"
    assert len(creates(cp_state)) == 2
    assert list(cp_state.invoices) == [1001]


async def test_lost_answer_and_search_down_then_found_later(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock
) -> None:
    cp_state.faults.drop_next("createInvoice")  # created, connection dropped
    cp_state.faults.fail_next("getInvoices", times=3)
    with pytest.raises(PaymentNotStarted, match=r"^Crypto Pay did not answer\. Reload this page in a moment\.$"):
        await cp_provider.start(payment_request(cp_clock))
    cp_clock.advance(timedelta(minutes=1))
    start = await cp_provider.start(payment_request(cp_clock))
    assert start.reference == "1001"
    assert len(creates(cp_state)) == 1
    assert list(cp_state.invoices) == [1001]


async def test_search_pages_through_many_invoices(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock
) -> None:
    for number in range(1500):
        cp_state.create_invoice({"currency_type": "fiat", "fiat": "EUR", "amount": "1", "payload": f"other-{number}"})
    cp_state.faults.delay_next("createInvoice", seconds=5, after_effect=True)
    start = await cp_provider.start(payment_request(cp_clock))
    assert start.reference == "2501"
    cp_state.invoices[1001].payload = "order-2"  # as if an earlier attempt made it: the oldest, on page two
    cp_state.faults.fail_next("createInvoice", status=504)
    start = await cp_provider.start(payment_request(cp_clock, "order-2"))
    assert start.reference == "1001"
    pages = [f for m, f in cp_state.request_log if m == "getInvoices"]
    assert pages[-2:] == [{"offset": "0", "count": "1000"}, {"offset": "1000", "count": "1000"}]


async def test_changed_price_replaces_the_invoice(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock
) -> None:
    await cp_provider.start(payment_request(cp_clock))
    start = await cp_provider.start(payment_request(cp_clock, amount=Decimal("25.00")))
    assert start.reference == "1002"
    assert list(cp_state.invoices) == [1002]
    assert [f["amount"] for f in creates(cp_state)] == ["20.00", "25.00"]
    start = await cp_provider.start(payment_request(cp_clock, amount=Decimal("25.00"), currency="USD"))
    assert start.reference == "1003"


async def test_paid_order_is_sent_back_to_its_page(
    cp_provider: CryptoPayProvider, cp_fake: RunningFakeCryptoPay, cp_clock: Clock
) -> None:
    await pay_with_webhook_lost(cp_provider, cp_fake, cp_clock)
    await cp_provider.poll_pass()
    start = await cp_provider.start(payment_request(cp_clock))
    assert start == PaymentStart(reference="1001", redirect_url="https://shop.example/orders/order-1")


async def test_cancel_withdraws_locally_then_at_crypto_pay(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock, cp_store: CryptoPayStore
) -> None:
    await cp_provider.cancel("nothing")  # no invoice: nothing to do
    await cp_provider.start(payment_request(cp_clock))
    await cp_provider.cancel("order-1")
    await cp_provider.cancel("order-1")
    assert cp_state.invoices == {}
    assert [m for m, _ in cp_state.request_log] == ["createInvoice", "deleteInvoice"]
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert stored.state is RowState.CANCELLED
    with pytest.raises(
        PaymentNotStarted, match=r"^This order's invoice has expired\. Start again from Neverlose's site\.$"
    ):
        await cp_provider.start(payment_request(cp_clock))
    status = await cp_provider.poll("order-1")
    assert status is not None
    assert status.outcome is PaymentOutcome.CANCELLED


async def test_poll_fallback_when_the_webhook_is_lost(
    cp_provider: CryptoPayProvider,
    cp_fake: RunningFakeCryptoPay,
    cp_clock: Clock,
    cp_events: RecordingEvents,
    cp_store: CryptoPayStore,
) -> None:
    assert await cp_provider.poll("order-1") is None
    await cp_provider.start(payment_request(cp_clock))
    pending = await cp_provider.poll("order-1")
    assert pending is not None
    assert (pending.outcome, pending.reference, pending.details) == (PaymentOutcome.PENDING, "1001", {})
    cp_fake.state.webhook_faults.lose = 1
    assert await cp_fake.pay(1001, "TON")
    await cp_provider.poll_pass()
    await cp_provider.drain()
    [(order_id, status)] = cp_events.confirmed
    assert order_id == "order-1"
    assert status.details["paid_asset"] == "TON"
    assert [u["source"] for u in await cp_store.updates()] == ["poll"]
    await cp_provider.poll_pass()
    await cp_provider.drain()
    assert len(cp_events.confirmed) == 1
    paid = await cp_provider.poll("order-1")
    assert paid is not None
    assert paid.outcome is PaymentOutcome.PAID
    assert paid.details["paid_amount"] == "4.39999999"  # 20 EUR at 4.54545455 EUR per TON
    assert paid.details["invoice_id"] == "1001"


async def test_expired_invoice_expires_the_order(
    cp_provider: CryptoPayProvider, cp_clock: Clock, cp_events: RecordingEvents, cp_store: CryptoPayStore
) -> None:
    await cp_provider.start(payment_request(cp_clock))
    cp_clock.advance(timedelta(minutes=59, seconds=59))
    await cp_provider.poll_pass()
    assert cp_events.expired == []
    cp_clock.advance(timedelta(seconds=1))
    await cp_provider.poll_pass()
    await cp_provider.poll_pass()
    assert cp_events.expired == ["order-1"]
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert stored.state is RowState.EXPIRED


async def test_late_payment_with_the_webhook_lost_is_still_found(
    cp_provider: CryptoPayProvider,
    cp_fake: RunningFakeCryptoPay,
    cp_clock: Clock,
    cp_events: RecordingEvents,
    market_db: Database,
) -> None:
    await pay_with_webhook_lost(cp_provider, cp_fake, cp_clock)
    await cp_provider.cancel("order-1")  # the order expired just as the customer paid
    await cp_provider.poll_pass()
    await cp_provider.drain()
    assert cp_events.confirmed == []
    [(order_id, status)] = cp_events.late
    assert (order_id, status.reference) == ("order-1", "1001")
    [alert] = await audit_rows(market_db)
    assert alert["embeds"][0]["title"] == "Crypto Pay: paid after expiry"
    fields = {f["name"]: f["value"] for f in alert["embeds"][0]["fields"]}
    assert fields["Seen by"] == "poll"
    assert fields["Paid with"] == "21.99999997 USDT"


async def test_late_window_ends_after_a_day(
    cp_provider: CryptoPayProvider, cp_fake: RunningFakeCryptoPay, cp_clock: Clock, cp_events: RecordingEvents
) -> None:
    await pay_with_webhook_lost(cp_provider, cp_fake, cp_clock)
    await cp_provider.cancel("order-1")
    cp_clock.advance(timedelta(days=1, seconds=1))
    await cp_provider.poll_pass()
    assert cp_events.late == []
    status = await cp_provider.poll("order-1")  # asked directly (e.g. /order refund): still found
    await cp_provider.drain()
    assert status is not None
    assert status.outcome is PaymentOutcome.PAID
    assert len(cp_events.late) == 1


async def test_refused_confirmation_alerts_staff_once(
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
    await cp_provider.poll_pass()
    [alert] = await audit_rows(market_db)
    assert alert["embeds"][0]["title"] == "Crypto Pay: payment not applied"
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert stored.confirmed


async def test_failed_confirmation_is_redriven(
    cp_provider: CryptoPayProvider,
    cp_fake: RunningFakeCryptoPay,
    cp_clock: Clock,
    cp_events: RecordingEvents,
    cp_store: CryptoPayStore,
) -> None:
    await pay_with_webhook_lost(cp_provider, cp_fake, cp_clock)
    cp_events.broken = "database locked"
    await cp_provider.poll_pass()
    await cp_provider.drain()
    assert len(cp_events.failed) >= 1
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert not stored.confirmed
    cp_events.broken = None
    assert await cp_provider.redrive() == 1
    assert [o for o, _ in cp_events.confirmed] == ["order-1"]
    assert await cp_provider.redrive() == 0


async def test_confirm_without_an_order_side(cp_client: CryptoPayClient, cp_store: CryptoPayStore) -> None:
    provider = CryptoPayProvider(cp_client, cp_store, assets=["USDT"])
    assert await provider.confirm("order-1") is False


async def test_changed_price_keeps_an_invoice_that_cannot_be_deleted(
    cp_provider: CryptoPayProvider, cp_fake: RunningFakeCryptoPay, cp_clock: Clock, cp_events: RecordingEvents
) -> None:
    first = await pay_with_webhook_lost(cp_provider, cp_fake, cp_clock)  # paid just before the price changed
    again = await cp_provider.start(payment_request(cp_clock, amount=Decimal("25.00")))
    assert again == first
    assert list(cp_fake.state.invoices) == [1001]
    await cp_provider.poll_pass()
    await cp_provider.drain()
    assert [o for o, _ in cp_events.confirmed] == ["order-1"]


async def test_changed_price_with_crypto_pay_down_keeps_the_invoice(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock
) -> None:
    first = await cp_provider.start(payment_request(cp_clock))
    cp_state.faults.fail_next("deleteInvoice", times=4)
    assert await cp_provider.start(payment_request(cp_clock, amount=Decimal("25.00"))) == first
    assert len(creates(cp_state)) == 1


# ---------------------------------------------------------------------- exact calls and log lines
async def test_poll_asks_only_for_the_open_invoices_by_id(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock
) -> None:
    await cp_provider.start(payment_request(cp_clock, "order-1"))
    cp_state.faults.fail_next("createInvoice", status=502)
    with pytest.raises(PaymentNotStarted):
        await cp_provider.start(payment_request(cp_clock, "order-2"))  # creating, inside the settle time
    cp_state.request_log.clear()
    await cp_provider.poll_pass()
    assert cp_state.request_log == [("getInvoices", {"offset": "0", "count": "100", "invoice_ids": "1001"})]


async def test_poll_asks_in_chunks_of_one_hundred(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock, cp_events: RecordingEvents
) -> None:
    for number in range(101):
        await cp_provider.start(payment_request(cp_clock, f"order-{number}"))
    cp_state.webhook_faults.lose = 1
    assert await cp_fake_pay(cp_state, 1101)  # the last one, in the second chunk
    cp_state.request_log.clear()
    await cp_provider.poll_pass()
    await cp_provider.drain()
    calls = [fields for method, fields in cp_state.request_log if method == "getInvoices"]
    assert [len(f["invoice_ids"].split(",")) for f in calls] == [100, 1]
    assert calls[1]["invoice_ids"] == "1101"
    assert [o for o, _ in cp_events.confirmed] == ["order-100"]


async def cp_fake_pay(state: FakeCryptoPayState, invoice_id: int) -> bool:
    return state.mark_paid(state.invoices[invoice_id], "USDT")


async def test_poll_failure_is_one_warning(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    await cp_provider.start(payment_request(cp_clock))
    cp_state.faults.fail_next("getInvoices", times=3)
    await cp_provider.poll_pass()
    assert "cryptopay poll failed invoices=1 error=getInvoices: HTTP 503" in caplog.messages


async def test_expiry_and_cancel_log_lines(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    await cp_provider.start(payment_request(cp_clock, "order-1"))
    await cp_provider.start(payment_request(cp_clock, "order-2"))
    await cp_provider.cancel("order-2")
    assert ("deleteInvoice", {"invoice_id": "1002"}) in cp_state.request_log
    assert "cryptopay invoice withdrawn order_id=order-2 invoice_id=1002" in caplog.messages
    cp_clock.advance(timedelta(hours=1))
    await cp_provider.poll_pass()
    assert "cryptopay invoice expired order_id=order-1 invoice_id=1001" in caplog.messages
    cp_state.faults.fail_next("deleteInvoice", times=4)
    await cp_provider.start(payment_request(cp_clock, "order-3", expires_at=cp_clock.now + timedelta(hours=1)))
    await cp_provider.cancel("order-3")
    assert "cryptopay deleteInvoice failed order_id=order-3 invoice_id=1003 error=deleteInvoice: HTTP 503" in (
        caplog.messages
    )


async def test_expired_without_order_side_changes_only_the_row(
    cp_client: CryptoPayClient, cp_store: CryptoPayStore, cp_clock: Clock
) -> None:
    provider = CryptoPayProvider(cp_client, cp_store, assets=["USDT"], clock=cp_clock)
    await provider.start(payment_request(cp_clock))
    cp_clock.advance(timedelta(hours=1))
    await provider.poll_pass()
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert stored.state is RowState.EXPIRED


async def test_polled_payment_is_stored_with_its_details(
    cp_provider: CryptoPayProvider,
    cp_fake: RunningFakeCryptoPay,
    cp_clock: Clock,
    market_db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await pay_with_webhook_lost(cp_provider, cp_fake, cp_clock, asset="TON")
    await cp_provider.poll_pass()
    await cp_provider.drain()
    row = await market_db.fetchone("SELECT body, source, verdict, invoice_id, order_id FROM cryptopay_updates")
    assert row is not None
    assert (row["source"], row["verdict"], row["invoice_id"], row["order_id"]) == ("poll", "accepted", 1001, "order-1")
    body = json.loads(row["body"])
    assert body == {
        "source": "getInvoices",
        "invoice_id": "1001",
        "payload": "order-1",
        "paid_asset": "TON",
        "paid_amount": "4.39999999",
        "paid_fiat_rate": "4.54545455",
        "paid_usd_rate": "5",
        "paid_at": cp_clock.now.isoformat(),
        "paid_anonymously": "false",
    }
    assert "cryptopay payment confirmed order_id=order-1 late=False" in caplog.messages
    status = await cp_provider.poll("order-1")
    assert status is not None
    assert status.paid_at == cp_clock.now


async def test_failures_in_the_background_are_logged(
    cp_provider: CryptoPayProvider,
    cp_fake: RunningFakeCryptoPay,
    cp_clock: Clock,
    cp_events: RecordingEvents,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await pay_with_webhook_lost(cp_provider, cp_fake, cp_clock)
    cp_events.broken = "boom"
    await cp_provider.poll_pass()
    await cp_provider.drain()
    failed = [r for r in caplog.records if r.getMessage() == "cryptopay task failed name=cryptopay-confirm-order-1"]
    assert len(failed) == 1
    assert failed[0].levelname == "ERROR"
    assert failed[0].exc_info is not None
    redriven = [r for r in caplog.records if r.getMessage() == "cryptopay confirmation failed order_id=order-1"]
    assert len(redriven) == 1
    assert redriven[0].exc_info is not None


async def test_run_forever_polls_every_interval_and_survives_errors(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    await cp_provider.start(payment_request(cp_clock))
    passes = 0
    original = cp_provider.poll_pass

    async def counted() -> None:
        nonlocal passes
        passes += 1
        if passes == 1:
            raise RuntimeError("first pass fails")
        await original()

    cp_provider.poll_pass = counted  # type: ignore[method-assign]
    task = asyncio.ensure_future(cp_provider.run_forever(timedelta(milliseconds=10)))
    for _ in range(200):
        if passes >= 3:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert passes >= 3
    assert "cryptopay poll pass failed" in caplog.messages


def test_not_started_carries_the_customer_text() -> None:
    error = PaymentNotStarted("Reload this page.")
    assert error.customer_text == "Reload this page."
    assert str(error) == "Reload this page."


async def test_uncertain_creation_logs_and_adoption_by_the_poll(
    cp_provider: CryptoPayProvider,
    cp_state: FakeCryptoPayState,
    cp_clock: Clock,
    cp_store: CryptoPayStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cp_state.faults.drop_next("createInvoice")  # created, answer lost
    cp_state.faults.fail_next("getInvoices", times=3)  # and the immediate search fails
    with pytest.raises(PaymentNotStarted):
        await cp_provider.start(payment_request(cp_clock))
    assert "cryptopay createInvoice outcome unknown order_id=order-1 error=createInvoice: ServerDisconnectedError" in (
        caplog.messages
    )
    assert "cryptopay invoice search failed order_id=order-1 error=getInvoices: HTTP 503" in caplog.messages
    await cp_provider.poll_pass()  # inside the settle time: no search yet
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert stored.invoice_id is None
    cp_clock.advance(timedelta(seconds=30))
    await cp_provider.poll_pass()
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert (stored.state, stored.invoice_id) == (RowState.ACTIVE, 1001)
    assert stored.pay_url is not None
    assert stored.pay_url.endswith(f"/pay/{cp_state.invoices[1001].hash}")
    assert "cryptopay invoice found by payload order_id=order-1 invoice_id=1001" in caplog.messages


async def test_uncertain_creation_found_paid_or_expired(
    cp_provider: CryptoPayProvider,
    cp_state: FakeCryptoPayState,
    cp_clock: Clock,
    cp_events: RecordingEvents,
    cp_store: CryptoPayStore,
) -> None:
    for order_id in ("order-1", "order-2"):
        cp_state.faults.drop_next("createInvoice")
        cp_state.faults.fail_next("getInvoices", times=3)
        with pytest.raises(PaymentNotStarted):
            await cp_provider.start(payment_request(cp_clock, order_id, expires_at=cp_clock.now + timedelta(minutes=1)))
    assert cp_state.mark_paid(cp_state.invoices[1001], "USDT")
    cp_clock.advance(timedelta(minutes=1))  # order-2's invoice expires unpaid
    with pytest.raises(PaymentNotStarted, match=r"^This order's invoice has expired\. Start again"):
        await cp_provider.start(payment_request(cp_clock, "order-2", expires_at=cp_clock.now + timedelta(minutes=5)))
    paid = await cp_provider.start(payment_request(cp_clock, "order-1", expires_at=cp_clock.now + timedelta(minutes=5)))
    assert paid == PaymentStart(reference="1001", redirect_url="https://shop.example/orders/order-1")
    await cp_provider.drain()
    assert [o for o, _ in cp_events.confirmed] == ["order-1"]
    assert cp_events.expired == ["order-2"]
    expired = await cp_store.get("order-2")
    assert expired is not None
    assert (expired.state, expired.invoice_id) == (RowState.EXPIRED, 1002)


async def test_description_is_cut_to_the_limit_and_http_return_urls_get_the_button(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    await cp_provider.start(
        payment_request(cp_clock, description="d" * 2000, return_url="http://127.0.0.1:8080/orders/order-1")
    )
    [fields] = creates(cp_state)
    assert fields["description"] == "d" * 1024
    assert fields["paid_btn_url"] == "http://127.0.0.1:8080/orders/order-1"
    assert "cryptopay invoice created order_id=order-1 invoice_id=1001 amount=20.00 fiat=EUR" in caplog.messages


async def test_refusal_is_logged_with_its_name(
    cp_client: CryptoPayClient, cp_store: CryptoPayStore, cp_clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    provider = CryptoPayProvider(cp_client, cp_store, assets=["DOGE"], clock=cp_clock)
    with pytest.raises(PaymentNotStarted):
        await provider.start(payment_request(cp_clock))
    assert "cryptopay createInvoice refused order_id=order-1 error=PARAM_ACCEPTED_ASSETS_INVALID" in caplog.messages
