"""The weekly digest schedule with an injectable clock: Monday 09:00 local, once per week, catch-up at start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.guild_config import ChannelKind, GuildConfig
from bot.settings import Settings
from bot.stats.digest import WEEK_KEY, DigestScheduler, latest_due, next_due, week_due
from bot.stats.periods import Period
from bot.storage import Database
from tests.stats.conftest import BERLIN, Clock


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


DIGEST_CHANNEL = 555


class Poster:
    def __init__(self) -> None:
        self.weeks: list[Period] = []
        self.channels: list[int] = []
        self.fail = False

    async def __call__(self, week: Period, channel_id: int) -> bool:
        if self.fail:
            raise RuntimeError("Discord said no")
        self.weeks.append(week)
        self.channels.append(channel_id)
        return True


@pytest.fixture
async def bare_config(tmp_path: Path, make_settings: Callable[..., Settings]) -> AsyncIterator[GuildConfig]:
    """No digest channel set."""
    db = await Database.open(tmp_path / "digest.sqlite3")
    yield GuildConfig(db, make_settings())
    await db.close()


@pytest.fixture
async def config(bare_config: GuildConfig) -> GuildConfig:
    """The digest channel set."""
    await bare_config.set_channel(ChannelKind.DIGEST, DIGEST_CHANNEL, updated_by=None)
    return bare_config


def week(first: date) -> Period:
    return Period(first, date.fromordinal(first.toordinal() + 6), BERLIN)


def test_due_moments_follow_local_time() -> None:
    # 2026-03-30 is the first Monday after the DST change: 09:00 CEST is 07:00 UTC.
    assert latest_due(berlin(2026, 3, 30, 9, 0), BERLIN) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    assert latest_due(berlin(2026, 3, 30, 8, 59), BERLIN) == datetime(2026, 3, 23, 8, 0, tzinfo=UTC)
    assert next_due(berlin(2026, 3, 30, 8, 59), BERLIN) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    assert next_due(berlin(2026, 3, 30, 9, 0), BERLIN) == datetime(2026, 4, 6, 7, 0, tzinfo=UTC)
    assert week_due(berlin(2026, 3, 30, 9, 0), BERLIN) == week(date(2026, 3, 23))
    assert week_due(berlin(2026, 3, 29, 23, 0), BERLIN) == week(date(2026, 3, 16))


async def test_monday_nine_once_per_week_and_catch_up(config: GuildConfig) -> None:
    clock = Clock()
    poster = Poster()
    digest = DigestScheduler(config, BERLIN, poster, clock=clock)
    await config.set_value(WEEK_KEY, "2026-W12")  # the digest of 16-22 March went out

    clock.now = berlin(2026, 3, 30, 8, 59, 59)
    assert await digest.tick() is None
    clock.now = berlin(2026, 3, 30, 9, 0)
    assert await digest.tick() == week(date(2026, 3, 23))
    assert await digest.tick() is None  # at most once per week
    clock.now = berlin(2026, 4, 5, 23, 59)
    assert await digest.tick() is None
    assert poster.weeks == [week(date(2026, 3, 23))]
    assert await config.value(WEEK_KEY) == "2026-W13"

    # Down over Monday 6 April: the missed digest is posted at the next start (Wednesday).
    clock.now = berlin(2026, 4, 8, 15, 0)
    assert await digest.tick() == week(date(2026, 3, 30))
    # Down for three weeks: only the latest due digest is posted, once.
    clock.now = berlin(2026, 4, 29, 10, 0)
    assert await digest.tick() == week(date(2026, 4, 20))
    assert await digest.tick() is None
    assert [w.first for w in poster.weeks] == [date(2026, 3, 23), date(2026, 3, 30), date(2026, 4, 20)]
    assert poster.channels == [DIGEST_CHANNEL] * 3


async def test_failed_post_is_tried_again_and_no_channel_claims_nothing(bare_config: GuildConfig) -> None:
    config = bare_config
    clock = Clock()
    poster = Poster()
    digest = DigestScheduler(config, BERLIN, poster, clock=clock)
    clock.now = berlin(2026, 3, 30, 9, 0)
    assert await digest.tick() is None
    assert await config.value(WEEK_KEY) is None
    assert poster.weeks == []
    await config.set_channel(ChannelKind.DIGEST, DIGEST_CHANNEL, updated_by=None)
    poster.fail = True
    assert await digest.tick() is None
    assert await config.value(WEEK_KEY) == ""
    poster.fail = False
    assert await digest.tick() == week(date(2026, 3, 23))
    await config.set_value(WEEK_KEY, "2026-W12")
    poster.fail = True
    clock.now = berlin(2026, 4, 6, 9, 0)
    assert await digest.tick() is None
    assert await config.value(WEEK_KEY) == "2026-W12"  # given back


async def test_concurrent_ticks_post_once(config: GuildConfig) -> None:
    clock = Clock()
    clock.now = berlin(2026, 3, 30, 9, 0)
    poster = Poster()
    digest = DigestScheduler(config, BERLIN, poster, clock=clock)
    results = await asyncio.gather(*(digest.tick() for _ in range(5)))
    assert [r for r in results if r is not None] == [week(date(2026, 3, 23))]
    assert len(poster.weeks) == 1


async def test_sleeps_until_monday_nine_at_most_an_hour(config: GuildConfig) -> None:
    clock = Clock()
    poster = Poster()
    digest = DigestScheduler(config, BERLIN, poster, clock=clock)
    clock.now = berlin(2026, 3, 30, 8, 30)
    assert digest.seconds_to_next() == 1800
    assert digest.seconds_to_next(failed=True) == 600
    clock.now = berlin(2026, 3, 30, 9, 0)
    assert digest.seconds_to_next() == 3600
    clock.now = berlin(2026, 3, 30, 8, 59, 59, 999999)
    assert digest.seconds_to_next() == 1.0

    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise asyncio.CancelledError

    clock.now = berlin(2026, 4, 1, 12, 0)  # started on a Wednesday: the missed digest goes out at once
    with pytest.raises(asyncio.CancelledError):
        await digest.run_forever(sleep)
    assert poster.weeks == [week(date(2026, 3, 23))]
    assert sleeps == [3600, 3600]
    poster.fail = True
    await config.set_value(WEEK_KEY, "")
    sleeps.clear()
    with pytest.raises(asyncio.CancelledError):
        await digest.run_forever(sleep)
    assert sleeps == [600, 600]  # a failed post is tried again after 10 minutes
