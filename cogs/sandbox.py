"""/sandbox purchase, /sandbox transfer: demo events in ``reseller-bot sandbox`` (declines to load otherwise)."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import ResellerBot
from bot.extensions import FeatureDisabled
from bot.i18n import from_discord, t
from bot.sandbox import DemoResult, SandboxDemo
from bot.staff.permissions import staff_only

Interaction = discord.Interaction[Any]


def _answer(result: DemoResult, locale: str) -> str:
    outcome = t(locale, "sandbox.accepted") if result.status == 200 else t(locale, "sandbox.http", status=result.status)
    return t(locale, "sandbox.answer", kind=result.kind, unique_id=result.unique_id, outcome=outcome)


class Sandbox(commands.Cog):
    sandbox = app_commands.Group(
        name="sandbox",
        description="Sandbox mode: make the Market simulator send demo events",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, demo: SandboxDemo) -> None:
        self.demo = demo

    async def item_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=c, value=c) for c in self.demo.item_codes if current.lower() in c.lower()]

    @sandbox.command(name="purchase", description="A demo customer buys one of your market items")
    @app_commands.describe(username="The buyer's Neverlose login", item="The item code")
    @app_commands.autocomplete(item=item_autocomplete)
    @staff_only()
    async def purchase(self, interaction: Interaction, username: str, item: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.demo.purchase(username, item)
        await interaction.followup.send(_answer(result, from_discord(interaction.locale)), ephemeral=True)

    @sandbox.command(name="transfer", description="A demo customer transfers NLE to your account")
    @app_commands.describe(username="The sender's Neverlose login", amount="NLE, e.g. 5.00")
    @staff_only()
    async def transfer(self, interaction: Interaction, username: str, amount: app_commands.Range[str, 1, 20]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.demo.transfer(username, amount)
        await interaction.followup.send(_answer(result, from_discord(interaction.locale)), ephemeral=True)


async def setup(bot: ResellerBot) -> None:
    if bot.sandbox is None:
        raise FeatureDisabled("only in `reseller-bot sandbox`")
    await bot.add_cog(Sandbox(bot.sandbox))
