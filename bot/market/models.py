"""Products, plans, prices and money at the JSON edge.

Money is ``Decimal`` everywhere inside the bot. It becomes a float only in the request body
(:func:`amount_to_wire`), and answers are parsed with ``parse_float=Decimal`` so no float ever reaches
a balance. Amounts we accept have two decimal places and at most :data:`MAX_AMOUNT`, a range in which
``Decimal(str(float(amount)))`` is exactly ``amount`` (at most 9 significant digits; a double keeps 15).
"""

from __future__ import annotations

import enum
from decimal import ROUND_HALF_EVEN, Decimal

from pydantic import BaseModel, ConfigDict

MONEY_PLACES = Decimal("0.01")
MAX_AMOUNT = Decimal("1000000.00")
"""The largest amount we send or accept (NLE). Bounded so the float round trip is exact."""


class Product(enum.StrEnum):
    """A product that can be gifted (``product`` field)."""

    CSGO = "csgo"
    CS2 = "cs2"

    @property
    def label(self) -> str:
        return _PRODUCT_LABELS[self]


_PRODUCT_LABELS = {Product.CSGO: "CS:GO", Product.CS2: "CS2"}


class Plan(enum.IntEnum):
    """A subscription length; the value is the API's ``cnt``."""

    DAYS_30 = 0
    DAYS_90 = 1
    DAYS_180 = 2
    DAYS_365 = 3

    @property
    def days(self) -> int:
        return _PLAN_DAYS[self]

    @classmethod
    def from_days(cls, days: int) -> Plan:
        for plan, plan_days in _PLAN_DAYS.items():
            if plan_days == days:
                return plan
        raise ValueError(f"no plan lasts {days} days; choose one of 30, 90, 180, 365")


_PLAN_DAYS = {Plan.DAYS_30: 30, Plan.DAYS_90: 90, Plan.DAYS_180: 180, Plan.DAYS_365: 365}

DOCUMENTED_PLAN_PRICES = {
    Plan.DAYS_30: Decimal("17.10"),
    Plan.DAYS_90: Decimal("44.10"),
    Plan.DAYS_180: Decimal("80.10"),
    Plan.DAYS_365: Decimal("134.10"),
}
"""NLE prices printed in the docs; live prices come from ``get-prices``."""


class PlanPrice(BaseModel):
    """One row of ``get-prices``: the plan's length, its ``cnt`` and its price in NLE (= EUR) and RUB."""

    model_config = ConfigDict(frozen=True)

    days: int
    cnt: Plan
    nle: Decimal
    rub: Decimal


class Prices(BaseModel):
    """The price table of one product."""

    model_config = ConfigDict(frozen=True)

    product: Product
    plans: dict[Plan, PlanPrice]

    def price(self, plan: Plan) -> PlanPrice:
        return self.plans[plan]


class InviteStatus(BaseModel):
    """``is-user-invited``: ``user_invited`` is always true when the product is public."""

    model_config = ConfigDict(frozen=True)

    cheat_public: bool
    user_invited: bool

    @property
    def can_receive_gift(self) -> bool:
        return self.cheat_public or self.user_invited


def quantize_money(value: Decimal) -> Decimal:
    """Two decimal places (banker's rounding, only ever applied to values the API sent us)."""
    return value.quantize(MONEY_PLACES, rounding=ROUND_HALF_EVEN)


def amount_to_wire(amount: Decimal) -> float:
    """The JSON float for a validated amount; raises if the float would not round-trip exactly."""
    wire = float(amount)
    if Decimal(str(wire)) != amount:
        raise ValueError(f"amount {amount} does not survive the float round trip")
    return wire


def money_from_wire(value: object) -> Decimal:
    """A money value from a parsed answer (``Decimal`` or ``int`` with ``parse_float=Decimal``)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite():
        raise ValueError("expected a finite number")
    return quantize_money(number)
