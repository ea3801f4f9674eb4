"""Shop-wide Market reads for the pre-checks, shared for a few seconds: the balance and the plan prices.

Every new order's pre-checks ask ``get-balance`` and (products) ``get-prices``; they are the same for every
order, so a burst of orders asks Neverlose once per :data:`SHARED_FOR` instead of once per order, and callers
arriving while a request is in flight wait for that one. Per-customer reads (``is-user-exists``,
``is-user-invited``) are never shared. Failures are not kept: the next caller asks again. The pre-checks are
advice before payment; delivery itself never relies on this (a refused gift is handled as such).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from bot.market.models import InviteStatus, Prices, Product
from bot.orders.prechecks import MarketReader

SHARED_FOR = 10.0  # seconds


class SharedMarketReads:
    """A :class:`MarketReader` that shares ``get_balance`` and ``get_prices`` answers for ``ttl`` seconds."""

    def __init__(self, market: MarketReader, *, ttl: float = SHARED_FOR, clock: Callable[[], float] = time.monotonic):
        self._market = market
        self._ttl = ttl
        self._clock = clock
        self._values: dict[str, tuple[float, Any]] = {}
        self._inflight: dict[str, asyncio.Future[Any]] = {}

    async def _shared(self, key: str, fetch: Callable[[], Awaitable[Any]]) -> Any:
        kept = self._values.get(key)
        if kept is not None and self._clock() - kept[0] < self._ttl:
            return kept[1]
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await fetch()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        finally:
            del self._inflight[key]
        self._values[key] = (self._clock(), value)
        future.set_result(value)
        return value

    async def get_balance(self) -> Decimal:
        value: Decimal = await self._shared("balance", self._market.get_balance)
        return value

    async def get_prices(self, product: Product | str) -> Prices:
        name = product.value if isinstance(product, Product) else product
        value: Prices = await self._shared(f"prices:{name}", lambda: self._market.get_prices(product))
        return value

    async def is_user_exists(self, username: str) -> bool:
        return await self._market.is_user_exists(username)

    async def is_user_invited(self, username: str, product: Product | str) -> InviteStatus:
        return await self._market.is_user_invited(username, product)
