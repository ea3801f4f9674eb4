"""The legal transition table, guarded moves, history and the in-transaction hooks."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import aiosqlite
import pytest

from bot.orders.models import (
    TRANSITIONS,
    IllegalTransition,
    Order,
    OrderNotFound,
    OrderState,
    Transition,
    is_legal,
    mask_email,
    staff_id,
)
from bot.orders.repository import OrderRepository
from bot.shop.catalog import PaymentMethod
from bot.storage import Database
from tests.orders.conftest import Clock

S = OrderState
LEGAL = {
    (S.AWAITING_PAYMENT, S.PAID),
    (S.AWAITING_PAYMENT, S.EXPIRED),
    (S.AWAITING_PAYMENT, S.CANCELLED),
    (S.EXPIRED, S.PAID),
    (S.PAID, S.FULFILLING),
    (S.PAID, S.REFUNDED),
    (S.FULFILLING, S.DELIVERED),
    (S.FULFILLING, S.NEEDS_ATTENTION),
    (S.NEEDS_ATTENTION, S.PAID),
    (S.NEEDS_ATTENTION, S.REFUNDED),
    (S.DELIVERED, S.REFUNDED),
}


def test_the_state_names_are_fixed() -> None:
    assert [s.value for s in OrderState] == [
        "awaiting_payment",
        "paid",
        "fulfilling",
        "delivered",
        "expired",
        "cancelled",
        "needs_attention",
        "refunded",
    ]


def test_the_table_is_exactly_the_documented_one() -> None:
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == LEGAL
    assert set(TRANSITIONS) == set(OrderState)


def test_final_states() -> None:
    assert {s for s in OrderState if s.final} == {S.CANCELLED, S.REFUNDED}


def test_labels() -> None:
    assert S.AWAITING_PAYMENT.label == "Awaiting payment"
    assert S.FULFILLING.label == "Delivering"
    assert S.DELIVERED.label == "Delivered"
    assert S.NEEDS_ATTENTION.label == "Being looked at"
    assert len({s.label for s in OrderState}) == len(OrderState)


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("jane.doe@example.com", "j•••@e•••.com"),
        ("a@b.co.uk", "a•••@b•••.uk"),
        ("x@localhost", "x•••@l•••"),
        (None, ""),
        ("", ""),
        ("x@y@z.com", "x•••@y•••.com"),
    ],
)
def test_mask_email(email: str | None, masked: str) -> None:
    assert mask_email(email) == masked


@pytest.mark.parametrize(
    ("actor", "expected"),
    [
        ("staff:42", 42),
        ("staff:", None),
        ("staff:4a", None),
        ("discord:42", None),
        ("system", None),
        ("staff:٤٢", None),
    ],
)
def test_staff_id(actor: str, expected: int | None) -> None:
    assert staff_id(actor) == expected


@pytest.fixture
def repo(market_db: Database, clock: Clock) -> OrderRepository:
    return OrderRepository(market_db, clock)


async def new_order(repo: OrderRepository, order_id: str = "o" * 22, **extra: Any) -> Order:
    fields: dict[str, Any] = {
        "id": order_id,
        "form_token": "f" * 22,
        "login": "darth",
        "email": "d@example.com",
        "product_key": "cs2-30",
        "nle_cost": Decimal("17.10"),
        "expires_at": repo._clock(),
    }
    fields.update(extra)
    order, created = await repo.insert(fields, actor="customer")
    assert created
    return order


async def force_state(db: Database, order_id: str, state: OrderState) -> None:
    await db.execute("UPDATE orders SET state = ? WHERE id = ?", (state.value, order_id))


@pytest.mark.parametrize(("start", "target"), list(itertools.product(OrderState, OrderState)))
async def test_every_pair(repo: OrderRepository, market_db: Database, start: OrderState, target: OrderState) -> None:
    order = await new_order(repo)
    await force_state(market_db, order.id, start)
    if start is not target and is_legal(start, target):
        moved = await repo.move(order.id, target, actor="staff:1", note="n")
        assert moved.state is target
        assert moved.seq == 2
        history = await repo.history(order.id)
        assert [(t.seq, t.from_state, t.to_state, t.actor, t.note) for t in history] == [
            (1, None, S.AWAITING_PAYMENT, "customer", None),
            (2, start, target, "staff:1", "n"),
        ]
    else:
        with pytest.raises(IllegalTransition) as info:
            await repo.move(order.id, target, actor="staff:1")
        assert (info.value.order_id, info.value.current, info.value.wanted) == (order.id, start, target)
        assert str(info.value) == f"order {order.id} is {start.value}; it cannot become {target.value}"
        assert (await repo.get(order.id)).state is start
        assert len(await repo.history(order.id)) == 1


async def test_expect_guards_the_move(repo: OrderRepository, market_db: Database) -> None:
    order = await new_order(repo)
    with pytest.raises(IllegalTransition):
        await repo.move(order.id, S.CANCELLED, actor="system", expect=S.EXPIRED)
    with pytest.raises(IllegalTransition):
        await repo.move(order.id, S.CANCELLED, actor="system", expect=(S.PAID, S.EXPIRED))
    moved = await repo.move(order.id, S.CANCELLED, actor="system", expect=(S.PAID, S.AWAITING_PAYMENT))
    assert moved.state is S.CANCELLED


async def test_a_move_happens_once(repo: OrderRepository) -> None:
    order = await new_order(repo)
    await repo.move(order.id, S.PAID, actor="staff:1", expect=S.AWAITING_PAYMENT)
    with pytest.raises(IllegalTransition):
        await repo.move(order.id, S.PAID, actor="staff:2", expect=S.AWAITING_PAYMENT)
    assert [t.actor for t in await repo.history(order.id)] == ["customer", "staff:1"]


async def test_an_event_needs_expect(repo: OrderRepository) -> None:
    order = await new_order(repo)
    with pytest.raises(IllegalTransition):
        await repo.move(order.id, S.AWAITING_PAYMENT, actor="customer")
    with pytest.raises(IllegalTransition):
        await repo.move(order.id, S.AWAITING_PAYMENT, actor="customer", expect=S.PAID)
    event = await repo.move(
        order.id, S.AWAITING_PAYMENT, actor="customer", expect=S.AWAITING_PAYMENT, sets={"method": PaymentMethod.MANUAL}
    )
    assert event.state is S.AWAITING_PAYMENT
    assert event.method is PaymentMethod.MANUAL
    assert event.seq == 2
    last = (await repo.history(order.id))[-1]
    assert (last.from_state, last.to_state) == (S.AWAITING_PAYMENT, S.AWAITING_PAYMENT)


async def test_sets_are_limited_to_updatable_columns(repo: OrderRepository) -> None:
    order = await new_order(repo)
    with pytest.raises(ValueError, match="not updatable"):
        await repo.move(order.id, S.PAID, actor="x", sets={"login": "evil"})
    with pytest.raises(ValueError, match="not updatable"):
        await repo.move(order.id, S.PAID, actor="x", sets={"state": "delivered"})
    assert (await repo.get(order.id)).state is S.AWAITING_PAYMENT


async def test_sets_store_exact_values(repo: OrderRepository, clock: Clock) -> None:
    order = await new_order(repo)
    moved = await repo.move(
        order.id,
        S.PAID,
        actor="staff:9",
        sets={
            "amount": Decimal("20.10"),
            "currency": "EUR",
            "paid_by": 9,
            "auto_retry": True,
            "payment_claimed_at": clock.now,
            "claim_reference": "r",
        },
    )
    again = await repo.get(order.id)
    assert moved == again
    assert (again.amount, again.currency, again.paid_by, again.auto_retry) == (Decimal("20.10"), "EUR", 9, True)
    assert again.payment_claimed_at == clock.now
    assert again.claim_reference == "r"


async def test_updated_at_and_history_time_follow_the_clock(repo: OrderRepository, clock: Clock) -> None:
    from datetime import timedelta

    order = await new_order(repo)
    assert order.created_at == order.updated_at == clock.now
    clock.advance(timedelta(minutes=5))
    moved = await repo.move(order.id, S.PAID, actor="staff:1")
    assert moved.updated_at == clock.now
    assert moved.created_at == clock.now - timedelta(minutes=5)
    assert (await repo.history(order.id))[-1].at == clock.now


async def test_unknown_order(repo: OrderRepository) -> None:
    with pytest.raises(OrderNotFound) as info:
        await repo.get("nope")
    assert (str(info.value), info.value.order_id) == ("no such order", "nope")
    with pytest.raises(OrderNotFound):
        await repo.move("nope", S.PAID, actor="x")


async def test_insert_is_idempotent_per_token_hash(repo: OrderRepository) -> None:
    first = await new_order(repo, token_hash="h1")
    again, created = await repo.insert(
        {
            "id": "p" * 22,
            "form_token": "g",
            "login": "other",
            "product_key": "cs2-30",
            "nle_cost": Decimal(1),
            "expires_at": first.expires_at,
            "token_hash": "h1",
        },
        actor="customer",
    )
    assert created is False
    assert again == first
    with pytest.raises(OrderNotFound):
        await repo.get("p" * 22)


async def test_orders_without_token_hash_are_separate(repo: OrderRepository) -> None:
    a = await new_order(repo, "a" * 22)
    b = await new_order(repo, "b" * 22)
    assert a.id != b.id


async def test_hooks_run_inside_the_transaction(repo: OrderRepository, market_db: Database) -> None:
    seen: list[tuple[str, int, S | None, S]] = []

    async def hook(conn: aiosqlite.Connection, order: Order, transition: Transition) -> None:
        assert conn.in_transaction
        seen.append((order.state.value, transition.seq, transition.from_state, transition.to_state))
        await conn.execute("INSERT INTO shop_state (key, value) VALUES (?, ?)", (f"hook{transition.seq}", order.state))

    repo.hooks.append(hook)
    order = await new_order(repo)
    await repo.move(order.id, S.PAID, actor="x")
    assert seen == [("awaiting_payment", 1, None, S.AWAITING_PAYMENT), ("paid", 2, S.AWAITING_PAYMENT, S.PAID)]
    rows = await market_db.fetchall("SELECT key, value FROM shop_state ORDER BY key")
    assert [(r["key"], r["value"]) for r in rows] == [("hook1", "awaiting_payment"), ("hook2", "paid")]


async def test_a_failing_hook_rolls_the_move_back(repo: OrderRepository, market_db: Database) -> None:
    order = await new_order(repo)

    async def hook(conn: aiosqlite.Connection, order: Order, transition: Transition) -> None:
        await conn.execute("INSERT INTO shop_state (key, value) VALUES ('written', 'x')")
        raise RuntimeError("boom")

    repo.hooks.append(hook)
    with pytest.raises(RuntimeError):
        await repo.move(order.id, S.PAID, actor="x")
    assert (await repo.get(order.id)).state is S.AWAITING_PAYMENT
    assert len(await repo.history(order.id)) == 1
    assert await market_db.fetchone("SELECT 1 FROM shop_state WHERE key = 'written'") is None


async def test_also_runs_before_hooks_in_the_transaction(repo: OrderRepository) -> None:
    calls: list[str] = []

    async def also(conn: aiosqlite.Connection, order: Order) -> None:
        calls.append(f"also:{order.state}")

    async def hook(conn: aiosqlite.Connection, order: Order, transition: Transition) -> None:
        calls.append(f"hook:{order.state}")

    order = await new_order(repo)
    repo.hooks.append(hook)
    await repo.move(order.id, S.PAID, actor="x", also=also)
    assert calls == ["also:paid", "hook:paid"]


async def test_find_filters_and_paginates(repo: OrderRepository, clock: Clock) -> None:
    from datetime import timedelta

    ids = []
    for n in range(5):
        order = await new_order(repo, f"{n}" * 22, login="Darth" if n % 2 else "a49", discord_user_id=100 + n % 2)
        ids.append(order.id)
        clock.advance(timedelta(minutes=1))
    await repo.move(ids[0], S.PAID, actor="x")
    assert [o.id for o in await repo.find()] == ids[::-1]
    assert [o.id for o in await repo.find(limit=2)] == ids[::-1][:2]
    assert [o.id for o in await repo.find(limit=2, offset=2)] == ids[::-1][2:4]
    assert [o.id for o in await repo.find(state=S.PAID)] == [ids[0]]
    assert [o.id for o in await repo.find(state=(S.PAID, S.AWAITING_PAYMENT))] == ids[::-1]
    assert [o.id for o in await repo.find(login="darth")] == [ids[3], ids[1]]
    assert [o.id for o in await repo.find(discord_user_id=100)] == [ids[4], ids[2], ids[0]]
    since = clock.now - timedelta(minutes=2)
    assert [o.id for o in await repo.find(since=since)] == [ids[4], ids[3]]
    assert [o.id for o in await repo.find(expires_before=ids and (await repo.get(ids[1])).expires_at)] == [
        ids[1],
        ids[0],
    ]
    assert await repo.find(check_status="ok") == []
    assert len(await repo.find(check_status="pending")) == 5
    assert await repo.find(limit=-1) == []
