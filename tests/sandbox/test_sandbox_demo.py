"""Sandbox demo commands: the simulator posts signed events to the bot's own webhook, end to end."""

from __future__ import annotations

from decimal import Decimal

from bot.market.simulator.runner import RunningSimulator
from tests.fake_discord import FakeDiscord
from tests.plugins.bot import StartBot


async def test_demo_purchase_and_transfer_reach_the_channels(
    start_bot: StartBot, fake_discord: FakeDiscord, market_sim: RunningSimulator
) -> None:
    await start_bot(
        sandbox=True,
        PURCHASE_CHANNEL_ID=str(fake_discord.channels["purchases"].id),
        TRANSFER_CHANNEL_ID=str(fake_discord.channels["transfers"].id),
    )
    balance = market_sim.state.balance
    rec = await fake_discord.invoke_command(
        "sandbox", {"username": "darth", "item": "E3yugw"}, user="staff", subcommand="purchase"
    )
    await rec.wait_until(lambda r: "accepted it" in r.all_text())
    assert rec.ephemeral
    message = await fake_discord.wait_for_message("purchases", lambda m: "E3yugw" in str(m))
    assert "darth" in str(message)

    rec = await fake_discord.invoke_command(
        "sandbox", {"username": "a49", "amount": "5,50"}, user="staff", subcommand="transfer"
    )
    await rec.wait_until(lambda r: "accepted it" in r.all_text())
    message = await fake_discord.wait_for_message("transfers", lambda m: "a49" in str(m))
    assert "5.5 NLE" in str(message)
    item_price = market_sim.state.catalogue["E3yugw"].price
    assert market_sim.state.balance == balance + item_price + Decimal("5.50")
    fake_discord.assert_no_violations()


async def test_demo_refusals(start_bot: StartBot, fake_discord: FakeDiscord) -> None:
    await start_bot(sandbox=True)
    rec = await fake_discord.invoke_command(
        "sandbox", {"username": "darth", "item": "NoSuch"}, user="staff", subcommand="purchase"
    )
    await rec.wait_until(lambda r: "not a sandbox item" in r.all_text())
    assert "E3yugw" in rec.all_text()
    rec = await fake_discord.invoke_command(
        "sandbox", {"username": "darth", "item": "E3yugw"}, user="member", subcommand="purchase"
    )
    await rec.wait_response()
    assert "accepted" not in rec.all_text()
    assert not fake_discord.messages("purchases")


async def test_declines_outside_sandbox(start_bot: StartBot, fake_discord: FakeDiscord) -> None:
    bot = await start_bot()
    assert "cogs.sandbox" in bot.extension_report.declined
    assert fake_discord.command("sandbox") is None
