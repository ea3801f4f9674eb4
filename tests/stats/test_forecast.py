"""The balance forecast, the balance cache, and the low-balance alert and its recovery (once each)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal as D

import pytest

from bot.guild_config import GuildConfig
from bot.market.client import MarketClient
from bot.market.errors import MarketUnavailable
from bot.market.simulator.runner import RunningSimulator
from bot.notifications.outbox import Outbox
from bot.orders.models import OrderState
from bot.settings import Settings
from bot.stats.forecast import ALERT_KEY, BalanceCache, BalanceWatch, Forecast, Forecaster
from tests.stats.conftest import Seeded, utc


@pytest.mark.parametrize(
    ("balance", "spent", "waiting", "days", "low", "text"),
    [
        (D("20.00"), D("53.45"), 0, D("2.6"), True, "Forecast: about 2.6 days left at 7.64 NLE/day (last 7 days)."),
        (D("30.00"), D("70.00"), 0, D("3.0"), False, "Forecast: about 3.0 days left at 10.00 NLE/day (last 7 days)."),
        (D("29.99"), D("70.00"), 0, D("2.9"), True, "Forecast: about 2.9 days left at 10.00 NLE/day (last 7 days)."),
        (D("5"), D("0"), 0, None, False, "Forecast: no spending in the last 7 days, so no end in sight."),
        (
            D("500"),
            D("0"),
            2,
            None,
            True,
            "Forecast: no spending in the last 7 days, so no end in sight. 2 paid order(s) wait for balance.",
        ),
    ],
)
def test_forecast_arithmetic(balance: D, spent: D, waiting: int, days: D | None, low: bool, text: str) -> None:
    forecast = Forecast(balance, spent, waiting)
    assert forecast.days_left == days
    assert forecast.low(D("3")) is low
    assert forecast.text() == text


async def test_balance_cache_reads_at_most_every_max_age(seeded: Seeded) -> None:
    clock = seeded.clock
    values = [D("1.00"), D("2.00")]

    async def read() -> D:
        return values.pop(0)

    cache = BalanceCache(read, max_age=timedelta(minutes=5), clock=clock)
    assert await cache.get() == D("1.00")
    clock.now += timedelta(minutes=4, seconds=59)
    assert await cache.get() == D("1.00")
    assert cache.reads == 1
    clock.now += timedelta(seconds=1)
    assert await cache.get() == D("2.00")
    assert cache.reads == 2
    cache.remember(D("7.00"))
    assert await cache.get() == D("7.00")
    assert cache.reads == 2


async def _audit_rows(seeded: Seeded) -> list[tuple[str, str, str]]:
    rows = await seeded.db.fetchall("SELECT target, embeds, dedupe_key FROM notification_outbox ORDER BY id")
    return [(r[0], json.loads(r[1])[0]["title"], json.loads(r[1])[0]["description"]) for r in rows]


async def test_low_balance_alert_and_recovery_once_each(
    seeded: Seeded,
    market_sim: RunningSimulator,
    market_client: MarketClient,
    make_settings: Callable[..., Settings],
) -> None:
    clock = seeded.clock
    clock.now = utc(2026, 3, 31, 12, 0)  # the last 7 days hold 53.45 NLE of succeeded spending
    config = GuildConfig(seeded.db, make_settings())
    forecaster = Forecaster(seeded.db, BalanceCache(market_client.get_balance, clock=clock), clock=clock)
    woken: list[int] = []
    watch = BalanceWatch(
        forecaster, seeded.db, Outbox(seeded.db), config, threshold=D("3"), wake=lambda: woken.append(1), clock=clock
    )
    assert await forecaster.spent_since(clock.now - timedelta(days=7)) == D("53.45")

    market_sim.state.balance = D("20.00")
    forecast = await watch.check()
    assert forecast == Forecast(D("20.00"), D("53.45"), 0)
    assert await _audit_rows(seeded) == [
        (
            "channel:audit",
            "Market balance running low",
            "Balance 20.00 NLE. Forecast: about 2.6 days left at 7.64 NLE/day (last 7 days). "
            "Top up the Market balance.",
        )
    ]
    assert await config.value(ALERT_KEY) == "low"
    assert woken == [1]
    await watch.check()  # still low: no second alert
    market_sim.state.balance = D("100.00")
    clock.now += timedelta(minutes=4)
    await watch.check()  # the cached balance (20.00) is still used: no Market call, no change
    assert forecaster.balance.reads == 1
    assert len(await _audit_rows(seeded)) == 1

    clock.now += timedelta(minutes=1)
    forecast = await watch.check()
    assert forecast is not None
    assert forecast.days_left == D("13.0")
    rows = await _audit_rows(seeded)
    assert rows[1] == (
        "channel:audit",
        "Market balance recovered",
        "Balance 100.00 NLE. Forecast: about 13.0 days left at 7.64 NLE/day (last 7 days).",
    )
    await watch.check()
    assert len(await _audit_rows(seeded)) == 2
    assert await config.value(ALERT_KEY) == "ok"

    # A paid order waiting for balance raises the alert whatever the forecast says.
    await seeded.orders.move("O4", OrderState.FULFILLING, actor="system")
    await seeded.orders.move("O4", OrderState.NEEDS_ATTENTION, actor="system", sets={"auto_retry": True})
    clock.now += timedelta(minutes=5)
    await watch.check()
    rows = await _audit_rows(seeded)
    assert len(rows) == 3
    assert rows[2][1] == "Market balance running low"
    assert rows[2][2].endswith("1 paid order(s) wait for balance. Top up the Market balance.")
    assert woken == [1, 1, 1]


async def test_unreadable_balance_changes_nothing(seeded: Seeded, make_settings: Callable[..., Settings]) -> None:
    async def down() -> D:
        raise MarketUnavailable("timeout")

    forecaster = Forecaster(seeded.db, BalanceCache(down, clock=seeded.clock), clock=seeded.clock)
    watch = BalanceWatch(
        forecaster, seeded.db, Outbox(seeded.db), GuildConfig(seeded.db, make_settings()), threshold=D("3")
    )
    assert await watch.check() is None
    assert await _audit_rows(seeded) == []


async def test_forecast_with_a_given_balance_refreshes_the_cache(seeded: Seeded) -> None:
    reads: list[int] = []

    async def read() -> D:
        reads.append(1)
        return D("1")

    seeded.clock.now = utc(2026, 4, 30)
    forecaster = Forecaster(seeded.db, BalanceCache(read, clock=seeded.clock), clock=seeded.clock)
    assert await forecaster.forecast(D("42.00")) == Forecast(D("42.00"), D("0"), 0)
    assert await forecaster.forecast() == Forecast(D("42.00"), D("0"), 0)
    assert reads == []
