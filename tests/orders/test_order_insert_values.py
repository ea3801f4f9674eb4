"""A new order is answered from the values it was inserted with (the insert returns no rows): that answer is
exactly what the table stores, the columns left out included, whichever way the order was created and whether
its statement inserted every row it was given or not."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.orders.repository import _NEW_ORDER_DEFAULTS, OrderRepository
from bot.orders.service import OrderService
from bot.orders.token import PurchaseClaims, verify_purchase_token
from bot.storage import Database
from tests.orders.conftest import INTEGRATION_ID, SECRET, Clock, purchase_claims, sign

REQUIRED = {"id", "form_token", "login", "product_key", "nle_cost", "state", "seq", "created_at", "updated_at"}
"""What every insert gives (``expires_at`` too: the repository is always given it)."""
NOT_ORDER_FIELDS = {"amount_units", "amount_places"}  # kept by triggers for /stats, not part of an Order


@pytest.fixture
def repo(market_db: Database, clock: Clock) -> OrderRepository:
    return OrderRepository(market_db, clock)


def claims_for(**overrides: Any) -> PurchaseClaims:
    return verify_purchase_token(sign(purchase_claims(**overrides)), secret=SECRET, integration_id=INTEGRATION_ID)


async def test_the_defaults_are_the_tables_own(market_db: Database) -> None:
    """Every column an insert may leave out is listed with the value the table gives it."""
    columns = [row[1] for row in await market_db.fetchall("PRAGMA table_info(orders)")]
    assert set(columns) - REQUIRED - NOT_ORDER_FIELDS - {"expires_at"} == set(_NEW_ORDER_DEFAULTS)
    await market_db.execute(
        "INSERT INTO orders (id, form_token, login, product_key, nle_cost, state, seq, created_at, updated_at,"
        " expires_at) VALUES ('x', 'f', 'l', 'cs2-30', '1', 'awaiting_payment', 1, 't', 't', 't')"
    )
    row = await market_db.fetchone("SELECT * FROM orders WHERE id = 'x'")
    assert row is not None
    stored = {name: row[name] for name in _NEW_ORDER_DEFAULTS}
    assert stored == _NEW_ORDER_DEFAULTS
    assert {name: type(value) for name, value in stored.items()} == {
        name: type(value) for name, value in _NEW_ORDER_DEFAULTS.items()
    }


async def test_an_order_with_the_fewest_columns_is_answered_as_stored(repo: OrderRepository, clock: Clock) -> None:
    order, created = await repo.insert(
        {
            "id": "m" * 22,
            "form_token": "f" * 22,
            "login": "darth",
            "product_key": "cs2-30",
            "nle_cost": Decimal("17.10"),
            "expires_at": clock.now + timedelta(hours=1),
        },
        actor="customer",
    )
    assert created
    assert order == await repo.get(order.id)
    assert (order.check_status, order.fulfil_attempt, order.auto_retry, order.email) == ("pending", 0, False, None)


async def test_orders_of_a_statement_that_skipped_a_stored_token_are_answered_as_stored(
    orders: OrderService,
) -> None:
    """One statement, three rows: a token already stored (not inserted), a new one, the same new one again."""
    first = claims_for(login="buyer0")
    stored, created = await orders.create_from_token(first)
    assert created
    fresh = claims_for(login="buyer1", email="b1@example.com")
    results = await asyncio.gather(
        orders.create_from_token(first),  # stored already: found, not inserted
        orders.create_from_token(fresh),
        orders.create_from_token(fresh),  # twice in one statement: inserted once
        orders.create_from_token(claims_for(login="buyer2")),
    )
    assert orders.repo._writes.batches == 2  # the four in one transaction
    assert [created for _, created in results] == [False, True, False, True]
    assert results[0][0] == stored
    assert results[1][0] == results[2][0]
    for order, _ in results:
        assert order == await orders.get(order.id)
    assert [order.login for order, _ in results] == ["buyer0", "buyer1", "buyer1", "buyer2"]
    assert len(await orders.find(limit=100)) == 3


async def test_a_discord_order_is_answered_as_stored(orders: OrderService) -> None:
    order, created = await orders.repo.insert(
        {
            "id": "D" * 22,
            "form_token": "f" * 22,
            "login": "buyer2",
            "product_key": "marketplace",
            "nle": Decimal("12.50"),
            "nle_cost": Decimal("12.50"),
            "discord_user_id": 77,
            "expires_at": "2099-01-01T00:00:00.000000Z",
        },
        actor="discord:77",
    )
    assert created
    assert order == await orders.get(order.id)
    assert (str(order.nle), order.discord_user_id, order.email) == ("12.50", 77, None)
