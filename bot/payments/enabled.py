"""Which payment methods are enabled right now (a minimal reader until ``bot/shop/methods.py`` lands).

- ``manual``: enabled when the ``shop_state`` key ``manual.instructions`` holds non-blank text (set with
  ``/shop method manual instructions:<text>``);
- ``cryptopay``: enabled when ``CRYPTOPAY_TOKEN`` is set (``settings.cryptopay.enabled``).

NOTE for the merge: the price-table branch (``shop-prices``) writes ``bot.shop.methods.EnabledMethods`` with
the same rules; this module is the orders branch's stand-in and can then delegate to it.
"""

from __future__ import annotations

from bot.shop.catalog import PaymentMethod
from bot.storage import Database

MANUAL_INSTRUCTIONS_KEY = "manual.instructions"


async def manual_instructions(db: Database) -> str | None:
    """The operator's instructions for the manual method, or ``None`` when unset or blank."""
    row = await db.fetchone("SELECT value FROM shop_state WHERE key = ?", (MANUAL_INSTRUCTIONS_KEY,))
    if row is None:
        return None
    text = str(row["value"]).strip()
    return text or None


async def set_manual_instructions(db: Database, text: str) -> None:
    """Store (or, with blank text, clear) the manual method's instructions."""
    if not text.strip():
        await db.execute("DELETE FROM shop_state WHERE key = ?", (MANUAL_INSTRUCTIONS_KEY,))
        return
    await db.execute(
        "INSERT INTO shop_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
        " updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        (MANUAL_INSTRUCTIONS_KEY, text.strip()),
    )


class EnabledMethods:
    """Answers :meth:`methods`: the enabled methods in :class:`PaymentMethod` order."""

    def __init__(self, db: Database, *, cryptopay_enabled: bool) -> None:
        self._db = db
        self._cryptopay = cryptopay_enabled

    async def methods(self) -> list[PaymentMethod]:
        enabled: list[PaymentMethod] = []
        if await manual_instructions(self._db) is not None:
            enabled.append(PaymentMethod.MANUAL)
        if self._cryptopay:
            enabled.append(PaymentMethod.CRYPTOPAY)
        return enabled
