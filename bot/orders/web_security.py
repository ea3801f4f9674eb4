"""What every checkout page and form shares: security headers, the CSRF checks, the per-address rate limit.

- Headers on every response: ``Content-Security-Policy: default-src 'self'; frame-ancestors 'none'; ...``
  (the CSS and the few lines of JavaScript are files on this server), ``Referrer-Policy: no-referrer``,
  ``Cache-Control: no-store``, ``X-Content-Type-Options: nosniff``.
- A POST passes when its form token equals the order's (``hmac.compare_digest``) AND its origin is ours:
  ``Origin`` naming this host (or ``PUBLIC_BASE_URL``); or, where the no-referrer policy makes a browser send
  ``Origin: null``, ``Sec-Fetch-Site: same-origin``. A cross-site ``Sec-Fetch-Site`` always fails. A client
  sending neither header (not a browser) needs the form token only.
- POSTs are limited per client address with a token bucket (:class:`RateLimiter`).
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def secure(response: web.StreamResponse) -> web.StreamResponse:
    """Add :data:`SECURITY_HEADERS` to ``response`` and return it."""
    response.headers.update(SECURITY_HEADERS)
    return response


def same_origin(request: web.Request, *, public_origin: str | None) -> bool:
    """Whether a POST comes from our own page (see the module docstring)."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site != "same-origin":
        return False
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return fetch_site == "same-origin" or (origin is None and fetch_site is None)
    if public_origin is not None and origin == public_origin:
        return True
    try:
        parts = urlsplit(origin)
    except ValueError:  # "http://[::1": not an origin at all
        return False
    return parts.scheme in ("http", "https") and parts.netloc == request.host and not parts.path


def origin_of(url: str | None) -> str | None:
    """``https://shop.example/x`` → ``https://shop.example``."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def form_token_ok(expected: str, given: object) -> bool:
    return isinstance(given, str) and hmac.compare_digest(expected.encode(), given.encode())


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """A token bucket per client address: ``burst`` requests at once, refilled at ``per_minute``."""

    def __init__(
        self,
        *,
        per_minute: float = 20,
        burst: int = 10,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, key: str) -> float:
        """0 when allowed (and counted); otherwise the seconds to wait before the next request passes."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    def _prune(self, now: float) -> None:
        full = [key for key, b in self._buckets.items() if b.tokens + (now - b.stamp) * self.rate >= self.burst]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self._max_keys:
            self._buckets.clear()


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
