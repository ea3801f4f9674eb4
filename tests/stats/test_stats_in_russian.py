"""/stats, its export and the weekly digest in Russian (issue #19): a Russian member's /stats answer and a
digest posted with BOT_LOCALE=ru carry no English catalog text; the figures are the ones the English tests check."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any, cast

from bot.core import ResellerBot
from bot.market.journal import SpendingJournal
from bot.market.request_ids import RequestIdFactory
from bot.market.retry import RetryPolicy
from bot.stats.figures import Dimension, Figures, Totals
from bot.stats.forecast import Forecast
from bot.stats.periods import Period
from bot.stats.summary import stats_embed
from tests.fake_discord import FakeDiscord
from tests.i18n.leaks import english_in
from tests.plugins.bot import StartBot
from tests.stats.conftest import BERLIN, Clock, seed


async def _seeded(start_bot: StartBot, market_retry: RetryPolicy, **env: str) -> ResellerBot:
    bot = await start_bot(TIMEZONE="Europe/Berlin", **env)
    bot.market.retry = market_retry
    clock = Clock()
    ids = await RequestIdFactory.load(bot.db)
    journal = SpendingJournal(bot.db, bot.market, id_factory=ids, retry=market_retry, clock=clock)
    assert bot.webhooks is not None
    await seed(bot.db, journal, clock, bot.webhooks.store)
    return bot


def _embed_text(embed: dict[str, Any]) -> str:
    return json.dumps(embed, ensure_ascii=False)


async def test_stats_and_export_in_russian(
    start_bot: StartBot, fake_discord: FakeDiscord, market_retry: RetryPolicy
) -> None:
    await _seeded(start_bot, market_retry)
    fake_discord.user_locales[fake_discord.guild.members["staff"].id] = "ru"
    rec = await fake_discord.invoke_command("stats", {"from": "2026-03-27", "to": "2026-03-30"}, user="staff")
    await rec.wait_until(lambda r: bool(r.followups), timeout=15)
    embed = rec.followups[-1]["embeds"][0]
    text = _embed_text(embed)
    assert embed["title"] == "Статистика магазина"
    assert "с 2026-03-27 по 2026-03-30, дни по часовому поясу Europe/Berlin." in text
    assert "оплачено: 2, выручка 10.50 USD, 12.25 USDT; возвращено: 1" in text
    assert "2026-03-30: заказов 1, 12.25 USDT, потрачено 20.00 NLE" in text
    assert "Прогноз: " in text
    assert english_in(text) == []

    rec = await fake_discord.invoke_command(
        "stats", {"from": "2026-03-27", "to": "2026-03-30", "export": True}, user="staff"
    )
    await rec.wait_until(lambda r: "CSV" in r.all_text(), timeout=15)
    answer = rec.all_text()
    assert "Выгрузка CSV: с 2026-03-27 по 2026-03-30 (заказов: 5, операций: 6, событий вебхуков: 2)" in answer
    assert english_in(answer) == []


async def test_digest_in_the_channel_language(
    start_bot: StartBot, fake_discord: FakeDiscord, market_retry: RetryPolicy
) -> None:
    bot = await _seeded(start_bot, market_retry, BOT_LOCALE="ru")
    general = fake_discord.channels["general"]
    cog = cast(Any, bot.get_cog("Stats"))
    assert await cog.post_digest(Period(date(2026, 3, 23), date(2026, 3, 29), BERLIN), general.id)
    embed = fake_discord.messages("general")[-1]["embeds"][0]
    assert embed["title"] == "Итоги недели: с 2026-03-23 по 2026-03-29"
    text = _embed_text(embed)
    assert "По дням" in text
    assert english_in(text) == []


def test_every_breakdown_and_the_forecast_in_russian() -> None:
    period = Period(date(2026, 3, 1), date(2026, 3, 7), BERLIN)
    empty = Totals()
    for by in Dimension:
        figures = Figures(period, by, empty, empty, [], [])
        embed = stats_embed(figures, Forecast(Decimal("5"), Decimal("0"), 2), title="t", locale="ru")
        text = _embed_text(dict(embed))
        assert english_in(text) == [], by
        assert "Оплаченных заказов, ждущих баланса: 2." in text


def test_chart_texts_in_russian() -> None:
    from bot.stats import chart
    from bot.stats.figures import BreakdownRow

    period = Period(date(2026, 3, 1), date(2026, 3, 7), BERLIN)
    row = BreakdownRow("2026-03-01", 1, {"USD": Decimal("10.50")}, Decimal("1.05"))
    figures = Figures(period, Dimension.DAY, Totals(), Totals(), [row], [])
    russian = chart.render(figures, locale="ru")
    assert [s.title for s in russian.series] == ["Выручка (USD)", "Потрачено NLE (NLE)"]
    assert [s.values for s in russian.series] == [s.values for s in chart.render(figures).series]
    assert russian.png != chart.render(figures).png  # the title and axis labels are drawn in Russian
    blank = chart.render(Figures(period, Dimension.STAFF, Totals(), Totals(), [], []), locale="ru")
    assert blank.series[0].labels == ["(пусто)"]
