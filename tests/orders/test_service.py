"""The order service against the real Market simulator and a real SQLite file: creation, pre-checks, payment,
fulfilment exactly once (retries, ``Invalid id.``, restarts), refusals, retry, cancel, refund and expiry."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import aiosqlite
import pytest

import bot.orders.service as service_module
from bot.market.journal import OperationStatus, SpendingJournal
from bot.market.models import Product
from bot.market.simulator.runner import RunningSimulator
from bot.orders.fulfilment import request_id_for
from bot.orders.models import IllegalTransition, Order, OrderNotFound, OrderRefused, OrderState, Transition
from bot.orders.prechecks import BlockReason
from bot.orders.service import OrderService, clean_text, new_order_id
from bot.orders.token import verify_purchase_token
from bot.payments.enabled import set_manual_instructions
from bot.payments.provider import PaymentOutcome, PaymentStatus
from bot.shop.catalog import PaymentMethod, ProductKey
from bot.shop.price_table import PriceEntry, PriceTable
from bot.storage import Database
from tests.orders.conftest import INSTRUCTIONS, INTEGRATION_ID, SECRET, Clock, purchase_claims, sign

S = OrderState
MANUAL = PaymentMethod.MANUAL


def claims_for(**overrides: Any) -> Any:
    return verify_purchase_token(sign(purchase_claims(**overrides)), secret=SECRET, integration_id=INTEGRATION_ID)


async def checked(orders: OrderService, **overrides: Any) -> Order:
    order, created = await orders.create_from_token(claims_for(**overrides))
    assert created
    assert orders.start_check(order)
    assert not orders.start_check(order)  # once
    await orders.drain()
    return await orders.get(order.id)


async def paid(orders: OrderService, actor: str = "staff:42", **overrides: Any) -> Order:
    order = await checked(orders, **overrides)
    assert order.payable, order
    return await orders.confirm_payment(order.id, MANUAL, None, actor)


async def audit_rows(db: Database) -> list[aiosqlite.Row]:
    return await db.fetchall("SELECT dedupe_key, target, embeds FROM notification_outbox ORDER BY id")


def gifts(sim: RunningSimulator) -> int:
    return len(sim.state.effects("gift-product"))


# ---------------------------------------------------------------------------------------------- creation
async def test_create_from_token_is_idempotent(orders: OrderService, clock: Clock) -> None:
    claims = claims_for()
    first, created = await orders.create_from_token(claims)
    again, created_again = await orders.create_from_token(claims)
    assert (created, created_again) == (True, False)
    assert again.id == first.id
    assert len(first.id) == 29
    assert len(first.form_token) == 22
    assert first.state is S.AWAITING_PAYMENT
    assert first.check_status == "pending"
    assert first.expires_at == clock.now + timedelta(minutes=60)
    assert first.nle_cost == Decimal("17.10")
    assert (first.login, first.email, first.product_key, first.nle) == (
        "darth",
        "darth.vader@example.com",
        "cs2-30",
        None,
    )
    assert len(await orders.find()) == 1
    await orders.drain()
    assert (await orders.get(first.id)).check_status == "pending"  # nobody opened the page yet: no Market call
    assert orders.start_check(first)
    await orders.drain()
    await orders.confirm_payment(first.id, MANUAL, None, "staff:1")
    await orders.drain()
    replay, created_replay = await orders.create_from_token(claims)
    assert (replay.id, replay.state, created_replay) == (first.id, S.DELIVERED, False)


async def test_checks_pass_and_the_only_method_is_chosen(orders: OrderService) -> None:
    order = await checked(orders)
    assert (order.check_status, order.check_reason) == ("ok", None)
    assert (order.currency, order.method, order.amount) == ("EUR", MANUAL, Decimal("20.00"))
    assert order.payable
    history = await orders.history(order.id)
    assert [(t.from_state, t.to_state, t.actor, t.note) for t in history] == [
        (None, S.AWAITING_PAYMENT, "customer", None),
        (S.AWAITING_PAYMENT, S.AWAITING_PAYMENT, "system", "checks passed"),
    ]


async def test_the_cost_is_the_live_market_price(orders: OrderService, market_sim: RunningSimulator) -> None:
    plans = market_sim.state.products[Product.CS2].prices
    from bot.market.models import Plan, PlanPrice

    plans[Plan.DAYS_30] = PlanPrice(days=30, cnt=Plan.DAYS_30, nle=Decimal("18.40"), rub=Decimal("1500"))
    assert (await checked(orders)).nle_cost == Decimal("18.40")


async def test_marketplace_order(orders: OrderService) -> None:
    order = await checked(orders, product="marketplace", market=True, cnt=None, days=None, nle="12.50")
    assert (order.nle, order.nle_cost, order.product_key) == (Decimal("12.50"), Decimal("12.50"), "marketplace")
    assert order.amount == Decimal("13.75")  # 1.10 EUR x 12.50
    assert order.description == "12.50 NLE"


async def test_create_for_discord_user(orders: OrderService) -> None:
    order = await orders.create_for_discord_user(555, "darth", "cs2-30")
    assert (order.discord_user_id, order.email, order.check_status, order.amount) == (555, None, "ok", Decimal("20.00"))
    assert (await orders.history(order.id))[0].actor == "discord:555"
    nle = await orders.create_for_discord_user(555, "a49", ProductKey.marketplace(), Decimal("2.00"))
    assert (nle.nle, nle.amount) == (Decimal("2.00"), Decimal("2.20"))
    assert [o.id for o in await orders.find(discord_user_id=555)] == [nle.id, order.id] or {
        o.id for o in await orders.find(discord_user_id=555)
    } == {nle.id, order.id}
    assert await orders.find(discord_user_id=556) == []


async def test_customer_orders_are_their_buy_orders_and_their_linked_logins_newest_first(
    orders: OrderService, clock: Clock
) -> None:
    bought = await orders.create_for_discord_user(555, "darth", "cs2-30")  # /buy: theirs and for their login
    clock.advance(timedelta(minutes=1))
    other_login = await orders.create_for_discord_user(555, "a49", "cs2-30")  # /buy for another login
    clock.advance(timedelta(minutes=1))
    checkout, _ = await orders.create_from_token(claims_for(login="DARTH"))  # a checkout link for their login
    clock.advance(timedelta(minutes=1))
    await orders.create_for_discord_user(556, "vader", "cs2-30")  # someone else's
    clock.advance(timedelta(minutes=1))
    await orders.create_from_token(claims_for(login="vader", n=2))  # another login's checkout

    mine = await orders.customer_orders(555, "darth", limit=10)
    assert [o.id for o in mine] == [checkout.id, other_login.id, bought.id]  # each once, newest first
    assert [o.id for o in await orders.customer_orders(555, None, limit=10)] == [other_login.id, bought.id]
    assert [o.id for o in await orders.customer_orders(557, "darth", limit=10)] == [checkout.id, bought.id]
    assert [o.id for o in await orders.customer_orders(555, "darth", limit=2)] == [checkout.id, other_login.id]
    assert await orders.customer_orders(557, None, limit=10) == []
    assert await orders.customer_orders(557, "nobody", limit=10) == []


@pytest.mark.parametrize(
    ("login", "key", "nle", "message"),
    [
        ("bad login", "cs2-30", None, "username"),
        ("darth", "cs2-31", None, "no plan lasts 31 days"),
        ("darth", "valorant-30", None, "unknown product"),
        ("darth", "marketplace", None, "NLE amount"),
        ("darth", "marketplace", Decimal(0), "NLE amount"),
        ("darth", "marketplace", Decimal("-1"), "NLE amount"),
        ("darth", "marketplace", Decimal("1.001"), "NLE amount"),
        ("darth", "marketplace", Decimal("1000000.01"), "NLE amount"),
        ("darth", "marketplace", Decimal("NaN"), "NLE amount"),
        ("darth", "cs2-30", Decimal(5), "marketplace only"),
    ],
)
async def test_create_for_discord_user_refusals(
    orders: OrderService, login: str, key: str, nle: Decimal | None, message: str
) -> None:
    with pytest.raises(OrderRefused, match=message):
        await orders.create_for_discord_user(1, login, key, nle)
    assert await orders.find() == []


async def test_largest_discord_nle_amount(orders: OrderService) -> None:
    order = await orders.create_for_discord_user(1, "a49", "marketplace", Decimal("1000000.00"))
    assert order.check_reason == "low_balance"


# ---------------------------------------------------------------------------------------------- pre-checks
@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"product": "csgo", "cnt": 1, "days": 90}, "no_price"),
        ({"login": "ghost"}, "user_not_found"),
        ({"login": "a49"}, "not_invited"),
    ],
)
async def test_a_failing_check_blocks_and_alerts_once(
    orders: OrderService, market_db: Database, overrides: dict[str, Any], reason: str
) -> None:
    order = await checked(orders, **overrides)
    assert (order.check_status, order.check_reason, order.payable, order.method) == ("blocked", reason, False, None)
    rows = await audit_rows(market_db)
    assert [(r["dedupe_key"], r["target"]) for r in rows] == [(f"order-blocked:{order.id}:{reason}", "channel:audit")]
    embed = json.loads(rows[0]["embeds"])[0]
    assert embed["title"] == "Order blocked before payment"
    assert order.id in embed["description"]
    assert "@" not in embed["description"]  # no e-mail in the alert
    again = await orders.check(order.id)
    assert again.check_reason == reason
    assert len(await audit_rows(market_db)) == 1
    with pytest.raises(OrderRefused):
        await orders.choose_method(order.id, MANUAL)


async def test_no_enabled_method_is_no_price(orders: OrderService, market_db: Database) -> None:
    await set_manual_instructions(market_db, "   ")
    order = await checked(orders)
    assert order.check_reason == "no_price"


async def test_a_public_product_needs_no_invitation(orders: OrderService) -> None:
    order = await checked(orders, login="a49", product="csgo")
    assert (order.check_status, order.amount) == ("ok", Decimal("19.00"))


async def test_low_balance_alerts_once_for_all_waiting_orders(
    orders: OrderService, market_db: Database, market_sim: RunningSimulator
) -> None:
    market_sim.state.balance = Decimal("17.09")
    first = await checked(orders)
    second = await checked(orders, email="other@example.com")
    assert (first.check_reason, second.check_reason) == ("low_balance", "low_balance")
    rows = await audit_rows(market_db)
    assert [r["dedupe_key"] for r in rows] == [f"order-blocked:{first.id}:low_balance"]
    assert "balance 17.09 NLE, cost 17.10 NLE" in json.loads(rows[0]["embeds"])[0]["description"]
    market_sim.state.balance = Decimal("17.10")
    await orders.maintain()
    assert (await orders.get(first.id)).check_status == "ok"
    assert (await orders.get(second.id)).check_status == "ok"


async def test_market_unreachable_blocks_then_passes(orders: OrderService, market_sim: RunningSimulator) -> None:
    market_sim.state.faults.fail_next("is-user-exists", times=4)
    order = await checked(orders)
    assert order.check_reason == "market_unavailable"
    await orders.maintain()
    assert (await orders.get(order.id)).check_status == "ok"


async def test_user_not_found_is_not_rechecked_by_maintenance(
    orders: OrderService, market_sim: RunningSimulator
) -> None:
    order = await checked(orders, login="ghost", product="csgo")
    market_sim.state.add_user("ghost")
    await orders.maintain()
    assert (await orders.get(order.id)).check_reason == "user_not_found"
    assert (await orders.check(order.id)).check_status == "ok"


async def test_check_leaves_other_states_alone(orders: OrderService) -> None:
    order = await paid(orders)
    await orders.drain()
    done = await orders.get(order.id)
    assert (await orders.check(order.id)).seq == done.seq
    assert not orders.start_check(done)
    blocked = await checked(orders, login="ghost", email="g@example.com")
    assert not orders.start_check(blocked)


# ---------------------------------------------------------------------------------------------- method and claim
async def test_choose_method(orders: OrderService, market_db: Database) -> None:
    order = await checked(orders)
    same = await orders.choose_method(order.id, MANUAL)
    assert same.method is MANUAL
    with pytest.raises(OrderRefused, match="not available"):
        await orders.choose_method(order.id, PaymentMethod.CRYPTOPAY)


async def test_method_prices_and_currency_rule(orders: OrderService, shop: PriceTable) -> None:
    await shop.put(PriceEntry("cs2-30", "EUR", Decimal("21.50"), MANUAL), updated_by=None)
    order = await checked(orders)
    assert (order.currency, order.amount) == ("EUR", Decimal("21.50"))
    offer = await orders.offer(order)
    assert offer is not None
    assert offer.prices == {MANUAL: Decimal("21.50")}


async def test_claim_manual_payment(orders: OrderService, clock: Clock) -> None:
    order = await checked(orders)
    claimed = await orders.claim_manual_payment(order.id, "  tx\n 123\x00 ")
    assert (claimed.claim_reference, claimed.payment_claimed_at, claimed.state) == (
        "tx 123",
        clock.now,
        S.AWAITING_PAYMENT,
    )
    again = await orders.claim_manual_payment(order.id, "other")
    assert again == claimed
    history = await orders.history(order.id)
    assert [(t.actor, t.note) for t in history[-1:]] == [("customer", "payment claimed")]
    with pytest.raises(OrderRefused, match="already told us"):
        await orders.choose_method(order.id, PaymentMethod.CRYPTOPAY)
    assert (await orders.choose_method(order.id, MANUAL)).method is MANUAL


async def test_claims_at_once_are_recorded_once(orders: OrderService) -> None:
    """ "I have paid" double-clicked (or sent from 20 tabs): one claim, the first one's reference, one history
    entry, one card; the fuzz run against the real bot recorded all 20, the last reference winning."""
    order = await checked(orders)
    before = len(await orders.history(order.id))
    answers = await asyncio.gather(*(orders.claim_manual_payment(order.id, f"ref {n}") for n in range(20)))
    history = await orders.history(order.id)
    assert [t.note for t in history[before:]] == ["payment claimed"]
    stored = await orders.get(order.id)
    assert stored.claim_reference == "ref 0"
    assert all(answer.claim_reference == "ref 0" and answer.seq == stored.seq for answer in answers)


async def test_claim_without_reference_and_long_reference(orders: OrderService) -> None:
    order = await checked(orders)
    assert (await orders.claim_manual_payment(order.id, None)).claim_reference is None
    other = await checked(orders, email="x@example.com")
    assert (await orders.claim_manual_payment(other.id, "r" * 150)).claim_reference == "r" * 100


async def test_claim_refusals(orders: OrderService) -> None:
    blocked = await checked(orders, login="ghost")
    with pytest.raises(OrderRefused, match="Choose manual payment first"):
        await orders.claim_manual_payment(blocked.id, None)
    done = await paid(orders, email="y@example.com")
    with pytest.raises(IllegalTransition):
        await orders.claim_manual_payment(done.id, None)
    with pytest.raises(OrderNotFound):
        await orders.claim_manual_payment("x" * 22, None)


async def test_payment_start_shows_the_instructions(orders: OrderService) -> None:
    order = await checked(orders)
    start = await orders.payment_start(order)
    assert start is not None
    assert start.instructions == INSTRUCTIONS
    blocked = await checked(orders, login="ghost")
    assert await orders.payment_start(blocked) is None


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        (None, 5, None),
        ("", 5, None),
        ("   ", 5, None),
        ("a\tb\nc", 10, "a b c"),
        ("abcdef", 3, "abc"),
        ("\x07x", 5, "x"),
    ],
)
def test_clean_text(text: str | None, limit: int, expected: str | None) -> None:
    assert clean_text(text, limit) == expected


def test_order_ids_are_random_and_url_safe() -> None:
    ids = {new_order_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 29 and all(c.isalnum() or c in "-_" for c in i) for i in ids)
    random_parts = {i[7:] for i in ids}
    assert len(random_parts) == 200  # 128 random bits each, whatever the time part
    assert all(len(base64.urlsafe_b64decode(part + "==")) == 16 for part in random_parts)


@pytest.mark.parametrize(
    ("millis", "prefix"),
    [
        (0, "-------"),
        (1, "------0"),
        (63, "------z"),
        (64, "-----0-"),
        (1_796_000_000_123, "P7dwHWv"),  # 2026-11-30T00:53:20.123Z
        (2**42 - 1, "zzzzzzz"),
        (2**42 + 5, "------4"),  # after 2109: counted again from 0
    ],
)
def test_an_order_id_starts_with_its_creation_time(monkeypatch: pytest.MonkeyPatch, millis: int, prefix: str) -> None:
    monkeypatch.setattr(service_module.time, "time_ns", lambda: millis * 1_000_000 + 999_999)
    order_id = new_order_id()
    assert order_id[:7] == prefix
    assert len(order_id) == 29


def test_order_ids_sort_by_creation_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """In the order SQLite compares text: each new order's keys go to the end of the indexes on the id."""
    moments = [0, 1, 62, 63, 64, 4095, 4096, 1_796_000_000_123, 1_796_000_000_124, 2**42 - 1]
    ids = []
    for millis in moments:
        monkeypatch.setattr(service_module.time, "time_ns", lambda millis=millis: millis * 1_000_000)
        ids.append(new_order_id())
    assert sorted(ids, key=lambda i: i.encode()) == ids


def test_order_url(orders: OrderService) -> None:
    assert orders.order_url("abc") == "https://shop.example/orders/abc"


# ---------------------------------------------------------------------------------------------- payment and delivery
async def test_confirm_then_deliver_exactly_once(
    orders: OrderService, market_sim: RunningSimulator, market_journal: SpendingJournal, clock: Clock
) -> None:
    order = await checked(orders)
    confirmed = await orders.confirm_payment(order.id, MANUAL, None, "staff:42")
    assert (confirmed.state, confirmed.paid_by) == (S.PAID, 42)
    again = await orders.confirm_payment(order.id, MANUAL, None, "staff:43")
    assert again.paid_by == 42
    await orders.drain()
    done = await orders.get(order.id)
    assert done.state is S.DELIVERED
    assert (done.fulfil_attempt, done.request_id) == (1, request_id_for(order.id, 1))
    assert gifts(market_sim) == 1
    assert market_sim.state.user("darth").subscription_days[Product.CS2] == 30  # type: ignore[union-attr]
    op = await market_journal.get_by_request_id(done.request_id or "")
    assert op is not None
    assert (op.status, op.requested_by, op.amount_nle, op.method) == (
        OperationStatus.SUCCEEDED,
        42,
        Decimal("17.10"),
        "gift-product",
    )
    assert op.params == {"username": "darth", "product": "cs2", "cnt": 0}
    assert await market_journal.spent_since(42, clock.now - timedelta(days=1)) == Decimal("17.10")
    history = [(t.seq, t.from_state, t.to_state, t.actor, t.note) for t in await orders.history(order.id)]
    assert history == [
        (1, None, S.AWAITING_PAYMENT, "customer", None),
        (2, S.AWAITING_PAYMENT, S.AWAITING_PAYMENT, "system", "checks passed"),
        (3, S.AWAITING_PAYMENT, S.PAID, "staff:42", "payment confirmed (manual)"),
        (4, S.PAID, S.FULFILLING, "system", None),
        (5, S.FULFILLING, S.DELIVERED, "system", "gift-product done"),
    ]
    assert await orders.confirm_payment(order.id, MANUAL, None, "staff:42") == done
    assert await orders.fulfil(order.id) == done
    assert gifts(market_sim) == 1


async def test_concurrent_confirmations_deliver_once(orders: OrderService, market_sim: RunningSimulator) -> None:
    order = await checked(orders)
    results = await asyncio.gather(
        *(orders.confirm_payment(order.id, MANUAL, None, f"staff:{n}") for n in range(5)), orders.fulfil(order.id)
    )
    await orders.drain()
    assert {r.state for r in results[:5]} <= {S.PAID, S.FULFILLING, S.DELIVERED}
    assert (await orders.get(order.id)).state is S.DELIVERED
    assert gifts(market_sim) == 1
    assert sum(1 for t in await orders.history(order.id) if t.to_state is S.PAID) == 1


async def test_provider_confirmation_through_the_listener(orders: OrderService) -> None:
    order = await checked(orders)
    status = PaymentStatus(PaymentOutcome.PAID, reference="inv-9", amount=Decimal("20.00"), currency="EUR")
    await orders.payment_confirmed(order.id, MANUAL, status, "provider:manual")
    await orders.drain()
    done = await orders.get(order.id)
    assert (done.state, done.payment_reference, done.paid_by) == (S.DELIVERED, "inv-9", None)


@pytest.mark.parametrize("outcome", [PaymentOutcome.PENDING, PaymentOutcome.EXPIRED, PaymentOutcome.CANCELLED])
async def test_a_status_that_is_not_paid_is_refused(orders: OrderService, outcome: PaymentOutcome) -> None:
    order = await checked(orders)
    with pytest.raises(OrderRefused, match=outcome.value):
        await orders.confirm_payment(order.id, MANUAL, PaymentStatus(outcome), "provider:x")
    assert (await orders.get(order.id)).state is S.AWAITING_PAYMENT


async def test_a_late_payment_for_an_expired_order_counts(
    orders: OrderService, clock: Clock, market_sim: RunningSimulator
) -> None:
    order = await checked(orders)
    clock.advance(timedelta(minutes=60))
    assert [o.id for o in await orders.expire_due()] == [order.id]
    await orders.confirm_payment(order.id, MANUAL, None, "staff:1")
    await orders.drain()
    assert (await orders.get(order.id)).state is S.DELIVERED
    assert gifts(market_sim) == 1


async def test_a_cancelled_order_cannot_be_paid(orders: OrderService, market_sim: RunningSimulator) -> None:
    order = await checked(orders)
    await orders.cancel(order.id, "staff:1", "duplicate")
    with pytest.raises(IllegalTransition):
        await orders.confirm_payment(order.id, MANUAL, None, "staff:1")
    await orders.drain()
    assert gifts(market_sim) == 0


async def test_marketplace_delivery_transfers_the_amount(orders: OrderService, market_sim: RunningSimulator) -> None:
    before = market_sim.state.user("a49").balance  # type: ignore[union-attr]
    order = await paid(orders, login="a49", product="marketplace", market=True, cnt=None, days=None, nle="12.50")
    await orders.drain()
    assert (await orders.get(order.id)).state is S.DELIVERED
    assert market_sim.state.user("a49").balance == before + Decimal("12.50")  # type: ignore[union-attr]
    assert len(market_sim.state.effects("transfer-money")) == 1


async def test_a_refusal_needs_attention_then_retry_delivers(
    orders: OrderService, market_sim: RunningSimulator
) -> None:
    order = await checked(orders)
    market_sim.state.user("darth").invited.clear()  # type: ignore[union-attr]
    await orders.confirm_payment(order.id, MANUAL, None, "staff:1")
    await orders.drain()
    refused = await orders.get(order.id)
    assert (refused.state, refused.last_error, refused.auto_retry) == (
        S.NEEDS_ATTENTION,
        "User is not invited to this product",
        False,
    )
    assert (await orders.history(order.id))[-1].note == "User is not invited to this product"
    await orders.maintain()
    assert (await orders.get(order.id)).state is S.NEEDS_ATTENTION
    market_sim.state.user("darth").invited.add(Product.CS2)  # type: ignore[union-attr]
    done = await orders.retry(order.id, "staff:7")
    assert (done.state, done.fulfil_attempt, done.request_id, done.last_error) == (
        S.DELIVERED,
        2,
        request_id_for(order.id, 2),
        None,
    )
    assert gifts(market_sim) == 1
    transitions = [(t.from_state, t.to_state, t.actor, t.note) for t in await orders.history(order.id)]
    assert (S.NEEDS_ATTENTION, S.PAID, "staff:7", "retry") in transitions
    with pytest.raises(IllegalTransition):
        await orders.retry(order.id, "staff:7")


async def test_low_balance_retries_by_itself_when_the_balance_allows(
    orders: OrderService, market_sim: RunningSimulator
) -> None:
    order = await checked(orders)
    market_sim.state.balance = Decimal("10.00")
    await orders.confirm_payment(order.id, MANUAL, None, "staff:1")
    await orders.drain()
    refused = await orders.get(order.id)
    assert (refused.state, refused.auto_retry) == (S.NEEDS_ATTENTION, True)
    assert refused.last_error == "Insufficient balance"
    assert (await orders.history(order.id))[-1].note == (
        "Insufficient balance (retried automatically when the balance allows)"
    )
    market_sim.state.balance = Decimal("17.09")
    assert await orders.retry_low_balance() == []
    market_sim.state.balance = Decimal("17.10")
    retried = await orders.retry_low_balance()
    assert [(o.id, o.state) for o in retried] == [(order.id, S.DELIVERED)]
    assert gifts(market_sim) == 1
    assert market_sim.state.balance == Decimal("0.00")


async def test_low_balance_retries_only_what_the_balance_covers(
    orders: OrderService, market_sim: RunningSimulator, clock: Clock
) -> None:
    first = await checked(orders)
    clock.advance(timedelta(seconds=1))
    second = await checked(orders, email="b@example.com")
    market_sim.state.balance = Decimal("1.00")
    for order in (first, second):
        await orders.confirm_payment(order.id, MANUAL, None, "staff:1")
    await orders.drain()
    market_sim.state.balance = Decimal("30.00")
    retried = await orders.retry_low_balance()
    assert [o.id for o in retried] == [first.id]
    assert (await orders.get(second.id)).state is S.NEEDS_ATTENTION


async def test_invalid_id_means_already_done(orders: OrderService, market_sim: RunningSimulator) -> None:
    order = await checked(orders)
    market_sim.state.used_ids[request_id_for(order.id, 1)] = "gift-product"
    await orders.confirm_payment(order.id, MANUAL, None, "staff:1")
    await orders.drain()
    done = await orders.get(order.id)
    assert done.state is S.DELIVERED
    assert (await orders.history(order.id))[-1].note == "already done (Invalid id.)"
    assert gifts(market_sim) == 0


async def test_lost_answer_is_confirmed_on_retry(orders: OrderService, market_sim: RunningSimulator) -> None:
    order = await checked(orders)
    market_sim.state.faults.fail_next("gift-product", after_effect=True)
    await orders.confirm_payment(order.id, MANUAL, None, "staff:1")
    await orders.drain()
    assert (await orders.get(order.id)).state is S.DELIVERED
    assert (await orders.history(order.id))[-1].note == "confirmed on retry (Invalid id.)"
    assert gifts(market_sim) == 1


async def test_no_answer_keeps_fulfilling_until_maintenance(orders: OrderService, market_sim: RunningSimulator) -> None:
    order = await checked(orders)
    market_sim.state.faults.fail_next("gift-product", times=4)
    await orders.confirm_payment(order.id, MANUAL, None, "staff:1")
    await orders.drain()
    open_order = await orders.get(order.id)
    assert open_order.state is S.FULFILLING
    await orders.maintain()
    assert (await orders.get(order.id)).state is S.DELIVERED
    assert gifts(market_sim) == 1


async def test_resume_after_a_crash_before_the_journal_row(orders: OrderService, market_sim: RunningSimulator) -> None:
    order = await checked(orders)
    await orders.repo.move(order.id, S.PAID, actor="staff:1")
    rid = request_id_for(order.id, 1)
    await orders.repo.move(order.id, S.FULFILLING, actor="system", sets={"fulfil_attempt": 1, "request_id": rid})
    resumed = await orders.resume()
    assert [(o.id, o.state) for o in resumed] == [(order.id, S.DELIVERED)]
    assert gifts(market_sim) == 1


async def test_resume_after_a_crash_after_sending(
    orders: OrderService, market_sim: RunningSimulator, market_journal: SpendingJournal
) -> None:
    order = await checked(orders)
    await orders.repo.move(order.id, S.PAID, actor="staff:1")
    rid = request_id_for(order.id, 1)
    await orders.repo.move(order.id, S.FULFILLING, actor="system", sets={"fulfil_attempt": 1, "request_id": rid})
    op = await market_journal.create(
        "gift-product",
        {"username": "darth", "product": "cs2", "cnt": 0},
        requested_by=1,
        amount_nle=Decimal("17.10"),
        request_id=rid,
    )
    await market_journal._update(op.id, attempts=1)
    # Neverlose applied it (the id is consumed) and then the bot was killed before recording the answer.
    market_sim.state.used_ids[rid] = "gift-product"
    market_sim.state.user("darth").subscription_days[Product.CS2] = 30  # type: ignore[union-attr]
    await orders.resume()
    done = await orders.get(order.id)
    assert done.state is S.DELIVERED
    assert gifts(market_sim) == 0  # nothing sent twice
    assert market_sim.state.user("darth").subscription_days[Product.CS2] == 30  # type: ignore[union-attr]


async def test_resume_runs_pending_checks(orders: OrderService, clock: Clock) -> None:
    """An order stored just before a kill, its background check never run."""
    order, created = await orders.repo.insert(
        {
            "id": new_order_id(),
            "form_token": "t",
            "login": "darth",
            "product_key": "cs2-30",
            "nle_cost": Decimal("17.10"),
            "expires_at": clock.now + timedelta(hours=1),
        },
        actor="customer",
    )
    assert (created, order.check_status) == (True, "pending")
    resumed = await orders.resume()
    assert [(o.id, o.check_status) for o in resumed] == [(order.id, "ok")]


# ---------------------------------------------------------------------------------------------- cancel, refund, expiry
async def test_cancel_and_reject(orders: OrderService) -> None:
    order = await checked(orders)
    cancelled = await orders.cancel(order.id, "staff:3", "  customer asked\n")
    assert cancelled.state is S.CANCELLED
    assert (await orders.history(order.id))[-1].note == "customer asked"
    other = await checked(orders, email="z@example.com")
    rejected = await orders.reject_payment(other.id, "staff:4", "no money arrived")
    assert rejected.state is S.CANCELLED
    last = (await orders.history(other.id))[-1]
    assert (last.actor, last.note) == ("staff:4", "no money arrived")
    third = await checked(orders, email="w@example.com")
    await orders.reject_payment(third.id, "staff:4", "")
    assert (await orders.history(third.id))[-1].note == "payment not received"
    with pytest.raises(IllegalTransition):
        await orders.cancel(order.id, "staff:3", "again")


async def test_a_paid_order_cannot_be_cancelled(orders: OrderService) -> None:
    order = await paid(orders)
    with pytest.raises(IllegalTransition):
        await orders.cancel(order.id, "staff:1", "no")


async def test_refund(orders: OrderService) -> None:
    order = await paid(orders)
    await orders.drain()
    with pytest.raises(OrderRefused, match="how the money was refunded"):
        await orders.refund(order.id, "staff:1", "  ")
    refunded = await orders.refund(order.id, "staff:1", "bank transfer back")
    assert refunded.state is S.REFUNDED
    assert (await orders.history(order.id))[-1].note == "bank transfer back"
    waiting = await checked(orders, email="v@example.com")
    with pytest.raises(IllegalTransition):
        await orders.refund(waiting.id, "staff:1", "x")


async def test_refund_of_a_paid_and_of_a_needs_attention_order(
    orders: OrderService, market_sim: RunningSimulator
) -> None:
    a = await checked(orders)
    market_sim.state.user("darth").invited.clear()  # type: ignore[union-attr]
    await orders.confirm_payment(a.id, MANUAL, None, "staff:1")
    await orders.drain()
    assert (await orders.get(a.id)).state is S.NEEDS_ATTENTION
    assert (await orders.refund(a.id, "staff:1", "paypal")).state is S.REFUNDED
    b = await checked(orders, email="u@example.com", login="ghost")
    await orders.repo.move(b.id, S.PAID, actor="staff:1")
    assert (await orders.refund(b.id, "staff:1", "cash")).state is S.REFUNDED


async def test_expiry_boundary(orders: OrderService, clock: Clock) -> None:
    order = await checked(orders)
    done = await paid(orders, email="t@example.com")
    clock.advance(timedelta(minutes=59, seconds=59))
    assert await orders.expire_due() == []
    clock.advance(timedelta(seconds=1))
    expired = await orders.expire_due()
    assert [(o.id, o.state) for o in expired] == [(order.id, S.EXPIRED)]
    last = (await orders.history(order.id))[-1]
    assert (last.actor, last.note) == ("system", "not paid in time")
    assert await orders.expire_due() == []
    await orders.drain()
    assert (await orders.get(done.id)).state is S.DELIVERED


async def test_hooks_see_every_change_in_the_transaction(orders: OrderService, market_db: Database) -> None:
    seen: list[tuple[str | None, str]] = []

    async def hook(conn: aiosqlite.Connection, order: Order, transition: Transition) -> None:
        assert conn.in_transaction
        seen.append((transition.from_state.value if transition.from_state else None, transition.to_state.value))

    orders.add_transition_hook(hook)
    order = await paid(orders)
    await orders.drain()
    assert seen == [
        (None, "awaiting_payment"),
        ("awaiting_payment", "awaiting_payment"),
        ("awaiting_payment", "paid"),
        ("paid", "fulfilling"),
        ("fulfilling", "delivered"),
    ]
    assert (await orders.get(order.id)).seq == 5


async def test_find_by_login_state_and_since(orders: OrderService, clock: Clock) -> None:
    a = await checked(orders)
    clock.advance(timedelta(hours=1))
    b = await checked(orders, login="a49", product="csgo")
    assert [o.id for o in await orders.find(login="DARTH")] == [a.id]
    assert [o.id for o in await orders.find(since=clock.now)] == [b.id]
    assert [o.id for o in await orders.find(state=S.AWAITING_PAYMENT, limit=1)] == [b.id]
    assert [o.id for o in await orders.find(state=S.AWAITING_PAYMENT, limit=1, offset=1)] == [a.id]


@pytest.mark.parametrize("cryptopay_enabled", [True])
async def test_confirmed_through_another_method_charges_that_method(
    orders: OrderService, shop: PriceTable, cryptopay_enabled: bool
) -> None:
    from tests.orders.conftest import RedirectProvider

    orders.providers.add(RedirectProvider())
    await shop.put(PriceEntry("cs2-30", "EUR", Decimal("19.00"), PaymentMethod.CRYPTOPAY), updated_by=None)
    order = await checked(orders)
    assert (order.method, order.amount) == (None, None)
    chosen = await orders.choose_method(order.id, MANUAL)
    assert chosen.amount == Decimal("20.00")
    again = await orders.choose_method(order.id, MANUAL)
    assert again.seq == chosen.seq  # the same choice records nothing
    status = PaymentStatus(PaymentOutcome.PAID, reference="inv-1")
    paid_order = await orders.confirm_payment(order.id, PaymentMethod.CRYPTOPAY, status, "provider:cryptopay")
    assert (paid_order.method, paid_order.amount, paid_order.payment_reference) == (
        PaymentMethod.CRYPTOPAY,
        Decimal("19.00"),
        "inv-1",
    )
    await orders.drain()


async def test_order_url_forms(orders: OrderService, market_db: Database) -> None:
    assert orders.order_url("abc") == "https://shop.example/orders/abc"
    bare = OrderService(
        market_db,
        market=None,
        journal=None,
        prices=None,
        methods=None,
        providers=None,  # type: ignore[arg-type]
        order_ttl=timedelta(hours=1),
    )
    assert bare.order_url("abc") == "/orders/abc"
    slashed = OrderService(
        market_db,
        market=None,
        journal=None,
        prices=None,
        methods=None,
        providers=None,  # type: ignore[arg-type]
        order_ttl=timedelta(hours=1),
        base_url=lambda: "/https://shop.example//",
    )
    assert slashed.order_url("abc") == "/https://shop.example/orders/abc"


async def test_discord_nle_below_one_and_the_refusal_text(orders: OrderService) -> None:
    order = await orders.create_for_discord_user(9, "a49", "marketplace", Decimal("0.50"))
    assert order.nle == Decimal("0.50")
    with pytest.raises(OrderRefused) as info:
        await orders.create_for_discord_user(9, "a49", "marketplace", Decimal("0"))
    assert str(info.value) == "choose an NLE amount above 0 with at most two decimal places"
    with pytest.raises(OrderRefused) as info:
        await orders.create_for_discord_user(9, "a49", "cs2-30", Decimal("1"))
    assert str(info.value) == "an NLE amount applies to the marketplace only"


@pytest.mark.parametrize("cryptopay_enabled", [True])
async def test_payment_start_asks_the_chosen_provider(
    orders: OrderService, shop: PriceTable, cryptopay_enabled: bool
) -> None:
    from tests.orders.conftest import RedirectProvider

    provider = RedirectProvider()
    orders.providers.add(provider)
    order = await checked(orders)
    assert await orders.payment_start(order) is None  # two methods: nothing chosen yet
    chosen = await orders.choose_method(order.id, PaymentMethod.CRYPTOPAY)
    start = await orders.payment_start(chosen)
    assert start is not None
    assert start.redirect_url == "https://pay.example/20.00"
    (request,) = provider.requests
    assert (request.order_id, request.amount, request.currency, request.description) == (
        order.id,
        Decimal("20.00"),
        "EUR",
        "CS2, 30 days",
    )
    assert request.expires_at == chosen.expires_at
    assert request.return_url == f"https://shop.example/orders/{order.id}"
    from dataclasses import replace

    assert await orders.payment_start(replace(chosen, amount=None)) is None
    assert await orders.payment_start(replace(chosen, currency=None)) is None
    assert await orders.payment_start(replace(chosen, check_status="blocked")) is None
    assert await orders.payment_start(replace(chosen, state=S.PAID)) is None
    assert len(provider.requests) == 1


async def test_refund_note_and_refusal_text(orders: OrderService) -> None:
    order = await paid(orders)
    await orders.drain()
    with pytest.raises(OrderRefused) as info:
        await orders.refund(order.id, "staff:1", "\n")
    assert str(info.value) == "say how the money was refunded"
    await orders.refund(order.id, "staff:1", "n" * 400)
    assert (await orders.history(order.id))[-1].note == "n" * 300


async def test_what_is_logged(orders: OrderService, caplog: pytest.LogCaptureFixture, clock: Clock) -> None:
    """The operator's greppable lines (and never the e-mail)."""
    import logging

    with caplog.at_level(logging.INFO, logger="bot.orders"):
        order = await paid(orders)
        await orders.drain()
        discord = await orders.create_for_discord_user(77, "darth", "cs2-30")
        await orders.repo.move(discord.id, S.PAID, actor="staff:2")
        await orders.resume()
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("bot.orders")]
    assert lines[0] == f"order created order_id={order.id} source=checkout product=cs2-30"
    assert f"order event order_id={order.id} from=awaiting_payment to=awaiting_payment actor=system" in lines
    assert f"order transition order_id={order.id} from=awaiting_payment to=paid actor=staff:42" in lines
    assert f"order transition order_id={order.id} from=fulfilling to=delivered actor=system" in lines
    assert f"order created order_id={discord.id} source=discord product=cs2-30" in lines
    assert f"order resumed order_id={discord.id}" in lines
    assert not any("example.com" in line for line in lines)
    resumed = [r for r in caplog.records if r.getMessage().startswith("order resumed")]
    assert [r.levelname for r in resumed] == ["WARNING"]


async def test_an_open_delivery_is_logged(
    orders: OrderService, market_sim: RunningSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    order = await checked(orders)
    market_sim.state.faults.fail_next("gift-product", times=4)
    with caplog.at_level(logging.INFO, logger="bot.orders"):
        await orders.confirm_payment(order.id, MANUAL, None, "staff:1")
        await orders.drain()
    rid = request_id_for(order.id, 1)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and r.name.startswith("bot.orders")]
    assert warnings == [f"order fulfilment still open order_id={order.id} request_id={rid}"]


async def test_discord_order_fields(orders: OrderService, clock: Clock) -> None:
    order = await orders.create_for_discord_user(77, "darth", "cs2-90")
    assert order.expires_at == clock.now + timedelta(minutes=60)
    assert len(order.form_token) == 22
    assert (order.login, order.product_key, order.nle, order.nle_cost) == ("darth", "cs2-90", None, Decimal("44.10"))
    assert order.id != order.form_token


async def test_offer_follows_the_order(orders: OrderService, shop: PriceTable) -> None:
    market = await checked(orders, product="marketplace", market=True, cnt=None, days=None, nle="3")
    offer = await orders.offer(market)
    assert offer is not None
    assert offer.prices == {MANUAL: Decimal("3.30")}
    order = await checked(orders, email="o@example.com")
    await shop.put(PriceEntry("cs2-30", "AUD", Decimal("30")), updated_by=None)
    assert await orders.offer(order) is None  # the currency moved since the check: check again
    rechecked = await orders.check(order.id)
    assert rechecked.currency == "AUD"
    again = await orders.offer(rechecked)
    assert again is not None
    assert again.currency == "AUD"


async def test_claim_needs_passing_checks(orders: OrderService, market_sim: RunningSimulator) -> None:
    order = await checked(orders)
    assert order.method is MANUAL
    market_sim.state.balance = Decimal("1.00")
    blocked = await orders.check(order.id)
    assert (blocked.method, blocked.check_status) == (MANUAL, "blocked")
    with pytest.raises(OrderRefused, match=r"^Choose manual payment first\.$"):
        await orders.claim_manual_payment(order.id, None)


async def test_claim_on_a_paid_order_names_it(orders: OrderService) -> None:
    order = await paid(orders)
    with pytest.raises(IllegalTransition) as info:
        await orders.claim_manual_payment(order.id, None)
    assert (info.value.order_id, info.value.current) == (order.id, S.PAID)
    await orders.drain()


async def test_passes_see_every_order_oldest_first(orders: OrderService, clock: Clock) -> None:
    created = []
    for n in range(30):
        order, _ = await orders.create_from_token(claims_for(email=f"n{n}@example.com"))
        created.append(order.id)
        clock.advance(timedelta(seconds=1))
    resumed = await orders.resume()
    assert [o.id for o in resumed] == created
    clock.advance(timedelta(hours=1))
    assert [o.id for o in await orders.expire_due()] == created


async def test_refusal_history_and_retry_guard(orders: OrderService, market_sim: RunningSimulator) -> None:
    order = await checked(orders)
    with pytest.raises(IllegalTransition):
        await orders.retry(order.id, "staff:1")  # only a refused order is retried
    market_sim.state.user("darth").invited.clear()  # type: ignore[union-attr]
    await orders.confirm_payment(order.id, MANUAL, None, "staff:1")
    await orders.drain()
    last = (await orders.history(order.id))[-1]
    assert (last.from_state, last.to_state, last.actor, last.note) == (
        S.FULFILLING,
        S.NEEDS_ATTENTION,
        "system",
        "User is not invited to this product",
    )
    assert await orders.confirm_payment(order.id, MANUAL, None, "staff:2") == await orders.get(order.id)


class FailingCancel:
    def __init__(self, method: PaymentMethod) -> None:
        self._method = method
        self.calls: list[str] = []

    @property
    def method(self) -> PaymentMethod:
        return self._method

    def offers(self, currency: str) -> bool:
        return True

    async def start(self, request: Any) -> Any:
        from bot.payments.provider import PaymentStart

        return PaymentStart(instructions="x")

    async def poll(self, order_id: str) -> None:
        return None

    async def cancel(self, order_id: str) -> None:
        self.calls.append(order_id)
        raise RuntimeError("provider down")


async def test_withdrawing_a_payment(orders: OrderService, caplog: pytest.LogCaptureFixture, clock: Clock) -> None:
    import logging

    failing = FailingCancel(MANUAL)
    orders.providers.add(failing)
    order = await checked(orders)
    with caplog.at_level(logging.INFO, logger="bot.orders"):
        cancelled = await orders.cancel(order.id, "staff:1", "x" * 400)
    assert cancelled.state is S.CANCELLED
    assert failing.calls == [order.id]
    assert (await orders.history(order.id))[-1].note == "x" * 300
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [r.getMessage() for r in errors] == [f"payment cancel failed order_id={order.id} method=manual"]
    blocked = await checked(orders, login="ghost", email="gh@example.com")
    assert blocked.method is None
    await orders.cancel(blocked.id, "staff:1", "no method")
    assert failing.calls == [order.id]  # nothing chosen: nothing to withdraw
    unregistered = await checked(orders, email="un@example.com")
    orders.providers._providers.pop(MANUAL)  # the method's provider went away since
    clock.advance(timedelta(hours=2))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="bot.orders"):
        assert [o.id for o in await orders.expire_due()] == [unregistered.id]
    assert failing.calls == [order.id]
    assert [r for r in caplog.records if r.levelname == "ERROR"] == []  # nothing to withdraw, nothing failed


async def test_choosing_again_after_a_price_change(orders: OrderService, shop: PriceTable) -> None:
    order = await checked(orders)
    assert order.amount == Decimal("20.00")
    await shop.put(PriceEntry("cs2-30", "EUR", Decimal("18.00")), updated_by=None)
    again = await orders.choose_method(order.id, MANUAL)
    assert again.amount == Decimal("18.00")
    same = await orders.choose_method(order.id, MANUAL)
    assert same.seq == again.seq


async def test_choose_method_refusal_texts(orders: OrderService, market_sim: RunningSimulator) -> None:
    order = await checked(orders)
    with pytest.raises(OrderRefused) as info:
        await orders.choose_method(order.id, PaymentMethod.CRYPTOPAY)
    assert str(info.value) == "This payment method is not available for this order."
    await orders.claim_manual_payment(order.id, None)
    market_sim.state.balance = Decimal("1")
    with pytest.raises(OrderRefused) as info:
        await orders.choose_method(order.id, MANUAL)
    assert str(info.value) == BlockReason.LOW_BALANCE.customer_text
    market_sim.state.balance = Decimal("1000")
    with pytest.raises(OrderRefused) as info:
        await orders.choose_method(order.id, PaymentMethod.CRYPTOPAY)
    assert str(info.value) == "You already told us you paid; please wait for the confirmation."
    await orders.confirm_payment(order.id, MANUAL, None, "staff:1")
    with pytest.raises(IllegalTransition) as caught:
        await orders.choose_method(order.id, MANUAL)
    assert (caught.value.order_id, caught.value.current, caught.value.wanted) == (order.id, S.PAID, S.AWAITING_PAYMENT)
    await orders.drain()


async def test_the_alert_text(orders: OrderService, market_db: Database, market_sim: RunningSimulator) -> None:
    market_sim.state.balance = Decimal("5.00")
    order = await checked(orders)
    (row,) = await audit_rows(market_db)
    embed = json.loads(row["embeds"])[0]
    assert embed["description"] == (
        f"Order `{order.id}` for `darth` (CS2, 30 days) cannot be offered: the Market balance is too low."
        " (balance 5.00 NLE, cost 17.10 NLE)"
    )
    other = await checked(orders, login="ghost", product="csgo", email="gh@example.com")
    rows = await audit_rows(market_db)
    assert json.loads(rows[1]["embeds"])[0]["description"] == (
        f"Order `{other.id}` for `ghost` (CS:GO, 30 days) cannot be offered: the login does not exist on Neverlose."
    )


async def test_run_forever_resumes_then_maintains(
    orders: OrderService, market_sim: RunningSimulator, clock: Clock
) -> None:
    paid_order = await checked(orders)
    await orders.repo.move(paid_order.id, S.PAID, actor="staff:1")
    waiting = await checked(orders, email="w@example.com")
    task = asyncio.ensure_future(orders.run_forever(timedelta(milliseconds=10)))
    try:
        async with asyncio.timeout(10):
            while (await orders.get(paid_order.id)).state is not S.DELIVERED:  # resume
                await asyncio.sleep(0.01)
            clock.advance(timedelta(hours=2))
            while (await orders.get(waiting.id)).state is not S.EXPIRED:  # a maintenance pass
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert gifts(market_sim) == 1


async def test_run_forever_survives_a_failing_pass(
    orders: OrderService, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    calls: list[str] = []

    async def broken() -> None:
        calls.append("x")
        raise RuntimeError("disk full")

    monkeypatch.setattr(orders, "resume", broken)
    monkeypatch.setattr(orders, "maintain", broken)
    with caplog.at_level(logging.ERROR, logger="bot.orders"):
        task = asyncio.ensure_future(orders.run_forever(timedelta(milliseconds=5)))
        async with asyncio.timeout(10):
            while len(calls) < 3:
                await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "order resume failed"
    assert messages[1] == "order maintenance pass failed"


async def test_close_cancels_background_work(orders: OrderService, market_sim: RunningSimulator) -> None:
    order = await checked(orders)
    market_sim.state.faults.delay_next("gift-product", seconds=30)
    await orders.confirm_payment(order.id, MANUAL, None, "staff:1")
    await asyncio.sleep(0.2)
    async with asyncio.timeout(5):
        await orders.close()
    assert not orders._tasks  # cancelled AND finished when close returns
    assert (await orders.get(order.id)).state is S.FULFILLING  # resumed at the next start
    await orders.drain()


async def test_a_failing_background_task_is_logged(
    orders: OrderService, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    order = await checked(orders)

    async def broken(order_id: str) -> Order:
        raise RuntimeError("boom")

    monkeypatch.setattr(orders, "fulfil", broken)
    with caplog.at_level(logging.ERROR, logger="bot.orders"):
        await orders.confirm_payment(order.id, MANUAL, None, "staff:1")
        await orders.drain()
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.getMessage() == f"order task failed name=order-fulfil-{order.id}"
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "boom"


async def test_maintenance_delivers_paid_orders_too(orders: OrderService, market_sim: RunningSimulator) -> None:
    order = await checked(orders)
    await orders.repo.move(order.id, S.PAID, actor="staff:1")  # paid, its delivery never started (a crash)
    await orders.maintain()
    assert (await orders.get(order.id)).state is S.DELIVERED
    assert gifts(market_sim) == 1


async def test_find_defaults_and_state_filter(orders: OrderService, clock: Clock) -> None:
    ids = []
    for n in range(26):
        order, _ = await orders.create_from_token(claims_for(email=f"f{n}@example.com"))
        ids.append(order.id)
        clock.advance(timedelta(seconds=1))
    assert [o.id for o in await orders.find()] == ids[::-1][:25]
    await orders.cancel(ids[0], "staff:1", "x")
    assert [o.id for o in await orders.find(state=S.CANCELLED)] == [ids[0]]
    assert [o.id for o in await orders.find(state=S.AWAITING_PAYMENT, offset=24)] == [ids[1]]


@pytest.mark.parametrize("cryptopay_enabled", [True])
async def test_method_choice_is_recorded_with_its_actor(orders: OrderService, cryptopay_enabled: bool) -> None:
    from tests.orders.conftest import RedirectProvider

    orders.providers.add(RedirectProvider())
    order = await checked(orders)
    await orders.choose_method(order.id, MANUAL)
    await orders.choose_method(order.id, PaymentMethod.CRYPTOPAY, actor="discord:5")
    history = await orders.history(order.id)
    choices = [(t.actor, t.note) for t in history if t.note and t.note.startswith("method")]
    assert choices == [("customer", "method manual"), ("discord:5", "method cryptopay")]


async def test_withdrawing_nothing_logs_nothing(orders: OrderService, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    blocked = await checked(orders, login="ghost")
    with caplog.at_level(logging.INFO, logger="bot.orders"):
        await orders.cancel(blocked.id, "staff:1", "x")
    assert [r for r in caplog.records if r.levelname == "ERROR"] == []


async def test_resume_checks_only_pending_orders(orders: OrderService, clock: Clock) -> None:
    done = await checked(orders)
    pending, _ = await orders.create_from_token(claims_for(email="pending@example.com"))
    resumed = await orders.resume()
    assert [o.id for o in resumed] == [pending.id]
    assert (await orders.get(done.id)).seq == done.seq


async def test_low_balance_skips_a_big_order_for_a_smaller_one(
    orders: OrderService, market_sim: RunningSimulator, clock: Clock
) -> None:
    big = await checked(orders, login="a49", product="marketplace", market=True, cnt=None, days=None, nle="50")
    clock.advance(timedelta(seconds=1))
    small = await checked(
        orders, login="a49", product="marketplace", market=True, cnt=None, days=None, nle="10", email="s@example.com"
    )
    market_sim.state.balance = Decimal("5.00")
    for order in (big, small):
        await orders.confirm_payment(order.id, MANUAL, None, "staff:1")
    await orders.drain()
    market_sim.state.balance = Decimal("20.00")
    retried = await orders.retry_low_balance()
    assert [(o.id, o.state) for o in retried] == [(small.id, S.DELIVERED)]
    assert (await orders.get(big.id)).state is S.NEEDS_ATTENTION
    retry_entries = [(t.actor, t.note) for t in await orders.history(small.id) if t.note == "retry"]
    assert retry_entries == [("system", "retry")]


async def test_payment_through_a_method_not_offered(orders: OrderService) -> None:
    order = await checked(orders)
    paid_order = await orders.confirm_payment(order.id, PaymentMethod.CRYPTOPAY, None, "staff:3")
    assert (paid_order.state, paid_order.method, paid_order.amount) == (
        S.PAID,
        PaymentMethod.CRYPTOPAY,
        Decimal("20.00"),
    )
    await orders.drain()


async def test_a_cancelled_order_refusal_names_it(orders: OrderService) -> None:
    order = await checked(orders)
    await orders.cancel(order.id, "staff:1", "x")
    with pytest.raises(IllegalTransition) as info:
        await orders.confirm_payment(order.id, MANUAL, None, "staff:1")
    assert (info.value.order_id, info.value.current, info.value.wanted) == (order.id, S.CANCELLED, S.PAID)


async def test_delivery_clears_the_automatic_retry(orders: OrderService, market_sim: RunningSimulator) -> None:
    order = await checked(orders)
    market_sim.state.balance = Decimal("1.00")
    await orders.confirm_payment(order.id, MANUAL, None, "staff:1")
    await orders.drain()
    assert (await orders.get(order.id)).auto_retry is True
    market_sim.state.balance = Decimal("100.00")
    done = await orders.retry(order.id, "staff:1")
    assert (done.state, done.auto_retry) == (S.DELIVERED, False)


async def test_parameters_the_journal_refuses_need_attention(orders: OrderService, clock: Clock) -> None:
    order, _ = await orders.repo.insert(
        dict(  # noqa: C408
            id=new_order_id(),
            form_token="t",
            login="a49",
            product_key="marketplace",
            nle=Decimal("0.001"),
            nle_cost=Decimal("0.001"),
            expires_at=clock.now + timedelta(hours=1),
        ),
        actor="customer",
    )
    await orders.confirm_payment(order.id, MANUAL, None, "staff:1")
    await orders.drain()
    refused = await orders.get(order.id)
    assert refused.state is S.NEEDS_ATTENTION
    assert refused.auto_retry is False
    assert refused.last_error is not None
    assert refused.last_error.startswith("amount")
    assert (await orders.history(order.id))[-1].note == refused.last_error


async def test_expiry_goes_on_past_an_order_paid_meanwhile(
    orders: OrderService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await checked(orders)
    second = await checked(orders, email="second@example.com")
    await orders.confirm_payment(first.id, MANUAL, None, "staff:1")  # paid after the expiry pass listed it
    await orders.drain()
    listed = [first.id, second.id]

    async def ids(*states: OrderState, **filters: Any) -> list[str]:
        return listed

    monkeypatch.setattr(orders.repo, "ids", ids)
    clock.advance(timedelta(hours=2))
    assert [o.id for o in await orders.expire_due()] == [second.id]
    assert (await orders.get(first.id)).state is S.DELIVERED


async def test_a_failed_check_can_start_again(
    orders: OrderService, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    order, _ = await orders.create_from_token(claims_for())
    real_check = orders.check

    async def broken(order_id: str) -> Order:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(orders, "check", broken)
    with caplog.at_level(logging.ERROR, logger="bot.orders"):
        assert orders.start_check(order)
        await orders.drain()
    assert [r.getMessage() for r in caplog.records] == [f"order task failed name=order-check-{order.id}"]
    monkeypatch.setattr(orders, "check", real_check)
    assert orders.start_check(order)  # not stuck as "running"
    await orders.drain()
    assert (await orders.get(order.id)).check_status == "ok"


def test_initial_cost_needs_the_nle_amount() -> None:
    from bot.orders.service import _initial_cost

    with pytest.raises(ValueError, match=r"^a marketplace order needs its NLE amount$"):
        _initial_cost(ProductKey.marketplace(), None)
    assert _initial_cost(ProductKey.marketplace(), Decimal("2.50")) == Decimal("2.50")
    assert _initial_cost(ProductKey.parse("csgo-365"), None) == Decimal("134.10")


@pytest.mark.parametrize("cryptopay_enabled", [True])
async def test_a_chosen_method_that_went_away(orders: OrderService, cryptopay_enabled: bool) -> None:
    from tests.orders.conftest import RedirectProvider

    orders.providers.add(RedirectProvider())
    order = await checked(orders)
    chosen = await orders.choose_method(order.id, PaymentMethod.CRYPTOPAY)
    orders.providers._providers.pop(PaymentMethod.CRYPTOPAY)
    rechecked = await orders.check(order.id)
    assert (rechecked.method, rechecked.amount, rechecked.check_status) == (
        PaymentMethod.CRYPTOPAY,
        chosen.amount,
        "ok",
    )
    switched = await orders.choose_method(order.id, MANUAL)
    assert (switched.method, switched.amount) == (MANUAL, Decimal("20.00"))


async def test_a_new_alert_wakes_the_dispatcher_and_notes_the_reason(
    orders: OrderService, market_sim: RunningSimulator, market_db: Database, clock: Clock
) -> None:
    woken: list[int] = []
    orders._wake = lambda: woken.append(1)
    order = await checked(orders)
    assert woken == []  # checks passed: no alert, no wake
    market_sim.state.balance = Decimal("1.00")
    blocked = await orders.check(order.id)
    assert woken == [1]
    assert (await orders.history(order.id))[-1].note == "blocked: low_balance"
    assert blocked.check_reason == "low_balance"


async def test_a_check_updates_the_price_of_the_chosen_method(orders: OrderService, shop: PriceTable) -> None:
    order = await checked(orders)
    await shop.put(PriceEntry("cs2-30", "EUR", Decimal("18.00")), updated_by=None)
    assert (await orders.check(order.id)).amount == Decimal("18.00")


async def test_the_default_clock_is_utc_now(market_db: Database) -> None:
    from datetime import UTC, datetime

    service = OrderService(
        market_db,
        market=None,
        journal=None,
        prices=None,
        methods=None,
        providers=None,  # type: ignore[arg-type]
        order_ttl=timedelta(hours=1),
    )
    before = datetime.now(UTC)
    order, _ = await service.create_from_token(claims_for())
    assert before <= order.created_at <= datetime.now(UTC)
    assert abs(order.expires_at - order.created_at - timedelta(hours=1)) < timedelta(seconds=1)
