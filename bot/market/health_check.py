"""The Market API check behind ``reseller-bot check-config``: a signed ``get-balance`` call."""

from __future__ import annotations

from decimal import Decimal

import aiohttp

from bot.market.client import MarketClient
from bot.market.errors import MarketError, MarketFailure, MarketUnavailable
from bot.market.retry import RetryPolicy
from bot.settings import MarketSettings

CHECK_TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5)
CHECK_RETRY = RetryPolicy(attempts=2, base_delay=0.5, max_delay=1.0, max_retry_after=5.0)


async def check_balance(
    session: aiohttp.ClientSession, settings: MarketSettings, *, retry: RetryPolicy | None = None
) -> Decimal:
    """The account balance; raises :class:`MarketError` (wrong credentials, …), :class:`MarketUnavailable`
    or :class:`MarketProtocolError` with the precise problem."""
    client = MarketClient.from_settings(session, settings, retry=retry or CHECK_RETRY, timeout=CHECK_TIMEOUT)
    return await client.get_balance()


def describe_balance(balance: Decimal) -> str:
    return f"Market API OK: balance {balance:.2f} NLE"


def describe_failure(exc: MarketFailure, settings: MarketSettings) -> str:
    """One line for an operator; never contains the secret."""
    if isinstance(exc, MarketError):
        return f"Market API refused the request: {exc.text} (check MARKET_USER_ID and MARKET_SECRET)"
    if isinstance(exc, MarketUnavailable):
        return f"Market API unreachable at {settings.base_url}: {exc}"
    return f"Market API answered unexpectedly at {settings.base_url}: {exc}"
