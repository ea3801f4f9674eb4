"""Fixtures for the orders tests: a real simulator, a real SQLite file, the real service and pages.

- ``clock``          — a settable UTC clock (``clock.now``, ``clock.advance(...)``) the service reads;
- ``shop``           — the price table seeded with cs2-30 (EUR 20.00, USD 22.00) and marketplace (EUR 1.10),
                       and manual instructions set (manual enabled);
- ``orders``         — an :class:`OrderService` over the simulator (``market_client``/``market_journal``);
- ``make_token``     — signs an ``nl_purchase`` JWT with PyJWT (defaults: a valid cs2 30-day token for darth);
- ``checkout``       — an aiohttp test client of an app carrying the checkout pages.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.typedefs import Middleware

from bot.i18n.web import language_routes
from bot.market.client import MarketClient
from bot.market.journal import SpendingJournal
from bot.notifications.outbox import Outbox
from bot.orders.service import OrderService
from bot.orders.web import CheckoutPages
from bot.orders.web_security import RateLimiter
from bot.payments.enabled import EnabledMethods, set_manual_instructions
from bot.payments.manual import ManualProvider
from bot.payments.provider import PaymentStart
from bot.payments.registry import PaymentRegistry
from bot.shop.catalog import PaymentMethod
from bot.shop.price_table import PriceEntry, PriceTable
from bot.storage import Database

SECRET = "test-market-secret-" + "0123456789abcdef" * 4  # >= 64 bytes: no PyJWT key warning
INTEGRATION_ID = 7
INSTRUCTIONS = "Send the amount to IBAN DE00 1234 5678 9012.\nPut the order number in the comment."


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 12, 7, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def shop(market_db: Database) -> PriceTable:
    table = PriceTable(market_db)
    for entry in (
        PriceEntry("cs2-30", "EUR", Decimal("20.00")),
        PriceEntry("cs2-30", "USD", Decimal("22.00")),
        PriceEntry("cs2-90", "EUR", Decimal("50.00")),
        PriceEntry("csgo-30", "EUR", Decimal("19.00")),
        PriceEntry("marketplace", "EUR", Decimal("1.10")),
    ):
        await table.put(entry, updated_by=None)
    await set_manual_instructions(market_db, INSTRUCTIONS)
    return table


@pytest.fixture
def providers(market_db: Database) -> PaymentRegistry:
    registry = PaymentRegistry()
    registry.add(ManualProvider(market_db))
    return registry


class RedirectProvider:
    """A second payment method at the provider edge: it sends the buyer to a payment page of its own."""

    def __init__(self) -> None:
        self.cancelled: list[str] = []
        self.requests: list[Any] = []

    @property
    def method(self) -> PaymentMethod:
        return PaymentMethod.CRYPTOPAY

    def offers(self, currency: str) -> bool:
        return True

    async def start(self, request: Any) -> PaymentStart:
        self.requests.append(request)
        return PaymentStart(
            reference=f"inv-{request.order_id[:4]}", redirect_url=f"https://pay.example/{request.amount}"
        )

    async def poll(self, order_id: str) -> None:
        return None

    async def cancel(self, order_id: str) -> None:
        self.cancelled.append(order_id)


@pytest.fixture
def cryptopay_enabled() -> bool:
    """Whether the Crypto Pay method counts as enabled (parametrize a test with ``True`` to turn it on)."""
    return False


@pytest.fixture
def orders(
    cryptopay_enabled: bool,
    market_db: Database,
    market_client: MarketClient,
    market_journal: SpendingJournal,
    shop: PriceTable,
    providers: PaymentRegistry,
    clock: Clock,
) -> OrderService:
    return order_service(
        market_db, market_client, market_journal, shop, providers, clock, cryptopay_enabled=cryptopay_enabled
    )


def order_service(
    market_db: Database,
    market_client: MarketClient,
    market_journal: SpendingJournal,
    shop: PriceTable,
    providers: PaymentRegistry,
    clock: Clock,
    *,
    cryptopay_enabled: bool = False,
    **extra: Any,
) -> OrderService:
    """The service as the ``orders`` fixture builds it; ``extra`` adds constructor arguments (a ``wake``…)."""
    return OrderService(
        market_db,
        market=market_client,
        journal=market_journal,
        prices=shop,
        methods=EnabledMethods(market_db, cryptopay_enabled=cryptopay_enabled),
        providers=providers,
        order_ttl=timedelta(minutes=60),
        outbox=Outbox(market_db),
        clock=clock,
        base_url=lambda: "https://shop.example",
        shared_reads_for=0.0,  # every check asks the simulator (sharing is tested on its own)
        **extra,
    )


def purchase_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "NLRI",
        "iat": now,
        "exp": now + 3600,
        "integration_id": INTEGRATION_ID,
        "login": "darth",
        "email": "darth.vader@example.com",
        "product": "cs2",
        "market": False,
        "cnt": 0,
        "days": 30,
    }
    for key, value in overrides.items():
        if value is ...:
            claims.pop(key, None)
        else:
            claims[key] = value
    return claims


def sign(
    claims: dict[str, Any], *, key: str = SECRET, algorithm: str = "HS256", headers: dict[str, Any] | None = None
) -> str:
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


@pytest.fixture
def make_token() -> Callable[..., str]:
    def factory(**overrides: Any) -> str:
        return sign(purchase_claims(**overrides))

    return factory


@pytest.fixture
def limiter() -> RateLimiter:
    return RateLimiter(per_minute=20, burst=10)


def pages_app(
    orders: OrderService, limiter: RateLimiter | None, *, middlewares: Sequence[Middleware] = (), **options: Any
) -> tuple[web.Application, CheckoutPages]:
    """The checkout pages on an application of their own with the language switcher, as bot/http/server.py
    serves them; ``options`` go to :class:`CheckoutPages` (``support_url``, ``public_base_url``)."""
    app = web.Application(middlewares=list(middlewares))
    pages = CheckoutPages(
        orders,
        secret=SECRET,
        integration_id=INTEGRATION_ID,
        checkout_path="/checkout",
        limiter=limiter,
        **{"support_url": "https://discord.gg/example", **options},
    )
    pages.setup(app)
    app.add_routes(language_routes())
    return app, pages


@pytest.fixture
async def checkout(
    orders: OrderService, limiter: RateLimiter
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app, _ = pages_app(orders, limiter)
    server = TestServer(app)
    await server.start_server(access_log=None)  # as bot/http/server.py: no access log
    client = TestClient(server)
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
        await orders.close()


__all__ = ["INSTRUCTIONS", "PaymentMethod"]
