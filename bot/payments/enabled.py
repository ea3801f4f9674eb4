"""Which payment methods the order pages offer: the shop's rule (:mod:`bot.shop.methods`), read per request.

- ``manual``: enabled while the ``shop_state`` key ``manual.instructions`` holds non-blank text (set with
  ``/shop method manual instructions:<text>``);
- ``cryptopay``: enabled when ``CRYPTOPAY_TOKEN`` is set (``settings.cryptopay.enabled``).

The rule and its storage live in :class:`bot.shop.methods.EnabledMethods`; this module only gives the
orders side the database-keyed view it needs, so the two can never disagree.
"""

from __future__ import annotations

from bot.shop.catalog import PaymentMethod
from bot.shop.methods import EnabledMethods as ShopMethods
from bot.shop.state import ShopState
from bot.storage import Database


def _shop_methods(db: Database, *, cryptopay_enabled: bool = False) -> ShopMethods:
    return ShopMethods(ShopState(db), cryptopay_enabled=cryptopay_enabled)


async def manual_instructions(db: Database) -> str | None:
    """The operator's instructions for the manual method, or ``None`` when unset or blank."""
    return await _shop_methods(db).manual_instructions()


async def set_manual_instructions(db: Database, text: str) -> None:
    """Store (or, with blank text, clear) the manual method's instructions."""
    await _shop_methods(db).set_manual_instructions(text, None)


class EnabledMethods:
    """Answers :meth:`methods`: the enabled methods in :class:`PaymentMethod` order."""

    def __init__(self, db: Database, *, cryptopay_enabled: bool) -> None:
        self._shop = _shop_methods(db, cryptopay_enabled=cryptopay_enabled)

    async def methods(self) -> list[PaymentMethod]:
        return await self._shop.enabled()
