"""The pre-checks (bot/orders/prechecks.py) against the Market simulator: every refusal keeps the order's
offer (its currency and prices are stored with the blocked order), the balance refusal its figures."""

from __future__ import annotations

from decimal import Decimal

from bot.market.client import MarketClient
from bot.market.models import Product
from bot.market.simulator.runner import RunningSimulator
from bot.orders.prechecks import BlockReason, Offer, PrecheckResult, run_prechecks
from bot.shop.catalog import PaymentMethod, ProductKey
from bot.shop.price_table import PriceEntry

OFFER = Offer("EUR", {PaymentMethod.MANUAL: Decimal("20.00")})


async def check(market: MarketClient, login: str = "darth") -> PrecheckResult:
    entries = [PriceEntry("cs2-30", "EUR", Decimal("20.00")), PriceEntry("cs2-30", "USD", Decimal("22.00"))]
    return await run_prechecks(
        market, login=login, key=ProductKey.parse("cs2-30"), nle=None, entries=entries, enabled=[PaymentMethod.MANUAL]
    )


async def test_every_refusal_keeps_the_offer(market_client: MarketClient, market_sim: RunningSimulator) -> None:
    assert await check(market_client, "ghost") == PrecheckResult(BlockReason.USER_NOT_FOUND, OFFER)
    user = market_sim.state.user("darth")
    assert user is not None
    user.invited.discard(Product.CS2)
    assert await check(market_client) == PrecheckResult(BlockReason.NOT_INVITED, OFFER)
    user.invited.add(Product.CS2)
    market_sim.state.balance = Decimal("17.09")
    assert await check(market_client) == PrecheckResult(
        BlockReason.LOW_BALANCE, OFFER, Decimal("17.10"), "balance 17.09 NLE, cost 17.10 NLE"
    )
    market_sim.state.faults.fail_next("is-user-exists", times=4)
    assert await check(market_client) == PrecheckResult(BlockReason.MARKET_UNAVAILABLE, OFFER)
    market_sim.state.balance = Decimal("17.10")
    assert await check(market_client) == PrecheckResult(None, OFFER, Decimal("17.10"))
