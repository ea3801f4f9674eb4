"""Wiring of the Crypto Pay method: client, store, provider and the webhook route.

``bot/core.py`` builds it only when the shop is enabled and ``CRYPTOPAY_TOKEN`` is set, registers the provider
with the order service, gives it the order side (:class:`~bot.orders.cryptopay_events.OrderPaymentEvents`),
adds the route and runs :meth:`CryptoPayProvider.run_forever` (the poll fallback) in the background.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
from aiohttp import web

from bot.market.retry import RetryPolicy
from bot.notifications.outbox import Outbox
from bot.payments.cryptopay.client import CryptoPayClient
from bot.payments.cryptopay.provider import CryptoPayProvider
from bot.payments.cryptopay.signature import webhook_key
from bot.payments.cryptopay.store import CryptoPayStore
from bot.payments.cryptopay.webhook import cryptopay_webhook_handler
from bot.settings import CryptoPaySettings
from bot.storage import Database

log = logging.getLogger(__name__)


@dataclass
class CryptoPayFeature:
    client: CryptoPayClient
    store: CryptoPayStore
    provider: CryptoPayProvider
    webhook_path: str
    _key: bytes

    @classmethod
    def create(
        cls,
        db: Database,
        session: aiohttp.ClientSession,
        settings: CryptoPaySettings,
        *,
        outbox: Outbox,
        wake: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        retry: RetryPolicy | None = None,
    ) -> CryptoPayFeature:
        if settings.token is None:
            raise ValueError("the Crypto Pay feature needs CRYPTOPAY_TOKEN")
        token = settings.token.get_secret_value()
        client = CryptoPayClient(session, api_base=settings.api_base, token=token, retry=retry)
        store = CryptoPayStore(db, outbox, clock=clock, wake=wake)
        provider = CryptoPayProvider(client, store, assets=settings.assets, clock=clock)
        return cls(client, store, provider, settings.webhook_path, webhook_key(token))

    def add_route(self, app: web.Application) -> None:
        handler = cryptopay_webhook_handler(self.store, self._key, on_recorded=self.provider.on_recorded)
        app.router.add_post(self.webhook_path, handler)
        log.info("cryptopay webhook route added path=%s", self.webhook_path)
