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
from tests.orders.conftest import Clock, RedirectProvider
from tests.orders.test_service import checked
from tests.orders.test_state_machine import new_order


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


async def test_delivery_waits_for_the_orders_own_lock(orders: OrderService) -> None:
    """The per-order lock serialises the check and the delivery of one order (a lock for every order would not)."""
    import asyncio

    from bot.orders.models import OrderState

    order = await checked(orders)
    async with orders._lock(order.id):
        paid = await orders.confirm_payment(order.id, PaymentMethod.MANUAL, None, "staff:42")
        assert paid.state is OrderState.PAID
        done, _ = await asyncio.wait(list(orders._tasks), timeout=2.0)
        assert not done
        assert (await orders.get(order.id)).state is OrderState.PAID
    await orders.drain()
    assert (await orders.get(order.id)).state is OrderState.DELIVERED


async def test_customer_orders_gives_more_than_a_page_of_25_when_asked(orders: OrderService, clock: Clock) -> None:
    """``limit`` reaches both look-ups: 27 /buy orders of a member and 27 checkout orders for their login are all
    listed with a limit of 60 (the repository's own default page is 25)."""
    bought, for_login = [], []
    for n in range(27):
        bought.append((await new_order(orders.repo, f"b{n:02}".ljust(22, "b"), login="luke", discord_user_id=555)).id)
        for_login.append((await new_order(orders.repo, f"l{n:02}".ljust(22, "l"), login="darth")).id)
        clock.advance(timedelta(seconds=1))
    assert [o.id for o in await orders.customer_orders(555, None, limit=60)] == bought[::-1]
    assert [o.id for o in await orders.customer_orders(556, "darth", limit=60)] == for_login[::-1]
    mine = await orders.customer_orders(555, "darth", limit=60)
    assert len(mine) == 54
    assert {o.id for o in mine} == {*bought, *for_login}
