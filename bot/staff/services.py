"""The staff services as one bundle, built from the bot's resources (``ResellerBot.staff``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from bot.guild_config import ChannelKind, GuildConfig
from bot.i18n import DEFAULT_LOCALE
from bot.market.client import MarketClient
from bot.market.journal import SpendingJournal
from bot.staff.approvals import DEFAULT_APPROVAL_TTL, ApprovalStore
from bot.staff.audit import AuditLog, OutboxWriter
from bot.staff.limits import Clock, Cooldown, utc_now
from bot.staff.spending import SpendingService
from bot.storage import Database

DEFAULT_COOLDOWN_S = 5.0


@dataclass(frozen=True, slots=True)
class StaffServices:
    spending: SpendingService
    audit: AuditLog
    approvals: ApprovalStore
    cooldown: Cooldown

    @classmethod
    def create(
        cls,
        *,
        db: Database,
        market: MarketClient,
        journal: SpendingJournal,
        guild_config: GuildConfig,
        outbox: OutboxWriter | None,
        wake: Callable[[], None] | None = None,
        cooldown_s: float = DEFAULT_COOLDOWN_S,
        approval_ttl: timedelta = DEFAULT_APPROVAL_TTL,
        clock: Clock = utc_now,
        locale: Callable[[], str] = lambda: DEFAULT_LOCALE,
    ) -> StaffServices:
        async def audit_channel() -> int | None:
            return await guild_config.channel_id(ChannelKind.AUDIT)

        audit = AuditLog(db, outbox=outbox, audit_channel=audit_channel, wake=wake, clock=clock, locale=locale)
        approvals = ApprovalStore(db, ttl=approval_ttl, clock=clock)
        cooldown = Cooldown(cooldown_s)
        spending = SpendingService(
            market=market,
            journal=journal,
            audit=audit,
            approvals=approvals,
            config=guild_config,
            cooldown=cooldown,
            clock=clock,
        )
        return cls(spending=spending, audit=audit, approvals=approvals, cooldown=cooldown)
