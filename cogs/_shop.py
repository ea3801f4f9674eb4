"""``/shop``: the reseller's price table, its push to Neverlose's checkout, visibility and status.

Thin glue over :class:`bot.shop.service.ShopService`: parse the options, call the service, render in the
member's language (:mod:`bot.shop.localized`). Every command is staff-only (the same check as the spending
commands); visibility, import and the manual method also need Manage Server. Answers are ephemeral.
Declines to load without ``MARKET_INTEGRATION_ID``.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.i18n import DEFAULT_LOCALE, from_discord, t
from bot.market.models import Plan, Product
from bot.shop import localized
from bot.shop.catalog import MARKETPLACE, PaymentMethod
from bot.shop.importing import EXPORT_FILENAME, ImportPlan
from bot.shop.service import Actor, ShopService
from bot.staff.permissions import server_manager_only, staff_choices, staff_only
from cogs._views import OwnerView

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]

PRODUCT_CHOICES = [
    *(app_commands.Choice(name=product.label, value=product.value) for product in Product),
    app_commands.Choice(name="marketplace (price of 1 NLE)", value=MARKETPLACE),
]
METHOD_CHOICES = [app_commands.Choice(name=method.label, value=method.value) for method in PaymentMethod]
CONFIRM_TIMEOUT_S = 120.0
PAGE_LINES = 15
PREVIEW_LINES = 25


def _actor(interaction: Interaction) -> Actor:
    return Actor(interaction.user.id, interaction.guild_id)


def _locale(interaction: Interaction) -> str:
    """The member's language (answers are ephemeral: only they read them)."""
    return from_discord(interaction.locale)


class ShopConfirmView(OwnerView):
    """Confirm / Cancel, pressed only by the invoker (and only while staff)."""

    def __init__(
        self,
        *,
        owner_id: int,
        on_confirm: Callable[[Interaction], Awaitable[None]],
        timeout: float,
        locale: str = DEFAULT_LOCALE,
    ) -> None:
        super().__init__(owner_id=owner_id, timeout=timeout)
        self._on_confirm = on_confirm
        self.origin: Interaction | None = None
        self.locale = locale
        self.confirm.label = t(locale, "shop.confirm.confirm")
        self.cancel.label = t(locale, "shop.confirm.cancel")

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.danger, custom_id="shop:confirm")
    async def confirm(self, interaction: Interaction, button: discord.ui.Button[ShopConfirmView]) -> None:
        self.stop()
        self.disable_all()
        await interaction.response.edit_message(view=self)
        await self._on_confirm(interaction)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary, custom_id="shop:cancel")
    async def cancel(self, interaction: Interaction, button: discord.ui.Button[ShopConfirmView]) -> None:
        self.stop()
        text = t(_locale(interaction), "shop.confirm.cancelled")
        await interaction.response.edit_message(content=text, embed=None, view=None)

    async def on_timeout(self) -> None:
        if self.origin is None:
            return
        try:
            text = t(self.locale, "shop.confirm.expired")
            await self.origin.edit_original_response(content=text, embed=None, view=None)
        except discord.HTTPException as exc:
            log.warning("could not mark shop confirmation expired status=%s", exc.status)


class LinesPager(OwnerView):
    """Previous / Next through a long list of lines (the price table)."""

    def __init__(
        self,
        *,
        owner_id: int,
        title: str,
        lines: Sequence[str],
        footer_field: tuple[str, str],
        locale: str = DEFAULT_LOCALE,
    ) -> None:
        super().__init__(owner_id=owner_id, timeout=600)
        self.title = title
        self.locale = locale
        self.lines = list(lines) or [t(locale, "shop.prices.empty")]
        self.footer_field = footer_field
        self.previous.label = t(locale, "audit.button.previous")
        self.next.label = t(locale, "audit.button.next")
        self.page = 0
        self.pages = max(1, -(-len(self.lines) // PAGE_LINES))
        self._sync()

    def embed(self) -> discord.Embed:
        start = self.page * PAGE_LINES
        embed = discord.Embed(
            title=self.title, description="\n".join(self.lines[start : start + PAGE_LINES]), colour=0x5865F2
        )
        embed.add_field(name=self.footer_field[0], value=self.footer_field[1][:1024], inline=False)
        embed.set_footer(text=t(self.locale, "shop.prices.page", page=self.page + 1, pages=self.pages))
        return embed

    def _sync(self) -> None:
        self.previous.disabled = self.page <= 0
        self.next.disabled = self.page >= self.pages - 1

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary, custom_id="previous")
    async def previous(self, interaction: Interaction, button: discord.ui.Button[LinesPager]) -> None:
        self.page = max(0, self.page - 1)
        self._sync()
        await interaction.response.edit_message(embed=self.embed(), view=self)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary, custom_id="next")
    async def next(self, interaction: Interaction, button: discord.ui.Button[LinesPager]) -> None:
        self.page = min(self.pages - 1, self.page + 1)
        self._sync()
        await interaction.response.edit_message(embed=self.embed(), view=self)


class ShopCog(commands.Cog, name="Shop"):
    shop = app_commands.Group(
        name="shop",
        description="Your prices and listing on Neverlose's checkout",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )
    price = app_commands.Group(name="price", description="Set or remove one price", parent=shop)
    prices = app_commands.Group(name="prices", description="The whole price table", parent=shop)
    method = app_commands.Group(name="method", description="Payment methods customers can use", parent=shop)

    def __init__(self, service: ShopService) -> None:
        self.service = service
        self.confirm_timeout = CONFIRM_TIMEOUT_S

    # ------------------------------------------------------------------ autocomplete
    async def product_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        text = current.strip().lower()
        locale = _locale(interaction)
        shown = [
            app_commands.Choice(
                name=t(locale, "shop.key.marketplace") if c.value == MARKETPLACE else c.name, value=c.value
            )
            for c in PRODUCT_CHOICES
        ]
        return [c for c in shown if text in c.name.lower() or text in c.value]

    async def plan_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[int]]:
        product = str(getattr(interaction.namespace, "product", "") or "").strip().lower()
        if product not in {p.value for p in Product}:
            return []  # the marketplace has no plan; an unknown product has none either
        return [
            app_commands.Choice(name=t(_locale(interaction), "count.days", count=plan.days), value=plan.days)
            for plan in Plan
            if str(plan.days).startswith(current.strip())
        ]

    async def currency_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        text = current.strip().upper()

        async def used() -> list[str]:
            return [code for code in await self.service.currencies() if code.startswith(text)][:25]

        return await staff_choices(interaction, used)

    # ------------------------------------------------------------------ /shop price
    @price.command(name="set", description="Set the price of a product and plan in one currency")
    @app_commands.describe(
        product="The product (or the marketplace: the price of 1 NLE)",
        currency="3 upper-case letters, e.g. EUR",
        price="A positive decimal, at most 8 places, e.g. 30.50",
        plan="The plan in days (not for the marketplace)",
        method="Only for this payment method (default: every method)",
    )
    @app_commands.autocomplete(product=product_autocomplete, currency=currency_autocomplete)
    @app_commands.autocomplete(plan=plan_autocomplete)
    @app_commands.choices(method=METHOD_CHOICES)
    @staff_only()
    async def price_set(
        self,
        interaction: Interaction,
        product: app_commands.Range[str, 1, 32],
        currency: app_commands.Range[str, 1, 16],
        price: app_commands.Range[str, 1, 40],
        plan: int | None = None,
        method: str | None = None,
    ) -> None:
        locale = _locale(interaction)
        key = self.service.product_key(product, plan)
        change = await self.service.set_price(_actor(interaction), key, currency, price, method)
        new = change.new
        assert new is not None  # noqa: S101 - set_price always returns the new entry
        shown = await self.service.shown_price(key, new.currency)
        text = localized.price_set_text(key, change.old, new, shown, locale)
        await interaction.response.send_message(text, ephemeral=True)

    @price.command(name="remove", description="Remove the price of a product and plan in one currency")
    @app_commands.describe(
        product="The product (or the marketplace)",
        currency="The currency of the price to remove",
        plan="The plan in days (not for the marketplace)",
        method="The payment method of the price (default: the price for every method)",
    )
    @app_commands.autocomplete(product=product_autocomplete, currency=currency_autocomplete)
    @app_commands.autocomplete(plan=plan_autocomplete)
    @app_commands.choices(method=METHOD_CHOICES)
    @staff_only()
    async def price_remove(
        self,
        interaction: Interaction,
        product: app_commands.Range[str, 1, 32],
        currency: app_commands.Range[str, 1, 16],
        plan: int | None = None,
        method: str | None = None,
    ) -> None:
        locale = _locale(interaction)
        key = self.service.product_key(product, plan)
        old = await self.service.remove_price(_actor(interaction), key, currency, method)
        text = t(
            locale,
            "shop.price.removed",
            entry=localized.entry_label(key, old, locale),
            price=localized.price(old.price, locale),
        )
        await interaction.response.send_message(text, ephemeral=True)

    # ------------------------------------------------------------------ /shop prices
    @prices.command(name="show", description="The whole price table and what the next push sends")
    @staff_only()
    async def prices_show(self, interaction: Interaction) -> None:
        locale = _locale(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        entries = await self.service.table.entries()
        nxt = await self.service.next_push()
        view = LinesPager(
            owner_id=interaction.user.id,
            title=t(locale, "shop.prices.title", count=len(entries)),
            lines=localized.price_lines(entries, locale),
            footer_field=localized.next_push_field(nxt.text, nxt.reason, locale),
            locale=locale,
        )
        await interaction.followup.send(embed=view.embed(), view=view, ephemeral=True)

    @prices.command(name="export", description="Download the prices as a JSON file in Neverlose's format")
    @staff_only()
    async def prices_export(self, interaction: Interaction) -> None:
        data = await self.service.export()
        await interaction.response.send_message(
            t(_locale(interaction), "shop.export.done"),
            file=discord.File(io.BytesIO(data), filename=EXPORT_FILENAME),
            ephemeral=True,
        )

    @prices.command(name="import", description="Replace the price table with a JSON file in Neverlose's format")
    @app_commands.describe(file="A JSON file as /shop prices export makes it (at most 64 KiB)")
    @staff_only()
    @server_manager_only()
    async def prices_import(self, interaction: Interaction, file: discord.Attachment) -> None:
        locale = _locale(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.service.check_import_size(file.size)  # before downloading it
        plan = await self.service.plan_import(await file.read())
        if plan.unchanged:
            await interaction.followup.send(t(locale, "shop.import.same"), ephemeral=True)
            return
        lines = localized.preview_lines(plan, locale)
        shown = lines[:PREVIEW_LINES]
        if len(lines) > len(shown):
            shown.append(t(locale, "shop.import.more", count=len(lines) - len(shown)))
        embed = discord.Embed(
            title=t(locale, "shop.import.preview", summary=localized.summary(plan, locale)),
            description="```diff\n" + "\n".join(shown)[:3900] + "\n```",
            colour=0xF0B232,
        )
        embed.set_footer(text=t(locale, "shop.import.footer"))

        async def confirm(press: Interaction) -> None:
            await self._apply_import(press, plan)

        view = ShopConfirmView(
            owner_id=interaction.user.id, on_confirm=confirm, timeout=self.confirm_timeout, locale=locale
        )
        view.origin = interaction
        await interaction.followup.send(embed=embed, view=view, ephemeral=True)

    async def _apply_import(self, press: Interaction, plan: ImportPlan) -> None:
        done = await self.service.apply_import(_actor(press), plan)
        locale = _locale(press)
        await press.edit_original_response(
            content=t(locale, "shop.import.done", summary=localized.summary(done, locale)),
            embed=None,
            view=None,
        )

    # ------------------------------------------------------------------ /shop visibility
    @shop.command(name="visibility", description="Show or hide your payment method on Neverlose's checkout")
    @app_commands.describe(public="True: every customer sees it; False: only you (for testing)")
    @staff_only()
    @server_manager_only()
    async def visibility(self, interaction: Interaction, public: bool) -> None:
        locale = _locale(interaction)
        if not public:
            await interaction.response.defer(ephemeral=True, thinking=True)
            await self.service.set_visibility(_actor(interaction), False)
            await interaction.followup.send(t(locale, "shop.visibility.hidden"), ephemeral=True)
            return
        nxt = await self.service.next_push()

        async def confirm(press: Interaction) -> None:
            await self.service.set_visibility(_actor(press), True)
            await press.edit_original_response(
                content=t(_locale(press), "shop.visibility.public"),
                embed=None,
                view=None,
            )

        view = ShopConfirmView(
            owner_id=interaction.user.id, on_confirm=confirm, timeout=self.confirm_timeout, locale=locale
        )
        view.origin = interaction
        await interaction.response.send_message(
            localized.visibility_ask(nxt.text, nxt.reason, locale),
            view=view,
            ephemeral=True,
        )

    # ------------------------------------------------------------------ /shop status
    @shop.command(name="status", description="Integration, visibility, pushes, errors and the Redirect URL")
    @staff_only()
    async def status(self, interaction: Interaction) -> None:
        locale = _locale(interaction)
        status = await self.service.status()
        colour = 0xED4245 if status.alert_active else 0x57F287
        embed = discord.Embed(title=t(locale, "shop.status.title"), colour=colour)
        for name, value in status.lines(locale):
            embed.add_field(name=name, value=value[:1024], inline=False)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    # ------------------------------------------------------------------ /shop method manual
    @method.command(name="manual", description="Set the manual payment instructions customers see ('off' disables)")
    @app_commands.describe(
        instructions="Card or wallet details and 'put the order number in the comment'; off = disable"
    )
    @staff_only()
    @server_manager_only()
    async def method_manual(self, interaction: Interaction, instructions: app_commands.Range[str, 1, 1500]) -> None:
        enabled = await self.service.set_manual_instructions(_actor(interaction), instructions)
        message = t(_locale(interaction), "shop.manual.enabled" if enabled else "shop.manual.disabled")
        await interaction.response.send_message(message, ephemeral=True)
