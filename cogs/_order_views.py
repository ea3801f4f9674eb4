"""Buttons and views of the orders cog: the card's persistent buttons, the refund note modal, the list pager.

The card's buttons are ONE ``DynamicItem`` matched by ``order:<action>:<order id>``
(:data:`bot.orders.rendering.CUSTOM_ID_PATTERN`): they work after a restart, for any order, because the
order id is all they carry. Every press is checked on our side (staff only, logged and answered ephemerally
otherwise); the card itself is updated by the orders channel's outbox when the order changes, never here.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from bot.i18n import DEFAULT_LOCALE, from_discord, t
from bot.notifications.embeds import Embed
from bot.orders import rendering
from bot.orders.discord_feature import OrdersDiscord
from bot.orders.models import Order, OrderState
from bot.staff.permissions import StaffSubject, check_staff_interaction, subject_of
from bot.tree import report_interaction_error
from cogs._views import OwnerView

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]

LABELS = {
    rendering.CONFIRM: ("Confirm payment", discord.ButtonStyle.success),
    rendering.APPROVE: ("Approve payment", discord.ButtonStyle.success),
    rendering.REJECT: ("Reject", discord.ButtonStyle.danger),
    rendering.RETRY: ("Retry", discord.ButtonStyle.primary),
    rendering.REFUND: ("Mark refunded", discord.ButtonStyle.secondary),
}


def order_discord(interaction: Interaction) -> OrdersDiscord:
    feature = getattr(interaction.client, "order_discord", None)
    if not isinstance(feature, OrdersDiscord):
        raise RuntimeError("the orders feature is not running")
    return feature


def staff_subject(interaction: Interaction) -> StaffSubject:
    subject = subject_of(interaction)
    if subject is None:
        raise RuntimeError("an order action outside a guild")
    return subject


async def run_action(feature: OrdersDiscord, action: str, order_id: str, interaction: Interaction) -> str:
    """Run a card button's action for the presser; the text to answer with."""
    staff, actions, guild_id = staff_subject(interaction), feature.staff, interaction.guild_id
    locale = from_discord(interaction.locale)
    if action == rendering.CONFIRM:
        return (await actions.confirm(order_id, staff, guild_id=guild_id)).text_in(locale)
    if action == rendering.APPROVE:
        return (await actions.approve(order_id, staff, guild_id=guild_id)).text_in(locale)
    if action == rendering.REJECT:
        return (await actions.reject(order_id, staff, guild_id=guild_id)).text_in(locale)
    if action == rendering.RETRY:
        return (await actions.retry(order_id, staff, guild_id=guild_id)).text_in(locale)
    raise ValueError(f"unknown order action {action!r}")


class OrderButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=rendering.CUSTOM_ID_PATTERN):
    """A button on an order's card (see the module docstring)."""

    def __init__(self, action: str, order_id: str) -> None:
        label, style = LABELS[action]
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=rendering.custom_id(action, order_id)))
        self.action = action
        self.order_id = order_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> OrderButton:
        return cls(match["action"], match["id"])

    async def interaction_check(self, interaction: Interaction) -> bool:
        if await check_staff_interaction(interaction, what=f"order {self.action} {self.order_id}"):
            return True
        await order_discord(interaction).staff.record_refusal(
            self.action, interaction.user.id, self.order_id, "not staff", interaction.guild_id
        )
        return False

    async def callback(self, interaction: Interaction) -> None:
        try:
            if self.action == rendering.REFUND:
                await interaction.response.send_modal(RefundModal(self.order_id, from_discord(interaction.locale)))
                return
            await interaction.response.defer(ephemeral=True, thinking=True)
            text = await run_action(order_discord(interaction), self.action, self.order_id, interaction)
            await interaction.followup.send(text, ephemeral=True)
        except Exception as exc:
            spending = self.action in (rendering.CONFIRM, rendering.APPROVE, rendering.RETRY)
            await report_interaction_error(interaction, exc, where=f"order {self.action}", spending=spending)


class RefundModal(discord.ui.Modal):
    """Asks how the money went back (required; stored with the order and audited), in the presser's language."""

    def __init__(self, order_id: str, locale: str = DEFAULT_LOCALE) -> None:
        super().__init__(
            title=t(locale, "orders.refund.title"), custom_id=f"order-refund-note:{order_id}"[:100], timeout=900
        )
        self.order_id = order_id
        self.note: discord.ui.TextInput[RefundModal] = discord.ui.TextInput(
            label=t(locale, "orders.refund.label"),
            placeholder=t(locale, "orders.refund.placeholder"),
            min_length=3,
            max_length=300,
            custom_id="note",
        )
        self.add_item(self.note)

    async def on_submit(self, interaction: Interaction) -> None:
        if not await check_staff_interaction(interaction, what=f"order refund {self.order_id}"):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        feature = order_discord(interaction)
        result = await feature.staff.refund(
            self.order_id, staff_subject(interaction), str(self.note.value), guild_id=interaction.guild_id
        )
        await interaction.followup.send(result.text_in(from_discord(interaction.locale)), ephemeral=True)

    async def on_error(self, interaction: Interaction, error: Exception, /) -> None:  # type: ignore[override]
        await report_interaction_error(interaction, error, where="order refund note")


class OrdersPager(OwnerView):
    """Previous / Next through ``/orders list`` (each page read from the database when shown)."""

    def __init__(
        self,
        *,
        owner_id: int,
        feature: OrdersDiscord,
        state: OrderState | None,
        login: str | None,
        since: Any,
        filters: str,
        per_page: int = 10,
        timeout: float = 600,
        locale: str = DEFAULT_LOCALE,
    ) -> None:
        super().__init__(owner_id=owner_id, timeout=timeout)
        self.locale = locale
        self.previous.label = t(locale, "pager.previous")
        self.next.label = t(locale, "pager.next")
        self.feature = feature
        self.state = state
        self.login = login
        self.since = since
        self.filters = filters
        self.per_page = per_page
        self.page = 0

    async def render(self) -> discord.Embed:
        found = await self.feature.service.find(
            state=self.state,
            login=self.login,
            since=self.since,
            limit=self.per_page + 1,
            offset=self.page * self.per_page,
        )
        shown: list[Order] = found[: self.per_page]
        has_more = len(found) > self.per_page
        self.previous.disabled = self.page <= 0
        self.next.disabled = not has_more
        data: Embed = rendering.list_embed(
            shown,
            title=t(self.locale, "orders.list.heading"),
            page=self.page,
            has_more=has_more,
            filters=self.filters,
            locale=self.locale,
        )
        return discord.Embed.from_dict(data)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary, custom_id="orders:previous")
    async def previous(self, interaction: Interaction, button: discord.ui.Button[OrdersPager]) -> None:
        self.page = max(0, self.page - 1)
        await interaction.response.edit_message(embed=await self.render(), view=self)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary, custom_id="orders:next")
    async def next(self, interaction: Interaction, button: discord.ui.Button[OrdersPager]) -> None:
        self.page += 1
        await interaction.response.edit_message(embed=await self.render(), view=self)


def embed(data: Embed) -> discord.Embed:
    return discord.Embed.from_dict(data)
