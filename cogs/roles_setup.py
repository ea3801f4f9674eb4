"""``/setup roles`` (:mod:`cogs._roles_setup`): which Discord role a linked customer gets for what they bought.

Declines to load unless account linking is configured; the command's module is imported only then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.extensions import FeatureDisabled
from bot.linking.enabled import linking_disabled_reason

if TYPE_CHECKING:
    from bot.core import ResellerBot


async def setup(bot: ResellerBot) -> None:
    reason = linking_disabled_reason(bot.settings)
    if reason is not None:
        raise FeatureDisabled(f"/setup roles needs account linking; {reason}")
    if bot.linking is None:
        raise FeatureDisabled("the linking service was not started")
    from cogs._roles_setup import RolesSetupCog

    await bot.add_cog(RolesSetupCog(bot, bot.linking.roles))
