"""The provider's signing keys (JWKS), fetched with the bot's aiohttp session and cached.

Why not ``jwt.PyJWKClient``: it fetches with ``urllib`` synchronously, which would block the event loop
during a sign-in and bypass the bot's one ``ClientSession`` (its timeouts and User-Agent). Here the JWKS is
fetched with aiohttp and each key is built with PyJWT's ``PyJWK`` (the verification itself stays PyJWT's).

A token naming a key id the cache does not have triggers one refresh (discovery first, since ``jwks_uri`` may
have moved, then the JWKS), at most once per :data:`MIN_REFETCH`: after a rotation the new key is found; a key
that is still unknown after that is refused, and a stream of tokens with made-up key ids cannot make the bot
hammer the provider.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from bot.linking.fetch import Unreachable, fetch_json

log = logging.getLogger(__name__)

MIN_REFETCH = timedelta(minutes=1)
MAX_JWKS_BYTES = 256 * 1024

Clock = Callable[[], datetime]


class KeysUnavailable(Exception):
    """The JWKS could not be fetched (connection, timeout, 5xx)."""


class KeysInvalid(Exception):
    """The JWKS answer is not a JWK Set."""


@dataclass
class _Cached:
    keys: list[dict[str, Any]]
    fetched_at: datetime


@dataclass
class SigningKeys:
    """JWKs by ``jwks_uri``; :meth:`find` returns the raw JWK (a dict) for a key id."""

    session: aiohttp.ClientSession
    clock: Clock
    before_refetch: Callable[[], Awaitable[object]] | None = None
    min_refetch: timedelta = MIN_REFETCH
    _cache: dict[str, _Cached] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def find(
        self, jwks_uri: str, kid: str | None, *, current_uri: Callable[[], str | None]
    ) -> dict[str, Any] | None:
        """The signing key named ``kid`` (or the only signing key when the token names none), else ``None``.

        ``current_uri`` reads the JWKS URI again after the refetch hook ran (discovery may have moved it).
        """
        async with self._lock:
            cached = self._cache.get(jwks_uri)
            if cached is None:
                cached = await self._load(jwks_uri)
            found = _pick(cached.keys, kid)
            if found is not None:
                return found
            if self.clock() - cached.fetched_at < self.min_refetch:
                log.warning("oidc signing key unknown kid=%s refetch=skipped (fetched recently)", _safe(kid))
                return None
            if self.before_refetch is not None:
                await self.before_refetch()
            uri = current_uri()
            if uri is None:  # discovery was just refused: no key is trusted until it is accepted again
                log.warning("oidc signing key unknown kid=%s refetch=no discovery", _safe(kid))
                return None
            cached = await self._load(uri)
            found = _pick(cached.keys, kid)
            if found is None:
                log.warning("oidc signing key unknown kid=%s refetch=done", _safe(kid))
            return found

    async def _load(self, uri: str) -> _Cached:
        try:
            answer = await fetch_json(self.session, uri, limit=MAX_JWKS_BYTES)
        except Unreachable as exc:
            log.warning("oidc jwks unreachable error=%s", exc)
            raise KeysUnavailable("jwks unreachable") from None
        status = answer.status
        if status >= 500:
            log.warning("oidc jwks unavailable status=%d", status)
            raise KeysUnavailable(f"jwks answered {status}")
        document = answer.document
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list):
            log.warning("oidc jwks invalid status=%d", status)
            raise KeysInvalid("not a JWK Set")
        usable = [key for key in keys if isinstance(key, dict) and key.get("use", "sig") == "sig"]
        cached = _Cached(usable, self.clock())
        self._cache = {uri: cached}
        log.info("oidc jwks loaded keys=%d", len(usable))
        return cached


def _pick(keys: list[dict[str, Any]], kid: str | None) -> dict[str, Any] | None:
    if kid is None:
        return keys[0] if len(keys) == 1 else None
    return next((key for key in keys if key.get("kid") == kid), None)


def _safe(kid: str | None) -> str:
    """A key id fit for a log line (it comes from an unverified header)."""
    if kid is None:
        return "-"
    text = "".join(ch for ch in kid[:40] if ch.isalnum() or ch in "-_.")
    return text or "?"
