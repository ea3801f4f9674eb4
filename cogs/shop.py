"""The ``/shop`` commands (:mod:`cogs._shop`): the price table, its import and export, the payment methods.

Declines to load without ``MARKET_INTEGRATION_ID``; the commands' module, with the shop under it, is imported only
when the shop is on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.extensions import FeatureDisabled
from bot.shop.enabled import shop_disabled_reason

if TYPE_CHECKING:
    from bot.core import ResellerBot


async def setup(bot: ResellerBot) -> None:
    reason = shop_disabled_reason(bot.settings.shop.integration_id)
    if reason is not None:
        raise FeatureDisabled(reason)
    if bot.shop is None:
        raise FeatureDisabled("the shop service was not started")
    from cogs._shop import ShopCog

    await bot.add_cog(ShopCog(bot.shop))
