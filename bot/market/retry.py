"""Backoff policy: capped exponential delays with jitter, honouring ``Retry-After``.

Used by the client for read-only calls and by the journal for mutating calls (which it retries with the
same request id); :func:`with_retries` is the retry loop of the Market and Crypto Pay clients' safe calls.
Tests shrink the delays through the constructor and may inject ``sleep``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` counts every try (the first included); delays grow ``base_delay * 2**n`` up to ``max_delay``.

    ``jitter`` is the random fraction of each delay (1.0 = "full jitter"). A ``Retry-After`` from the
    server raises the delay to that many seconds, itself capped at ``max_retry_after``.
    """

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.5
    max_retry_after: float = 60.0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False, compare=False)
    rand: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if min(self.base_delay, self.max_delay, self.max_retry_after) < 0 or not 0 <= self.jitter <= 1:
            raise ValueError("delays must be >= 0 and jitter within 0..1")

    @classmethod
    def immediate(cls, attempts: int = 4) -> RetryPolicy:
        """No waiting at all (tests)."""
        return cls(attempts=attempts, base_delay=0.0, max_delay=0.0, max_retry_after=0.0)

    def delay(self, retry_number: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry_number`` (1 = the first retry)."""
        cap = min(self.max_delay, self.base_delay * (2.0 ** max(retry_number - 1, 0)))
        wait = cap * (1.0 - self.jitter + self.jitter * self.rand())
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait

    async def wait(self, retry_number: int, retry_after: float | None = None) -> float:
        seconds = self.delay(retry_number, retry_after)
        if seconds > 0:
            await self.sleep(seconds)
        return seconds


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None when absent or invalid."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


async def with_retries(
    policy: RetryPolicy,
    method: str,
    attempt: Callable[[], Awaitable[T]],
    *,
    retry_on: type[Exception],
    service: str,
) -> T:
    """Run ``attempt`` until it does not raise ``retry_on``, at most ``policy.attempts`` times.

    ``retry_on`` is a client's "no usable answer" failure (``MarketUnavailable``, ``CryptoPayUnavailable``):
    its ``retry_after`` (seconds, or ``None``) and ``status`` are honoured and logged. The last failure is
    raised as it is. ``service`` names the API in the log line (``market retry method=…``).
    """
    for number in range(1, policy.attempts + 1):
        try:
            return await attempt()
        except retry_on as exc:
            if number >= policy.attempts:
                raise
            status = getattr(exc, "status", None)
            waited = await policy.wait(number, getattr(exc, "retry_after", None))
            log.info(
                "%s retry method=%s attempt=%d status=%s waited_s=%.3f", service, method, number + 1, status, waited
            )
    raise AssertionError("unreachable")  # pragma: no cover
