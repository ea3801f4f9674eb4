"""The per-staff daily spending limit and the per-member cooldown on spending commands.

The daily limit counts every spending operation the staff member requested since midnight UTC whose
outcome is succeeded, pending or unknown (``SpendingJournal.spent_since``): an operation that may have
been spent counts until it is known to have failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from bot.staff.errors import CooldownActive, DailyLimitExceeded

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def utc_midnight(now: datetime) -> datetime:
    """Start of the UTC day containing ``now``."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class SpentSource(Protocol):
    async def spent_since(self, requested_by: int, since: datetime) -> Decimal: ...


class LimitSource(Protocol):
    async def daily_limit(self) -> Decimal: ...


class DailyLimit:
    """Refuses an operation that would take a staff member past the daily limit (0 = no spending)."""

    def __init__(self, spent: SpentSource, config: LimitSource, *, clock: Clock = utc_now) -> None:
        self._spent = spent
        self._config = config
        self._clock = clock

    async def usage(self, staff_id: int) -> tuple[Decimal, Decimal]:
        """(spent today, limit) for ``staff_id``."""
        since = utc_midnight(self._clock())
        return await self._spent.spent_since(staff_id, since), await self._config.daily_limit()

    async def check(self, staff_id: int, amount: Decimal) -> None:
        spent, limit = await self.usage(staff_id)
        if spent + amount > limit:
            raise DailyLimitExceeded(spent=spent, amount=amount, limit=limit)


class Cooldown:
    """At most one spending command per ``seconds`` per member (in memory; a restart clears it)."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._last: dict[int, float] = {}

    def hit(self, member_id: int) -> None:
        """Record a use by ``member_id`` or raise :class:`CooldownActive` if the last one is too recent."""
        now = self._clock()
        last = self._last.get(member_id)
        if last is not None and now - last < self.seconds:
            raise CooldownActive(self.seconds - (now - last))
        self._last[member_id] = now
        if len(self._last) > 1024:  # forget members whose cooldown is long over
            self._last = {k: v for k, v in self._last.items() if now - v < self.seconds}
