"""The pre-checks (bot/orders/prechecks.py) against the Market simulator: a refusal keeps the order's offer
(its currency and prices are stored with the blocked order)."""

from __future__ import annotations

from decimal import Decimal

from bot.market.client import MarketClient
from bot.orders.prechecks import BlockReason, Offer, PrecheckResult, run_prechecks
from bot.shop.catalog import PaymentMethod, ProductKey
from bot.shop.price_table import PriceEntry


async def test_an_unknown_login_is_refused_with_the_offer(market_client: MarketClient) -> None:
    entries = [PriceEntry("cs2-30", "EUR", Decimal("20.00")), PriceEntry("cs2-30", "USD", Decimal("22.00"))]
    result = await run_prechecks(
        market_client,
        login="ghost",
        key=ProductKey.parse("cs2-30"),
        nle=None,
        entries=entries,
        enabled=[PaymentMethod.MANUAL],
    )
    assert result == PrecheckResult(BlockReason.USER_NOT_FOUND, Offer("EUR", {PaymentMethod.MANUAL: Decimal("20.00")}))
