"""Wiring of the statistics feature: the reader, the forecast and its balance watch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.guild_config import GuildConfig
from bot.market.client import MarketClient
from bot.notifications.outbox import Outbox
from bot.settings import StatsSettings
from bot.stats.figures import StatsReader
from bot.stats.forecast import BalanceCache, BalanceWatch, Forecaster
from bot.storage import Database


@dataclass(frozen=True, slots=True)
class StatsFeature:
    settings: StatsSettings
    reader: StatsReader
    forecaster: Forecaster
    watch: BalanceWatch

    @classmethod
    def create(
        cls,
        db: Database,
        settings: StatsSettings,
        *,
        market: MarketClient,
        config: GuildConfig,
        outbox: Outbox,
        wake: Callable[[], None] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> StatsFeature:
        forecaster = Forecaster(db, BalanceCache(market.get_balance, clock=clock), clock=clock)
        watch = BalanceWatch(
            forecaster, db, outbox, config, threshold=settings.low_balance_days, wake=wake, clock=clock
        )
        return cls(settings, StatsReader(db), forecaster, watch)
