"""Order inserts cost few round trips to the SQLite connection's thread: the statements that insert a burst of
orders (their rows, the look-up of tokens already stored, their creation entries) run in ONE call on that
thread, and with no transition hook to await that call holds the whole transaction (``BEGIN IMMEDIATE`` to
``COMMIT``); what one order of the burst breaks still fails it alone."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

import aiosqlite
import pytest

from bot.guild_config import GuildConfig
from bot.orders.discord_feature import OrdersDiscord
from bot.orders.models import Order, OrderState, Transition
from bot.orders.service import OrderService
from bot.orders.token import PurchaseClaims, verify_purchase_token
from bot.settings import Settings
from bot.shop.catalog import PaymentMethod
from bot.staff.audit import AuditLog
from bot.storage import Database
from tests.orders.conftest import INTEGRATION_ID, SECRET, purchase_claims, sign
from tests.orders.test_group_commit_on_thread import count_round_trips


def claims_for(**overrides: Any) -> PurchaseClaims:
    return verify_purchase_token(sign(purchase_claims(**overrides)), secret=SECRET, integration_id=INTEGRATION_ID)


_TRANSACTION_CONTROL = {"BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT"}


async def trace(db: Database) -> list[str]:
    """Every statement SQLite runs on ``db``'s connection from now on."""
    statements: list[str] = []
    await db.conn.set_trace_callback(statements.append)
    return statements


async def test_a_burst_costs_one_round_trip(
    orders: OrderService, market_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = claims_for(login="buyer0")
    await orders.create_from_token(stored)
    statements = await trace(market_db)
    calls = count_round_trips(market_db, monkeypatch)
    burst = [claims_for(login=f"buyer{n}") for n in range(1, 6)]
    results = await asyncio.gather(*(orders.create_from_token(c) for c in [*burst, stored, burst[0]]))
    await market_db.conn.set_trace_callback(None)
    assert [created for _, created in results] == [True] * 5 + [False, False]
    # ONE call: BEGIN, the group's savepoint, 5 rows, 2 found again, 5 creation entries, its release, COMMIT
    assert len(calls) == 2  # and the call that removes the trace
    assert statements[:2] == ["BEGIN IMMEDIATE", "SAVEPOINT order_group"]
    assert statements[-2:] == ["RELEASE order_group", "COMMIT"]
    assert [s for s in statements if s.split()[0] in _TRANSACTION_CONTROL] == [
        "BEGIN IMMEDIATE",
        "SAVEPOINT order_group",
        "RELEASE order_group",
        "COMMIT",
    ]
    assert sum(s.startswith("INSERT INTO order_transitions") for s in statements) == 1  # 5 entries, one statement
    assert len(await orders.find(limit=100)) == 6
    rows = await market_db.fetchall("SELECT seq FROM order_transitions")
    assert [r[0] for r in rows] == [1] * 6


async def test_a_lone_order_costs_one_round_trip_without_a_savepoint(
    orders: OrderService, market_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements = await trace(market_db)
    calls = count_round_trips(market_db, monkeypatch)
    order, created = await orders.create_from_token(claims_for(login="buyer1"))
    await market_db.conn.set_trace_callback(None)
    assert created
    assert len(calls) == 2  # and the call that removes the trace
    assert statements[0] == "BEGIN IMMEDIATE"
    assert statements[-1] == "COMMIT"
    assert [s for s in statements if s.split()[0] in _TRANSACTION_CONTROL] == ["BEGIN IMMEDIATE", "COMMIT"]
    assert await orders.get(order.id) == order


async def test_new_orders_are_not_read_back(orders: OrderService, market_db: Database) -> None:
    """A statement that inserted every row it was given is all: its orders are made from their values, no
    ``RETURNING``, no look-up; one that skipped a stored token looks up which of its ids it stored."""
    statements = await trace(market_db)
    results = await asyncio.gather(*(orders.create_from_token(claims_for(login=f"buyer{n}")) for n in (1, 2, 3)))
    assert [created for _, created in results] == [True] * 3
    lone, _ = await orders.create_from_token(claims_for(login="buyer4"))
    await market_db.conn.set_trace_callback(None)
    # (the trace repeats a statement for each trigger program it runs: one entry per statement kept)
    words = [" ".join(s.split()[:3]) for n, s in enumerate(statements) if n == 0 or s != statements[n - 1]]
    assert words == [
        *("BEGIN IMMEDIATE", "SAVEPOINT order_group", "INSERT INTO orders", "INSERT INTO order_transitions"),
        *("RELEASE order_group", "COMMIT", "BEGIN IMMEDIATE", "INSERT INTO orders"),
        *("INSERT INTO order_transitions", "COMMIT"),
    ]
    assert not any("RETURNING" in s for s in statements)
    for order in [*(order for order, _ in results), lone]:
        assert await orders.get(order.id) == order

    again = claims_for(login="buyer5")
    statements = await trace(market_db)
    results = await asyncio.gather(orders.create_from_token(again), orders.create_from_token(again))
    await market_db.conn.set_trace_callback(None)
    assert [created for _, created in results] == [True, False]
    assert [s.split(" WHERE ")[0] for s in statements if s.startswith("SELECT")] == [
        "SELECT id FROM orders",  # which of the statement's ids it stored
        "SELECT * FROM orders",  # the order of the token it skipped
    ]
    assert results[0][0] == results[1][0] == await orders.get(results[0][0].id)


async def test_with_a_hook_a_burst_awaits_it_inside_its_transaction(
    orders: OrderService, market_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transition hook is awaited for each new order (and what it writes is committed with it): the burst then
    costs BEGIN, the group's savepoint, ONE call for the orders, the hook's writes, the release and COMMIT."""
    seen: list[tuple[str, int, OrderState]] = []

    async def hook(conn: aiosqlite.Connection, order: Order, transition: Transition) -> None:
        seen.append((order.login, transition.seq, transition.to_state))
        await conn.execute("INSERT INTO shop_state (key, value) VALUES (?, 'v')", (f"hook:{order.login}",))

    orders.add_transition_hook(hook)
    calls = count_round_trips(market_db, monkeypatch)
    results = await asyncio.gather(*(orders.create_from_token(claims_for(login=f"buyer{n}")) for n in (1, 2)))
    assert [created for _, created in results] == [True, True]
    assert seen == [("buyer1", 1, OrderState.AWAITING_PAYMENT), ("buyer2", 1, OrderState.AWAITING_PAYMENT)]
    assert len(calls) == 7
    assert calls[0] == "BEGIN IMMEDIATE"
    assert calls[-1] == "COMMIT"
    rows = await market_db.fetchall("SELECT key FROM shop_state WHERE key LIKE 'hook:%' ORDER BY key")
    assert [r[0] for r in rows] == ["hook:buyer1", "hook:buyer2"]


async def test_an_order_the_database_refuses_fails_alone_in_its_burst(
    orders: OrderService, market_db: Database
) -> None:
    """The shared call raises for one order (a NOT NULL column left empty): the burst is written again one order
    at a time, the refused one fails with the database's error and the others are stored."""
    refused = orders.repo.insert(
        {
            "id": "R" * 22,
            "form_token": "f" * 22,
            "login": "refused",
            "product_key": "cs2-30",
            "nle_cost": None,  # NOT NULL
            "expires_at": "2099-01-01T00:00:00.000000Z",
        },
        actor="discord:1",
    )
    results = await asyncio.gather(
        orders.create_from_token(claims_for(login="buyer1")),
        refused,
        orders.create_from_token(claims_for(login="buyer2")),
        return_exceptions=True,
    )
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert "nle_cost" in str(results[1])
    ok = [r for r in results if not isinstance(r, BaseException)]
    assert [(order.login, created) for order, created in ok] == [("buyer1", True), ("buyer2", True)]
    assert orders.repo._writes.group_failures == 1
    assert sorted(o.login for o in await orders.find(limit=100)) == ["buyer1", "buyer2"]
    rows = await market_db.fetchall("SELECT order_id FROM order_transitions ORDER BY rowid")
    assert sorted(r[0] for r in rows) == sorted(order.id for order, _ in ok)


async def test_a_hook_for_changes_only_keeps_a_burst_at_one_round_trip(
    orders: OrderService, market_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Discord orders channel's hook has nothing to write for a new order: registered for changes only, it
    leaves a burst of checkouts at one round trip, and it is awaited for the order's next change."""
    seen: list[tuple[str, OrderState, OrderState | None]] = []

    async def hook(conn: aiosqlite.Connection, order: Order, transition: Transition) -> None:
        seen.append((order.login, transition.to_state, transition.from_state))

    orders.add_transition_hook(hook, creations=False)
    calls = count_round_trips(market_db, monkeypatch)
    results = await asyncio.gather(*(orders.create_from_token(claims_for(login=f"buyer{n}")) for n in (1, 2, 3)))
    assert [created for _, created in results] == [True, True, True]
    assert len(calls) == 1
    assert seen == []
    await orders.cancel(results[0][0].id, "customer", "changed my mind")
    assert seen == [("buyer1", OrderState.CANCELLED, OrderState.AWAITING_PAYMENT)]


async def test_the_orders_channel_wiring_keeps_a_burst_at_one_round_trip(
    orders: OrderService, market_db: Database, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the running bot wires it (``OrdersDiscord.attach``: the orders channel's cards and the receipts), a burst
    of checkouts is still one round trip, and the cards still follow the order once it changes."""
    woken: list[bool] = []
    OrdersDiscord.attach(
        orders,
        db=market_db,
        wake=lambda: woken.append(True),
        audit=AuditLog(market_db),
        config=GuildConfig(market_db, make_settings()),
    )
    calls = count_round_trips(market_db, monkeypatch)
    results = await asyncio.gather(*(orders.create_from_token(claims_for(login=f"buyer{n}")) for n in (1, 2, 3)))
    assert [created for _, created in results] == [True, True, True]
    assert len(calls) == 1
    monkeypatch.undo()
    order = results[0][0]
    paid = await orders.confirm_payment(order.id, PaymentMethod.MANUAL, None, "staff:1")
    await orders.drain()
    cards = await market_db.fetchall("SELECT dedupe_key FROM notification_outbox ORDER BY id")
    assert str(cards[0][0]) == f"card:orders:{order.id}:{paid.seq}"
    assert woken
