"""What the shop can sell: price-table product keys and payment method names.

A product key is ``<product>-<days>`` for every product and plan the Market API knows (``cs2-30``,
``csgo-365``), or ``marketplace`` for the price of 1 NLE, exactly as Neverlose's ``set-reseller-prices``
names them. ``cs2`` alone means ``cs2-30`` there; the bot always writes the full form.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.i18n.catalog import t
from bot.market.models import Plan, Product

MARKETPLACE = "marketplace"


class PaymentMethod(enum.StrEnum):
    """A payment method a price can apply to (none = every method)."""

    MANUAL = "manual"
    CRYPTOPAY = "cryptopay"

    @property
    def label(self) -> str:
        return _METHOD_LABELS[self]


_METHOD_LABELS = {PaymentMethod.MANUAL: "Manual payment", PaymentMethod.CRYPTOPAY: "Crypto Pay"}


@dataclass(frozen=True, slots=True)
class ProductKey:
    """A product and plan, or the marketplace (``product`` and ``plan`` both ``None``)."""

    product: Product | None
    plan: Plan | None

    @property
    def is_marketplace(self) -> bool:
        return self.product is None

    def __str__(self) -> str:
        if self.product is None or self.plan is None:
            return MARKETPLACE
        return f"{self.product.value}-{self.plan.days}"

    @property
    def label(self) -> str:
        if self.product is None or self.plan is None:
            return "NLE (market balance)"
        return f"{self.product.label}, {self.plan.days} days"

    def label_in(self, locale: str, marketplace: str = "product.marketplace") -> str:
        """:attr:`label` in ``locale`` (``CS2, 30 дней``); the marketplace by the message ``marketplace``
        (``NLE (баланс маркета)``; the shop's price tables name it by the price of 1 NLE)."""
        if self.product is None or self.plan is None:
            return t(locale, marketplace)
        return t(locale, "product.plan", product=self.product.label, count=self.plan.days)

    @classmethod
    def for_plan(cls, product: Product, plan: Plan) -> ProductKey:
        return cls(product, plan)

    @classmethod
    def marketplace(cls) -> ProductKey:
        return cls(None, None)

    @classmethod
    def parse(cls, text: str) -> ProductKey:
        """``cs2-30`` → CS2 30 days; ``cs2`` → CS2 30 days (Neverlose's default); ``marketplace``.

        Raises ``ValueError`` with a sentence naming the rule for anything else.
        """
        if text == MARKETPLACE:
            return cls.marketplace()
        name, sep, days_text = text.partition("-")
        try:
            product = Product(name)
        except ValueError:
            known = ", ".join(p.value for p in Product)
            raise ValueError(f"unknown product {name!r}; known products: {known}, or {MARKETPLACE}") from None
        if not sep:
            return cls(product, Plan.DAYS_30)
        if not days_text.isascii() or not days_text.isdigit() or days_text != str(int(days_text)):
            raise ValueError(f"{text!r} is not <product>-<days>, e.g. {product.value}-30")
        return cls(product, Plan.from_days(int(days_text)))


def all_product_keys() -> list[ProductKey]:
    """Every key the price table accepts, in a stable order (products, their plans, then marketplace)."""
    keys = [ProductKey.for_plan(product, plan) for product in Product for plan in Plan]
    keys.append(ProductKey.marketplace())
    return keys
