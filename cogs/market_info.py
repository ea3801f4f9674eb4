"""/balance, /prices, /user check: read-only Market look-ups for staff."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import ResellerBot
from bot.extensions import FeatureDisabled
from bot.i18n import from_discord, t
from bot.staff import inputs, rendering
from bot.staff.permissions import staff_choices, staff_only
from bot.staff.services import StaffServices
from cogs.gifting import PRODUCTS

Interaction = discord.Interaction[Any]


class MarketInfo(commands.Cog):
    user = app_commands.Group(
        name="user",
        description="Look up Neverlose users",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: ResellerBot, staff: StaffServices) -> None:
        self.bot = bot
        self.staff = staff

    async def username_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await staff_choices(interaction, lambda: self.staff.audit.recent_usernames(current.strip()))

    @app_commands.command(name="balance", description="The reseller's current NLE balance")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @staff_only()
    async def balance(self, interaction: Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        amount = await self.bot.market.get_balance()
        spent, limit = await self.staff.spending.daily_limit.usage(interaction.user.id)
        locale = from_discord(interaction.locale)
        forecast = (
            "" if self.bot.stats is None else "\n" + (await self.bot.stats.forecaster.forecast(amount)).text(locale)
        )
        text = t(
            locale,
            "info.balance",
            balance=rendering.nle(amount, locale),
            spent=rendering.nle(spent, locale),
            limit=rendering.nle(limit, locale),
        )
        await interaction.followup.send(text + forecast, ephemeral=True)

    @app_commands.command(name="prices", description="The four plans of a product with NLE (EUR) and RUB prices")
    @app_commands.describe(product="The product")
    @app_commands.choices(product=PRODUCTS)
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @staff_only()
    async def prices(self, interaction: Interaction, product: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        table = await self.bot.market.get_prices(inputs.product(product))
        embed = rendering.prices_embed(table, from_discord(interaction.locale))
        await interaction.followup.send(embed=embed, ephemeral=True)

    @user.command(name="check", description="Does a Neverlose user exist, and are they invited to a product?")
    @app_commands.describe(username="The Neverlose login", product="Also check the invitation to this product")
    @app_commands.choices(product=PRODUCTS)
    @app_commands.autocomplete(username=username_autocomplete)
    @staff_only()
    async def user_check(self, interaction: Interaction, username: str, product: str | None = None) -> None:
        name = inputs.username(username)
        chosen = inputs.product(product) if product is not None else None
        await interaction.response.defer(ephemeral=True, thinking=True)
        status = await self.staff.spending.prechecks.user_status(name, chosen)
        locale = from_discord(interaction.locale)
        if not status.exists:
            text = t(locale, "info.user.missing", name=name)
        elif status.product is None or status.invite is None:
            text = t(locale, "info.user.exists", name=name)
        elif status.invite.cheat_public:
            text = t(locale, "info.user.public", name=name, product=status.product.label)
        elif status.invite.user_invited:
            text = t(locale, "info.user.invited", name=name, product=status.product.label)
        else:
            text = t(locale, "info.user.not_invited", name=name, product=status.product.label)
        await interaction.followup.send(text, ephemeral=True)


async def setup(bot: ResellerBot) -> None:
    if bot.staff is None:
        raise FeatureDisabled("staff services are not configured")
    await bot.add_cog(MarketInfo(bot, bot.staff))
