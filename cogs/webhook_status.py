"""``/webhook status`` (staff): what arrived, what waits, what looks wrong, and the URL for Neverlose."""

from __future__ import annotations

from datetime import datetime

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import ResellerBot
from bot.extensions import FeatureDisabled
from bot.i18n import DEFAULT_LOCALE, from_discord, money, t
from bot.staff.permissions import staff_only
from bot.webhooks.models import EVENT_KINDS
from bot.webhooks.status import MAX_GAPS_SHOWN, WebhookStatus


def _ts(moment: datetime) -> str:
    return f"<t:{int(moment.timestamp())}:R>"


def render_status(status: WebhookStatus, locale: str = DEFAULT_LOCALE) -> discord.Embed:
    problems = status.gaps or status.undeliverable_notifications or status.quarantined_24h or status.fanout_failed
    embed = discord.Embed(
        title=t(locale, "webhook.status.title"),
        colour=discord.Colour.orange() if problems else discord.Colour.green(),
        timestamp=status.generated_at,
    )
    for kind in EVENT_KINDS:
        last = status.last_events.get(kind)
        if last is None:
            value = t(locale, "webhook.status.none_yet")
        else:
            item = " " + t(locale, "webhook.status.item", item=last.item_id) if last.item_id else ""
            amount = money(last.amount, "NLE", locale)
            value = f"#{last.unique_id} `{last.username}`{item} {amount} {_ts(last.received_at)}"
        embed.add_field(name=t(locale, "webhook.status.last", kind=kind), value=value, inline=False)
    embed.add_field(
        name=t(locale, "webhook.status.last_24h"),
        value="\n".join(f"{kind}: {status.events_24h.get(kind, 0)}" for kind in EVENT_KINDS),
        inline=True,
    )
    embed.add_field(
        name=t(locale, "webhook.status.notifications"),
        value=t(
            locale,
            "webhook.status.notifications_value",
            pending=status.pending_notifications,
            undeliverable=status.undeliverable_notifications,
            waiting=status.fanout_waiting,
            failed=status.fanout_failed,
        ),
        inline=True,
    )
    embed.add_field(
        name=t(locale, "webhook.status.rejected"),
        value=t(
            locale,
            "webhook.status.rejected_value",
            bad=status.rejected_signatures_24h,
            quarantined=status.quarantined_24h,
            total=status.quarantined_total,
        ),
        inline=True,
    )
    if status.gaps:
        lines = [
            f"{gap.kind}: {gap.first_missing}" + (f"–{gap.last_missing}" if gap.size > 1 else "")
            for gap in status.gaps[:MAX_GAPS_SHOWN]
        ]
        if len(status.gaps) > MAX_GAPS_SHOWN:
            lines.append(t(locale, "webhook.status.more_ranges", more=len(status.gaps) - MAX_GAPS_SHOWN))
        name = t(locale, "webhook.status.missed", count=status.missing_events)
        embed.add_field(name=name, value="\n".join(lines), inline=False)
    else:
        embed.add_field(
            name=t(locale, "webhook.status.missed_none_title"), value=t(locale, "webhook.status.no_gaps"), inline=False
        )
    url = status.webhook_url or t(locale, "webhook.status.no_url")
    embed.add_field(name=t(locale, "webhook.status.url"), value=url, inline=False)
    return embed


class WebhookStatusCog(commands.Cog):
    webhook = app_commands.Group(
        name="webhook",
        description="Neverlose market webhooks",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: ResellerBot) -> None:
        self.bot = bot

    @webhook.command(name="status", description="Last events, pending notifications, gaps and the webhook URL")
    @staff_only()
    async def status(self, interaction: discord.Interaction) -> None:
        if self.bot.webhooks is None:  # setup() refuses to load without it
            return
        report = await self.bot.webhooks.status()
        await interaction.response.send_message(
            embed=render_status(report, from_discord(interaction.locale)), ephemeral=True
        )


async def setup(bot: ResellerBot) -> None:
    if bot.webhooks is None:
        raise FeatureDisabled("the webhook and notification services were not started")
    await bot.add_cog(WebhookStatusCog(bot))
