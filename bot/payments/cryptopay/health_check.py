"""The Crypto Pay check behind ``reseller-bot check-config``: ``getMe`` with the configured token."""

from __future__ import annotations

import aiohttp

from bot.market.retry import RetryPolicy
from bot.payments.cryptopay.client import CryptoPayClient
from bot.payments.cryptopay.errors import CryptoPayError, CryptoPayFailure, CryptoPayUnavailable
from bot.payments.cryptopay.models import App
from bot.settings import CryptoPaySettings

CHECK_TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5)
CHECK_RETRY = RetryPolicy(attempts=2, base_delay=0.5, max_delay=1.0, max_retry_after=5.0)


async def check_app(
    session: aiohttp.ClientSession, settings: CryptoPaySettings, *, retry: RetryPolicy | None = None
) -> App:
    """The app the token belongs to; raises a :class:`CryptoPayFailure` with the precise problem."""
    if settings.token is None:
        raise ValueError("CRYPTOPAY_TOKEN is not set")
    client = CryptoPayClient(
        session,
        api_base=settings.api_base,
        token=settings.token.get_secret_value(),
        retry=retry or CHECK_RETRY,
        timeout=CHECK_TIMEOUT,
    )
    return await client.get_me()


def describe_app(app: App, settings: CryptoPaySettings) -> str:
    return f"Crypto Pay OK: app {app.name!r} (id {app.app_id}) at {settings.api_base}."


def describe_failure(exc: CryptoPayFailure, settings: CryptoPaySettings) -> str:
    """One line for an operator; never contains the token."""
    if isinstance(exc, CryptoPayError):
        hint = " (check CRYPTOPAY_TOKEN" + (
            ", and CRYPTOPAY_API_BASE: a testnet token works only with https://testnet-pay.crypt.bot/api)"
            if exc.name == "UNAUTHORIZED"
            else ")"
        )
        return f"Crypto Pay refused getMe at {settings.api_base}: {exc.name}{hint}"
    if isinstance(exc, CryptoPayUnavailable):
        return f"Crypto Pay unreachable at {settings.api_base}: {exc}"
    return f"Crypto Pay answered unexpectedly at {settings.api_base}: {exc}"
