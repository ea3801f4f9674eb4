"""Which payment methods are enabled: what the price push derives from and what order pages offer.

``manual`` is enabled while its instructions are set (``/shop method manual``; stored in ``shop_state``
under ``manual.instructions``); ``cryptopay`` while ``CRYPTOPAY_TOKEN`` is set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.shop.catalog import PaymentMethod
from bot.shop.state import MANUAL_INSTRUCTIONS, ShopState
from bot.shop.validation import ShopInputError

log = logging.getLogger(__name__)

MAX_INSTRUCTIONS = 1500
"""Characters of manual payment instructions (they are shown on the order page and in Discord)."""


class EnabledMethods:
    def __init__(self, state: ShopState, *, cryptopay_enabled: bool) -> None:
        self._state = state
        self.cryptopay_enabled = cryptopay_enabled
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever the set of enabled methods may have changed."""
        self._listeners.append(listener)

    async def enabled(self) -> list[PaymentMethod]:
        """The enabled methods, in the catalogue's order."""
        methods: list[PaymentMethod] = []
        if await self.manual_instructions() is not None:
            methods.append(PaymentMethod.MANUAL)
        if self.cryptopay_enabled:
            methods.append(PaymentMethod.CRYPTOPAY)
        return methods

    async def manual_instructions(self) -> str | None:
        """The instructions, or ``None`` when unset or blank (blank text enables nothing)."""
        text = await self._state.get(MANUAL_INSTRUCTIONS)
        return (text.strip() or None) if text is not None else None

    async def set_manual_instructions(self, text: str | None, by: int | None) -> str | None:
        """Store the instructions (``None`` or blank: disable manual payments); returns the previous text."""
        previous = await self.manual_instructions()
        cleaned = (text or "").strip()
        if len(cleaned) > MAX_INSTRUCTIONS:
            raise ShopInputError(
                "instructions", f"{len(cleaned)} characters is too long; at most {MAX_INSTRUCTIONS} are allowed."
            )
        if cleaned:
            await self._state.set(MANUAL_INSTRUCTIONS, cleaned)
        else:
            await self._state.delete(MANUAL_INSTRUCTIONS)
        log.info("shop manual instructions set by=%s enabled=%s length=%d", by, bool(cleaned), len(cleaned))
        for listener in self._listeners:
            listener()
        return previous
