"""Market pre-checks run in parallel before a confirmation is shown.

Each check answers with a precise reason (``darth is not invited to CS2; ask Neverlose staff to invite
them``, ``Balance 12.40 NLE, price 17.10 NLE``); every failing check is reported at once. When Neverlose
cannot answer a check, its typed failure (``MarketUnavailable``, ``MarketError``…) is raised instead.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, TypeVar

from bot.i18n.said import Lines, Said, nle
from bot.market.models import InviteStatus, Plan, PlanPrice, Prices, Product
from bot.staff.errors import PrecheckFailed

log = logging.getLogger(__name__)

T = TypeVar("T")


class MarketReader(Protocol):
    """The read-only part of ``MarketClient`` the pre-checks use."""

    async def get_balance(self) -> Decimal: ...
    async def get_prices(self, product: Product | str) -> Prices: ...
    async def is_user_exists(self, username: str) -> bool: ...
    async def is_user_invited(self, username: str, product: Product | str) -> InviteStatus: ...


@dataclass(frozen=True, slots=True)
class GiftCheck:
    price: PlanPrice
    balance: Decimal


@dataclass(frozen=True, slots=True)
class UserStatus:
    username: str
    exists: bool
    product: Product | None = None
    invite: InviteStatus | None = None


def _not_found(username: str) -> Said:
    return Said("staff.precheck.not_found", {"username": username})


def _not_invited(username: str, product: Product) -> Said:
    return Said("staff.precheck.not_invited", {"username": username, "product": product.label})


def _short_balance(balance: Decimal, price: Decimal) -> Said:
    return Said("staff.precheck.short_balance", {"balance": nle(balance), "price": nle(price)})


def _ok(result: T | BaseException) -> T:
    """A parallel call's value, or raise what it raised."""
    if isinstance(result, BaseException):
        raise result
    return result


class Prechecks:
    def __init__(self, market: MarketReader) -> None:
        self._market = market

    async def gift(self, username: str, product: Product, plan: Plan) -> GiftCheck:
        """User exists, invited (or product public), live price, balance — in parallel."""
        results = await asyncio.gather(
            self._market.is_user_exists(username),
            self._market.is_user_invited(username, product),
            self._market.get_prices(product),
            self._market.get_balance(),
            return_exceptions=True,
        )
        if results[0] is False:  # the invite check of an unknown user fails anyway: say the real reason
            raise PrecheckFailed.said_as(_not_found(username))
        _ok(results[0])
        invite, prices, balance = _ok(results[1]), _ok(results[2]), _ok(results[3])
        problems: list[Said] = []
        if not invite.can_receive_gift:
            problems.append(_not_invited(username, product))
        price = prices.plans.get(plan)
        if price is None:
            problems.append(Said("staff.precheck.no_price", {"days": plan.days, "product": product.label}))
        elif balance < price.nle:
            problems.append(_short_balance(balance, price.nle))
        if problems or price is None:
            log.info("precheck failed kind=gift username=%s problems=%d", username, len(problems))
            raise PrecheckFailed.said_as(Lines(tuple(problems)))
        return GiftCheck(price=price, balance=balance)

    async def give(self, username: str) -> None:
        """The recipient exists."""
        if not await self._market.is_user_exists(username):
            raise PrecheckFailed.said_as(_not_found(username))

    async def transfer(self, username: str, amount: Decimal) -> Decimal:
        """The recipient exists and the balance covers ``amount``; returns the balance."""
        exists, balance_or_error = await asyncio.gather(
            self._market.is_user_exists(username), self._market.get_balance(), return_exceptions=True
        )
        if exists is False:
            raise PrecheckFailed.said_as(_not_found(username))
        _ok(exists)
        balance = _ok(balance_or_error)
        if balance < amount:
            raise PrecheckFailed.said_as(
                Said("staff.precheck.short_transfer", {"balance": nle(balance), "amount": nle(amount)})
            )
        return balance

    async def user_status(self, username: str, product: Product | None) -> UserStatus:
        """Whether ``username`` exists and, for ``product``, whether they are invited or it is public."""
        if product is None:
            return UserStatus(username, await self._market.is_user_exists(username))
        exists, invite = await asyncio.gather(
            self._market.is_user_exists(username),
            self._market.is_user_invited(username, product),
            return_exceptions=True,
        )
        if exists is False:
            return UserStatus(username, False, product)
        _ok(exists)
        return UserStatus(username, True, product, _ok(invite))
