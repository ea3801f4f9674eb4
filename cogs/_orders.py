"""Orders in Discord: staff ``/orders list`` and ``/order show|retry|cancel|refund``, customers ``/buy`` and
``/orders mine``, and the persistent buttons of the order cards in the orders channel.

Thin: the rules live in :mod:`bot.orders.staff_actions` (staff) and :class:`bot.orders.service.OrderService`
(orders); texts and embeds in :mod:`bot.orders.rendering`. Declines to load without the shop
(``MARKET_INTEGRATION_ID``).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import ResellerBot
from bot.i18n import from_discord, t
from bot.linking.links import LinkRepository
from bot.market.models import Plan, Product
from bot.notifications.embeds import echoed
from bot.orders import localized, rendering
from bot.orders.discord_cards import pending_approval
from bot.orders.discord_feature import OrdersDiscord
from bot.orders.models import Order, OrderError, OrderNotFound, OrderState
from bot.shop.catalog import ProductKey
from bot.staff import inputs
from bot.staff.errors import InvalidInput, StaffError
from bot.staff.limits import utc_now
from bot.staff.permissions import staff_only
from cogs._order_views import OrderButton, OrdersPager, embed, staff_subject

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]

PRODUCTS = [app_commands.Choice(name="CS:GO", value="csgo"), app_commands.Choice(name="CS2", value="cs2")]
PLANS = [app_commands.Choice(name=f"{days} days", value=days) for days in (30, 90, 180, 365)]
STATES = [app_commands.Choice(name=state.value, value=state.value) for state in OrderState]
MINE_LIMIT = 10
ORDER_ID = app_commands.Range[str, 1, 64]


class NotLinked(StaffError):
    """The customer has no linked Neverlose account (the message says how to link one)."""


class Orders(commands.Cog):
    orders = app_commands.Group(name="orders", description="Orders of the shop")
    order = app_commands.Group(
        name="order",
        description="Look at and act on one order (staff)",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )
    buy = app_commands.Group(name="buy", description="Buy from the shop for your linked Neverlose account")

    def __init__(self, bot: ResellerBot, feature: OrdersDiscord) -> None:
        self.bot = bot
        self.feature = feature
        self.links = LinkRepository(bot.db)
        self.per_page = 10

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(OrderButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(OrderButton)

    async def _order(self, order_id: str, locale: str) -> Order:
        try:
            return await self.feature.service.get(order_id.strip())
        except OrderNotFound:
            raise InvalidInput(t(locale, "orders.no_order", id=echoed(order_id.strip()[:64], 64))) from None

    # ------------------------------------------------------------------ staff: list
    @orders.command(name="list", description="Orders, newest first, with filters (staff)")
    @app_commands.describe(
        state="Only orders in this state", login="Only orders for this Neverlose login", days="Only the last N days"
    )
    @app_commands.choices(state=STATES)
    @app_commands.guild_only()
    @staff_only()
    async def orders_list(
        self,
        interaction: Interaction,
        state: str | None = None,
        login: str | None = None,
        days: app_commands.Range[int, 1, 365] | None = None,
    ) -> None:
        name = inputs.username(login) if login is not None else None
        locale = from_discord(interaction.locale)
        await interaction.response.defer(ephemeral=True, thinking=True)
        view = OrdersPager(
            owner_id=interaction.user.id,
            feature=self.feature,
            state=OrderState(state) if state else None,
            login=name,
            since=utc_now() - timedelta(days=days) if days is not None else None,
            filters=rendering.filters_text(state, name, days, locale),
            per_page=self.per_page,
            locale=locale,
        )
        await interaction.edit_original_response(embed=await view.render(), view=view)

    # ------------------------------------------------------------------ customers
    @orders.command(name="mine", description="Your orders (made with /buy or for your linked Neverlose account)")
    async def orders_mine(self, interaction: Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        link = await self.links.get(interaction.user.id)
        login = link.neverlose_login if link is not None else None
        mine = await self.feature.service.customer_orders(interaction.user.id, login, limit=MINE_LIMIT)
        locale = from_discord(interaction.locale)
        if not mine:
            await interaction.followup.send(t(locale, "orders.mine.none"), ephemeral=True)
            return
        data = rendering.mine_embed(mine, url_of=self.feature.service.order_url, locale=locale)
        await interaction.followup.send(embed=embed(data), ephemeral=True)

    async def _buy(self, interaction: Interaction, key: ProductKey, nle: Decimal | None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        link = await self.links.get(interaction.user.id)
        locale = from_discord(interaction.locale)
        if link is None:
            how = t(locale, "orders.buy.link_with" if self.bot.linking is not None else "orders.buy.link_off")
            raise NotLinked(t(locale, "orders.buy.not_linked", how=how))
        try:
            order = await self.feature.service.create_for_discord_user(
                interaction.user.id, link.neverlose_login, key, nle
            )
        except OrderError as exc:
            reason = localized.refusal(str(exc), locale)
            raise InvalidInput(t(locale, "orders.buy.refused", reason=reason)) from None
        log.info("order placed from discord order_id=%s user=%d", order.id, interaction.user.id)
        text = rendering.placed_text(order, url=self.feature.service.order_url(order.id), locale=locale)
        await interaction.followup.send(text, ephemeral=True)

    @buy.command(name="product", description="Buy a CS:GO or CS2 subscription for your linked Neverlose account")
    @app_commands.describe(product="The product", plan="How long")
    @app_commands.choices(product=PRODUCTS)
    @app_commands.choices(plan=PLANS)
    async def buy_product(self, interaction: Interaction, product: str, plan: int) -> None:
        await self._buy(interaction, ProductKey.for_plan(Product(product), Plan.from_days(plan)), None)

    @buy.command(name="nle", description="Buy NLE (market balance) for your linked Neverlose account")
    @app_commands.describe(amount="NLE to buy, e.g. 25 or 12.50")
    async def buy_nle(self, interaction: Interaction, amount: app_commands.Range[str, 1, 20]) -> None:
        try:
            nle = Decimal(amount.strip().replace(",", "."))
        except InvalidOperation:
            raise InvalidInput(
                t(from_discord(interaction.locale), "orders.buy.bad_amount", amount=inputs.shown(amount))
            ) from None
        await self._buy(interaction, ProductKey.marketplace(), nle)

    # ------------------------------------------------------------------ staff: one order
    @order.command(name="show", description="One order: what, for whom, state, price and its timeline")
    @app_commands.describe(id="The order id (from its card or /orders list)")
    @staff_only()
    async def order_show(self, interaction: Interaction, id: ORDER_ID) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        locale = from_discord(interaction.locale)
        order = await self._order(id, locale)
        history = await self.feature.service.history(order.id)
        details = await self.feature.staff.payment_details(order)
        data = rendering.detail_embed(
            order, history, requested_by=pending_approval(history), payment_details=details, locale=locale
        )
        await interaction.followup.send(embed=embed(data), ephemeral=True)

    @order.command(name="retry", description="Deliver an order that needs attention again (same safety rules)")
    @app_commands.describe(id="The order id")
    @staff_only()
    async def order_retry(self, interaction: Interaction, id: ORDER_ID) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.feature.staff.retry(id.strip(), staff_subject(interaction), guild_id=interaction.guild_id)
        await interaction.followup.send(result.text_in(from_discord(interaction.locale)), ephemeral=True)

    @order.command(name="cancel", description="Cancel an order that is still awaiting payment")
    @app_commands.describe(id="The order id", reason="Shown to the customer on the order page")
    @staff_only()
    async def order_cancel(
        self,
        interaction: Interaction,
        id: ORDER_ID,
        reason: app_commands.Range[str, 1, 300] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.feature.staff.cancel(
            id.strip(), staff_subject(interaction), reason, guild_id=interaction.guild_id
        )
        await interaction.followup.send(result.text_in(from_discord(interaction.locale)), ephemeral=True)

    @order.command(name="refund", description="Record that an order was refunded by hand (with a note)")
    @app_commands.describe(id="The order id", note="How the money went back, e.g. bank transfer, reference")
    @staff_only()
    async def order_refund(
        self,
        interaction: Interaction,
        id: ORDER_ID,
        note: app_commands.Range[str, 3, 300],
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.feature.staff.refund(
            id.strip(), staff_subject(interaction), note, guild_id=interaction.guild_id
        )
        await interaction.followup.send(result.text_in(from_discord(interaction.locale)), ephemeral=True)
