"""Staff actions on orders (bot/orders/staff_actions.py) against the real service, simulator and SQLite:
exact limits and thresholds, the two-person rule, every refusal audited; what a staff member reading Russian is
told for each action and refusal (the English stays in the audit)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import babel.numbers
import pytest

from bot.guild_config import GuildConfig
from bot.market.client import MarketClient
from bot.market.journal import SpendingJournal
from bot.market.models import Product
from bot.market.request_ids import RequestIdFactory
from bot.market.retry import RetryPolicy
from bot.market.simulator.runner import RunningSimulator
from bot.market.simulator.state import SimUser
from bot.orders.discord_cards import APPROVAL_NOTE, pending_approval
from bot.orders.models import Order, OrderState, Transition
from bot.orders.service import OrderService
from bot.orders.staff_actions import OrderRefusal, OrderStaffActions
from bot.orders.staff_spending import OrderSpending
from bot.settings import Settings
from bot.staff.audit import AuditLog, AuditQuery
from bot.staff.errors import NotStaff
from bot.staff.models import AuditEntry, AuditEvent
from bot.staff.permissions import StaffSubject
from bot.storage import Database
from tests.orders.conftest import Clock

ROLE = 77
ALICE = StaffSubject(1, frozenset({ROLE}), manage_guild=False)
BOB = StaffSubject(2, frozenset({ROLE}), manage_guild=False)
MALLORY = StaffSubject(3, frozenset(), manage_guild=False)
OWNER = StaffSubject(4, frozenset(), manage_guild=True)
NBSP = "\xa0"  # between an amount and its unit in Russian


@pytest.fixture
def market_journal(
    market_db: Database,
    market_client: MarketClient,
    market_ids: RequestIdFactory,
    market_retry: RetryPolicy,
    clock: Clock,
) -> SpendingJournal:
    """The journal on the orders' clock, so the daily limit's day is the same for both."""
    return SpendingJournal(market_db, market_client, id_factory=market_ids, retry=market_retry, clock=clock)


@pytest.fixture
def config(market_db: Database, make_settings: Callable[..., Settings]) -> GuildConfig:
    settings = make_settings(STAFF_ROLE_IDS=str(ROLE), STAFF_DAILY_LIMIT="500", TRANSFER_APPROVAL_THRESHOLD="100")
    return GuildConfig(market_db, settings)


@pytest.fixture
def audit(market_db: Database, clock: Clock) -> AuditLog:
    return AuditLog(market_db, clock=clock)


@pytest.fixture
def actions(
    orders: OrderService,
    market_db: Database,
    market_journal: SpendingJournal,
    audit: AuditLog,
    config: GuildConfig,
    clock: Clock,
) -> OrderStaffActions:
    return OrderStaffActions(orders, audit=audit, config=config, spent=OrderSpending(market_db), clock=clock)


async def claimed(orders: OrderService, login: str = "darth", nle: Decimal | None = None) -> Order:
    order = await orders.create_for_discord_user(9, login, "marketplace" if nle else "cs2-30", nle)
    assert order.check_status == "ok", order.check_reason
    return await orders.claim_manual_payment(order.id, None)


async def events(audit: AuditLog) -> list[tuple[str, AuditEvent, int, str]]:
    """Oldest first: (action, event, staff, result)."""
    return [
        (r.entry.action, r.entry.event, r.entry.staff_id, r.entry.result)
        for r in reversed(await audit.query(AuditQuery()))
    ]


# ---------------------------------------------------------------- confirm
async def test_confirm_delivers_in_the_staff_members_name(
    actions: OrderStaffActions, orders: OrderService, audit: AuditLog, market_journal: SpendingJournal, clock: Clock
) -> None:
    order = await claimed(orders)
    result = await actions.confirm(order.id, ALICE, guild_id=5)
    assert result.text == f"Payment of order `{order.id}` confirmed; delivering CS2, 30 days to `darth`."
    assert result.order.state is OrderState.PAID
    assert result.order.paid_by == ALICE.user_id
    since = clock() - timedelta(hours=1)
    spending = OrderSpending(actions.orders._db)
    assert await spending.spent_since(ALICE.user_id, since) == Decimal("17.10")  # paid, not journaled yet
    await orders.drain()
    assert (await orders.get(order.id)).state is OrderState.DELIVERED
    assert await spending.spent_since(ALICE.user_id, since) == Decimal("17.10")  # journaled now, counted once
    assert await spending.spent_since(BOB.user_id, since) == Decimal(0)
    (entry,) = await audit.query(AuditQuery())
    assert entry.entry.action == "order confirm"
    assert entry.entry.event is AuditEvent.REQUESTED
    assert entry.entry.guild_id == 5
    assert entry.entry.username == "darth"
    assert entry.entry.detail == f"order {order.id}: CS2, 30 days"
    assert entry.entry.amount_nle == Decimal("17.10")


async def test_the_daily_limit_counts_confirmed_orders_exactly(
    actions: OrderStaffActions, orders: OrderService, config: GuildConfig, audit: AuditLog
) -> None:
    await config.set_daily_limit(Decimal("34.20"), updated_by=None)  # exactly two 17.10 orders
    first, second, third = await claimed(orders), await claimed(orders), await claimed(orders)
    await actions.confirm(first.id, ALICE)
    await actions.confirm(second.id, ALICE)  # before the first is journaled: still counted
    with pytest.raises(OrderRefusal, match=r"you have used 34\.20 of 34\.20 NLE today"):
        await actions.confirm(third.id, ALICE)
    assert (await orders.get(third.id)).state is OrderState.AWAITING_PAYMENT
    await actions.confirm(third.id, BOB)  # another staff member's limit is their own
    await orders.drain()
    assert [e[1] for e in await events(audit)] == [
        AuditEvent.REQUESTED,
        AuditEvent.REQUESTED,
        AuditEvent.REFUSED,
        AuditEvent.REQUESTED,
    ]


async def test_refusals_before_anything_happens(
    actions: OrderStaffActions, orders: OrderService, audit: AuditLog
) -> None:
    order = await claimed(orders)
    with pytest.raises(NotStaff):
        await actions.confirm(order.id, MALLORY)
    with pytest.raises(OrderRefusal, match=r"^No order `nope`\.$"):
        await actions.confirm("nope", ALICE)
    blocked = await orders.create_for_discord_user(9, "ghost", "cs2-30")
    with pytest.raises(OrderRefusal, match="is awaiting_payment; only manual payments are confirmed by staff"):
        await actions.confirm(blocked.id, ALICE)
    await actions.confirm(order.id, OWNER)  # Manage Server is staff
    await orders.drain()
    with pytest.raises(OrderRefusal, match=f"^Order `{order.id}` is delivered; nothing to confirm.$"):
        await actions.confirm(order.id, ALICE)
    assert [(e[0], e[1], e[3]) for e in (await events(audit))[:2]] == [
        ("order confirm", AuditEvent.REFUSED, "not staff"),
        ("order confirm", AuditEvent.REFUSED, "No order `nope`."),
    ]


async def test_expired_orders_can_still_be_confirmed(
    actions: OrderStaffActions, orders: OrderService, clock: Clock
) -> None:
    order = await claimed(orders)
    clock.advance(timedelta(hours=2))
    await orders.expire_due()
    assert (await orders.get(order.id)).state is OrderState.EXPIRED
    result = await actions.confirm(order.id, ALICE)
    assert result.order.state is OrderState.PAID
    await orders.drain()


# ---------------------------------------------------------------- the two-person rule
async def test_at_the_threshold_one_staff_member_is_enough(actions: OrderStaffActions, orders: OrderService) -> None:
    order = await claimed(orders, "a49", Decimal("100"))
    result = await actions.confirm(order.id, ALICE)
    assert result.order.state is OrderState.PAID
    await orders.drain()


async def test_above_the_threshold_a_second_staff_member_must_approve(
    actions: OrderStaffActions, orders: OrderService, audit: AuditLog, config: GuildConfig
) -> None:
    order = await claimed(orders, "a49", Decimal("100.01"))
    with pytest.raises(OrderRefusal, match=r"No confirmation of order .* waits for approval"):
        await actions.approve(order.id, BOB)
    result = await actions.confirm(order.id, ALICE)
    assert "above the approval threshold (100.00 NLE)" in result.text
    assert "The Market cost 100.01 NLE" in result.text
    assert result.order.state is OrderState.AWAITING_PAYMENT
    assert pending_approval(await orders.history(order.id)) == ALICE.user_id
    again = await actions.confirm(order.id, ALICE)
    assert again.text.startswith(f"Already waiting for a second staff member (<@{ALICE.user_id}> confirmed).")
    assert [t.note for t in await orders.history(order.id)].count(APPROVAL_NOTE) == 1

    with pytest.raises(OrderRefusal, match="cannot approve your own confirmation"):
        await actions.approve(order.id, ALICE)
    with pytest.raises(NotStaff):
        await actions.approve(order.id, MALLORY)
    await config.set_daily_limit(Decimal("100.00"), updated_by=None)  # the requester's limit is checked again
    with pytest.raises(OrderRefusal, match="Daily limit reached"):
        await actions.approve(order.id, BOB)
    await config.set_daily_limit(Decimal("100.01"), updated_by=None)
    approved = await actions.approve(order.id, BOB)
    assert approved.order.state is OrderState.PAID
    assert approved.order.paid_by == ALICE.user_id
    assert approved.text.endswith(f"Approved; confirmed by <@{ALICE.user_id}>.")
    await orders.drain()
    assert (await orders.get(order.id)).state is OrderState.DELIVERED
    with pytest.raises(OrderRefusal, match=r"No confirmation .* waits for approval .*delivered"):
        await actions.approve(order.id, BOB)
    assert [(e[0], e[1], e[2]) for e in await events(audit)] == [
        ("order approve", AuditEvent.APPROVAL_REFUSED, BOB.user_id),
        ("order confirm", AuditEvent.APPROVAL_REQUESTED, ALICE.user_id),
        ("order approve", AuditEvent.APPROVAL_REFUSED, ALICE.user_id),
        ("order approve", AuditEvent.REFUSED, MALLORY.user_id),
        ("order approve", AuditEvent.REFUSED, BOB.user_id),
        ("order approve", AuditEvent.APPROVED, BOB.user_id),
        ("order approve", AuditEvent.APPROVAL_REFUSED, BOB.user_id),
    ]


def _t(
    seq: int, before: OrderState | None, after: OrderState, actor: str = "system", note: str | None = None
) -> Transition:
    return Transition("o", seq, before, after, datetime(2026, 1, 1, tzinfo=UTC), actor, note)


def test_pending_approval_is_the_newest_request_since_the_last_move() -> None:
    a, p = OrderState.AWAITING_PAYMENT, OrderState.PAID
    assert pending_approval([]) is None
    assert pending_approval([_t(1, None, a)]) is None
    assert pending_approval([_t(1, None, a), _t(2, a, a, "staff:5", APPROVAL_NOTE)]) == 5
    later_event = [_t(1, None, a), _t(2, a, a, "staff:5", APPROVAL_NOTE), _t(3, a, a, "system", "checks passed")]
    assert pending_approval(later_event) == 5
    two = [_t(1, None, a), _t(2, a, a, "staff:5", APPROVAL_NOTE), _t(3, a, a, "staff:6", APPROVAL_NOTE)]
    assert pending_approval(two) == 6
    moved = [_t(1, None, a), _t(2, a, a, "staff:5", APPROVAL_NOTE), _t(3, a, p, "staff:5")]
    assert pending_approval(moved) is None
    assert pending_approval([_t(1, None, a), _t(2, a, a, "customer", APPROVAL_NOTE)]) is None


# ---------------------------------------------------------------- the other actions
async def test_reject_cancel_retry_refund(
    actions: OrderStaffActions, orders: OrderService, audit: AuditLog, market_sim: object
) -> None:
    order = await claimed(orders)
    rejected = await actions.reject(order.id, ALICE)
    assert (
        rejected.text
        == f"Order `{order.id}` rejected (payment not received); the customer's page says so. Nothing was delivered."
    )
    assert rejected.order.state is OrderState.CANCELLED
    assert (await orders.history(order.id))[-1].note == "payment not received"
    with pytest.raises(OrderRefusal, match=f"^Order `{order.id}` is cancelled; it cannot be rejected.$"):
        await actions.reject(order.id, ALICE)

    other = await claimed(orders)
    cancelled = await actions.cancel(other.id, BOB, "duplicate")
    assert cancelled.text == f"Order `{other.id}` cancelled (duplicate). Nothing was delivered."
    default = await actions.cancel((await claimed(orders)).id, BOB)
    assert "(cancelled by staff)" in default.text

    with pytest.raises(OrderRefusal, match="it cannot be retried"):
        await actions.retry(other.id, ALICE)
    with pytest.raises(OrderRefusal, match="it cannot be marked refunded"):
        await actions.refund(other.id, ALICE, "sent back")
    paid = await claimed(orders)
    await actions.confirm(paid.id, ALICE)
    await orders.drain()
    with pytest.raises(OrderRefusal, match=r"^Refused: say how the money was refunded\.$"):
        await actions.refund(paid.id, ALICE, "   ")
    refunded = await actions.refund(paid.id, BOB, "  bank transfer back  ")
    assert refunded.text == f"Order `{paid.id}` marked refunded: bank transfer back"
    assert refunded.order.state is OrderState.REFUNDED
    kinds = [(e[0], e[1]) for e in await events(audit)]
    assert ("order reject", AuditEvent.SUCCEEDED) in kinds
    assert ("order cancel", AuditEvent.SUCCEEDED) in kinds
    assert ("order retry", AuditEvent.REFUSED) in kinds
    assert ("order refund", AuditEvent.SUCCEEDED) in kinds
    with pytest.raises(NotStaff):
        await actions.refund(paid.id, MALLORY, "x")


async def refused_by_neverlose(
    actions: OrderStaffActions, orders: OrderService, market_sim: RunningSimulator
) -> tuple[Order, SimUser]:
    """A confirmed order whose delivery Neverlose refused (the buyer is not invited): ``needs_attention``."""
    order = await claimed(orders)
    user = market_sim.state.user("darth")
    assert user is not None
    user.invited.discard(Product.CS2)
    await actions.confirm(order.id, ALICE)
    await orders.drain()
    order = await orders.get(order.id)
    assert order.state is OrderState.NEEDS_ATTENTION
    return order, user


async def test_retry_texts(actions: OrderStaffActions, orders: OrderService, market_sim: RunningSimulator) -> None:
    order, user = await refused_by_neverlose(actions, orders, market_sim)
    again = await actions.retry(order.id, BOB)
    assert again.text.startswith(f"Order `{order.id}` retried: Neverlose refused again (")
    user.invited.add(Product.CS2)
    done = await actions.retry(order.id, BOB)
    assert done.text == f"Order `{order.id}` retried: delivered."
    await actions.record_refusal("retry", 99, order.id, "not staff", 5)


async def test_what_counts_toward_the_limit(
    orders: OrderService, market_db: Database, market_journal: SpendingJournal, clock: Clock
) -> None:
    spending = OrderSpending(market_db)
    since = clock() - timedelta(minutes=1)

    async def paid_by(staff_id: int, login: str = "darth") -> Order:
        order = await claimed(orders, login)
        return await orders.repo.move(
            order.id,
            OrderState.PAID,
            actor=f"staff:{staff_id}",
            expect=OrderState.AWAITING_PAYMENT,
            sets={"paid_by": staff_id},
        )

    first = await paid_by(1)
    assert await spending.spent_since(1, since) == Decimal("17.10")
    assert await spending.spent_since(1, clock() + timedelta(seconds=1)) == Decimal(0)  # paid before ``since``
    assert await spending.spent_since(2, since) == Decimal(0)
    fulfilling = await orders.repo.move(
        first.id, OrderState.FULFILLING, actor="system", expect=OrderState.PAID, sets={"request_id": "ord-test-1"}
    )
    assert await spending.spent_since(1, since) == Decimal("17.10")  # not journaled yet: the order counts
    await market_journal.create(
        "gift-product",
        {"username": "darth", "product": "cs2", "cnt": 0},
        requested_by=1,
        amount_nle=fulfilling.nle_cost,
        request_id="ord-test-1",
    )
    assert await spending.spent_since(1, since) == Decimal("17.10")  # journaled: the journal counts it, once
    await paid_by(1)
    assert await spending.spent_since(1, since) == Decimal("34.20")
    await orders.repo.move(first.id, OrderState.DELIVERED, actor="system", expect=OrderState.FULFILLING)
    assert await spending.spent_since(1, since) == Decimal("34.20")


async def test_a_delivery_journaled_while_the_limit_is_read_counts_once(
    orders: OrderService, market_db: Database, market_journal: SpendingJournal, clock: Clock
) -> None:
    """The journal and the orders are read in one transaction: a delivery journaled between two separate reads
    (its order already ``fulfilling``) would be in neither, and a confirmation could go over the limit."""
    spending = OrderSpending(market_db)
    since = clock() - timedelta(minutes=1)
    order = await claimed(orders)
    await orders.repo.move(order.id, OrderState.PAID, actor="staff:1", sets={"paid_by": 1})
    fulfilling = await orders.repo.move(
        order.id, OrderState.FULFILLING, actor="system", expect=OrderState.PAID, sets={"request_id": "ord-race-1"}
    )
    journaled = market_journal.create(
        "gift-product",
        {"username": "darth", "product": "cs2", "cnt": 0},
        requested_by=1,
        amount_nle=fulfilling.nle_cost,
        request_id="ord-race-1",
    )
    # the read starts first; the journal's write waits for the database and runs as soon as it is free
    spent, _ = await asyncio.gather(spending.spent_since(1, since), journaled)
    assert spent == Decimal("17.10")
    assert await spending.spent_since(1, since) == Decimal("17.10")


async def test_a_confirmation_racing_a_cancellation_is_refused(
    actions: OrderStaffActions, orders: OrderService, audit: AuditLog
) -> None:
    order = await claimed(orders)
    cancelled = await orders.cancel(order.id, "customer", "changed my mind")
    with pytest.raises(OrderRefusal, match=r"^Refused: order .* is cancelled; it cannot become paid\.$"):
        await actions._confirm(cancelled, "staff:1", "confirm", ALICE, 5)
    (entry,) = await audit.query(AuditQuery())
    assert (entry.entry.action, entry.entry.event) == ("order confirm", AuditEvent.REFUSED)
    assert (entry.entry.guild_id, entry.entry.detail) == (5, f"order {order.id}: CS2, 30 days")


async def test_locks_are_kept_only_while_in_use(actions: OrderStaffActions, orders: OrderService) -> None:
    import gc

    order = await claimed(orders)
    await actions.confirm(order.id, ALICE)
    await orders.drain()
    gc.collect()
    assert len(actions._order_locks) == 0
    assert len(actions._staff_locks) == 0


# ---------------------------------------------------------------- exact texts, in Russian (mutation testing)


async def refusal(call: object) -> OrderRefusal:
    with pytest.raises(OrderRefusal) as info:
        await call  # type: ignore[misc]
    return info.value


async def test_a_russian_staff_member_reads_confirmations_and_approvals_in_russian(
    actions: OrderStaffActions, orders: OrderService
) -> None:
    order = await claimed(orders)
    confirmed = await actions.confirm(order.id, ALICE)
    assert confirmed.text_in("ru") == f"Оплата заказа `{order.id}` подтверждена; выдаём CS2, 30 дней на `darth`."
    assert confirmed.text_in("en") == confirmed.text
    assert confirmed.text == f"Payment of order `{order.id}` confirmed; delivering CS2, 30 days to `darth`."

    big = await claimed(orders, "a49", Decimal("100.01"))
    threshold = (
        f"Стоимость на маркете 100,01{NBSP}NLE выше порога одобрения (100,00{NBSP}NLE): другой сотрудник должен "
        "нажать **Одобрить оплату** на карточке заказа. Пока ничего не выдано."
    )
    requested = await actions.confirm(big.id, ALICE)
    assert requested.text_in("ru") == threshold
    assert requested.text == (
        "The Market cost 100.01 NLE is above the approval threshold (100.00 NLE): a different staff member must "
        "press **Approve payment** on the order's card. Nothing is delivered yet."
    )
    again = await actions.confirm(big.id, ALICE)
    assert (again.order.id, again.order.state) == (big.id, OrderState.AWAITING_PAYMENT)
    assert again.text_in("ru") == f"Уже ждём второго сотрудника (<@{ALICE.user_id}> подтвердил). {threshold}"

    own = await refusal(actions.approve(big.id, ALICE))
    assert own.text_in("ru") == "Нельзя одобрить собственное подтверждение; одобрить должен другой сотрудник."
    missing = await refusal(actions.confirm("nope", ALICE))
    assert missing.text_in("ru") == "Заказа `nope` нет."
    waiting = await claimed(orders)
    nothing = await refusal(actions.approve(waiting.id, BOB))
    assert nothing.text_in("ru") == f"Подтверждение заказа `{waiting.id}` не ждёт одобрения (статус: ожидает оплаты)."

    approved = await actions.approve(big.id, BOB)
    assert approved.text_in("ru") == (
        f"Оплата заказа `{big.id}` подтверждена; выдаём 100,01{NBSP}NLE на `a49`. "
        f"Одобрено; подтвердил <@{ALICE.user_id}>."
    )
    assert approved.text == (
        f"Payment of order `{big.id}` confirmed; delivering 100.01 NLE to `a49`. "
        f"Approved; confirmed by <@{ALICE.user_id}>."
    )
    await orders.drain()


async def test_a_russian_staff_member_reads_the_daily_limit_refusal_in_russian(
    actions: OrderStaffActions, orders: OrderService, config: GuildConfig, audit: AuditLog
) -> None:
    await config.set_daily_limit(Decimal("1"), updated_by=None)
    order = await claimed(orders)
    refused = await refusal(actions.confirm(order.id, BOB, guild_id=5))
    assert refused.text_in("ru") == (
        "Дневной лимит исчерпан: сегодня (UTC) вы потратили 0,00 из 1,00 NLE; эта операция стоит 17,10 NLE. "
        "Операции в ожидании и с неизвестным исходом тоже учитываются."
    )
    english = (
        "Daily limit reached: you have used 0.00 of 1.00 NLE today (UTC); this operation costs 17.10 NLE. "
        "Operations still pending or of unknown outcome count too."
    )
    assert refused.message == english
    (entry,) = await audit.query(AuditQuery())
    assert (entry.entry.action, entry.entry.event, entry.entry.result) == ("order confirm", AuditEvent.REFUSED, english)
    assert (entry.entry.guild_id, entry.entry.detail) == (5, f"order {order.id}: CS2, 30 days")
    assert (await orders.get(order.id)).state is OrderState.AWAITING_PAYMENT


async def test_a_russian_staff_member_reads_the_other_actions_in_russian(
    actions: OrderStaffActions, orders: OrderService
) -> None:
    order = await claimed(orders)
    rejected = await actions.reject(order.id, ALICE, "нет перевода")
    assert rejected.text_in("ru") == (
        f"Заказ `{order.id}` отклонён (нет перевода); страница покупателя это показывает. Ничего не выдано."
    )
    assert (await orders.history(order.id))[-1].note == "нет перевода"
    illegal = await refusal(actions.cancel(order.id, ALICE))
    assert illegal.text_in("ru") == f"Заказ `{order.id}`: отменён; его нельзя отменить."
    assert illegal.message == f"Order `{order.id}` is cancelled; it cannot be cancelled."
    no_note = await refusal(actions.refund(order.id, ALICE, "  "))
    assert no_note.text_in("ru") == "Отказано: укажите, как были возвращены деньги."
    assert no_note.message == "Refused: say how the money was refunded."


async def test_a_refusal_recorded_before_the_rules_is_audited_as_it_happened(
    actions: OrderStaffActions, orders: OrderService, audit: AuditLog
) -> None:
    order = await claimed(orders)
    await actions.record_refusal("retry", 99, order.id, "not staff", 5)
    (row,) = await audit.query(AuditQuery())
    entry = row.entry
    assert (entry.action, entry.event, entry.staff_id, entry.guild_id) == ("order retry", AuditEvent.REFUSED, 99, 5)
    assert (entry.username, entry.detail, entry.amount_nle, entry.request_id) == (None, f"order {order.id}", None, None)
    assert entry.result == "not staff"


async def test_a_russian_staff_member_reads_retries_and_refunds_in_russian(
    actions: OrderStaffActions, orders: OrderService, audit: AuditLog, market_sim: RunningSimulator
) -> None:
    order, user = await refused_by_neverlose(actions, orders, market_sim)
    error = order.last_error
    assert error
    refused = await actions.retry(order.id, BOB)
    assert refused.text_in("ru") == f"Заказ `{order.id}` повторён: Neverlose снова отказал ({error})."
    assert refused.text == f"Order `{order.id}` retried: Neverlose refused again ({error})."
    user.invited.add(Product.CS2)
    market_sim.state.faults.fail_next("gift-product", times=4)  # no answer: the delivery stays open
    unknown = await actions.retry(order.id, BOB)
    assert unknown.text_in("ru") == (
        f"Заказ `{order.id}` повторён: выдаётся; Neverlose пока не дал определённого ответа."
    )
    assert unknown.text == f"Order `{order.id}` retried: fulfilling; Neverlose gave no definite answer yet."
    await orders.maintain()
    assert (await orders.get(order.id)).state is OrderState.DELIVERED
    refunded = await actions.refund(order.id, ALICE, "вернули переводом")
    assert refunded.text_in("ru") == f"Заказ `{order.id}` отмечен как возвращённый: вернули переводом"
    assert [(e[0], e[1]) for e in await events(audit)][1:] == [
        ("order retry", AuditEvent.RETRIED),
        ("order retry", AuditEvent.RETRIED),
        ("order refund", AuditEvent.SUCCEEDED),
    ]


async def test_every_audit_entry_names_the_guild_the_order_and_what_was_said(
    actions: OrderStaffActions, orders: OrderService, audit: AuditLog, market_sim: object
) -> None:
    small = await claimed(orders)
    with pytest.raises(NotStaff):
        await actions.confirm(small.id, MALLORY, guild_id=5)
    await refusal(actions.confirm("nope", ALICE, guild_id=5))
    blocked = await orders.create_for_discord_user(9, "ghost", "cs2-30")
    await refusal(actions.confirm(blocked.id, ALICE, guild_id=5))
    big = await claimed(orders, "a49", Decimal("100.01"))
    requested = await actions.confirm(big.id, ALICE, guild_id=5)
    await refusal(actions.approve(big.id, ALICE, guild_id=5))
    await refusal(actions.approve(small.id, BOB, guild_id=5))  # nothing waits for approval
    await refusal(actions.approve("nope", BOB, guild_id=5))
    with pytest.raises(NotStaff):
        await actions.approve(big.id, MALLORY, guild_id=5)
    await actions.approve(big.id, BOB, guild_id=5)
    await actions.reject(small.id, BOB, guild_id=5)
    await refusal(actions.reject(small.id, BOB, guild_id=5))
    other = await claimed(orders)
    await actions.cancel(other.id, ALICE, "duplicate", guild_id=5)
    assert (await orders.history(other.id))[-1].note == "duplicate"
    await orders.drain()
    refunded = await actions.refund(big.id, BOB, "sent back", guild_id=5)
    assert refunded.order.request_id is not None
    await refusal(actions.refund(big.id, BOB, "  ", guild_id=5))
    await refusal(actions.reject("nope", BOB, guild_id=5))
    rows = [r.entry for r in reversed(await audit.query(AuditQuery()))]
    assert [(e.action, e.event, e.staff_id) for e in rows] == [
        ("order confirm", AuditEvent.REFUSED, MALLORY.user_id),
        ("order confirm", AuditEvent.REFUSED, ALICE.user_id),
        ("order confirm", AuditEvent.REFUSED, ALICE.user_id),
        ("order confirm", AuditEvent.APPROVAL_REQUESTED, ALICE.user_id),
        ("order approve", AuditEvent.APPROVAL_REFUSED, ALICE.user_id),
        ("order approve", AuditEvent.APPROVAL_REFUSED, BOB.user_id),
        ("order approve", AuditEvent.REFUSED, BOB.user_id),
        ("order approve", AuditEvent.REFUSED, MALLORY.user_id),
        ("order approve", AuditEvent.APPROVED, BOB.user_id),
        ("order reject", AuditEvent.SUCCEEDED, BOB.user_id),
        ("order reject", AuditEvent.REFUSED, BOB.user_id),
        ("order cancel", AuditEvent.SUCCEEDED, ALICE.user_id),
        ("order refund", AuditEvent.SUCCEEDED, BOB.user_id),
        ("order refund", AuditEvent.REFUSED, BOB.user_id),
        ("order reject", AuditEvent.REFUSED, BOB.user_id),
    ]
    assert [e.guild_id for e in rows] == [5] * len(rows)
    assert rows[3].result == requested.text
    assert (rows[3].username, rows[3].amount_nle, rows[3].detail) == (
        "a49",
        Decimal("100.01"),
        f"order {big.id}: 100.01 NLE",
    )
    assert rows[2].result == f"Order `{blocked.id}` is awaiting_payment; only manual payments are confirmed by staff."
    assert (rows[2].detail, rows[2].username) == (f"order {blocked.id}: CS2, 30 days", "ghost")
    assert rows[4].result == "You cannot approve your own confirmation; a different staff member must approve it."
    assert (rows[4].username, rows[4].amount_nle, rows[4].detail) == (
        "a49",
        Decimal("100.01"),
        f"order {big.id}: 100.01 NLE",
    )
    assert rows[5].result == f"No confirmation of order `{small.id}` waits for approval (it is awaiting_payment)."
    assert (rows[5].username, rows[5].amount_nle, rows[5].detail) == (
        "darth",
        Decimal("17.10"),
        f"order {small.id}: CS2, 30 days",
    )
    assert (rows[6].result, rows[7].result) == ("No order `nope`.", "not staff")
    assert (rows[0].detail, rows[7].detail) == (f"order {small.id}", f"order {big.id}")
    assert rows[8].result == (f"Payment of order `{big.id}` confirmed; delivering 100.01 NLE to `a49`.")
    assert rows[10].result == f"Order `{small.id}` is cancelled; it cannot be rejected."
    assert (rows[10].username, rows[10].amount_nle, rows[10].detail) == (
        "darth",
        Decimal("17.10"),
        f"order {small.id}: CS2, 30 days",
    )
    assert (rows[13].result, rows[13].detail, rows[13].username, rows[13].amount_nle) == (
        "Refused: say how the money was refunded.",
        f"order {big.id}: 100.01 NLE",
        "a49",
        Decimal("100.01"),
    )
    assert rows[14].result == "No order `nope`."
    assert rows[11].result == f"Order `{other.id}` cancelled (duplicate). Nothing was delivered."
    assert rows[11].detail == f"order {other.id}: CS2, 30 days"
    assert (rows[12].result, rows[12].request_id) == (
        f"Order `{big.id}` marked refunded: sent back",
        refunded.order.request_id,
    )


async def test_a_typed_id_cannot_close_its_code_span(actions: OrderStaffActions, audit: AuditLog) -> None:
    """The refusal is recorded and posted to the audit channel: the staff member's backticks and line breaks
    must not end the code span (the rest would render as markdown there)."""
    typed = await refusal(actions.confirm("ab`**cd**\n`", ALICE))
    assert typed.message == "No order `ab'**cd** '`."
    (row,) = await audit.query(AuditQuery())
    assert row.entry.result == "No order `ab'**cd** '`."


async def test_long_ids_and_notes_are_cut_in_the_answer(
    actions: OrderStaffActions, orders: OrderService, audit: AuditLog
) -> None:
    long_id = "x" * 100
    missing = await refusal(actions.confirm(long_id, ALICE))
    assert missing.message == f"No order `{'x' * 64}`."
    (row,) = await audit.query(AuditQuery())
    assert row.entry.detail == f"order {long_id}"
    paid = await claimed(orders)
    await actions.confirm(paid.id, ALICE)
    await orders.drain()
    note = "n" * 290 + " and the rest"  # 303 characters
    refunded = await actions.refund(paid.id, ALICE, f"  {note}  ")
    assert refunded.text == f"Order `{paid.id}` marked refunded: {note[:300]}"


async def test_the_daily_limit_counts_the_day_of_the_orders_clock(
    actions: OrderStaffActions, orders: OrderService, config: GuildConfig, clock: Clock
) -> None:
    await config.set_daily_limit(Decimal("17.10"), updated_by=None)  # one order a day
    first, second = await claimed(orders), await claimed(orders)
    await actions.confirm(first.id, ALICE)
    await orders.drain()
    await refusal(actions.confirm(second.id, ALICE))
    clock.advance(timedelta(days=1))  # a new day on the shop's clock, whatever the host's date
    assert (await actions.confirm(second.id, ALICE)).order.state is OrderState.PAID
    await orders.drain()


async def test_an_approval_counts_what_the_requester_spent_today(
    actions: OrderStaffActions, orders: OrderService, config: GuildConfig, audit: AuditLog
) -> None:
    await actions.confirm((await claimed(orders)).id, ALICE)  # Alice spent 17.10 today, Bob nothing
    await orders.drain()
    big = await claimed(orders, "a49", Decimal("100.01"))
    await actions.confirm(big.id, ALICE)
    await config.set_daily_limit(Decimal("117.10"), updated_by=None)  # 0.01 short for Alice, plenty for Bob
    refused = await refusal(actions.approve(big.id, BOB, guild_id=5))
    assert refused.message.startswith("Daily limit reached: you have used 17.10 of 117.10 NLE today (UTC);")
    row = (await audit.query(AuditQuery()))[0].entry
    assert (row.action, row.event, row.staff_id, row.guild_id) == ("order approve", AuditEvent.REFUSED, BOB.user_id, 5)
    assert (row.detail, row.username, row.amount_nle) == (f"order {big.id}: 100.01 NLE", "a49", Decimal("100.01"))
    await config.set_daily_limit(Decimal("117.11"), updated_by=None)
    assert (await actions.approve(big.id, BOB)).order.state is OrderState.PAID
    await orders.drain()


async def test_an_approval_waits_for_its_order_and_for_the_requesters_confirmations(
    actions: OrderStaffActions, orders: OrderService
) -> None:
    import asyncio

    for lock in (lambda order_id: actions._order_locks(order_id), lambda _: actions._staff_locks(ALICE.user_id)):
        big = await claimed(orders, "a49", Decimal("100.01"))
        await actions.confirm(big.id, ALICE)
        async with lock(big.id):  # a confirmation of this order, or by Alice, is running
            approval = asyncio.create_task(actions.approve(big.id, BOB))
            done, _ = await asyncio.wait({approval}, timeout=0.5)
            assert not done
        assert (await approval).order.state is OrderState.PAID
    await orders.drain()


async def test_an_action_waits_for_its_orders_lock_and_a_confirmation_for_the_staff_members(
    actions: OrderStaffActions, orders: OrderService
) -> None:
    import asyncio

    order = await claimed(orders)
    async with actions._order_locks(order.id):  # a confirmation of this order is running
        rejection = asyncio.create_task(actions.reject(order.id, BOB))
        done, _ = await asyncio.wait({rejection}, timeout=0.5)
        assert not done
    assert (await rejection).order.state is OrderState.CANCELLED
    for lock in (lambda order_id: actions._order_locks(order_id), lambda _: actions._staff_locks(ALICE.user_id)):
        order = await claimed(orders)
        async with lock(order.id):  # another action on this order, or another confirmation by Alice, is running
            confirmation = asyncio.create_task(actions.confirm(order.id, ALICE))
            done, _ = await asyncio.wait({confirmation}, timeout=0.5)
            assert not done
        assert (await confirmation).order.state is OrderState.PAID
    await orders.drain()


async def test_a_retry_is_audited_whole_with_its_guild(
    actions: OrderStaffActions, orders: OrderService, audit: AuditLog, market_sim: RunningSimulator
) -> None:
    order, user = await refused_by_neverlose(actions, orders, market_sim)
    assert order.request_id is not None
    assert order.last_error
    again = await actions.retry(order.id, BOB, guild_id=5)
    assert again.text == f"Order `{order.id}` retried: Neverlose refused again ({order.last_error})."
    user.invited.add(Product.CS2)
    done = await actions.retry(order.id, BOB, guild_id=5)
    assert done.order.state is OrderState.DELIVERED
    # each retry is a new Market request: order-derived, numbered by attempt
    assert [again.order.request_id, done.order.request_id] == [
        f"{order.request_id[:-2]}-2",
        f"{order.request_id[:-2]}-3",
    ]
    retried = AuditEntry(
        action="order retry",
        event=AuditEvent.RETRIED,
        staff_id=BOB.user_id,
        guild_id=5,
        username="darth",
        detail=f"order {order.id}: CS2, 30 days",
        amount_nle=Decimal("17.10"),
    )
    assert [r.entry for r in reversed(await audit.query(AuditQuery()))][1:] == [
        replace(retried, request_id=again.order.request_id, result=again.text),
        replace(retried, request_id=done.order.request_id, result=f"Order `{order.id}` retried: delivered."),
    ]


async def test_a_refusal_is_audited_with_english_figures_on_a_host_set_to_russian(
    actions: OrderStaffActions,
    orders: OrderService,
    config: GuildConfig,
    audit: AuditLog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Babel reads the host's LANG / LC_ALL / LC_NUMERIC once, at import: LANG=ru_RU.UTF-8 gives this.
    monkeypatch.setattr(babel.numbers, "LC_NUMERIC", "ru_RU")
    await config.set_daily_limit(Decimal("1"), updated_by=None)
    order = await claimed(orders)
    refused = await refusal(actions.confirm(order.id, BOB, guild_id=5))
    english = (
        "Daily limit reached: you have used 0.00 of 1.00 NLE today (UTC); this operation costs 17.10 NLE. "
        "Operations still pending or of unknown outcome count too."
    )
    assert (refused.message, refused.text_in("en")) == (english, english)
    assert refused.text_in("ru").startswith("Дневной лимит исчерпан: сегодня (UTC) вы потратили 0,00 из 1,00 NLE;")
    assert [r.entry for r in await audit.query(AuditQuery())] == [
        AuditEntry(
            action="order confirm",
            event=AuditEvent.REFUSED,
            staff_id=BOB.user_id,
            guild_id=5,
            username="darth",
            detail=f"order {order.id}: CS2, 30 days",
            amount_nle=Decimal("17.10"),
            result=english,
        )
    ]
