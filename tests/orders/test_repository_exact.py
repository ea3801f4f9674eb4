"""Repository edges found by mutation testing: the default page size, negative paging, the background passes'
filters and their order."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.orders.models import Order, OrderNotFound, OrderState, Transition
from bot.orders.repository import OrderRepository
from bot.shop.catalog import PaymentMethod
from bot.storage import Database
from tests.orders.conftest import Clock
from tests.orders.test_state_machine import force_state, new_order

S = OrderState


@pytest.fixture
def repo(market_db: Database, clock: Clock) -> OrderRepository:
    return OrderRepository(market_db, clock)


async def test_find_gives_25_by_default_and_reads_a_negative_offset_as_0(repo: OrderRepository, clock: Clock) -> None:
    ids = []
    for n in range(26):
        ids.append((await new_order(repo, f"{n:02}" * 11)).id)
        clock.advance(timedelta(seconds=1))
    newest_first = ids[::-1]
    assert [o.id for o in await repo.find()] == newest_first[:25]
    assert [o.id for o in await repo.find(offset=-3)] == newest_first[:25]
    assert [o.id for o in await repo.find(limit=1, offset=-1)] == newest_first[:1]
    assert [o.id for o in await repo.find(limit=0)] == []


async def test_ids_filters_and_keeps_the_oldest_first(repo: OrderRepository, market_db: Database, clock: Clock) -> None:
    ids = []
    for n in range(4):
        ids.append((await new_order(repo, f"{n}" * 22, expires_at=clock.now + timedelta(minutes=n))).id)
        clock.advance(timedelta(seconds=1))
    # the same creation time: the id decides
    same = (await new_order(repo, "9" * 22, expires_at=clock.now + timedelta(hours=1))).id
    also_same = (await new_order(repo, "8" * 22, expires_at=clock.now + timedelta(hours=1))).id
    assert await repo.ids(S.AWAITING_PAYMENT) == [*ids, also_same, same]
    assert await repo.ids(S.PAID) == []

    await repo.move(ids[0], S.AWAITING_PAYMENT, actor="system", expect=S.AWAITING_PAYMENT, sets={"check_status": "ok"})
    await repo.move(
        ids[1],
        S.AWAITING_PAYMENT,
        actor="system",
        expect=S.AWAITING_PAYMENT,
        sets={"check_status": "blocked", "check_reason": "low_balance"},
    )
    await repo.move(
        ids[2],
        S.AWAITING_PAYMENT,
        actor="system",
        expect=S.AWAITING_PAYMENT,
        sets={"check_status": "blocked", "check_reason": "market_unreachable"},
    )
    assert await repo.ids(S.AWAITING_PAYMENT, check_status="ok") == [ids[0]]
    assert await repo.ids(S.AWAITING_PAYMENT, check_status="pending") == [ids[3], also_same, same]
    assert await repo.ids(S.AWAITING_PAYMENT, check_reasons=["low_balance"]) == [ids[1]]
    assert await repo.ids(S.AWAITING_PAYMENT, check_reasons=["low_balance", "market_unreachable"]) == ids[1:3]
    assert await repo.ids(S.AWAITING_PAYMENT, check_reasons=()) == [*ids, also_same, same]
    # expires_at <= the given time (the bound itself included)
    first_expiry = (await repo.get(ids[1])).expires_at
    assert await repo.ids(S.AWAITING_PAYMENT, expires_before=first_expiry) == ids[:2]

    for order_id in ids[:3]:
        await force_state(market_db, order_id, S.NEEDS_ATTENTION)
    await repo.move(ids[1], S.NEEDS_ATTENTION, actor="system", expect=S.NEEDS_ATTENTION, sets={"auto_retry": True})
    assert await repo.ids(S.NEEDS_ATTENTION, auto_retry=True) == [ids[1]]
    assert await repo.ids(S.NEEDS_ATTENTION, auto_retry=False) == [ids[0], ids[2]]
    assert await repo.ids(S.NEEDS_ATTENTION) == ids[:3]
    assert await repo.ids(S.NEEDS_ATTENTION, S.AWAITING_PAYMENT) == [*ids, also_same, same]


async def test_find_by_expiry_includes_the_bound(repo: OrderRepository, clock: Clock) -> None:
    a = await new_order(repo, "a" * 22, expires_at=clock.now)
    await new_order(repo, "b" * 22, expires_at=clock.now + timedelta(microseconds=1))
    assert [o.id for o in await repo.find(expires_before=clock.now)] == [a.id]


async def test_a_row_reads_back_exactly(repo: OrderRepository, clock: Clock) -> None:
    order = await new_order(
        repo,
        token_hash="h",
        nle=Decimal("12.50"),
        nle_cost=Decimal("12.50"),
        product_key="marketplace",
        discord_user_id=77,
    )
    assert (order.nle, order.nle_cost, order.discord_user_id, order.seq) == (Decimal("12.50"), Decimal("12.50"), 77, 1)
    assert (order.method, order.amount, order.currency, order.payment_claimed_at) == (None, None, None, None)
    assert (order.fulfil_attempt, order.auto_retry, order.check_status) == (0, False, "pending")
    assert order.expires_at == clock.now
    history = await repo.history(order.id)
    assert [(t.seq, t.from_state, t.to_state, t.at) for t in history] == [(1, None, S.AWAITING_PAYMENT, clock.now)]


async def test_a_move_of_an_unknown_order_names_it(repo: OrderRepository) -> None:
    with pytest.raises(OrderNotFound) as info:
        await repo.move("nope", S.PAID, actor="x")
    assert info.value.order_id == "nope"


async def test_every_column_reads_back_from_insert_move_get_and_find(repo: OrderRepository, clock: Clock) -> None:
    """Each column of a row, set to a value other than its default, comes back as itself (type and value)
    wherever an order is read: the insert's answer, a move's answer, ``get`` and ``find``."""
    created_at = clock.now
    claimed = created_at - timedelta(minutes=3, microseconds=5)
    expires = created_at + timedelta(hours=1, microseconds=7)
    order, created = await repo.insert(
        {
            "id": "i" * 22,
            "token_hash": "th",
            "form_token": "ft",
            "login": "luke",
            "email": "l@example.com",
            "product_key": "marketplace",
            "nle": Decimal("3.50"),
            "currency": "EUR",
            "method": PaymentMethod.CRYPTOPAY,
            "amount": Decimal("4.20"),
            "nle_cost": Decimal("3.50"),
            "check_status": "blocked",
            "check_reason": "low_balance",
            "payment_reference": "pay-ref",
            "payment_claimed_at": claimed,
            "claim_reference": "claim-ref",
            "paid_by": 42,
            "fulfil_attempt": 2,
            "request_id": "req-1",
            "auto_retry": True,
            "last_error": "boom",
            "discord_user_id": 77,
            "expires_at": expires,
        },
        actor="discord:77",
    )
    expected = Order(
        id="i" * 22,
        login="luke",
        email="l@example.com",
        product_key="marketplace",
        nle=Decimal("3.50"),
        currency="EUR",
        method=PaymentMethod.CRYPTOPAY,
        amount=Decimal("4.20"),
        nle_cost=Decimal("3.50"),
        state=S.AWAITING_PAYMENT,
        check_status="blocked",
        check_reason="low_balance",
        payment_reference="pay-ref",
        payment_claimed_at=claimed,
        claim_reference="claim-ref",
        paid_by=42,
        fulfil_attempt=2,
        request_id="req-1",
        auto_retry=True,
        last_error="boom",
        discord_user_id=77,
        created_at=created_at,
        updated_at=created_at,
        expires_at=expires,
        form_token="ft",
        seq=1,
    )
    assert created
    assert order == expected
    assert await repo.get(order.id) == expected
    assert await repo.find() == [expected]
    # Decimal equality ignores trailing zeros: the stored text is kept too
    assert (str(order.nle), str(order.amount), str(order.nle_cost)) == ("3.50", "4.20", "3.50")
    assert (type(order.fulfil_attempt), type(order.seq), type(order.auto_retry)) == (int, int, bool)

    clock.advance(timedelta(seconds=9, microseconds=11))
    moved = await repo.move(
        order.id,
        S.AWAITING_PAYMENT,
        actor="system",
        expect=S.AWAITING_PAYMENT,
        sets={"method": PaymentMethod.MANUAL, "auto_retry": False, "fulfil_attempt": 3, "amount": Decimal("5.00")},
    )
    after = dataclasses.replace(
        expected,
        method=PaymentMethod.MANUAL,
        auto_retry=False,
        fulfil_attempt=3,
        amount=Decimal("5.00"),
        updated_at=clock.now,
        seq=2,
    )
    assert moved == after
    assert await repo.get(order.id) == after
    assert (moved.method, moved.auto_retry, str(moved.amount)) == (PaymentMethod.MANUAL, False, "5.00")


async def test_the_history_reads_back_whole(repo: OrderRepository, clock: Clock) -> None:
    """Each entry of the history, field by field: the creation (no from_state, its actor), an event and a move."""
    start = clock.now
    order = await new_order(repo, "h" * 22)
    clock.advance(timedelta(seconds=1, microseconds=3))
    await repo.move(order.id, S.AWAITING_PAYMENT, actor="customer", note="method manual", expect=S.AWAITING_PAYMENT)
    clock.advance(timedelta(seconds=2))
    await repo.move(order.id, S.PAID, actor="staff:5", note="payment confirmed (manual)")
    assert await repo.history(order.id) == [
        Transition(order.id, 1, None, S.AWAITING_PAYMENT, start, "customer", None),
        Transition(
            order.id,
            2,
            S.AWAITING_PAYMENT,
            S.AWAITING_PAYMENT,
            start + timedelta(seconds=1, microseconds=3),
            "customer",
            "method manual",
        ),
        Transition(order.id, 3, S.AWAITING_PAYMENT, S.PAID, clock.now, "staff:5", "payment confirmed (manual)"),
    ]
    assert all(type(t.seq) is int for t in await repo.history(order.id))


async def test_a_naive_clock_is_refused_and_nothing_is_written(market_db: Database) -> None:
    """A naive time's zone is unknown: the repository stores no guess (``bot.storage.timestamps``)."""
    naive = OrderRepository(market_db, lambda: datetime(2026, 12, 7, 12, 0))
    with pytest.raises(ValueError, match=r"^timestamps must be timezone-aware$"):
        await new_order(naive, expires_at=datetime(2026, 12, 7, 13, 0, tzinfo=UTC))
    assert await market_db.fetchall("SELECT id FROM orders") == []
    assert await market_db.fetchall("SELECT order_id FROM order_transitions") == []
