"""A burst of checkouts: the orders created at the same moment are written together (multi-row statements in
one group of the group commit), and each still behaves as if written alone: one order per token, its creation
entry, its hooks, and a failing order rolled back alone."""

from __future__ import annotations

import asyncio
from typing import Any

import aiosqlite

from bot.orders.models import Order, OrderState, Transition
from bot.orders.service import OrderService
from bot.orders.token import PurchaseClaims, verify_purchase_token
from bot.storage import Database
from tests.orders.conftest import INTEGRATION_ID, SECRET, purchase_claims, sign


def claims_for(**overrides: Any) -> PurchaseClaims:
    return verify_purchase_token(sign(purchase_claims(**overrides)), secret=SECRET, integration_id=INTEGRATION_ID)


async def history_rows(db: Database) -> list[tuple[str, int, str | None, str, str]]:
    rows = await db.fetchall("SELECT order_id, seq, from_state, to_state, actor FROM order_transitions ORDER BY rowid")
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


async def test_a_burst_is_written_together_one_order_per_token(orders: OrderService, market_db: Database) -> None:
    distinct = [claims_for(login=f"buyer{n}", email=f"b{n}@example.com") for n in range(12)]
    replayed = distinct[3]  # the same link opened twice at once
    results = await asyncio.gather(*(orders.create_from_token(c) for c in [*distinct, replayed]))
    assert (orders.repo._writes.batches, orders.repo._writes.group_failures) == (1, 0)
    assert [created for _, created in results] == [True] * 12 + [False]
    assert results[-1][0] == results[3][0]
    assert [order.login for order, _ in results] == [f"buyer{n}" for n in range(12)] + ["buyer3"]
    assert len({order.id for order, _ in results}) == 12
    stored = await orders.find(limit=100)
    assert sorted(o.id for o in stored) == sorted(order.id for order, _ in results[:12])
    for (order, _), claims in zip(results, distinct, strict=False):
        assert (order.email, order.state, order.seq) == (claims.email, OrderState.AWAITING_PAYMENT, 1)
        assert await orders.get(order.id) == order
    assert await history_rows(market_db) == [
        (order.id, 1, None, "awaiting_payment", "customer") for order, _ in results[:12]
    ]


async def test_a_token_already_stored_is_found_in_a_burst(orders: OrderService) -> None:
    stored = claims_for(login="buyer0")
    first, created = await orders.create_from_token(stored)
    assert created
    results = await asyncio.gather(
        orders.create_from_token(claims_for(login="buyer1")),
        orders.create_from_token(stored),
        orders.create_from_token(claims_for(login="buyer0", email="other@example.com")),  # a new token
    )
    assert [created for _, created in results] == [True, False, True]
    assert (orders.repo._writes.batches, orders.repo._writes.group_failures) == (2, 0)  # written together
    assert results[1][0] == await orders.get(first.id)
    assert results[2][0].id != first.id
    assert len(await orders.find(limit=100)) == 3


async def test_hooks_run_once_per_new_order_in_a_burst(orders: OrderService) -> None:
    seen: list[tuple[str, int]] = []

    async def hook(conn: aiosqlite.Connection, order: Order, transition: Transition) -> None:
        assert conn.in_transaction
        history = await conn.execute_fetchall("SELECT seq FROM order_transitions WHERE order_id = ?", (order.id,))
        assert [row[0] for row in history] == [1]  # the creation entry is written before the hooks run
        seen.append((order.id, transition.seq))

    orders.add_transition_hook(hook)
    token = claims_for(login="buyer9")
    results = await asyncio.gather(*(orders.create_from_token(c) for c in [claims_for(login="buyer8"), token, token]))
    assert sorted(seen) == sorted((order.id, 1) for order, created in results if created)
    assert orders.repo._writes.group_failures == 0
    assert len(seen) == 2


async def test_a_failing_order_in_a_burst_is_rolled_back_alone(orders: OrderService, market_db: Database) -> None:
    async def hook(conn: aiosqlite.Connection, order: Order, transition: Transition) -> None:
        await conn.execute(
            "INSERT INTO shop_state (key, value) VALUES (?, 'hooked')", (f"hook:{order.login}",)
        )  # rolled back with its order
        if order.login == "refused":
            raise RuntimeError("hook refused")

    orders.add_transition_hook(hook)
    logins = ["buyer1", "refused", "buyer2"]
    results = await asyncio.gather(
        *(orders.create_from_token(claims_for(login=login)) for login in logins), return_exceptions=True
    )
    assert isinstance(results[1], RuntimeError)
    assert str(results[1]) == "hook refused"
    ok = [r for r in results if not isinstance(r, BaseException)]
    assert [(order.login, created) for order, created in ok] == [("buyer1", True), ("buyer2", True)]
    assert orders.repo._writes.batches == 1
    assert orders.repo._writes.group_failures == 1
    assert sorted(o.login for o in await orders.find(limit=100)) == ["buyer1", "buyer2"]
    assert [row[1] for row in await history_rows(market_db)] == [1, 1]
    keys = await market_db.fetchall("SELECT key FROM shop_state WHERE key LIKE 'hook:%' ORDER BY key")
    assert [row[0] for row in keys] == ["hook:buyer1", "hook:buyer2"]


async def test_checkout_and_discord_orders_in_one_burst(orders: OrderService) -> None:
    """Different column sets (a /buy order has a Discord user and no token) in the same group."""
    created = await asyncio.gather(
        orders.create_from_token(claims_for(login="buyer1")),
        orders.repo.insert(
            {
                "id": "D" * 22,
                "form_token": "f" * 22,
                "login": "buyer2",
                "product_key": "cs2-30",
                "nle_cost": "0",
                "discord_user_id": 77,
                "expires_at": "2099-01-01T00:00:00.000000Z",
            },
            actor="discord:77",
        ),
        orders.create_from_token(claims_for(login="buyer3")),
    )
    assert [c for _, c in created] == [True, True, True]
    assert created[1][0].discord_user_id == 77
    assert created[1][0].id == "D" * 22
    assert (orders.repo._writes.batches, orders.repo._writes.group_failures) == (1, 0)
    assert sorted(o.login for o in await orders.find(limit=100)) == ["buyer1", "buyer2", "buyer3"]


async def test_find_returns_a_page_of_25_by_default(orders: OrderService) -> None:
    await asyncio.gather(*(orders.create_from_token(claims_for(login=f"buyer{n}")) for n in range(26)))
    assert len(await orders.find()) == 25
    assert len(await orders.find(limit=100)) == 26
