"""``/stats``: sales, spending and webhook figures with a chart; ``export:true`` gives CSV files instead.

Also starts the weekly digest (bot/stats/digest.py), which posts here through discord.py because it carries
the chart as an attachment.
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import ResellerBot
from bot.extensions import FeatureDisabled
from bot.i18n import from_discord, t
from bot.market.errors import MarketFailure
from bot.staff.permissions import staff_only
from bot.stats.digest import DigestScheduler
from bot.stats.feature import StatsFeature
from bot.stats.figures import Dimension
from bot.stats.forecast import Forecast
from bot.stats.periods import Period, PeriodChoice, PeriodError, custom_period, period_for

if TYPE_CHECKING:  # the answer's modules (chart, summary, CSV export) are imported by the first answer or digest
    from bot.stats import chart

log = logging.getLogger(__name__)
Interaction = discord.Interaction[Any]

PERIODS = [app_commands.Choice(name=c.label, value=c.value) for c in PeriodChoice]
BY = [app_commands.Choice(name=d.value, value=d.value) for d in Dimension]
CHART_FILE = "stats.png"
MAX_UPLOAD = 8 * 1024 * 1024
"""Bytes of attachments per message a bot may send on a server without boosts (Discord's smallest limit)."""


def _labeller(guild: discord.Guild | None, by: Dimension) -> Any:
    """Chart labels: staff members by display name (the embed uses mentions)."""
    if by is not Dimension.STAFF:
        return None

    def label(key: str) -> str:
        if key.isdigit() and guild is not None:
            member = guild.get_member(int(key))
            return member.display_name if member is not None else key
        return key

    return label


async def _forecast(stats: StatsFeature) -> Forecast | None:
    try:
        return await stats.forecaster.forecast()
    except MarketFailure:
        return None


async def figures_message(
    stats: StatsFeature,
    period: Period,
    by: Dimension,
    *,
    title: str,
    guild: discord.Guild | None,
    locale: str,
) -> tuple[discord.Embed, discord.File, chart.Chart]:
    from bot.stats import chart
    from bot.stats.summary import stats_embed

    label = _labeller(guild, by)
    figures, rendered = await stats.reader.figures_and_chart(
        period, by, lambda early: chart.render_async(early, label, locale)
    )
    embed = discord.Embed.from_dict(stats_embed(figures, await _forecast(stats), title=title, locale=locale))
    return embed, discord.File(io.BytesIO(rendered.png), filename=CHART_FILE), rendered


class Stats(commands.Cog):
    def __init__(self, bot: ResellerBot, stats: StatsFeature) -> None:
        self.bot = bot
        self.stats = stats
        self.digest = DigestScheduler(bot.guild_config, stats.settings.zone, self.post_digest)

    async def cog_load(self) -> None:
        self.bot.start_background(self.digest.run_forever(), name="weekly-digest")

    async def post_digest(self, week: Period, channel_id: int) -> bool:
        """The digest's message (the scheduler in bot/stats/digest.py decides when and where)."""
        await self.bot.wait_until_ready()
        channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            log.warning("digest channel is not a text channel channel=%d", channel_id)
            return False
        guild = getattr(channel, "guild", None)
        from bot.stats.summary import period_label

        locale = self.bot.languages.channel()  # a channel post: BOT_LOCALE, else the server's language
        title = t(locale, "stats.digest_title", period=period_label(week, locale))
        embed, file, _ = await figures_message(self.stats, week, Dimension.DAY, title=title, guild=guild, locale=locale)
        await channel.send(embed=embed, file=file)
        return True

    @app_commands.command(name="stats", description="Sales, spending and webhook figures with a chart")
    @app_commands.describe(
        period="Today, the last 7 or 30 days, or this month (days in the bot's TIMEZONE)",
        by="Break the figures down by day, product, payment method, staff member or currency",
        start="First day, YYYY-MM-DD (instead of period)",
        end="Last day, YYYY-MM-DD (default today)",
        public="Show the answer to the channel (default: only you)",
        export="CSV files of the period's orders, operations and webhook events instead of the chart",
    )
    @app_commands.rename(start="from", end="to")
    @app_commands.choices(period=PERIODS, by=BY)
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @staff_only()
    async def stats_command(
        self,
        interaction: Interaction,
        period: str = PeriodChoice.DAYS_7.value,
        by: str = Dimension.DAY.value,
        start: str | None = None,
        end: str | None = None,
        public: bool = False,
        export: bool = False,
    ) -> None:
        await interaction.response.defer(ephemeral=not public, thinking=True)
        locale = from_discord(interaction.locale)
        zone = self.stats.settings.zone
        now = datetime.now(UTC)
        try:
            if start is not None or end is not None:
                chosen = custom_period(start, end, now, zone)
            else:
                chosen = period_for(PeriodChoice(period), now, zone)
        except PeriodError as exc:
            await interaction.followup.send(exc.said(locale), ephemeral=True)
            return
        dimension = Dimension(by)
        if export:
            from bot.stats.export import export_period
            from bot.stats.summary import period_label

            files = await export_period(self.bot.db, chosen)
            if sum(len(f.data) for f in files) > MAX_UPLOAD:
                await interaction.followup.send(t(locale, "stats.export.too_large"), ephemeral=True)
                return
            counts = ", ".join(t(locale, f"stats.export.{f.kind.replace(' ', '_')}", count=f.rows) for f in files)
            await interaction.followup.send(
                t(locale, "stats.export.done", period=period_label(chosen, locale), counts=counts),
                files=[discord.File(io.BytesIO(f.data), filename=f.name) for f in files],
                ephemeral=not public,
            )
            return
        embed, file, _ = await figures_message(
            self.stats, chosen, dimension, title=t(locale, "stats.title"), guild=interaction.guild, locale=locale
        )
        log.info("stats shown by=%d period=%s dimension=%s", interaction.user.id, chosen.label, dimension.value)
        await interaction.followup.send(embed=embed, file=file, ephemeral=not public)


async def setup(bot: ResellerBot) -> None:
    if bot.stats is None:
        raise FeatureDisabled("statistics are not configured")
    await bot.add_cog(Stats(bot, bot.stats))
