"""/gift, /give, /transfer: staff spending commands, confirmed, permission-checked, audited.

Thin: the rules live in :class:`bot.staff.spending.SpendingService`. Each command defers first (the
pre-checks call Neverlose), shows a confirmation only the invoker can press, and edits it with the outcome.
Transfers above the approval threshold post an Approve button to the audit channel instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import ResellerBot
from bot.extensions import FeatureDisabled
from bot.guild_config import ChannelKind
from bot.i18n import from_discord, t
from bot.staff import rendering
from bot.staff.approvals import Approval, ApprovalStatus
from bot.staff.errors import NotStaff, StaffError
from bot.staff.models import Quote, SpendKind
from bot.staff.permissions import staff_choices, staff_only
from bot.staff.services import StaffServices
from bot.staff.spending import Outcome, OutcomeStatus
from cogs._views import ApproveButton, ConfirmView, DenyButton, approval_view

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]

PRODUCTS = [app_commands.Choice(name="CS:GO", value="csgo"), app_commands.Choice(name="CS2", value="cs2")]
PLANS = [app_commands.Choice(name=f"{days} days", value=days) for days in (30, 90, 180, 365)]
CONFIRM_TIMEOUT_S = 60.0
APPROVAL_SWEEP_S = 60.0


class Gifting(commands.Cog):
    def __init__(self, bot: ResellerBot, staff: StaffServices) -> None:
        self.bot = bot
        self.staff = staff
        self.confirm_timeout = CONFIRM_TIMEOUT_S
        self.sweep_interval = APPROVAL_SWEEP_S
        self._sweeper: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ApproveButton, DenyButton)
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="staff-approval-expiry")

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ApproveButton, DenyButton)
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    async def cog_app_command_error(self, interaction: Interaction, error: app_commands.AppCommandError) -> None:
        """Audit refusals that happen before the service sees the command (not staff)."""
        if isinstance(error, NotStaff) and interaction.command is not None:
            kind = SpendKind(interaction.command.name)
            await self.staff.spending.record_refusal(
                kind, staff_id=interaction.user.id, guild_id=interaction.guild_id, reason=error.message
            )

    # ------------------------------------------------------------------ autocomplete
    async def username_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await staff_choices(interaction, lambda: self.staff.audit.recent_usernames(current.strip()))

    async def code_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await staff_choices(interaction, lambda: self.staff.audit.recent_item_codes(current.strip()))

    # ------------------------------------------------------------------ commands
    @app_commands.command(name="gift", description="Gift a CS:GO or CS2 subscription to a Neverlose user")
    @app_commands.describe(product="The product", plan="How long", username="The recipient's Neverlose login")
    @app_commands.choices(product=PRODUCTS)
    @app_commands.choices(plan=PLANS)
    @app_commands.autocomplete(username=username_autocomplete)
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @staff_only()
    async def gift(self, interaction: Interaction, product: str, plan: int, username: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        quote = await self.staff.spending.quote_gift(
            staff_id=interaction.user.id, guild_id=interaction.guild_id, username=username, product=product, days=plan
        )
        await self._ask(interaction, quote)

    @app_commands.command(name="give", description="Give one of your market items to a Neverlose user for free")
    @app_commands.describe(code="The market item code (e.g. E3yugw)", username="The recipient's Neverlose login")
    @app_commands.autocomplete(code=code_autocomplete, username=username_autocomplete)
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @staff_only()
    async def give(self, interaction: Interaction, code: str, username: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        quote = await self.staff.spending.quote_give(
            staff_id=interaction.user.id, guild_id=interaction.guild_id, username=username, code=code
        )
        await self._ask(interaction, quote)

    @app_commands.command(name="transfer", description="Transfer NLE from the reseller balance to a Neverlose user")
    @app_commands.describe(username="The recipient's Neverlose login", amount="NLE to send, e.g. 12.50")
    @app_commands.autocomplete(username=username_autocomplete)
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @staff_only()
    async def transfer(self, interaction: Interaction, username: str, amount: app_commands.Range[str, 1, 20]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        quote = await self.staff.spending.quote_transfer(
            staff_id=interaction.user.id, guild_id=interaction.guild_id, username=username, amount=amount
        )
        await self._ask(interaction, quote)

    # ------------------------------------------------------------------ confirmation
    async def _ask(self, interaction: Interaction, quote: Quote) -> None:
        locale = from_discord(interaction.locale)

        async def on_confirm(press: Interaction) -> None:
            try:
                outcome = await self.staff.spending.confirm(quote.id, staff_id=press.user.id)
            except StaffError as exc:  # limit reached meanwhile, expired, ...: nothing was sent
                await press.edit_original_response(
                    embed=rendering.closed_embed(quote, "refused", exc.text_in(locale), locale), view=None
                )
                return
            if outcome.status == OutcomeStatus.AWAITING_APPROVAL:
                outcome = await self._post_approval(outcome)
            embed = rendering.outcome_embed(
                quote, status=outcome.status, request_id=outcome.request_id, text=outcome.text_in(locale), locale=locale
            )
            await press.edit_original_response(embed=embed, view=None)

        view = ConfirmView(
            quote=quote,
            origin=interaction,
            on_confirm=on_confirm,
            on_cancel=lambda: self.staff.spending.cancel(quote.id),
            timeout=self.confirm_timeout,
            locale=locale,
        )
        await interaction.edit_original_response(
            embed=rendering.quote_embed(quote, timeout_s=self.confirm_timeout, locale=locale), view=view
        )

    async def _post_approval(self, outcome: Outcome) -> Outcome:
        """Post the Approve button to the audit channel (a direct message: it carries a button)."""
        approval = outcome.approval
        if approval is None or outcome.duplicate:
            return outcome
        channel_id = await self.bot.guild_config.channel_id(ChannelKind.AUDIT)
        try:
            if channel_id is None:
                raise LookupError("no audit channel")
            channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
            if not isinstance(channel, discord.abc.Messageable):
                raise LookupError("audit channel is not a text channel")
            channel_locale = self.bot.languages.channel()
            message = await channel.send(
                embed=rendering.approval_embed(approval, channel_locale),
                view=approval_view(approval.id, channel_locale),
            )
        except (discord.HTTPException, LookupError) as exc:
            log.error("approval not posted id=%s channel=%s error=%s", approval.id, channel_id, type(exc).__name__)
            first = outcome

            def said(locale: str) -> str:
                return first.text_in(locale) + "\n" + t(locale, "staff.outcome.approval_not_posted")

            return Outcome(outcome.status, said("en"), approval=approval, said=said)
        now = await self.staff.approvals.attach_message(approval.id, channel_id=channel.id, message_id=message.id)
        if now is not None and now.status is not ApprovalStatus.PENDING:  # expired by a sweep while being posted
            await self._mark_message(now)
        return outcome

    # ------------------------------------------------------------------ approval expiry
    async def sweep_expired_approvals(self) -> int:
        """Expire overdue approvals and mark their messages (buttons removed)."""
        expired = await self.staff.spending.expire_approvals()
        for approval in expired:
            await self._mark_message(approval)
        return len(expired)

    async def _mark_message(self, approval: Approval) -> None:
        """Show the approval's final state on its message, buttons removed (nothing to do before it is posted:
        :meth:`_post_approval` checks again once it has the message)."""
        if approval.channel_id is None or approval.message_id is None:
            return
        channel = self.bot.get_partial_messageable(approval.channel_id)
        try:
            await channel.get_partial_message(approval.message_id).edit(
                embed=rendering.approval_embed(approval, self.bot.languages.channel()), view=None
            )
        except discord.HTTPException as exc:
            log.warning("could not mark approval expired id=%s status=%s", approval.id, exc.status)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval)
            try:
                await self.sweep_expired_approvals()
            except Exception:
                log.exception("approval sweep failed")


async def setup(bot: ResellerBot) -> None:
    if bot.staff is None:
        raise FeatureDisabled("staff services are not configured")
    await bot.add_cog(Gifting(bot, bot.staff))
