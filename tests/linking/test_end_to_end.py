"""Linking inside a real ResellerBot: fake Discord, fake IdP, Market simulator sending signed events.

/link start → the button → Neverlose sign-in → the callback on the bot's own web server → DM; then a
purchase by the linked login DMs a receipt and grants the mapped role; an unlinked buyer gets nothing; a
member with closed DMs is recorded as undeliverable and shown in /webhook status.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from bot.core import ResellerBot
from bot.market.simulator.runner import RunningSimulator
from tests.fake_discord import FakeDiscord, InteractionRecord
from tests.linking.fake_idp import FakeIdP
from tests.plugins.bot import StartBot


@dataclass
class Env:
    fake: FakeDiscord
    bot: ResellerBot
    sim: RunningSimulator
    idp: FakeIdP

    @property
    def webhook_url(self) -> str:
        return self.bot.web.local_url + self.bot.settings.server.webhook_path

    async def command(self, name: str, options: dict[str, Any], *, user: str, subcommand: str) -> InteractionRecord:
        rec = await self.fake.invoke_command(name, options, user=user, subcommand=subcommand)
        await rec.wait_response()
        return rec

    async def link(self, user: str) -> None:
        rec = await self.command("link", {}, user=user, subcommand="start")
        message = rec.final_message()
        assert message is not None
        url = message["components"][0]["components"][0]["url"]
        async with (
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser,
            browser.get(url) as page,
        ):
            assert page.status == 200, await page.text()


@pytest.fixture
async def env(
    start_bot: StartBot, fake_discord: FakeDiscord, market_sim: RunningSimulator, idp: FakeIdP, unused_tcp_port: int
) -> Env:
    public = f"http://127.0.0.1:{unused_tcp_port}"
    idp.redirect_uris.add(public + "/oauth/callback")
    bot = await start_bot(
        PURCHASE_CHANNEL_ID=str(fake_discord.channels["purchases"].id),
        WEBHOOK_PORT=str(unused_tcp_port),
        PUBLIC_BASE_URL=public,
        OAUTH_CLIENT_ID=idp.client_id,
        OAUTH_ISSUER=idp.url,
    )
    assert "cogs.linking" in bot.extension_report.loaded
    assert "cogs.roles_setup" in bot.extension_report.loaded
    assert bot.linking is not None
    for _ in range(250):  # the background task reads discovery at start; bounded wait
        if bot.linking.available:
            break
        await asyncio.sleep(0.02)
    assert bot.linking.available
    assert idp.discovery_requests == 1
    return Env(fake_discord, bot, market_sim, idp)


async def test_linked_buyer_gets_receipt_and_role_unlinked_gets_nothing(env: Env) -> None:
    role = env.fake.staff_role
    rec = await env.command(
        "setup", {"action": "add", "kind": "item", "key": "E3yugw", "role": role}, user="owner", subcommand="roles"
    )
    assert "Added" in rec.all_text()

    await env.link("member")
    confirmation = await env.fake.wait_for_dm("member", lambda m: "Neverlose account linked" in str(m))
    assert "A49" in str(confirmation)

    assert (await env.sim.purchase(env.webhook_url, "nobody", "E3yugw")).status == 200
    assert (await env.sim.purchase(env.webhook_url, "A49", "E3yugw")).status == 200
    receipt = await env.fake.wait_for_dm("member", lambda m: "Receipt" in str(m))
    assert "E3yugw" in str(receipt)
    await env.fake.wait_for(lambda: role.id in env.fake.member_roles("member"))
    # both purchases reached the channel (possibly batched in one message); only the linked buyer got a DM
    await env.fake.wait_for(lambda: sum(len(m["embeds"]) for m in env.fake.messages("purchases")) == 2)
    assert len(env.fake.dm_messages("member")) == 2
    assert env.fake.dm_messages("staff") == []
    assert env.fake.dm_messages("owner") == []
    env.fake.assert_no_violations()


async def test_closed_dms_are_recorded_and_shown_in_webhook_status(env: Env) -> None:
    await env.link("member")
    await env.fake.wait_for_dm("member")
    env.fake.close_dms("member")
    assert (await env.sim.purchase(env.webhook_url, "A49", "E3yugw")).status == 200
    await env.fake.wait_for_message("purchases")

    webhooks = env.bot.webhooks
    assert webhooks is not None
    for _ in range(250):  # the running dispatcher records it; poll the table, bounded
        if (await webhooks.outbox.counts()).undeliverable:
            break
        await asyncio.sleep(0.02)
    assert (await webhooks.outbox.counts()).undeliverable == 1
    status = await env.command("webhook", {}, user="staff", subcommand="status")
    assert "undeliverable: 1" in status.all_text()


async def test_unavailable_discovery_pauses_only_linking(
    start_bot: StartBot,
    fake_discord: FakeDiscord,
    market_sim: RunningSimulator,
    idp: FakeIdP,
    unused_tcp_port: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    idp.discovery_status = 503
    public = f"http://127.0.0.1:{unused_tcp_port}"
    bot = await start_bot(
        PURCHASE_CHANNEL_ID=str(fake_discord.channels["purchases"].id),
        WEBHOOK_PORT=str(unused_tcp_port),
        PUBLIC_BASE_URL=public,
        OAUTH_CLIENT_ID=idp.client_id,
        OAUTH_ISSUER=idp.url,
    )
    env = Env(fake_discord, bot, market_sim, idp)
    assert "cogs.linking" in bot.extension_report.loaded
    for _ in range(250):
        if idp.discovery_requests:
            break
        await asyncio.sleep(0.02)
    assert bot.linking is not None
    assert not bot.linking.available
    discovery_warnings = [r for r in caplog.records if "oidc discovery failed" in r.getMessage()]
    assert len(discovery_warnings) == 1
    assert "/link is unavailable" in discovery_warnings[0].getMessage()

    rec = await env.command("link", {}, user="member", subcommand="start")
    assert "Linking is unavailable right now" in rec.all_text()

    # everything else works: webhooks are announced, the health check is green, staff commands answer
    assert (await market_sim.purchase(env.webhook_url, "A49", "E3yugw")).status == 200
    await fake_discord.wait_for_message("purchases")
    async with aiohttp.ClientSession() as client, client.get(bot.web.local_url + "/healthz") as health:
        assert health.status == 200
    status = await env.command("webhook", {}, user="staff", subcommand="status")
    assert status.ephemeral
    fake_discord.assert_no_violations()


async def test_a_russian_members_dms_are_russian(env: Env) -> None:
    """The member used the bot in Russian (/link start): the link confirmation and the purchase receipt, sent
    later outside any interaction, are Russian; the channel announcement keeps the channel's language."""
    from tests.i18n.leaks import english_in

    env.fake.user_locales[env.fake.guild.members["member"].id] = "ru"
    await env.link("member")
    confirmation = await env.fake.wait_for_dm("member", lambda m: "Аккаунт Neverlose привязан" in str(m))
    assert (await env.sim.purchase(env.webhook_url, "A49", "E3yugw")).status == 200
    receipt = await env.fake.wait_for_dm("member", lambda m: "Чек: покупка на маркете" in str(m))
    assert "Спасибо за покупку, `A49`!" in str(receipt)
    for message in (confirmation, receipt):
        assert english_in(json.dumps(message["embeds"], ensure_ascii=False)) == []
    await env.fake.wait_for(lambda: "New market purchase" in str(env.fake.messages("purchases")))
    env.fake.assert_no_violations()
