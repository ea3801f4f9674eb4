"""/operations pending: spending operations whose outcome is unknown, each with a safe retry button."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import ResellerBot
from bot.extensions import FeatureDisabled
from bot.i18n import from_discord, t
from bot.staff import rendering
from bot.staff.permissions import staff_only
from bot.staff.services import StaffServices
from cogs._views import RetryView

Interaction = discord.Interaction[Any]
MAX_LISTED = 25


class Operations(commands.Cog):
    operations = app_commands.Group(
        name="operations",
        description="Spending operations",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: ResellerBot, staff: StaffServices) -> None:
        self.bot = bot
        self.staff = staff

    @operations.command(name="pending", description="Operations whose outcome is unknown, with a safe retry")
    @staff_only()
    async def pending(self, interaction: Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        ops = await self.staff.spending.unresolved()
        locale = from_discord(interaction.locale)
        if not ops:
            await interaction.followup.send(t(locale, "ops.none"), ephemeral=True)
            return
        lines = []
        for op in ops[:MAX_LISTED]:
            amount = f" {rendering.nle(op.amount_nle, locale)}" if op.amount_nle is not None else ""
            line = t(
                locale,
                "ops.line",
                id=op.id,
                when=discord.utils.format_dt(op.created_at, "f"),
                method=op.method,
                username=op.username,
                amount=amount,
                status=t(locale, f"staff.status.{op.status.value}"),
                request_id=op.request_id,
                mention=f"<@{op.requested_by}>",
            )
            lines.append(line)
        more = "\n" + t(locale, "ops.more", more=len(ops) - MAX_LISTED) if len(ops) > MAX_LISTED else ""
        embed = discord.Embed(
            title=t(locale, "ops.title", total=len(ops)),
            description="\n".join(lines) + more,
            colour=rendering.COLOR_UNKNOWN,
        )
        embed.set_footer(text=t(locale, "ops.footer"))
        ids = [op.id for op in ops[:MAX_LISTED]]
        view = RetryView(owner_id=interaction.user.id, operation_ids=ids, locale=locale)
        await interaction.followup.send(embed=embed, view=view, ephemeral=True)


async def setup(bot: ResellerBot) -> None:
    if bot.staff is None:
        raise FeatureDisabled("staff services are not configured")
    await bot.add_cog(Operations(bot, bot.staff))
