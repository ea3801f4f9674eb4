"""A channel the bot could not post in is retried as soon as Discord reports a role change."""

from __future__ import annotations

from bot.market.simulator.runner import RunningSimulator
from tests.fake_discord import FakeDiscord
from tests.plugins.bot import StartBot


async def test_role_update_retries_a_blocked_channel(
    start_bot: StartBot, fake_discord: FakeDiscord, market_sim: RunningSimulator
) -> None:
    bot = await start_bot(
        PURCHASE_CHANNEL_ID=str(fake_discord.channels["purchases"].id),
        AUDIT_CHANNEL_ID=str(fake_discord.channels["audit"].id),
    )
    url = bot.web.local_url + bot.settings.server.webhook_path
    fake_discord.forbid_channel("purchases")
    assert (await market_sim.purchase(url, "darth", "E3yugw")).status == 200
    await fake_discord.wait_for_message("audit", lambda m: "Cannot post" in str(m))
    assert fake_discord.messages("purchases") == []

    fake_discord.forbid_channel("purchases", forbidden=False)
    role = fake_discord.guild.roles["@everyone"]
    await fake_discord.dispatch(
        "GUILD_ROLE_UPDATE", {"guild_id": str(fake_discord.guild.id), "role": role.to_payload()}
    )
    message = await fake_discord.wait_for_message("purchases", lambda m: "E3yugw" in str(m))
    assert "darth" in str(message)
    assert len([m for m in fake_discord.messages("audit") if "Cannot post" in str(m)]) == 1
