"""Fixtures for the staff services: a migrated database, the real journal over the Market simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from bot.core import ResellerBot
from bot.guild_config import GuildConfig
from bot.market.client import MarketClient
from bot.market.journal import SpendingJournal
from bot.market.request_ids import RequestIdFactory
from bot.market.retry import RetryPolicy
from bot.market.simulator.runner import RunningSimulator
from bot.notifications.outbox import Outbox
from bot.settings import Settings
from bot.staff.approvals import ApprovalStore
from bot.staff.audit import AuditLog
from bot.staff.limits import Cooldown
from bot.staff.permissions import StaffSubject
from bot.staff.services import StaffServices
from bot.staff.spending import SpendingService
from bot.storage import Database
from cogs.gifting import Gifting
from tests.fake_discord import FakeDiscord, InteractionRecord
from tests.plugins.bot import StartBot

STAFF_ROLE = 111
AUDIT_CHANNEL = 555
ALICE = StaffSubject(1001, frozenset({STAFF_ROLE}), manage_guild=False)
BOB = StaffSubject(1002, frozenset({STAFF_ROLE}), manage_guild=False)
MALLORY = StaffSubject(1003, frozenset(), manage_guild=False)


class Clock:
    """A settable UTC clock."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def staff_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        STAFF_ROLE_IDS=str(STAFF_ROLE),
        STAFF_DAILY_LIMIT="200",
        TRANSFER_APPROVAL_THRESHOLD="100",
        AUDIT_CHANNEL_ID=str(AUDIT_CHANNEL),
    )


@pytest.fixture
async def staff_db(tmp_path: Path) -> AsyncIterator[Database]:
    db = await Database.open(tmp_path / "staff.sqlite3")
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
async def staff_journal(
    staff_db: Database, market_client: MarketClient, market_retry: RetryPolicy, clock: Clock
) -> SpendingJournal:
    ids = await RequestIdFactory.load(staff_db)
    return SpendingJournal(staff_db, market_client, id_factory=ids, retry=market_retry, clock=clock)


@pytest.fixture
def guild_config(staff_db: Database, staff_settings: Settings) -> GuildConfig:
    return GuildConfig(staff_db, staff_settings)


@dataclass
class Services:
    db: Database
    spending: SpendingService
    audit: AuditLog
    approvals: ApprovalStore
    outbox: Outbox
    journal: SpendingJournal
    config: GuildConfig
    cooldown: Cooldown


@pytest.fixture
def services(
    staff_db: Database,
    staff_journal: SpendingJournal,
    market_client: MarketClient,
    guild_config: GuildConfig,
    clock: Clock,
) -> Services:
    outbox = Outbox(staff_db)
    built = StaffServices.create(
        db=staff_db,
        market=market_client,
        journal=staff_journal,
        guild_config=guild_config,
        outbox=outbox,
        cooldown_s=0,
        approval_ttl=timedelta(minutes=30),
        clock=clock,
    )
    spending, audit, approvals, cooldown = built.spending, built.audit, built.approvals, built.cooldown
    return Services(staff_db, spending, audit, approvals, outbox, staff_journal, guild_config, cooldown)


@dataclass
class Env:
    fake: FakeDiscord
    bot: ResellerBot
    sim: RunningSimulator

    @property
    def staff(self) -> StaffServices:
        assert self.bot.staff is not None
        return self.bot.staff

    @property
    def gifting(self) -> Gifting:
        cog = self.bot.get_cog("Gifting")  # load_extension imports its own module copy: no isinstance
        assert cog is not None
        return cast(Gifting, cog)

    async def run(
        self, name: str, options: dict[str, Any] | None = None, *, user: str = "staff", subcommand: str | None = None
    ) -> InteractionRecord:
        rec = await self.fake.invoke_command(name, options or {}, user=user, subcommand=subcommand)
        await rec.wait_response()
        return rec

    async def answered(self, rec: InteractionRecord, needle: str = "") -> str:
        """Wait until the interaction shows a final (non-loading) answer containing ``needle``."""

        def done(r: InteractionRecord) -> bool:
            message = r.final_message()
            loading = message is not None and message["loading"] and not r.followups
            return (
                not loading
                and (r.followups or r.edits or (message and not message["loading"]))
                and needle in r.all_text()
            )

        try:
            await rec.wait_until(done, timeout=5)
        except TimeoutError:
            pytest.fail(f"no answer containing {needle!r}; got {rec.all_text()!r}")
        return rec.all_text()

    async def confirmation(self, name: str, options: dict[str, Any], *, user: str = "staff") -> InteractionRecord:
        rec = await self.run(name, options, user=user)
        await self.answered(rec, "Confirm")
        return rec


@pytest.fixture
async def env(
    start_bot: StartBot, fake_discord: FakeDiscord, market_sim: RunningSimulator, market_retry: RetryPolicy
) -> Env:
    bot = await start_bot(
        AUDIT_CHANNEL_ID=str(fake_discord.channels["audit"].id),
        STAFF_DAILY_LIMIT="200",
        TRANSFER_APPROVAL_THRESHOLD="100",
    )
    bot.market.retry = market_retry
    bot.journal.retry = market_retry
    assert bot.staff is not None
    bot.staff.cooldown.seconds = 0
    return Env(fake_discord, bot, market_sim)
