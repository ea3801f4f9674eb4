"""Views shared by the staff cogs: owner-only buttons, confirmation, pagination, approval, retry.

Every press is checked on our side: the invoker only (others get an ephemeral refusal, logged) AND still
staff. Errors in a button go through the same rendering as commands (``report_interaction_error``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

import discord

from bot.i18n import DEFAULT_LOCALE, from_discord, t
from bot.staff import rendering
from bot.staff.approvals import Approval
from bot.staff.audit import paginate
from bot.staff.models import AuditRecord, Quote
from bot.staff.permissions import StaffSubject, check_staff_interaction, subject_of
from bot.staff.spending import OutcomeStatus
from bot.tree import report_interaction_error, send_ephemeral

if TYPE_CHECKING:
    from bot.core import ResellerBot
    from bot.staff.services import StaffServices

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]


def reseller(interaction: Interaction) -> ResellerBot:
    return cast("ResellerBot", interaction.client)


class OwnerView(discord.ui.View):
    """Only ``owner_id`` may press, and only while they are staff."""

    spending = False  # errors after a confirmation may concern a recorded operation

    def __init__(self, *, owner_id: int, timeout: float | None) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id

    async def interaction_check(self, interaction: Interaction) -> bool:
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = data.get("custom_id", "?")
        if interaction.user.id != self.owner_id:
            log.warning(
                "button refused reason=not_invoker user=%s owner=%s custom_id=%s",
                interaction.user.id,
                self.owner_id,
                custom_id,
            )
            text = t(from_discord(interaction.locale), "staff.owner_only", mention=f"<@{self.owner_id}>")
            await send_ephemeral(interaction, text)
            return False
        return await check_staff_interaction(interaction, what=f"button {custom_id}")

    async def on_error(self, interaction: Interaction, error: Exception, item: discord.ui.Item[Any]) -> None:
        custom_id = getattr(item, "custom_id", "?")
        await report_interaction_error(interaction, error, where=f"button {custom_id}", spending=self.spending)

    def disable_all(self) -> None:
        for item in self.children:
            if isinstance(item, discord.ui.Button):
                item.disabled = True


class ConfirmView(OwnerView):
    """Confirm / Cancel for a quote; expires after ``timeout`` seconds and then says so."""

    spending = True

    def __init__(
        self,
        *,
        quote: Quote,
        origin: Interaction,
        on_confirm: Callable[[Interaction], Awaitable[None]],
        on_cancel: Callable[[], bool],
        timeout: float,
        locale: str = DEFAULT_LOCALE,
    ) -> None:
        super().__init__(owner_id=quote.staff_id, timeout=timeout)
        self.quote = quote
        self.origin = origin
        self._on_confirm = on_confirm
        self._on_cancel = on_cancel
        self.locale = locale
        self.confirm.label = t(locale, "staff.button.confirm")
        self.cancel.label = t(locale, "staff.button.cancel")

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.success, custom_id="confirm")
    async def confirm(self, interaction: Interaction, button: discord.ui.Button[ConfirmView]) -> None:
        self.disable_all()
        await interaction.response.edit_message(view=self)  # acknowledge now and grey the buttons
        self.stop()
        await self._on_confirm(interaction)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary, custom_id="cancel")
    async def cancel(self, interaction: Interaction, button: discord.ui.Button[ConfirmView]) -> None:
        self.stop()
        self._on_cancel()
        await interaction.response.edit_message(
            embed=rendering.closed_embed(self.quote, "cancelled", locale=self.locale), view=None
        )

    async def on_timeout(self) -> None:
        if not self._on_cancel():
            return  # already confirmed (the service consumed the quote)
        try:
            await self.origin.edit_original_response(
                embed=rendering.closed_embed(self.quote, "expired", locale=self.locale), view=None
            )
        except discord.HTTPException as exc:
            log.warning("could not mark confirmation expired quote=%s status=%s", self.quote.id, exc.status)


class AuditPager(OwnerView):
    """Previous / Next through an audit selection (the CSV of the whole selection is attached once)."""

    def __init__(
        self,
        *,
        owner_id: int,
        records: Sequence[AuditRecord],
        per_page: int = 10,
        timeout: float = 600,
        locale: str = DEFAULT_LOCALE,
    ):
        super().__init__(owner_id=owner_id, timeout=timeout)
        self.records = records
        self.per_page = per_page
        self.page = 0
        self.locale = locale
        self.previous.label = t(locale, "audit.button.previous")
        self.next.label = t(locale, "audit.button.next")
        self._sync()

    def embed(self) -> discord.Embed:
        page = paginate(self.records, self.page, per_page=self.per_page)
        return rendering.audit_page_embed(
            page.records, page=page.number, pages=page.count, total=page.total, locale=self.locale
        )

    def _sync(self) -> None:
        count = paginate(self.records, 0, per_page=self.per_page).count
        self.previous.disabled = self.page <= 0
        self.next.disabled = self.page >= count - 1

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary, custom_id="previous")
    async def previous(self, interaction: Interaction, button: discord.ui.Button[AuditPager]) -> None:
        self.page -= 1
        self._sync()
        await interaction.response.edit_message(embed=self.embed(), view=self)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary, custom_id="next")
    async def next(self, interaction: Interaction, button: discord.ui.Button[AuditPager]) -> None:
        self.page += 1
        self._sync()
        await interaction.response.edit_message(embed=self.embed(), view=self)


class RetryView(OwnerView):
    """One "Retry #id safely" button per unresolved operation (at most 25)."""

    spending = True

    def __init__(
        self, *, owner_id: int, operation_ids: Sequence[int], timeout: float = 900, locale: str = DEFAULT_LOCALE
    ) -> None:
        super().__init__(owner_id=owner_id, timeout=timeout)
        for op_id in operation_ids[:25]:
            self.add_item(RetryButton(op_id, locale))


class RetryButton(discord.ui.Button[RetryView]):
    def __init__(self, op_id: int, locale: str = DEFAULT_LOCALE) -> None:
        label = t(locale, "ops.retry_button", id=op_id)
        super().__init__(label=label, style=discord.ButtonStyle.primary, custom_id=f"retry:{op_id}")
        self.op_id = op_id

    async def callback(self, interaction: Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        staff = reseller(interaction).staff
        if staff is None:
            raise RuntimeError("staff services are not running")
        outcome = await staff.spending.retry(self.op_id, staff_id=interaction.user.id)
        if outcome.status != OutcomeStatus.UNKNOWN and self.view is not None and interaction.message is not None:
            self.disabled = True
            try:
                await interaction.message.edit(view=self.view)
            except discord.HTTPException as exc:
                log.warning("could not update retry buttons status=%s", exc.status)
        locale = from_discord(interaction.locale)
        text = t(locale, "staff.outcome.operation", id=self.op_id, text=outcome.text_in(locale))
        await interaction.followup.send(text, ephemeral=True)


APPROVE_PATTERN = r"staff:approve:(?P<id>[0-9]{1,18})"
DENY_PATTERN = r"staff:deny:(?P<id>[0-9]{1,18})"

Decision = Callable[["StaffServices", StaffSubject], Awaitable[tuple[Approval | None, Callable[[str], str]]]]


async def _decide(interaction: Interaction, approval_id: int, what: str, decide: Decision, *, spending: bool) -> None:
    """A press on an approval's button: decide, show the decision on the approval message, answer the presser."""
    try:
        await interaction.response.defer(ephemeral=True, thinking=True)
        bot = reseller(interaction)
        if bot.staff is None:
            raise RuntimeError("staff services are not running")
        subject = subject_of(interaction)
        if subject is None:
            raise RuntimeError("approval outside a guild")
        approval, said = await decide(bot.staff, subject)
        approval = approval or await bot.staff.approvals.get(approval_id)
        if approval is not None and interaction.message is not None:
            channel = bot.languages.channel()
            embed = rendering.approval_embed(approval, channel)
            embed.add_field(name=t(channel, "audit.field.result"), value=said(channel)[:1024], inline=False)
            await interaction.message.edit(embed=embed, view=None)
        await interaction.followup.send(said(from_discord(interaction.locale)), ephemeral=True)
    except Exception as exc:
        await report_interaction_error(interaction, exc, where=f"{what} #{approval_id}", spending=spending)


class ApproveButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=APPROVE_PATTERN):
    """The persistent "Approve" button on a transfer approval in the audit channel (survives restarts)."""

    def __init__(self, approval_id: int, locale: str = DEFAULT_LOCALE) -> None:
        super().__init__(
            discord.ui.Button(
                label=t(locale, "approval.button.approve"),
                style=discord.ButtonStyle.success,
                custom_id=f"staff:approve:{approval_id}",
            )
        )
        self.approval_id = approval_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ApproveButton:
        return cls(int(match["id"]))

    async def interaction_check(self, interaction: Interaction) -> bool:
        return await check_staff_interaction(interaction, what=f"approve #{self.approval_id}")

    async def callback(self, interaction: Interaction) -> None:
        async def approve(staff: StaffServices, subject: StaffSubject) -> tuple[Approval | None, Callable[[str], str]]:
            outcome = await staff.spending.approve(self.approval_id, subject)
            return outcome.approval, outcome.text_in

        await _decide(interaction, self.approval_id, "approve", approve, spending=True)


class DenyButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=DENY_PATTERN):
    """The persistent "Deny" button beside Approve: any staff member, the requester included (withdrawing it)."""

    def __init__(self, approval_id: int, locale: str = DEFAULT_LOCALE) -> None:
        super().__init__(
            discord.ui.Button(
                label=t(locale, "approval.button.deny"),
                style=discord.ButtonStyle.danger,
                custom_id=f"staff:deny:{approval_id}",
            )
        )
        self.approval_id = approval_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> DenyButton:
        return cls(int(match["id"]))

    async def interaction_check(self, interaction: Interaction) -> bool:
        return await check_staff_interaction(interaction, what=f"deny #{self.approval_id}")

    async def callback(self, interaction: Interaction) -> None:
        async def deny(staff: StaffServices, subject: StaffSubject) -> tuple[Approval | None, Callable[[str], str]]:
            approval = await staff.spending.deny(self.approval_id, subject)
            return approval, lambda locale: rendering.denied_text(approval, locale)

        await _decide(interaction, self.approval_id, "deny", deny, spending=False)


def approval_view(approval_id: int, locale: str = DEFAULT_LOCALE) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ApproveButton(approval_id, locale))
    view.add_item(DenyButton(approval_id, locale))
    return view
