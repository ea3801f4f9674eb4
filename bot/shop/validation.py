"""Every rule a price-table entry must meet, each refusal a sentence naming the field and the rule.

The rules are Neverlose's (``set-reseller-prices``) plus the bot's own money rules: a product key is
``<product>-<days>`` of a known product and plan, or ``marketplace``; a currency is exactly three upper-case
Latin letters; a price is a positive decimal with at most 8 decimal places, never a float; a product has
at most three currencies (Neverlose refuses a fourth).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

from bot.market.models import Plan, Product
from bot.shop.catalog import MARKETPLACE, PaymentMethod, ProductKey
from bot.shop.price_table import PriceEntry
from bot.staff.errors import InvalidInput

MAX_CURRENCIES = 3
MAX_PLACES = 8
MAX_INTEGER_DIGITS = 12
MAX_PRICE_TEXT = MAX_INTEGER_DIGITS + 1 + MAX_PLACES

_CURRENCY = re.compile(r"[A-Z]{3}")
_NUMBER = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
_PLANS = ", ".join(str(plan.days) for plan in Plan)
_PRODUCTS = ", ".join(product.value for product in Product)


class ShopInputError(InvalidInput):
    """A value the price table refuses; ``field`` names the option, the message says the rule."""

    def __init__(self, field: str, rule: str) -> None:
        self.field = field
        self.rule = rule
        super().__init__(f"Invalid {field}: {rule}")


def parse_product_key(text: str) -> ProductKey:
    """A price-table key as Neverlose writes it: ``cs2-30``, ``csgo-365``, ``marketplace`` (``cs2`` = ``cs2-30``)."""
    try:
        return ProductKey.parse(text.strip())
    except ValueError as exc:
        raise ShopInputError("product", f"{exc}.") from None


def product_key(product: str, plan_days: int | None) -> ProductKey:
    """The key for a product and plan as the slash command gives them (``marketplace`` takes no plan)."""
    name = product.strip().lower()
    if name == MARKETPLACE:
        if plan_days is not None:
            raise ShopInputError("plan", "the marketplace (price of 1 NLE) has no plan; leave plan empty.")
        return ProductKey.marketplace()
    try:
        chosen = Product(name)
    except ValueError:
        raise ShopInputError("product", f"{product!r} is not a product; choose {_PRODUCTS} or {MARKETPLACE}.") from None
    if plan_days is None:
        raise ShopInputError("plan", f"choose the plan of {chosen.label}: {_PLANS} days.")
    try:
        plan = Plan.from_days(plan_days)
    except ValueError:
        raise ShopInputError("plan", f"{chosen.label} has no {plan_days}-day plan; choose {_PLANS} days.") from None
    return ProductKey.for_plan(chosen, plan)


def parse_currency(text: object) -> str:
    """Exactly three upper-case Latin letters (``USD``); ``usd``, ``EURO`` and ``€`` are refused."""
    if not isinstance(text, str) or not _CURRENCY.fullmatch(text):
        shown = repr(text) if isinstance(text, str) else type(text).__name__
        raise ShopInputError("currency", f"{shown} must be exactly 3 upper-case Latin letters, e.g. USD or EUR.")
    return text


def parse_price(value: object) -> Decimal:
    """A positive decimal with at most 8 decimal places (text or Decimal; floats are refused).

    The result keeps the places written (``30.50`` stays ``30.50``) and is always in plain notation.
    """
    if isinstance(value, bool | float):
        raise ShopInputError("price", "must be decimal text such as 12.50 (floats are refused).")
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ShopInputError("price", "must be a finite number such as 12.50.")
        value = format(value, "f")
    if not isinstance(value, str):
        raise ShopInputError("price", "must be decimal text such as 12.50.")
    text = value.strip()
    if len(text) > MAX_PRICE_TEXT + 1:
        raise ShopInputError("price", f"{text[:24]!r}... is too long to be a price.")
    unsigned = text[1:] if text[:1] in "+-" else text
    match = _NUMBER.fullmatch(unsigned)
    if match is None:
        raise ShopInputError("price", f"{text!r} is not a number; write it like 12.50 (digits, '.' for decimals).")
    if text[:1] == "-":
        raise ShopInputError("price", f"{text} must be positive (more than 0).")
    whole, places = match.group(1), match.group(2)
    if places is not None and len(places) > MAX_PLACES:
        raise ShopInputError("price", f"{unsigned} has {len(places)} decimal places; at most {MAX_PLACES} are allowed.")
    if len(whole.lstrip("0")) > MAX_INTEGER_DIGITS:
        raise ShopInputError("price", f"{unsigned} is too large (at most {MAX_INTEGER_DIGITS} digits before '.').")
    price = Decimal(unsigned)  # the pattern only lets plain decimals through
    if price <= 0:
        raise ShopInputError("price", f"{unsigned} must be positive (more than 0).")
    return price


def parse_method(text: object) -> PaymentMethod | None:
    """``manual``, ``cryptopay``, or nothing (= every method)."""
    if text is None or (isinstance(text, str) and text.strip() in ("", "any", "all")):
        return None
    if isinstance(text, PaymentMethod):
        return text
    if isinstance(text, str):
        try:
            return PaymentMethod(text.strip().lower())
        except ValueError:
            pass
    names = ", ".join(m.value for m in PaymentMethod)
    raise ShopInputError("method", f"{text!r} is not a payment method; choose {names}, or leave it empty for all.")


def currencies_of(entries: Iterable[PriceEntry], key: ProductKey | str) -> set[str]:
    """The distinct currencies a product key has in ``entries`` (every method together)."""
    wanted = str(key)
    return {entry.currency for entry in entries if entry.product_key == wanted}


def check_currency_count(entries: Iterable[PriceEntry], key: ProductKey | str, currency: str) -> None:
    """Refuse a fourth currency for one product: Neverlose accepts at most three per product."""
    used = currencies_of(entries, key)
    if currency not in used and len(used) >= MAX_CURRENCIES:
        listed = ", ".join(sorted(used))
        raise ShopInputError(
            "currency",
            f"{key} already has {MAX_CURRENCIES} currencies ({listed}); Neverlose accepts at most "
            f"{MAX_CURRENCIES} per product. Remove one first.",
        )


def entry(product_key_text: str, currency: object, price: object, method: object = None) -> PriceEntry:
    """One validated entry (the product key in its full form, e.g. ``cs2`` → ``cs2-30``)."""
    key = parse_product_key(product_key_text)
    return PriceEntry(str(key), parse_currency(currency), parse_price(price), parse_method(method))
