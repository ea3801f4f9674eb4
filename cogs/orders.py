"""The ``/orders``, ``/order`` and ``/buy`` commands and the order cards' buttons (:mod:`cogs._orders`).

Declines to load without the shop (``MARKET_INTEGRATION_ID``); the commands' module, with the orders feature
under it, is imported only when the shop is on (an idle bot without the shop keeps that memory).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.extensions import FeatureDisabled

if TYPE_CHECKING:
    from bot.core import ResellerBot


async def setup(bot: ResellerBot) -> None:
    if bot.order_discord is None:
        raise FeatureDisabled("the shop is off: set MARKET_INTEGRATION_ID to sell and take orders")
    from cogs._orders import Orders

    await bot.add_cog(Orders(bot, bot.order_discord))
