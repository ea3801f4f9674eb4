"""Before payment is offered: can the bot deliver this order? And in which currency, at which prices?

Checks, in order (the first failure is the reason): a price for the product key in the price table for at
least one enabled method; the recipient exists on Neverlose (``is-user-exists``); for products, they may
receive it (``is-user-invited``: public product or invited); the reseller's Market balance covers the cost
(``get-prices`` for the plan, or the NLE amount). When Neverlose cannot answer, the reason is
``market_unavailable`` (checked again later).

**Currency rule** (``docs/checkout.md``): the order's currency is the first currency, in alphabetical order
(the price table's order), that every enabled and priced method prices; when the methods share none, the
first currency any of them prices, and only the methods pricing it are offered. A marketplace order costs
the price of 1 NLE times the amount, rounded UP to the price's decimal places (at least 2).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_UP, Decimal
from typing import Protocol

from bot.market.errors import MarketFailure
from bot.market.models import InviteStatus, Prices, Product
from bot.shop.catalog import PaymentMethod, ProductKey
from bot.shop.price_table import PriceEntry, method_prices

log = logging.getLogger(__name__)


class MarketReader(Protocol):
    """The read-only part of ``MarketClient`` used here."""

    async def get_balance(self) -> Decimal: ...
    async def get_prices(self, product: Product | str) -> Prices: ...
    async def is_user_exists(self, username: str) -> bool: ...
    async def is_user_invited(self, username: str, product: Product | str) -> InviteStatus: ...


class BlockReason(enum.StrEnum):
    NO_PRICE = "no_price"
    USER_NOT_FOUND = "user_not_found"
    NOT_INVITED = "not_invited"
    LOW_BALANCE = "low_balance"
    MARKET_UNAVAILABLE = "market_unavailable"

    @property
    def customer_text(self) -> str:
        return _CUSTOMER[self]

    @property
    def staff_text(self) -> str:
        return _STAFF[self]

    @property
    def shop_wide(self) -> bool:
        """The reason concerns the shop, not this order (every waiting order meets it)."""
        return self in (BlockReason.LOW_BALANCE, BlockReason.MARKET_UNAVAILABLE)


_CUSTOMER = {
    BlockReason.NO_PRICE: "This product is not on sale here at the moment.",
    BlockReason.USER_NOT_FOUND: "We could not find this Neverlose account. Check the login on Neverlose's site.",
    BlockReason.NOT_INVITED: "This Neverlose account cannot receive this product yet (it needs an invitation).",
    BlockReason.LOW_BALANCE: "We cannot deliver this right now. Nothing has been charged; please try again later.",
    BlockReason.MARKET_UNAVAILABLE: "We cannot reach Neverlose right now. Nothing has been charged; "
    "this page checks again by itself.",
}
_STAFF = {
    BlockReason.NO_PRICE: "no price (or no enabled payment method) for this product",
    BlockReason.USER_NOT_FOUND: "the login does not exist on Neverlose",
    BlockReason.NOT_INVITED: "the login is not invited to this product",
    BlockReason.LOW_BALANCE: "the Market balance is too low",
    BlockReason.MARKET_UNAVAILABLE: "the Market API did not answer",
}


@dataclass(frozen=True, slots=True)
class Offer:
    """The order's currency and what each offered method charges in it."""

    currency: str
    prices: dict[PaymentMethod, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PrecheckResult:
    reason: BlockReason | None
    offer: Offer | None = None
    nle_cost: Decimal | None = None
    detail: str = ""
    """For staff: the figures behind a refusal (balance, cost)."""

    @property
    def ok(self) -> bool:
        return self.reason is None


def charge(unit_price: Decimal, nle: Decimal | None) -> Decimal:
    """The amount for one order: the price, or price x NLE rounded up to the price's places (at least 2)."""
    if nle is None:
        return unit_price
    exponent = unit_price.as_tuple().exponent
    places = max(2, -exponent if isinstance(exponent, int) else 2)
    return (unit_price * nle).quantize(Decimal(1).scaleb(-places), rounding=ROUND_UP)


def choose_offer(
    entries: Sequence[PriceEntry], key: ProductKey, enabled: Sequence[PaymentMethod], nle: Decimal | None
) -> Offer | None:
    """Apply the currency rule (module docstring); ``None`` when no enabled method has a price."""
    by_method = method_prices(entries, key, enabled)
    if not by_method:
        return None
    currencies = sorted({currency for prices in by_method.values() for currency in prices})
    common = [c for c in currencies if all(c in prices for prices in by_method.values())]
    currency = common[0] if common else currencies[0]
    prices = {m: charge(p[currency], nle) for m, p in by_method.items() if currency in p}
    return Offer(currency, prices)


def offer_prices(offer: Offer, methods: Mapping[PaymentMethod, object]) -> dict[PaymentMethod, Decimal]:
    """The offer's prices restricted to ``methods`` (registered providers)."""
    return {m: p for m, p in offer.prices.items() if m in methods}


async def run_prechecks(
    market: MarketReader,
    *,
    login: str,
    key: ProductKey,
    nle: Decimal | None,
    entries: Sequence[PriceEntry],
    enabled: Sequence[PaymentMethod],
) -> PrecheckResult:
    """Every check, in the documented order; the first failure is the result's reason."""
    offer = choose_offer(entries, key, enabled, nle)
    if offer is None:
        return PrecheckResult(BlockReason.NO_PRICE)
    try:
        if not await market.is_user_exists(login):
            return PrecheckResult(BlockReason.USER_NOT_FOUND, offer)
        if key.product is not None and key.plan is not None:
            invite = await market.is_user_invited(login, key.product)
            if not invite.can_receive_gift:
                return PrecheckResult(BlockReason.NOT_INVITED, offer)
            cost = (await market.get_prices(key.product)).price(key.plan).nle
        else:
            if nle is None:  # pragma: no cover - a marketplace order always has its amount
                raise ValueError("a marketplace order needs its NLE amount")  # pragma: no mutate
            cost = nle
        balance = await market.get_balance()
    except MarketFailure as exc:
        log.warning("order pre-check could not reach the Market problem=%s", type(exc).__name__)  # pragma: no mutate
        return PrecheckResult(BlockReason.MARKET_UNAVAILABLE, offer)
    if balance < cost:
        return PrecheckResult(BlockReason.LOW_BALANCE, offer, cost, f"balance {balance} NLE, cost {cost} NLE")
    return PrecheckResult(None, offer, cost)
