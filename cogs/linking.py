"""The ``/link`` commands (:mod:`cogs._linking`).

Declines to load unless account linking is configured (:func:`bot.linking.enabled.linking_disabled_reason`); the
commands' module, with the linking feature under it, is imported only then.
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
        raise FeatureDisabled(reason)
    if bot.linking is None:
        raise FeatureDisabled("the linking service was not started")
    from cogs._linking import LinkingCog

    await bot.add_cog(LinkingCog(bot.linking))
