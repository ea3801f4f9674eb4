"""Service edges found by mutation testing: the offer when one provider cannot take the currency, and an
order address whose base ends in a letter the slash-trimming must keep."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from bot.orders.prechecks import Offer
from bot.orders.service import OrderService
from bot.shop.catalog import PaymentMethod
from bot.storage import Database
from tests.orders.conftest import RedirectProvider
from tests.orders.test_service import checked


class NoCurrencyProvider(RedirectProvider):
    """Crypto Pay without the order's currency in its fiat list."""

    def offers(self, currency: str) -> bool:
        return False


@pytest.mark.parametrize("cryptopay_enabled", [True])
async def test_a_provider_without_the_currency_is_left_out_of_the_offer(
    orders: OrderService, cryptopay_enabled: bool
) -> None:
    order = await checked(orders)
    orders.providers.add(NoCurrencyProvider())
    offer = await orders.offer(order)
    assert order.currency is not None
    assert offer == Offer(order.currency, {PaymentMethod.MANUAL: order.amount})
    assert isinstance(order.amount, Decimal)
    with_it = RedirectProvider()
    orders.providers.add(with_it)
    both = await orders.offer(order)
    assert both is not None
    assert set(both.prices) == {PaymentMethod.MANUAL, PaymentMethod.CRYPTOPAY}


def test_only_slashes_are_trimmed_from_the_base(market_db: Database) -> None:
    service = OrderService(
        market_db,
        market=None,
        journal=None,
        prices=None,
        methods=None,
        providers=None,  # type: ignore[arg-type]
        order_ttl=timedelta(hours=1),
        base_url=lambda: "https://shop.example/X/",
    )
    assert service.order_url("abc") == "https://shop.example/X/orders/abc"
