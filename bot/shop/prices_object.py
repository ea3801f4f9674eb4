"""The prices object Neverlose's ``set-reseller-prices`` takes, derived from the price table.

Per product key and currency: one price when every enabled payment method charges the same, otherwise a
``[min, max]`` range over the enabled methods (a method-specific entry overrides the entry for every method,
see :func:`bot.shop.price_table.method_prices`). A currency no enabled method charges is left out, and so is
a product without any.

The JSON text is exact and stable: product keys in catalogue order (``csgo-30`` … ``cs2-365``,
``marketplace``), currencies in alphabetical order, prices as plain decimal strings, no spaces. The same
table and methods always give the same bytes, and the signature covers exactly that text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal

from bot.shop.catalog import PaymentMethod, all_product_keys
from bot.shop.price_table import PriceEntry, method_prices

PriceValue = Decimal | tuple[Decimal, Decimal]
"""One price, or a ``(low, high)`` range with low < high."""
PricesObject = dict[str, dict[str, PriceValue]]

_KEY_ORDER = {str(key): index for index, key in enumerate(all_product_keys())}


def key_order(key: str) -> tuple[int, str]:
    """Catalogue order; keys the catalogue does not know (never stored) sort last, by name."""
    return (_KEY_ORDER.get(key, len(_KEY_ORDER)), key)


def derive_prices(entries: Iterable[PriceEntry], methods: Iterable[PaymentMethod]) -> PricesObject:
    """What the push sends for ``entries`` when ``methods`` are the enabled payment methods."""
    table = list(entries)
    enabled = list(dict.fromkeys(methods))
    result: PricesObject = {}
    for key in sorted({entry.product_key for entry in table}, key=key_order):
        per_method = method_prices(table, key, enabled)
        currencies: dict[str, list[Decimal]] = {}
        for method in enabled:
            for currency, price in per_method.get(method, {}).items():
                currencies.setdefault(currency, []).append(price)
        row: dict[str, PriceValue] = {}
        for currency in sorted(currencies):
            prices = currencies[currency]
            low, high = min(prices), max(prices)
            row[currency] = low if low == high else (low, high)
        if row:
            result[key] = row
    return result


def price_text(price: Decimal) -> str:
    """A price as the decimal string Neverlose wants: plain notation, the places as stored (``30.50``)."""
    return format(price, "f")


def to_json_object(prices: Mapping[str, Mapping[str, PriceValue]]) -> dict[str, dict[str, str | list[str]]]:
    """The prices object with JSON values: ``"30.50"`` or ``["30.50", "31.30"]``, in the stable order."""
    result: dict[str, dict[str, str | list[str]]] = {}
    for key in sorted(prices, key=key_order):
        row = prices[key]
        result[key] = {
            currency: ([price_text(value[0]), price_text(value[1])] if isinstance(value, tuple) else price_text(value))
            for currency, value in sorted(row.items())
        }
    return result


def encode_prices(prices: Mapping[str, Mapping[str, PriceValue]]) -> str:
    """The exact JSON text of the prices object (compact, stable order, ASCII)."""
    return json.dumps(to_json_object(prices), separators=(",", ":"))


def describe(value: PriceValue) -> str:
    """A price or range for people: ``30.50`` or ``30.50–31.30``."""
    if isinstance(value, tuple):
        return f"{price_text(value[0])}–{price_text(value[1])}"
    return price_text(value)
