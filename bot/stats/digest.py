"""The weekly digest: last week's figures and chart, every Monday at 09:00 in ``TIMEZONE``.

The digest due at a moment covers the week (Monday to Sunday) before the latest Monday 09:00 that has passed.
The ISO week it covers is kept in ``guild_config`` (key ``stats.digest_week``) and written BEFORE posting:
the digest is posted at most once per week, whatever restarts. A failed post gives the week back so it is
tried again at the next look; a digest missed while the bot was down is posted at start (only the latest
one: older weeks are not posted late). While no digest channel is set, nothing is posted and no week is
claimed. The clock and the sleep are injectable for tests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.guild_config import ChannelKind, GuildConfig
from bot.stats.periods import Period, iso_week, week_of

log = logging.getLogger(__name__)

WEEK_KEY = "stats.digest_week"
POST_AT = time(9, 0)
RETRY_AFTER = timedelta(minutes=10)
MAX_SLEEP = timedelta(hours=1)

Poster = Callable[[Period, int], Awaitable[bool]]
"""Posts the digest of a week to the digest channel (its id); ``False`` when it cannot post there."""


def _monday_at_nine(day_local: datetime, zone: ZoneInfo) -> datetime:
    monday = day_local.date() - timedelta(days=day_local.weekday())
    return datetime.combine(monday, POST_AT).replace(tzinfo=zone)


def latest_due(now: datetime, zone: ZoneInfo) -> datetime:
    """The latest Monday 09:00 (local) at or before ``now``, as an aware UTC moment."""
    local = now.astimezone(zone)
    moment = _monday_at_nine(local, zone)
    if moment > local:
        moment = _monday_at_nine(local - timedelta(days=7), zone)
    return moment.astimezone(UTC)


def next_due(now: datetime, zone: ZoneInfo) -> datetime:
    """The first Monday 09:00 (local) after ``now``."""
    local = now.astimezone(zone)
    moment = _monday_at_nine(local, zone)
    if moment <= local:
        moment = _monday_at_nine(local + timedelta(days=7), zone)
    return moment.astimezone(UTC)


def week_due(now: datetime, zone: ZoneInfo) -> Period:
    """The week the digest due at ``now`` covers: the one before the latest Monday 09:00."""
    monday = latest_due(now, zone).astimezone(zone).date()
    return week_of(monday - timedelta(days=7), zone)


class DigestScheduler:
    def __init__(
        self,
        config: GuildConfig,
        zone: ZoneInfo,
        post: Poster,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._config = config
        self.zone = zone
        self._post = post
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = asyncio.Lock()

    async def tick(self) -> Period | None:
        """Post the due digest if it was not posted yet; returns the week posted (``None``: nothing done)."""
        async with self._lock:
            week = week_due(self._clock(), self.zone)
            key = iso_week(week.first)
            last = await self._config.value(WEEK_KEY)
            if last is not None and last >= key:
                return None
            channel_id = await self._config.channel_id(ChannelKind.DIGEST)
            if channel_id is None:
                return None  # nowhere to post yet: nothing claimed
            await self._config.set_value(WEEK_KEY, key)  # claimed first: at most once per week
            try:
                posted = await self._post(week, channel_id)
            except Exception:
                log.exception("weekly digest failed week=%s", key)
                posted = False
            if not posted:
                if last is None:
                    await self._config.set_value(WEEK_KEY, "")
                else:
                    await self._config.set_value(WEEK_KEY, last)
                return None
            log.info("weekly digest posted week=%s", key)
            return week

    def seconds_to_next(self, *, failed: bool = False) -> float:
        now = self._clock()
        wait = next_due(now, self.zone) - now
        cap = RETRY_AFTER if failed else MAX_SLEEP
        return max(1.0, min(wait, cap).total_seconds())

    async def run_forever(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """Catch up at start, then look again at each Monday 09:00 (and at least hourly)."""
        while True:
            failed = False
            try:
                posted = await self.tick()
                failed = posted is None and await self._pending()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("weekly digest check failed")
                failed = True
            await sleep(self.seconds_to_next(failed=failed))

    async def _pending(self) -> bool:
        key = iso_week(week_due(self._clock(), self.zone).first)
        last = await self._config.value(WEEK_KEY)
        return last is None or last < key
