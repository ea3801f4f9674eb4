"""Wiring of the orders feature: the service, its payment providers and the checkout pages.

Built by ``ResellerBot.setup_features`` only when the shop is enabled (``MARKET_INTEGRATION_ID`` set); the
bot then runs :meth:`OrderService.run_forever` (resume at start, then expiry, balance retries and re-drives
every few minutes) as a background task and closes the service on shutdown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from bot.market.journal import SpendingJournal
from bot.notifications.outbox import Outbox
from bot.orders.prechecks import MarketReader
from bot.orders.service import OrderService
from bot.orders.web import CheckoutPages
from bot.payments.enabled import EnabledMethods
from bot.payments.manual import ManualProvider
from bot.payments.registry import PaymentRegistry
from bot.settings import Settings
from bot.shop.price_table import PriceTable
from bot.storage import Database


@dataclass
class OrdersFeature:
    service: OrderService
    pages: CheckoutPages

    @classmethod
    def create(
        cls,
        db: Database,
        settings: Settings,
        *,
        market: MarketReader,
        journal: SpendingJournal,
        app: web.Application,
        outbox: Outbox | None,
        wake: Callable[[], None] | None,
        base_url: Callable[[], str],
        clock: Callable[[], datetime] | None = None,
    ) -> OrdersFeature:
        integration_id = settings.shop.integration_id
        if integration_id is None:
            raise ValueError("the orders feature needs MARKET_INTEGRATION_ID")
        providers = PaymentRegistry()
        providers.add(ManualProvider(db))
        service = OrderService(
            db,
            market=market,
            journal=journal,
            prices=PriceTable(db),
            methods=EnabledMethods(db, cryptopay_enabled=settings.cryptopay.enabled),
            providers=providers,
            order_ttl=settings.checkout.order_ttl,
            outbox=outbox,
            wake=wake,
            clock=clock,
            base_url=base_url,
        )
        support = settings.checkout.support_url
        pages = CheckoutPages(
            service,
            secret=settings.market.secret.get_secret_value(),
            integration_id=integration_id,
            checkout_path=settings.checkout.checkout_path,
            support_url=str(support) if support is not None else None,
            public_base_url=str(settings.server.public_base_url) if settings.server.public_base_url else None,
        )
        pages.setup(app)
        return cls(service, pages)
