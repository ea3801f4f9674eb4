"""Whether the shop can run, and if not what to set.

Apart from :mod:`bot.shop.service` so that the ``/shop`` extension's check does not import the shop when it is off.
"""

from __future__ import annotations


def shop_disabled_reason(integration_id: int | None) -> str | None:
    """Why the shop cannot run (what to set), or ``None``."""
    if integration_id is None:
        return (
            "MARKET_INTEGRATION_ID is not set: copy your reseller integration id from Neverlose's market API "
            "settings page (see docs/shop.md) to enable /shop and the price push"
        )
    return None
