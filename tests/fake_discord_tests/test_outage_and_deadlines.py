"""Outages (stop/restart, 503), interaction deadlines with a controlled clock, and fixture hygiene."""

from __future__ import annotations

import asyncio

import discord
import discord.gateway
import discord.http
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fake_discord import FakeDiscord, point_discord_py_at


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_restart_on_same_port_and_the_bot_resumes(fake_bot: commands.Bot, fake_discord: FakeDiscord) -> None:
    port = fake_discord.port
    resumed = asyncio.Event()

    async def on_resumed() -> None:
        resumed.set()

    fake_bot.add_listener(on_resumed)
    await fake_discord.restart()

    assert fake_discord.port == port
    # discord.py reconnects after a random backoff of up to 2 s (ExponentialBackoff), so allow some time.
    await asyncio.wait_for(resumed.wait(), timeout=15)
    await fake_discord.wait_until_ready(timeout=5)
    assert fake_discord.gateway.resumes >= 1
    assert fake_discord.gateway.identifies == 1

    channel = fake_bot.get_channel(fake_discord.channels["general"].id)
    assert isinstance(channel, discord.TextChannel)
    await channel.send("back online")
    assert [m["content"] for m in fake_discord.messages("general")] == ["back online"]


async def test_set_down_answers_503_until_back(fake_bot: commands.Bot, fake_discord: FakeDiscord) -> None:
    channel = fake_bot.get_channel(fake_discord.channels["audit"].id)
    assert isinstance(channel, discord.TextChannel)
    await fake_discord.set_down(True)
    with pytest.raises(discord.DiscordServerError) as down:
        await channel.send("during outage")
    assert down.value.status == 503
    await fake_discord.set_down(False)
    await channel.send("after outage")
    assert [m["content"] for m in fake_discord.messages("audit")] == ["after outage"]
    await fake_discord.wait_until_ready(timeout=15)


async def test_late_first_response_is_unknown_interaction(fake_bot: commands.Bot, fake_discord: FakeDiscord) -> None:
    clock = Clock()
    fake_discord.clock = clock
    proceed = asyncio.Event()
    outcome: list[BaseException] = []

    @app_commands.command(name="lagging", description="Answers too late")
    async def lagging(interaction: discord.Interaction) -> None:
        await proceed.wait()
        try:
            await interaction.response.send_message("too late")
        except discord.NotFound as exc:
            outcome.append(exc)

    fake_bot.tree.add_command(lagging, guild=discord.Object(fake_discord.guild.id))
    await fake_bot.tree.sync(guild=discord.Object(fake_discord.guild.id))
    record = await fake_discord.invoke_command("lagging")
    clock.now += 3.5
    proceed.set()
    await record.wait_until(lambda r: r.errors)

    assert not record.responded
    assert record.errors[0]["code"] == 10062
    await fake_discord.wait_for(lambda: outcome)
    assert isinstance(outcome[0], discord.NotFound)
    assert outcome[0].code == 10062
    assert [v.kind for v in fake_discord.violations] == ["late_response"]


async def test_followups_expire_after_15_minutes(fake_bot: commands.Bot, fake_discord: FakeDiscord) -> None:
    clock = Clock()
    fake_discord.clock = clock
    later = asyncio.Event()
    outcome: list[BaseException] = []

    @app_commands.command(name="report", description="Long report")
    async def report(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        await later.wait()
        try:
            await interaction.followup.send("report ready")
        except discord.HTTPException as exc:
            outcome.append(exc)

    fake_bot.tree.add_command(report, guild=discord.Object(fake_discord.guild.id))
    await fake_bot.tree.sync(guild=discord.Object(fake_discord.guild.id))
    record = await fake_discord.invoke_command("report")
    await record.wait_response()
    clock.now += 15 * 60 + 1
    later.set()
    await fake_discord.wait_for(lambda: outcome)

    assert outcome[0].status == 401
    assert record.followups == []
    assert [v.kind for v in fake_discord.violations] == ["expired_token"]


async def test_double_acknowledge_is_refused(fake_bot: commands.Bot, fake_discord: FakeDiscord) -> None:
    outcome: list[BaseException] = []

    @app_commands.command(name="twice", description="Answers twice")
    async def twice(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("one")
        route = discord.http.Route(
            "POST", "/interactions/{id}/{token}/callback", id=interaction.id, token=interaction.token
        )
        try:
            await fake_bot.http.request(route, json={"type": 4, "data": {"content": "two"}})
        except discord.HTTPException as exc:
            outcome.append(exc)

    fake_bot.tree.add_command(twice, guild=discord.Object(fake_discord.guild.id))
    await fake_bot.tree.sync(guild=discord.Object(fake_discord.guild.id))
    record = await fake_discord.invoke_command("twice")
    await fake_discord.wait_for(lambda: outcome)

    assert outcome[0].code == 40060  # type: ignore[attr-defined]
    final = record.final_message()
    assert final is not None
    assert final["content"] == "one"


async def test_modal_and_select_round_trip(fake_bot: commands.Bot, fake_discord: FakeDiscord) -> None:
    got: dict[str, object] = {}

    class KeyModal(discord.ui.Modal, title="Redeem"):
        key = discord.ui.TextInput(label="Key", custom_id="key")

        async def on_submit(self, interaction: discord.Interaction) -> None:
            got["key"] = self.key.value
            await interaction.response.send_message("redeemed", ephemeral=True)

    class Picker(discord.ui.View):
        @discord.ui.select(custom_id="plan", options=[discord.SelectOption(label="Month", value="month")])
        async def plan(self, interaction: discord.Interaction, select: discord.ui.Select[Picker]) -> None:
            got["plan"] = select.values
            await interaction.response.send_modal(KeyModal())

    @app_commands.command(name="redeem", description="Redeem a key")
    async def redeem(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Pick a plan", view=Picker())

    fake_bot.tree.add_command(redeem, guild=discord.Object(fake_discord.guild.id))
    await fake_bot.tree.sync(guild=discord.Object(fake_discord.guild.id))
    record = await fake_discord.invoke_command("redeem")
    await record.wait_response()
    picked = await fake_discord.select(record, "plan", ["month"])
    await picked.wait_response()
    assert picked.response is not None
    assert picked.response["type"] == 9
    submitted = await fake_discord.submit_modal(picked, {"key": "NL-123"})
    await submitted.wait_response()

    assert got == {"plan": ["month"], "key": "NL-123"}
    assert submitted.ephemeral
    fake_discord.assert_no_violations()


async def test_point_discord_py_at_restores_the_real_endpoints() -> None:
    before = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    async with FakeDiscord() as fake:
        with point_discord_py_at(fake):
            assert fake.api_base == discord.http.Route.BASE
            assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == fake.gateway_url
    assert before == (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    assert before[0] == "https://discord.com/api/v10"
