"""/audit: recent staff operations and refusals, paginated, with a CSV of the whole selection."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import ResellerBot
from bot.extensions import FeatureDisabled
from bot.i18n import from_discord, t
from bot.staff import inputs
from bot.staff.audit import AuditQuery, to_csv
from bot.staff.limits import utc_now
from bot.staff.permissions import staff_choices, staff_only
from bot.staff.services import StaffServices
from cogs._views import AuditPager

Interaction = discord.Interaction[Any]


class Audit(commands.Cog):
    def __init__(self, bot: ResellerBot, staff: StaffServices) -> None:
        self.bot = bot
        self.staff = staff
        self.per_page = 10

    async def username_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await staff_choices(interaction, lambda: self.staff.audit.recent_usernames(current.strip()))

    @app_commands.command(name="audit", description="Recent staff operations and refusals, with a CSV export")
    @app_commands.describe(
        staff="Only this staff member", username="Only this Neverlose recipient", days="Only the last N days"
    )
    @app_commands.autocomplete(username=username_autocomplete)
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @staff_only()
    async def audit(
        self,
        interaction: Interaction,
        staff: discord.Member | None = None,
        username: str | None = None,
        days: app_commands.Range[int, 1, 365] | None = None,
    ) -> None:
        name = inputs.username(username) if username is not None else None
        await interaction.response.defer(ephemeral=True, thinking=True)
        since = utc_now() - timedelta(days=days) if days is not None else None
        records = await self.staff.audit.query(
            AuditQuery(staff_id=staff.id if staff else None, username=name, since=since)
        )
        locale = from_discord(interaction.locale)
        view = AuditPager(owner_id=interaction.user.id, records=records, per_page=self.per_page, locale=locale)
        await interaction.edit_original_response(embed=view.embed(), view=view)
        file = discord.File(io.BytesIO(to_csv(records)), filename="audit.csv")
        await interaction.followup.send(t(locale, "audit.csv", total=len(records)), file=file, ephemeral=True)


async def setup(bot: ResellerBot) -> None:
    if bot.staff is None:
        raise FeatureDisabled("staff services are not configured")
    await bot.add_cog(Audit(bot, bot.staff))
