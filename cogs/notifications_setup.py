"""``/setup notifications kind:<purchase|transfer|audit|orders> channel:<#channel>`` (Manage Server only)."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import ResellerBot
from bot.extensions import FeatureDisabled
from bot.guild_config import ChannelKind
from bot.i18n import from_discord, t
from bot.staff.permissions import server_manager_only
from cogs._setup_group import add_setup_commands, remove_setup_commands

log = logging.getLogger(__name__)

KINDS = [
    app_commands.Choice(name="purchases of your market items", value=ChannelKind.PURCHASE.value),
    app_commands.Choice(name="NLE transfers to your account", value=ChannelKind.TRANSFER.value),
    app_commands.Choice(name="audit (staff actions, delivery problems, quarantined webhooks)", value="audit"),
    app_commands.Choice(name="orders (one card per shop order; staff confirm payments there)", value="orders"),
    app_commands.Choice(name="weekly digest (sales figures and chart, Mondays 09:00)", value=ChannelKind.DIGEST.value),
]


def notifications_command(bot: ResellerBot) -> app_commands.Command[Any, ..., None]:
    @app_commands.command(name="notifications", description="Choose the channel for a kind of notification")
    @app_commands.describe(kind="Which notifications", channel="Where to post them")
    @app_commands.choices(kind=KINDS)
    @app_commands.guild_only()
    @server_manager_only()
    async def notifications(
        interaction: discord.Interaction,
        kind: app_commands.Choice[str],
        channel: discord.TextChannel,
    ) -> None:
        channel_kind = ChannelKind(kind.value)
        await bot.guild_config.set_channel(channel_kind, channel.id, updated_by=interaction.user.id)
        pending = 0
        if bot.webhooks is not None:
            bot.webhooks.dispatcher.forget_problems()  # re-check blocked/unconfigured channels now
            pending = (await bot.webhooks.outbox.counts()).pending
        log.info(
            "notification channel set kind=%s channel=%d by=%d", channel_kind.value, channel.id, interaction.user.id
        )
        locale = from_discord(interaction.locale)
        kind_name = t(locale, f"setup.kind.{channel_kind.value}")
        text = t(locale, "setup.notifications", kind=kind_name, channel=channel.mention, pending=pending)
        await interaction.response.send_message(text, ephemeral=True)

    return notifications


class NotificationsSetupCog(commands.Cog):
    def __init__(self, bot: ResellerBot) -> None:
        self.bot = bot
        self.command = notifications_command(bot)

    async def cog_load(self) -> None:
        add_setup_commands(self.bot.tree, self.command)

    async def cog_unload(self) -> None:
        remove_setup_commands(self.bot.tree, self.command)


async def setup(bot: ResellerBot) -> None:
    if bot.webhooks is None:
        raise FeatureDisabled("the webhook and notification services were not started")
    await bot.add_cog(NotificationsSetupCog(bot))
