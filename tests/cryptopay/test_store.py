"""CryptoPayStore on a real SQLite file: what each method stores, returns and queues for staff, exactly.

The provider and webhook tests reach the store through the fake Crypto Pay; these pin down the store's own
contract (bounds of its queries, what a retry of an intent resets, the alerts' exact texts) so that a wrong
value in the store cannot hide behind what the provider happens to ask.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.notifications.embeds import COLOR_PROBLEM
from bot.notifications.outbox import Outbox
from bot.payments.cryptopay.matching import RowState, StoredInvoice, Verdict
from bot.payments.cryptopay.models import Invoice, InvoiceStatus
from bot.payments.cryptopay.store import CryptoPayStore, Recorded
from bot.storage import Database
from bot.storage.timestamps import format_timestamp
from tests.cryptopay.conftest import audit_rows
from tests.orders.conftest import Clock

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def paid(invoice_id: int = 1001, order_id: str | None = "order-1", **changes: object) -> Invoice:
    """A paid invoice as Crypto Pay reports it for ``order_id``'s 20.00 EUR."""
    values: dict[str, object] = {
        "invoice_id": invoice_id,
        "status": InvoiceStatus.PAID,
        "currency_type": "fiat",
        "amount": Decimal("20.00"),
        "fiat": "EUR",
        "pay_url": f"https://t.me/CryptoBot?start=IV{invoice_id}",
        "payload": order_id,
        "paid_at": datetime(2026, 12, 7, 11, 58, 30, 250000, tzinfo=UTC),
        "paid_asset": "USDT",
        "paid_amount": Decimal("21.5"),
        "paid_fiat_rate": Decimal("0.93"),
        "paid_usd_rate": Decimal("1.0001"),
        "paid_anonymously": False,
    }
    values.update(changes)
    return Invoice(**values)  # type: ignore[arg-type]


async def raw(db: Database, order_id: str = "order-1") -> dict[str, object]:
    row = await db.fetchone("SELECT * FROM cryptopay_invoices WHERE order_id = ?", (order_id,))
    assert row is not None
    return dict(row)


async def active(store: CryptoPayStore, order_id: str = "order-1", invoice_id: int = 1001) -> None:
    await store.begin_create(order_id, Decimal("20.00"), "EUR")
    assert await store.set_active(order_id, paid(invoice_id, order_id, status=InvoiceStatus.ACTIVE))


# ---------------------------------------------------------------------- invoices
async def test_a_naive_clock_is_refused_and_nothing_is_written(market_db: Database, cp_outbox: Outbox) -> None:
    """A naive time's zone is unknown: the store writes no guess (it took it as the host's local time before)."""
    store = CryptoPayStore(market_db, cp_outbox, clock=lambda: datetime(2026, 12, 7, 12, 0), wake=lambda: None)
    with pytest.raises(ValueError, match=r"^timestamps must be timezone-aware$"):
        await store.begin_create("order-1", Decimal("20.50"), "EUR")
    assert await store.get("order-1") is None


async def test_an_intent_is_a_creating_row_read_back_exactly(
    cp_store: CryptoPayStore, market_db: Database, cp_clock: Clock
) -> None:
    assert await cp_store.get("order-1") is None
    await cp_store.begin_create("order-1", Decimal("20.50"), "EUR")
    assert await cp_store.get("order-1") == StoredInvoice(
        order_id="order-1",
        invoice_id=None,
        state=RowState.CREATING,
        amount=Decimal("20.50"),
        fiat="EUR",
        pay_url=None,
        late=False,
        confirmed=False,
        updated_at=T0,
        details={},
    )
    row = await raw(market_db)
    assert (row["attempts"], row["created_at"], row["updated_at"], row["amount"]) == (
        1,
        "2026-12-07T12:00:00.000000Z",
        "2026-12-07T12:00:00.000000Z",
        "20.50",
    )


async def test_a_fresh_attempt_resets_the_invoice_and_counts(
    cp_store: CryptoPayStore, market_db: Database, cp_clock: Clock
) -> None:
    await active(cp_store)
    cp_clock.advance(timedelta(minutes=5))
    await cp_store.begin_create("order-1", Decimal("25.00"), "USD")
    row = await raw(market_db)
    assert {k: row[k] for k in ("state", "invoice_id", "pay_url", "amount", "fiat", "attempts")} == {
        "state": "creating",
        "invoice_id": None,
        "pay_url": None,
        "amount": "25.00",
        "fiat": "USD",
        "attempts": 2,
    }
    assert (row["created_at"], row["updated_at"]) == ("2026-12-07T12:00:00.000000Z", "2026-12-07T12:05:00.000000Z")


async def test_set_active_only_while_creating(cp_store: CryptoPayStore, cp_clock: Clock) -> None:
    invoice = paid(status=InvoiceStatus.ACTIVE)
    assert await cp_store.set_active("order-1", invoice) is False  # no row
    await cp_store.begin_create("order-1", Decimal("20.00"), "EUR")
    cp_clock.advance(timedelta(seconds=3))
    assert await cp_store.set_active("order-1", invoice) is True
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert (stored.state, stored.invoice_id, stored.pay_url, stored.updated_at) == (
        RowState.ACTIVE,
        1001,
        "https://t.me/CryptoBot?start=IV1001",
        T0 + timedelta(seconds=3),
    )
    assert await cp_store.set_active("order-1", replace(invoice, invoice_id=1002)) is False
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert stored.invoice_id == 1001


async def test_forget_failed_drops_only_an_intent_without_invoice(cp_store: CryptoPayStore) -> None:
    await cp_store.begin_create("order-1", Decimal("20.00"), "EUR")
    await active(cp_store, "order-2", 1002)
    await cp_store.forget_failed("order-1")
    await cp_store.forget_failed("order-2")
    assert await cp_store.get("order-1") is None
    stored = await cp_store.get("order-2")
    assert stored is not None
    assert stored.state is RowState.ACTIVE


@pytest.mark.parametrize("state", [RowState.EXPIRED, RowState.CANCELLED])
async def test_withdraw_gives_the_row_as_it_was(
    cp_store: CryptoPayStore, market_db: Database, cp_clock: Clock, state: RowState
) -> None:
    await active(cp_store)
    cp_clock.advance(timedelta(minutes=1))
    before = await cp_store.get("order-1")
    withdrawn = await cp_store.withdraw("order-1", state)  # type: ignore[arg-type]
    assert withdrawn == before
    assert withdrawn is not None
    assert withdrawn.state is RowState.ACTIVE
    row = await raw(market_db)
    assert (row["state"], row["expired_at"], row["updated_at"]) == (
        state.value,
        "2026-12-07T12:01:00.000000Z",
        "2026-12-07T12:01:00.000000Z",
    )
    assert await cp_store.withdraw("order-1", state) is None  # type: ignore[arg-type]
    assert await cp_store.withdraw("nothing", state) is None  # type: ignore[arg-type]


async def test_withdraw_takes_a_creating_row_but_not_a_paid_one(cp_store: CryptoPayStore) -> None:
    await cp_store.begin_create("order-1", Decimal("20.00"), "EUR")
    withdrawn = await cp_store.withdraw("order-1", RowState.CANCELLED)
    assert withdrawn is not None
    assert withdrawn.state is RowState.CREATING
    await active(cp_store, "order-2", 1002)
    await cp_store.record_paid(paid(1002, "order-2"), body="{}", source="poll")
    assert await cp_store.withdraw("order-2", RowState.EXPIRED) is None
    stored = await cp_store.get("order-2")
    assert stored is not None
    assert stored.state is RowState.PAID


async def test_mark_confirmed_only_a_paid_row(cp_store: CryptoPayStore, market_db: Database, cp_clock: Clock) -> None:
    await active(cp_store)
    await cp_store.mark_confirmed("order-1")
    assert (await raw(market_db))["confirmed_at"] is None
    await cp_store.record_paid(paid(), body="{}", source="webhook")
    cp_clock.advance(timedelta(seconds=7))
    await cp_store.mark_confirmed("order-1")
    assert (await raw(market_db))["confirmed_at"] == "2026-12-07T12:00:07.000000Z"
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert stored.confirmed is True


async def test_payer_details_once_paid(cp_store: CryptoPayStore) -> None:
    assert await cp_store.payer_details("nothing") == {}
    await active(cp_store)
    assert await cp_store.payer_details("order-1") == {}
    await cp_store.record_paid(paid(), body="{}", source="webhook")
    expected = {
        "invoice_id": "1001",
        "paid_asset": "USDT",
        "paid_amount": "21.5",
        "paid_fiat_rate": "0.93",
        "paid_usd_rate": "1.0001",
        "paid_at": "2026-12-07T11:58:30.250000+00:00",
        "paid_anonymously": "false",
    }
    assert await cp_store.payer_details("order-1") == expected
    # staff see them as lines in the stored order (bot/orders/payment_details.py): always the same, by name
    assert list(await cp_store.payer_details("order-1")) == sorted(expected)
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert stored.details == expected


async def test_by_state_oldest_first_within_the_limit(cp_store: CryptoPayStore, cp_clock: Clock) -> None:
    for number in (3, 1, 2):
        await cp_store.begin_create(f"order-{number}", Decimal("20.00"), "EUR")
        cp_clock.advance(timedelta(seconds=1))
    await cp_store.set_active("order-1", paid(1001, "order-1", status=InvoiceStatus.ACTIVE))
    await cp_store.withdraw("order-2", RowState.EXPIRED)
    assert [s.order_id for s in await cp_store.by_state(RowState.ACTIVE, RowState.CREATING)] == ["order-3", "order-1"]
    assert [s.order_id for s in await cp_store.by_state(RowState.CREATING)] == ["order-3"]
    assert [s.order_id for s in await cp_store.by_state(RowState.ACTIVE, RowState.CREATING, limit=1)] == ["order-3"]
    assert [s.order_id for s in await cp_store.by_state(RowState.EXPIRED)] == ["order-2"]
    assert len(await cp_store.by_state(*RowState, limit=1000)) == 3


async def test_withdrawn_since_includes_its_bound_and_only_withdrawn_invoices(
    cp_store: CryptoPayStore, cp_clock: Clock
) -> None:
    await active(cp_store, "early", 1001)
    await cp_store.withdraw("early", RowState.EXPIRED)
    cp_clock.advance(timedelta(microseconds=1))
    since = cp_clock.now
    await active(cp_store, "cancelled", 1002)
    await cp_store.withdraw("cancelled", RowState.CANCELLED)  # exactly at the bound
    cp_clock.advance(timedelta(seconds=1))
    await active(cp_store, "expired", 1003)
    await cp_store.withdraw("expired", RowState.EXPIRED)
    await cp_store.begin_create("no-invoice", Decimal("1.00"), "EUR")
    await cp_store.withdraw("no-invoice", RowState.CANCELLED)  # withdrawn before any invoice existed
    await active(cp_store, "open", 1004)
    assert [s.order_id for s in await cp_store.withdrawn_since(since)] == ["cancelled", "expired"]
    assert [s.order_id for s in await cp_store.withdrawn_since(since, limit=1)] == ["cancelled"]
    assert [s.order_id for s in await cp_store.withdrawn_since(since - timedelta(microseconds=1))] == [
        "early",
        "cancelled",
        "expired",
    ]


async def test_unconfirmed_in_order_of_payment_within_the_limit(cp_store: CryptoPayStore) -> None:
    for number, minute in ((1, 50), (2, 40), (3, 45)):
        await active(cp_store, f"order-{number}", 1000 + number)
        at = datetime(2026, 12, 7, 11, minute, tzinfo=UTC)
        await cp_store.record_paid(paid(1000 + number, f"order-{number}", paid_at=at), body="{}", source="poll")
    await active(cp_store, "open", 1009)
    assert [s.order_id for s in await cp_store.unconfirmed()] == ["order-2", "order-3", "order-1"]
    assert [s.order_id for s in await cp_store.unconfirmed(limit=2)] == ["order-2", "order-3"]
    await cp_store.mark_confirmed("order-2")
    assert [s.order_id for s in await cp_store.unconfirmed()] == ["order-3", "order-1"]


# ---------------------------------------------------------------------- record_paid
async def test_an_accepted_payment_is_stored_once_and_alerts_nobody(
    cp_store: CryptoPayStore, market_db: Database, cp_clock: Clock, cp_wakes: list[int]
) -> None:
    await active(cp_store)
    cp_clock.advance(timedelta(seconds=2))
    recorded = await cp_store.record_paid(paid(), body='{"x": 1}', source="webhook", remote="10.0.0.5")
    assert recorded == Recorded(Verdict.ACCEPTED, "order-1", None)
    row = await raw(market_db)
    assert {k: row[k] for k in ("state", "invoice_id", "paid_at", "late", "updated_at")} == {
        "state": "paid",
        "invoice_id": 1001,
        "paid_at": "2026-12-07T11:58:30.250000Z",
        "late": 0,
        "updated_at": "2026-12-07T12:00:02.000000Z",
    }
    assert await cp_store.updates() == [
        {
            "dedupe_key": "invoice:1001",
            "invoice_id": 1001,
            "order_id": "order-1",
            "source": "webhook",
            "verdict": "accepted",
            "reason": None,
            "remote": "10.0.0.5",
        }
    ]
    stored = await market_db.fetchone("SELECT body, received_at FROM cryptopay_updates")
    assert stored is not None
    assert (stored["body"], stored["received_at"]) == ('{"x": 1}', "2026-12-07T12:00:02.000000Z")
    assert await audit_rows(market_db) == []
    assert cp_wakes == []
    again = await cp_store.record_paid(paid(), body="{}", source="poll")
    assert again == Recorded(Verdict.DUPLICATE, "order-1", None)
    assert len(await cp_store.updates()) == 1


async def test_a_payment_without_a_paid_time_is_dated_when_seen(
    cp_store: CryptoPayStore, market_db: Database, cp_clock: Clock
) -> None:
    await active(cp_store)
    cp_clock.advance(timedelta(seconds=9))
    await cp_store.record_paid(paid(paid_at=None), body="{}", source="poll")
    assert (await raw(market_db))["paid_at"] == "2026-12-07T12:00:09.000000Z"


async def test_the_invoice_of_an_uncertain_creation_is_found_by_payload(
    cp_store: CryptoPayStore, market_db: Database
) -> None:
    await cp_store.begin_create("order-1", Decimal("20.00"), "EUR")  # createInvoice outcome unknown
    assert await cp_store.record_paid(paid(1007), body="{}", source="poll") == Recorded(Verdict.ACCEPTED, "order-1")
    row = await raw(market_db)
    assert (row["state"], row["invoice_id"]) == ("paid", 1007)


async def test_payload_never_finds_an_order_whose_invoice_is_known(cp_store: CryptoPayStore) -> None:
    await active(cp_store)  # invoice 1001
    recorded = await cp_store.record_paid(paid(1002), body="{}", source="webhook")  # a second invoice, same payload
    assert recorded == Recorded(Verdict.QUARANTINED, None, "unknown invoice: no order has this invoice")
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert (stored.state, stored.invoice_id) == (RowState.ACTIVE, 1001)


async def test_a_late_payment_is_marked_and_alerted_exactly(
    cp_store: CryptoPayStore, market_db: Database, cp_wakes: list[int]
) -> None:
    await active(cp_store)
    await cp_store.withdraw("order-1", RowState.EXPIRED)
    recorded = await cp_store.record_paid(paid(), body="{}", source="poll")
    assert recorded == Recorded(Verdict.LATE, "order-1", "paid after the order's invoice was expired")
    row = await raw(market_db)
    assert (row["state"], row["late"]) == ("paid", 1)
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert stored.late is True
    [update] = await cp_store.updates()
    assert (update["verdict"], update["reason"], update["source"], update["remote"]) == (
        "late",
        "paid after the order's invoice was expired",
        "poll",
        None,
    )
    assert await audit_rows(market_db) == [
        {
            "dedupe_key": "cryptopay:invoice:1001",
            "target": "channel:audit",
            "embeds": [
                {
                    "title": "Crypto Pay: paid after expiry",
                    "description": "The money arrived after the order stopped waiting for it. Nothing was "
                    "delivered: decide whether to deliver (`/order retry`) or refund it by hand (`/order refund`).",
                    "color": COLOR_PROBLEM,
                    "fields": [
                        {"name": "Reason", "value": "paid after the order's invoice was expired", "inline": False},
                        {"name": "Order", "value": "order-1", "inline": False},
                        {"name": "Invoice", "value": "1001 · 20.00 EUR", "inline": False},
                        {"name": "Paid with", "value": "21.5 USDT", "inline": False},
                        {"name": "Seen by", "value": "poll", "inline": False},
                    ],
                }
            ],
        }
    ]
    assert cp_wakes == [1]


async def test_a_quarantined_payment_is_stored_alerted_and_changes_no_row(
    cp_store: CryptoPayStore, market_db: Database, cp_wakes: list[int]
) -> None:
    await active(cp_store)
    invoice = paid(amount=Decimal("2.00"))
    recorded = await cp_store.record_paid(invoice, body="{}", source="webhook", remote="10.0.0.9")
    assert recorded == Recorded(Verdict.QUARANTINED, "order-1", "amount 2.00 instead of 20.00 EUR")
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert (stored.state, stored.details) == (RowState.ACTIVE, {})
    [alert] = await audit_rows(market_db)
    assert alert["dedupe_key"] == "cryptopay:invoice:1001"
    assert alert["embeds"] == [
        {
            "title": "Crypto Pay payment quarantined",
            "description": "It was stored and acknowledged but NOTHING was delivered. Check the invoice in "
            "@CryptoBot and refund it by hand if it is a customer's money.",
            "color": COLOR_PROBLEM,
            "fields": [
                {"name": "Reason", "value": "amount 2.00 instead of 20.00 EUR", "inline": False},
                {"name": "Order", "value": "order-1", "inline": False},
                {"name": "Invoice", "value": "1001 · 2.00 EUR", "inline": False},
                {"name": "Paid with", "value": "21.5 USDT", "inline": False},
                {"name": "Seen by", "value": "webhook", "inline": False},
            ],
        }
    ]
    assert cp_wakes == [1]
    assert await cp_store.record_paid(invoice, body="{}", source="poll") == Recorded(Verdict.DUPLICATE, "order-1")
    assert len(await audit_rows(market_db)) == 1
    assert cp_wakes == [1]


async def test_an_unknown_crypto_invoice_alert_names_no_order(cp_store: CryptoPayStore, market_db: Database) -> None:
    invoice = paid(1005, None, currency_type="crypto", fiat=None, asset="TON", paid_asset=None, paid_amount=None)
    recorded = await cp_store.record_paid(invoice, body="{}", source="webhook")
    assert recorded == Recorded(Verdict.QUARANTINED, None, "unknown invoice: no order has this invoice")
    [alert] = await audit_rows(market_db)
    fields = {f["name"]: f["value"] for f in alert["embeds"][0]["fields"]}
    assert fields == {
        "Reason": "unknown invoice: no order has this invoice",
        "Order": "none",
        "Invoice": "1005 · 20.00 TON",
        "Paid with": "? ?",
        "Seen by": "webhook",
    }
    [update] = await cp_store.updates()
    assert (update["order_id"], update["invoice_id"], update["dedupe_key"]) == (None, 1005, "invoice:1005")


async def test_an_invoice_without_fiat_or_asset_is_shown_with_a_question_mark(
    cp_store: CryptoPayStore, market_db: Database
) -> None:
    await cp_store.record_paid(paid(1006, None, fiat=None, asset=None), body="{}", source="poll")
    [alert] = await audit_rows(market_db)
    fields = {f["name"]: f["value"] for f in alert["embeds"][0]["fields"]}
    assert fields["Invoice"] == "1006 · 20.00 ?"


async def test_a_store_without_a_dispatcher_still_queues_the_alert(market_db: Database, cp_clock: Clock) -> None:
    store = CryptoPayStore(market_db, Outbox(market_db), clock=cp_clock)
    await store.record_paid(paid(1005, None), body="{}", source="poll")
    assert await store.record_unusable("{", "body is not valid JSON", remote=None) is True
    await store.alert_unapplied("order-1", "cancelled")
    assert len(await audit_rows(market_db)) == 3


# ---------------------------------------------------------------------- unusable bodies, unapplied payments
async def test_an_unusable_body_is_stored_and_alerted_once(
    cp_store: CryptoPayStore, market_db: Database, cp_wakes: list[int], cp_clock: Clock
) -> None:
    body = '{"update_type": "invoice_paid", "payload": ```x```}'
    digest = hashlib.sha256(body.encode()).hexdigest()
    assert await cp_store.record_unusable(body, "body is not valid JSON", remote="10.0.0.7") is True
    assert await cp_store.record_unusable(body, "body is not valid JSON", remote="10.0.0.8") is False
    assert cp_wakes == [1]
    assert await cp_store.updates() == [
        {
            "dedupe_key": f"body:{digest}",
            "invoice_id": None,
            "order_id": None,
            "source": "webhook",
            "verdict": "quarantined",
            "reason": "body is not valid JSON",
            "remote": "10.0.0.7",
        }
    ]
    stored = await market_db.fetchone("SELECT body, received_at FROM cryptopay_updates")
    assert stored is not None
    assert (stored["body"], stored["received_at"]) == (body, format_timestamp(cp_clock.now))
    assert await audit_rows(market_db) == [
        {
            "dedupe_key": f"cryptopay:body:{digest}",
            "target": "channel:audit",
            "embeds": [
                {
                    "title": "Crypto Pay update quarantined",
                    "description": "A correctly signed Crypto Pay update could not be read. It was stored and "
                    "acknowledged but NOT acted upon.\n```json\n"
                    "{\"update_type\": \"invoice_paid\", \"payload\": '''x'''}\n```",
                    "color": COLOR_PROBLEM,
                    "fields": [
                        {"name": "Reason", "value": "body is not valid JSON", "inline": False},
                        {"name": "SHA-256", "value": digest[:16], "inline": False},
                    ],
                }
            ],
        }
    ]


@pytest.mark.parametrize(("length", "shown"), [(700, "a" * 700), (701, "a" * 700 + "…")])
async def test_the_alert_shows_at_most_700_characters_of_the_body(
    cp_store: CryptoPayStore, market_db: Database, length: int, shown: str
) -> None:
    await cp_store.record_unusable("a" * length, "not JSON", remote=None)
    [alert] = await audit_rows(market_db)
    description = alert["embeds"][0]["description"]
    assert description.endswith(f"\n```json\n{shown}\n```")


async def test_an_unapplied_payment_is_alerted_once_with_its_reason(
    cp_store: CryptoPayStore, market_db: Database, cp_wakes: list[int]
) -> None:
    await cp_store.alert_unapplied("order-1", "the order was cancelled")
    await cp_store.alert_unapplied("order-1", "the order was cancelled")
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
                        {"name": "Reason", "value": "the order was cancelled", "inline": False},
                    ],
                }
            ],
        }
    ]
    assert cp_wakes == [1, 1]


@pytest.mark.parametrize(("reason", "shown"), [("", "-"), ("r" * 200, "r" * 200), ("r" * 201, "r" * 200)])
async def test_the_unapplied_reason_is_cut_to_200_characters(
    cp_store: CryptoPayStore, market_db: Database, reason: str, shown: str
) -> None:
    await cp_store.alert_unapplied("order-1", reason)
    [alert] = await audit_rows(market_db)
    fields = {f["name"]: f["value"] for f in alert["embeds"][0]["fields"]}
    assert fields["Reason"] == shown


async def test_updates_oldest_first(cp_store: CryptoPayStore) -> None:
    await cp_store.record_paid(paid(1009, None), body="{}", source="poll")
    await cp_store.record_unusable("x", "not JSON", remote=None)
    await cp_store.record_paid(paid(1001, None), body="{}", source="webhook")
    assert [u["dedupe_key"] for u in await cp_store.updates()] == [
        "invoice:1009",
        f"body:{hashlib.sha256(b'x').hexdigest()}",
        "invoice:1001",
    ]


async def test_each_list_gives_a_thousand_rows_at_most_by_default(
    cp_store: CryptoPayStore, market_db: Database
) -> None:
    """1001 rows of each kind (written in one transaction): the default limit of each list is 1000."""
    at = "2026-12-07T11:00:00.000000Z"
    rows = [
        (f"{state}-{n:04}", invoice, state, at, at, at if state == "paid" else None)
        for state, base in (("active", 10_000), ("cancelled", 20_000), ("paid", 30_000))
        for n, invoice in enumerate(range(base, base + 1001))
    ]
    async with market_db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO cryptopay_invoices (order_id, invoice_id, state, amount, fiat, created_at, updated_at, "
            "paid_at) VALUES (?, ?, ?, '20.00', 'EUR', ?, ?, ?)",
            rows,
        )
    assert len(await cp_store.by_state(RowState.ACTIVE)) == 1000
    assert len(await cp_store.withdrawn_since(T0 - timedelta(days=1))) == 1000
    assert len(await cp_store.unconfirmed()) == 1000
