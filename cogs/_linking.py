"""``/link start``, ``/link status``, ``/unlink`` and staff ``/whois``: thin glue over LinkingService."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.i18n import from_discord, t
from bot.linking.links import Link
from bot.linking.service import LinkingService
from bot.staff.permissions import staff_only

log = logging.getLogger(__name__)


def _link_embed(title: str, link: Link, member: discord.abc.User | None = None, locale: str = "en") -> discord.Embed:
    embed = discord.Embed(title=title, colour=discord.Colour.blurple())
    if member is not None:
        embed.add_field(name="Discord", value=member.mention, inline=True)
    else:
        embed.add_field(name="Discord", value=f"<@{link.discord_user_id}>", inline=True)
    embed.add_field(name=t(locale, "linking.field.login"), value=f"`{link.neverlose_login}`", inline=True)
    embed.add_field(name=t(locale, "linking.field.id"), value=f"`{link.neverlose_sub}`", inline=True)
    registered = t(locale, "linking.registered.unknown")
    if link.neverlose_reg_date is not None:
        registered = link.neverlose_reg_date.isoformat()
    embed.add_field(name=t(locale, "linking.field.registered"), value=registered, inline=True)
    embed.add_field(
        name=t(locale, "linking.field.linked"), value=discord.utils.format_dt(link.linked_at, "R"), inline=True
    )
    return embed


class LinkingCog(commands.Cog):
    link = app_commands.Group(name="link", description="Link your Discord account to your Neverlose account")

    def __init__(self, service: LinkingService) -> None:
        self.service = service

    @link.command(name="start", description="Get a one-time link to sign in with Neverlose")
    async def link_start(self, interaction: discord.Interaction) -> None:
        locale = from_discord(interaction.locale)
        if not self.service.available:
            await interaction.response.send_message(t(locale, "linking.unavailable"), ephemeral=True)
            log.info("link refused user=%d reason=discovery_unavailable", interaction.user.id)
            return
        url = await self.service.new_start_url(interaction.user.id, locale)  # the pages follow the member's language
        minutes = int(self.service.ttl.total_seconds() // 60)
        view = discord.ui.View()
        button = discord.ui.Button[discord.ui.View](
            style=discord.ButtonStyle.link, label=t(locale, "linking.start.button"), url=url
        )
        view.add_item(button)
        await interaction.response.send_message(
            t(locale, "linking.start.text", count=minutes),
            view=view,
            ephemeral=True,
        )
        log.info("link url issued user=%d", interaction.user.id)

    @link.command(name="status", description="Show which Neverlose account your Discord account is linked to")
    async def link_status(self, interaction: discord.Interaction) -> None:
        current = await self.service.links.get(interaction.user.id)
        locale = from_discord(interaction.locale)
        if current is None:
            await interaction.response.send_message(t(locale, "linking.status.none"), ephemeral=True)
            return
        title = t(locale, "linking.status.title")
        await interaction.response.send_message(
            embed=_link_embed(title, current, interaction.user, locale), ephemeral=True
        )

    @app_commands.command(name="unlink", description="Remove the link to your Neverlose account")
    async def unlink(self, interaction: discord.Interaction) -> None:
        removed = await self.service.links.unlink(interaction.user.id)
        locale = from_discord(interaction.locale)
        if removed is None:
            await interaction.response.send_message(t(locale, "linking.unlink.none"), ephemeral=True)
            return
        log.info("link removed user=%d sub=%s", interaction.user.id, removed.neverlose_sub)
        text = t(locale, "linking.unlink.done", login=removed.neverlose_login)
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="whois", description="Staff: find the link of a member or a Neverlose login")
    @app_commands.describe(member="A Discord member", username="A Neverlose login")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @staff_only()
    async def whois(
        self,
        interaction: discord.Interaction,
        member: discord.Member | None = None,
        username: app_commands.Range[str, 1, 64] | None = None,
    ) -> None:
        locale = from_discord(interaction.locale)
        if (member is None) == (username is None):
            await interaction.response.send_message(t(locale, "linking.whois.one"), ephemeral=True)
            return
        if member is not None:
            found = await self.service.links.get(member.id)
            missing = t(locale, "linking.whois.no_member", member=member.mention)
        else:
            assert username is not None  # noqa: S101 - exactly one is set (checked above)
            found = await self.service.links.get_by_login(username)
            missing = t(locale, "linking.whois.no_login", login=discord.utils.escape_markdown(username))
        if found is None:
            await interaction.response.send_message(
                missing, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
            return
        title = t(locale, "linking.whois.title")
        await interaction.response.send_message(embed=_link_embed(title, found, member, locale), ephemeral=True)
