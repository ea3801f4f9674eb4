"""The whole feature inside a real ResellerBot: fake Discord, Market simulator sending signed events."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from bot.core import ResellerBot
from bot.guild_config import ChannelKind
from bot.market.simulator.runner import RunningSimulator
from tests.fake_discord import FakeDiscord, InteractionRecord
from tests.plugins.bot import StartBot


@dataclass
class Env:
    fake: FakeDiscord
    bot: ResellerBot
    sim: RunningSimulator

    @property
    def url(self) -> str:
        return self.bot.web.local_url + self.bot.settings.server.webhook_path

    async def command(self, name: str, options: dict[str, Any], *, user: str, subcommand: str) -> InteractionRecord:
        rec = await self.fake.invoke_command(name, options, user=user, subcommand=subcommand)
        await rec.wait_response()
        return rec

    async def message_in(self, channel: str, needle: str) -> dict[str, Any]:
        return await self.fake.wait_for_message(channel, lambda m: needle in str(m), timeout=5)


@pytest.fixture
async def env(start_bot: StartBot, fake_discord: FakeDiscord, market_sim: RunningSimulator) -> Env:
    bot = await start_bot(
        TRANSFER_CHANNEL_ID=str(fake_discord.channels["transfers"].id),
        AUDIT_CHANNEL_ID=str(fake_discord.channels["audit"].id),
        PUBLIC_BASE_URL="https://bot.example.com",
    )
    return Env(fake_discord, bot, market_sim)


async def test_events_are_posted_and_setup_redirects_waiting_ones(env: Env) -> None:
    delivery = await env.sim.receive_transfer(env.url, "a49", Decimal("2.50"))
    assert delivery.status == 200
    message = await env.message_in("transfers", "a49")
    fields = {f["name"]: f["value"] for f in message["embeds"][0]["fields"]}
    assert fields["Amount"] == "2.5 NLE"
    assert fields["Sender"] == "`a49`"

    # no purchase channel yet: the event waits, the audit channel hears about it once
    assert (await env.sim.purchase(env.url, "darth", "E3yugw")).status == 200
    alert = await env.message_in("audit", "not configured")
    assert "setup notifications" in str(alert)

    rec = await env.command(
        "setup",
        {"kind": "purchase", "channel": env.fake.channels["purchases"]},
        user="owner",
        subcommand="notifications",
    )
    assert rec.ephemeral
    assert "now go to" in rec.all_text()
    message = await env.message_in("purchases", "E3yugw")
    assert "https://neverlose.cc/market/item?id=E3yugw" in str(message)
    assert len(env.fake.messages("audit")) == 1
    env.fake.assert_no_violations()


async def test_setup_notifications_needs_manage_server(env: Env) -> None:
    rec = await env.command(
        "setup", {"kind": "purchase", "channel": env.fake.channels["general"]}, user="staff", subcommand="notifications"
    )
    assert "Manage Server" in rec.all_text()
    assert await env.bot.guild_config.channel_id(ChannelKind.PURCHASE) is None


async def test_webhook_status(env: Env) -> None:
    for uid in (1, 4):
        assert (await env.sim.send_event(env.url, "transfer", amount=1.0, username="a49", unique_id=uid)).status == 200
    rec = await env.command("webhook", {}, user="staff", subcommand="status")
    assert rec.ephemeral
    text = rec.all_text()
    assert "https://bot.example.com/webhooks/market" in text
    assert "transfer: 2–3" in text
    assert "#4 `a49`" in text
    assert "events given up: 0" in text
    refused = await env.command("webhook", {}, user="member", subcommand="status")
    assert "https://bot.example.com" not in refused.all_text()


async def test_webhook_status_in_russian(env: Env) -> None:
    from tests.i18n.leaks import english_in

    env.fake.user_locales[env.fake.guild.members["staff"].id] = "ru"
    for uid in (1, 4):
        assert (await env.sim.send_event(env.url, "transfer", amount=1.0, username="a49", unique_id=uid)).status == 200
    rec = await env.command("webhook", {}, user="staff", subcommand="status")
    text = rec.all_text()
    assert "Состояние вебхуков" in text
    assert "#4 `a49` 1,00\N{NO-BREAK SPACE}NLE" in text
    assert "событий брошено: 0" in text
    assert "Возможно пропущенные события (2 unique_id)" in text
    assert english_in(text) == []
