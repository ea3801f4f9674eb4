"""/stats, /stats export:true, /balance's forecast and the digest channel, end to end through the fake Discord."""

from __future__ import annotations

import sys
from datetime import date
from decimal import Decimal
from typing import Any, cast

import pytest

from bot.core import ResellerBot
from bot.guild_config import ChannelKind
from bot.market.journal import SpendingJournal
from bot.market.request_ids import RequestIdFactory
from bot.market.retry import RetryPolicy
from bot.market.simulator.runner import RunningSimulator
from bot.stats.digest import WEEK_KEY
from bot.stats.periods import Period, iso_week
from tests.fake_discord import FakeDiscord, InteractionRecord
from tests.plugins.bot import StartBot
from tests.stats.conftest import BERLIN, Clock, seed


async def _bot(start_bot: StartBot, market_retry: RetryPolicy) -> ResellerBot:
    bot = await start_bot(TIMEZONE="Europe/Berlin")
    bot.market.retry = market_retry
    return bot


async def _seed(bot: ResellerBot, market_retry: RetryPolicy) -> None:
    clock = Clock()
    ids = await RequestIdFactory.load(bot.db)
    journal = SpendingJournal(bot.db, bot.market, id_factory=ids, retry=market_retry, clock=clock)
    assert bot.webhooks is not None
    await seed(bot.db, journal, clock, bot.webhooks.store)


async def _answer(rec: InteractionRecord) -> dict[str, Any]:
    await rec.wait_until(lambda r: bool(r.followups), timeout=15)
    return rec.followups[-1]


async def test_stats_answers_with_figures_and_a_png(
    start_bot: StartBot, fake_discord: FakeDiscord, market_retry: RetryPolicy
) -> None:
    bot = await _bot(start_bot, market_retry)
    await _seed(bot, market_retry)
    rec = await fake_discord.invoke_command("stats", {"from": "2026-03-27", "to": "2026-03-30"}, user="staff")
    await rec.wait_response()
    assert rec.deferred
    assert rec.ephemeral
    message = await _answer(rec)
    assert [(a["filename"], a["size"] > 1000) for a in message["attachments"]] == [("stats.png", True)]
    embed = message["embeds"][0]
    assert embed["image"]["url"] == "attachment://stats.png"
    text = rec.all_text()
    assert "2026-03-27 to 2026-03-30, days in Europe/Berlin." in text
    assert "Orders: 2 paid, revenue 10.50 USD, 12.25 USDT; 1 refunded" in text
    assert "2026-03-30: 1 orders, 12.25 USDT, 20.00 NLE spent" in text
    assert "Balance: " in text
    assert "Forecast: " in text
    fake_discord.assert_no_violations()


async def test_stats_public_by_product(
    start_bot: StartBot, fake_discord: FakeDiscord, market_retry: RetryPolicy
) -> None:
    bot = await _bot(start_bot, market_retry)
    await _seed(bot, market_retry)
    rec = await fake_discord.invoke_command(
        "stats", {"from": "2026-03-27", "to": "2026-03-30", "by": "product", "public": True}, user="staff"
    )
    await rec.wait_response()
    assert not rec.ephemeral
    await _answer(rec)
    assert "marketplace: 1 orders, 12.25 USDT, 20.00 NLE spent" in rec.all_text()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"from": "31.03.2026"}, "`31.03.2026` is not a date; use YYYY-MM-DD"),
        ({"to": "2026-03-01"}, "give a `from` date"),
        ({"from": "2026-03-05", "to": "2026-03-01"}, "the end date is before the start date"),
        # the ends of the calendar: the period's UTC bounds (or the previous period's) do not exist
        ({"from": "9999-12-01", "to": "9999-12-31"}, "`9999-12-01` is out of range; use a date from 2000-01-01"),
        ({"from": "0001-01-01", "to": "0001-01-05"}, "`0001-01-01` is out of range; use a date from 2000-01-01"),
        ({"from": "2026-03-01", "to": "3000-01-01"}, "`3000-01-01` is out of range"),
    ],
)
async def test_stats_bad_dates(
    start_bot: StartBot, fake_discord: FakeDiscord, market_retry: RetryPolicy, options: dict[str, Any], expected: str
) -> None:
    await _bot(start_bot, market_retry)
    rec = await fake_discord.invoke_command("stats", options, user="staff")
    await rec.wait_response()
    await _answer(rec)
    assert expected in rec.all_text()


async def test_stats_is_staff_only(start_bot: StartBot, fake_discord: FakeDiscord, market_retry: RetryPolicy) -> None:
    await _bot(start_bot, market_retry)
    rec = await fake_discord.invoke_command("stats", {}, user="member")
    await rec.wait_response()
    assert rec.ephemeral
    await rec.wait_until(lambda r: "Only staff" in r.all_text())


async def test_stats_export_gives_three_csv_files(
    start_bot: StartBot, fake_discord: FakeDiscord, market_retry: RetryPolicy
) -> None:
    bot = await _bot(start_bot, market_retry)
    await _seed(bot, market_retry)
    rec = await fake_discord.invoke_command(
        "stats", {"from": "2026-03-27", "to": "2026-03-30", "export": True}, user="staff"
    )
    await rec.wait_response()
    message = await _answer(rec)
    assert [a["filename"] for a in message["attachments"]] == [
        "orders-2026-03-27_2026-03-30.csv",
        "operations-2026-03-27_2026-03-30.csv",
        "webhook-events-2026-03-27_2026-03-30.csv",
    ]
    assert "CSV export of 2026-03-27 to 2026-03-30 (5 orders, 6 operations, 2 webhook events)" in rec.all_text()


async def test_balance_shows_the_forecast(
    start_bot: StartBot, fake_discord: FakeDiscord, market_sim: RunningSimulator, market_retry: RetryPolicy
) -> None:
    bot = await _bot(start_bot, market_retry)
    # Two staff transfers now (the bot's own clock): 70.00 NLE in the last 7 days = 10.00 NLE/day.
    for _ in range(2):
        op = await bot.journal.execute(
            "transfer-money", {"username": "a49", "amount": "35.00"}, requested_by=1, amount_nle=None
        )
        assert op.result is not None
    market_sim.state.balance = Decimal("25.00")
    rec = await fake_discord.invoke_command("balance", {}, user="staff")
    await rec.wait_response()
    await rec.wait_until(lambda r: "Forecast" in r.all_text())
    assert "Forecast: about 2.5 days left at 10.00 NLE/day (last 7 days)." in rec.all_text()


async def test_digest_channel_and_post(
    start_bot: StartBot, fake_discord: FakeDiscord, market_retry: RetryPolicy
) -> None:
    bot = await _bot(start_bot, market_retry)
    await _seed(bot, market_retry)
    general = fake_discord.channels["general"]
    rec = await fake_discord.invoke_command(
        "setup", {"kind": "digest", "channel": general}, user="owner", subcommand="notifications"
    )
    await rec.wait_response()
    assert "Digest notifications now go to" in rec.all_text()
    assert await bot.guild_config.channel_id(ChannelKind.DIGEST) == general.id
    cog = cast(Any, bot.get_cog("Stats"))
    assert await cog.post_digest(Period(date(2026, 3, 23), date(2026, 3, 29), BERLIN), general.id)
    posted = fake_discord.messages("general")[-1]
    assert posted["embeds"][0]["title"] == "Weekly digest: 2026-03-23 to 2026-03-29"
    assert [a["filename"] for a in posted["attachments"]] == ["stats.png"]
    # The scheduler started with the bot and, with no channel at start, claimed no week.
    assert await bot.guild_config.value(WEEK_KEY) is None
    # Its next look finds the channel: the due week's digest goes there through the cog, and the week is claimed.
    week = await cog.digest.tick()
    assert week is not None
    posted = fake_discord.messages("general")[-1]
    assert posted["embeds"][0]["title"] == f"Weekly digest: {week.label}"
    assert [a["filename"] for a in posted["attachments"]] == ["stats.png"]
    assert await bot.guild_config.value(WEEK_KEY) == iso_week(week.first)
    assert await cog.digest.tick() is None  # once per week


async def test_stats_export_too_large(
    start_bot: StartBot, fake_discord: FakeDiscord, market_retry: RetryPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await _bot(start_bot, market_retry)
    await _seed(bot, market_retry)
    module = sys.modules[type(bot.get_cog("Stats")).__module__]  # the copy the extension loader imported
    monkeypatch.setattr(module, "MAX_UPLOAD", 100)
    rec = await fake_discord.invoke_command(
        "stats", {"from": "2026-03-27", "to": "2026-03-30", "export": True}, user="staff"
    )
    await rec.wait_response()
    message = await _answer(rec)
    assert message["attachments"] == []
    assert "larger than Discord accepts (8 MB); choose a shorter period" in rec.all_text()
