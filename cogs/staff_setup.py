"""/setup staff-role and /setup limits (subcommands of the shared /setup group; Manage Server only)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import ResellerBot
from bot.guild_config import EveryoneCannotBeStaff
from bot.i18n import from_discord, t
from bot.staff import inputs, rendering
from bot.staff.permissions import server_manager_only
from cogs._setup_group import add_setup_commands, remove_setup_commands

Interaction = discord.Interaction[Any]


@app_commands.describe(role="A role whose members are staff", remove="Remove the role from the staff roles instead")
@server_manager_only()
async def staff_role(interaction: Interaction, role: discord.Role, remove: bool = False) -> None:
    config = cast(ResellerBot, interaction.client).guild_config
    locale = from_discord(interaction.locale)
    try:
        if remove:
            await config.remove_staff_role(role.id, updated_by=interaction.user.id)
        else:
            await config.add_staff_role(role.id, guild_id=interaction.guild_id, updated_by=interaction.user.id)
    except EveryoneCannotBeStaff:
        await interaction.response.send_message(t(locale, "setup.staff_role.everyone"), ephemeral=True)
        return
    roles = sorted(await config.staff_role_ids())
    listed = ", ".join(f"<@&{r}>" for r in roles) or t(locale, "setup.staff_role.none")
    message = "setup.staff_role.removed" if remove else "setup.staff_role.added"
    await interaction.response.send_message(t(locale, message, role=role.mention, roles=listed), ephemeral=True)


@app_commands.describe(
    daily_limit="NLE each staff member may spend per UTC day (0 = no spending)",
    approval_threshold="Transfers above this many NLE need a second staff member's approval",
)
@server_manager_only()
async def limits(
    interaction: Interaction,
    daily_limit: app_commands.Range[str, 1, 20] | None = None,
    approval_threshold: app_commands.Range[str, 1, 20] | None = None,
) -> None:
    config = cast(ResellerBot, interaction.client).guild_config
    if daily_limit is not None:
        await config.set_daily_limit(_non_negative(daily_limit), updated_by=interaction.user.id)
    if approval_threshold is not None:
        await config.set_transfer_approval_threshold(_non_negative(approval_threshold), updated_by=interaction.user.id)
    locale = from_discord(interaction.locale)
    text = t(
        locale,
        "setup.limits",
        limit=rendering.nle(await config.daily_limit(), locale),
        threshold=rendering.nle(await config.transfer_approval_threshold(), locale),
    )
    await interaction.response.send_message(text, ephemeral=True)


def _non_negative(value: str) -> Decimal:
    return Decimal("0.00") if value.strip() in {"0", "0.0", "0.00"} else inputs.amount(value)


class StaffSetup(commands.Cog):
    def __init__(self, bot: ResellerBot) -> None:
        self.bot = bot
        self._commands: list[app_commands.Command[Any, ..., Any]] = [
            app_commands.Command(
                name="staff-role", description="Add (or remove) a role whose members are staff", callback=staff_role
            ),
            app_commands.Command(
                name="limits", description="Daily spending limit and transfer approval threshold", callback=limits
            ),
        ]

    async def cog_load(self) -> None:
        add_setup_commands(self.bot.tree, *self._commands)

    async def cog_unload(self) -> None:
        remove_setup_commands(self.bot.tree, *self._commands)


async def setup(bot: ResellerBot) -> None:
    await bot.add_cog(StaffSetup(bot))
