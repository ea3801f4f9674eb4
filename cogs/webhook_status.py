"""``/webhook status`` (staff): what arrived, what waits, what looks wrong, and the URL for Neverlose."""

from __future__ import annotations

from datetime import datetime

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import ResellerBot
from bot.extensions import FeatureDisabled
from bot.notifications.embeds import format_nle
from bot.staff.permissions import staff_only
from bot.webhooks.models import EVENT_KINDS
from bot.webhooks.status import MAX_GAPS_SHOWN, WebhookStatus


def _ts(moment: datetime) -> str:
    return f"<t:{int(moment.timestamp())}:R>"


def render_status(status: WebhookStatus) -> discord.Embed:
    problems = status.gaps or status.undeliverable_notifications or status.quarantined_24h or status.fanout_failed
    embed = discord.Embed(
        title="Webhook status",
        colour=discord.Colour.orange() if problems else discord.Colour.green(),
        timestamp=status.generated_at,
    )
    for kind in EVENT_KINDS:
        last = status.last_events.get(kind)
        if last is None:
            value = "none received yet"
        else:
            item = f" item `{last.item_id}`" if last.item_id else ""
            value = f"#{last.unique_id} `{last.username}`{item} {format_nle(last.amount)} {_ts(last.received_at)}"
        embed.add_field(name=f"Last {kind}", value=value, inline=False)
    embed.add_field(
        name="Last 24 h",
        value="\n".join(f"{kind}: {status.events_24h.get(kind, 0)}" for kind in EVENT_KINDS),
        inline=True,
    )
    embed.add_field(
        name="Notifications",
        value=(
            f"pending: {status.pending_notifications}\nundeliverable: {status.undeliverable_notifications}\n"
            f"events not yet fanned out: {status.fanout_waiting}\nevents given up: {status.fanout_failed}"
        ),
        inline=True,
    )
    embed.add_field(
        name="Rejected / quarantined",
        value=(
            f"bad signatures (24 h): {status.rejected_signatures_24h}\n"
            f"quarantined (24 h): {status.quarantined_24h} (total {status.quarantined_total})"
        ),
        inline=True,
    )
    if status.gaps:
        lines = [
            f"{gap.kind}: {gap.first_missing}" + (f"–{gap.last_missing}" if gap.size > 1 else "")
            for gap in status.gaps[:MAX_GAPS_SHOWN]
        ]
        if len(status.gaps) > MAX_GAPS_SHOWN:
            lines.append(f"… and {len(status.gaps) - MAX_GAPS_SHOWN} more ranges")
        embed.add_field(
            name=f"Possible missed events ({status.missing_events} unique_ids)", value="\n".join(lines), inline=False
        )
    else:
        embed.add_field(name="Possible missed events", value="no gaps in the unique_id sequences", inline=False)
    url = status.webhook_url or "set `PUBLIC_BASE_URL` to show the URL to paste into Neverlose"
    embed.add_field(name="Webhook URL (Neverlose market API settings)", value=url, inline=False)
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
        await interaction.response.send_message(embed=render_status(report), ephemeral=True)


async def setup(bot: ResellerBot) -> None:
    if bot.webhooks is None:
        raise FeatureDisabled("the webhook and notification services were not started")
    await bot.add_cog(WebhookStatusCog(bot))
