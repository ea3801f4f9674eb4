"""``/shop``: the reseller's price table, its push to Neverlose's checkout, visibility and status.

Thin glue over :class:`bot.shop.service.ShopService`: parse the options, call the service, render. Every
command is staff-only (the same check as the spending commands); visibility, import and the manual method
also need Manage Server. Answers are ephemeral. Declines to load without ``MARKET_INTEGRATION_ID``.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import ResellerBot
from bot.extensions import FeatureDisabled
from bot.market.models import Plan, Product
from bot.shop.catalog import MARKETPLACE, PaymentMethod, ProductKey
from bot.shop.importing import EXPORT_FILENAME, ImportPlan, check_size
from bot.shop.price_table import PriceEntry
from bot.shop.prices_object import describe, price_text
from bot.shop.service import Actor, ShopService, shop_disabled_reason
from bot.shop.validation import product_key
from bot.staff.permissions import server_manager_only, staff_only
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


def _key_label(key: ProductKey) -> str:
    return "marketplace (price of 1 NLE)" if key.is_marketplace else key.label


def _method_label(method: PaymentMethod | None) -> str:
    return "every method" if method is None else method.label


def _entry_label(key: ProductKey, entry: PriceEntry) -> str:
    """``**CS2, 30 days**, EUR, every method``: which price a set or remove answer is about."""
    return f"**{_key_label(key)}**, {entry.currency}, {_method_label(entry.method)}"


class ShopConfirmView(OwnerView):
    """Confirm / Cancel, pressed only by the invoker (and only while staff)."""

    def __init__(self, *, owner_id: int, on_confirm: Callable[[Interaction], Awaitable[None]], timeout: float) -> None:
        super().__init__(owner_id=owner_id, timeout=timeout)
        self._on_confirm = on_confirm
        self.origin: Interaction | None = None

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.danger, custom_id="shop:confirm")
    async def confirm(self, interaction: Interaction, button: discord.ui.Button[ShopConfirmView]) -> None:
        self.stop()
        self.disable_all()
        await interaction.response.edit_message(view=self)
        await self._on_confirm(interaction)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary, custom_id="shop:cancel")
    async def cancel(self, interaction: Interaction, button: discord.ui.Button[ShopConfirmView]) -> None:
        self.stop()
        await interaction.response.edit_message(content="Cancelled; nothing was changed.", embed=None, view=None)

    async def on_timeout(self) -> None:
        if self.origin is None:
            return
        try:
            await self.origin.edit_original_response(content="Expired; nothing was changed.", embed=None, view=None)
        except discord.HTTPException as exc:
            log.warning("could not mark shop confirmation expired status=%s", exc.status)


class LinesPager(OwnerView):
    """Previous / Next through a long list of lines (the price table)."""

    def __init__(self, *, owner_id: int, title: str, lines: Sequence[str], footer_field: tuple[str, str]) -> None:
        super().__init__(owner_id=owner_id, timeout=600)
        self.title = title
        self.lines = list(lines) or ["The price table is empty. Add prices with `/shop price set`."]
        self.footer_field = footer_field
        self.page = 0
        self.pages = max(1, -(-len(self.lines) // PAGE_LINES))
        self._sync()

    def embed(self) -> discord.Embed:
        start = self.page * PAGE_LINES
        embed = discord.Embed(
            title=self.title, description="\n".join(self.lines[start : start + PAGE_LINES]), colour=0x5865F2
        )
        embed.add_field(name=self.footer_field[0], value=self.footer_field[1][:1024], inline=False)
        embed.set_footer(text=f"Page {self.page + 1}/{self.pages}")
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
        return [c for c in PRODUCT_CHOICES if text in c.name.lower() or text in c.value]

    async def plan_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[int]]:
        product = str(getattr(interaction.namespace, "product", "") or "").strip().lower()
        if product not in {p.value for p in Product}:
            return []  # the marketplace has no plan; an unknown product has none either
        return [
            app_commands.Choice(name=f"{plan.days} days", value=plan.days)
            for plan in Plan
            if str(plan.days).startswith(current.strip())
        ]

    async def currency_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        text = current.strip().upper()
        used = await self.service.currencies()
        return [app_commands.Choice(name=code, value=code) for code in used if code.startswith(text)][:25]

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
        key = product_key(product, plan)
        change = await self.service.set_price(_actor(interaction), key, currency, price, method)
        new = change.new
        assert new is not None  # noqa: S101 - set_price always returns the new entry
        was = "new price" if change.old is None else f"was {price_text(change.old.price)}"
        shown = await self.service.shown_price(key, new.currency)
        after = f"Neverlose will show {describe(shown)} {new.currency}" if shown is not None else "not pushed yet"
        await interaction.response.send_message(
            f"Price set: {_entry_label(key, new)}: **{price_text(new.price)}** ({was}). "
            f"{after} after the next push (within 10 s).",
            ephemeral=True,
        )

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
        key = product_key(product, plan)
        old = await self.service.remove_price(_actor(interaction), key, currency, method)
        await interaction.response.send_message(
            f"Price removed: {_entry_label(key, old)} (was {price_text(old.price)}).",
            ephemeral=True,
        )

    # ------------------------------------------------------------------ /shop prices
    @prices.command(name="show", description="The whole price table and what the next push sends")
    @staff_only()
    async def prices_show(self, interaction: Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        entries = await self.service.table.entries()
        lines = [
            f"`{e.product_key}` {e.currency} **{price_text(e.price)}** ({_method_label(e.method)})" for e in entries
        ]
        nxt = await self.service.next_push()
        if nxt.text is None:
            footer = ("Next push", f"Nothing is pushed: {nxt.reason}")
        else:
            shown = nxt.text if len(nxt.text) <= 1000 else nxt.text[:997] + "…"
            footer = ("Next push sends", f"```json\n{shown}\n```")
        view = LinesPager(
            owner_id=interaction.user.id,
            title=f"Price table ({len(entries)} entries)",
            lines=lines,
            footer_field=footer,
        )
        await interaction.followup.send(embed=view.embed(), view=view, ephemeral=True)

    @prices.command(name="export", description="Download the prices as a JSON file in Neverlose's format")
    @staff_only()
    async def prices_export(self, interaction: Interaction) -> None:
        data = await self.service.export()
        await interaction.response.send_message(
            "The prices in Neverlose's format (what the next push sends). Edit it and use `/shop prices import`.",
            file=discord.File(io.BytesIO(data), filename=EXPORT_FILENAME),
            ephemeral=True,
        )

    @prices.command(name="import", description="Replace the price table with a JSON file in Neverlose's format")
    @app_commands.describe(file="A JSON file as /shop prices export makes it (at most 64 KiB)")
    @staff_only()
    @server_manager_only()
    async def prices_import(self, interaction: Interaction, file: discord.Attachment) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        check_size(file.size)  # before downloading it
        plan = await self.service.plan_import(await file.read())
        if plan.unchanged:
            await interaction.followup.send("The file matches the price table; nothing to import.", ephemeral=True)
            return
        lines = plan.preview_lines()
        shown = lines[:PREVIEW_LINES]
        if len(lines) > len(shown):
            shown.append(f"… and {len(lines) - len(shown)} more")
        embed = discord.Embed(
            title=f"Import preview: {plan.summary()}",
            description="```diff\n" + "\n".join(shown)[:3900] + "\n```",
            colour=0xF0B232,
        )
        embed.set_footer(text="Confirm replaces the whole price table. Only you can press these buttons.")

        async def confirm(press: Interaction) -> None:
            await self._apply_import(press, plan)

        view = ShopConfirmView(owner_id=interaction.user.id, on_confirm=confirm, timeout=self.confirm_timeout)
        view.origin = interaction
        await interaction.followup.send(embed=embed, view=view, ephemeral=True)

    async def _apply_import(self, press: Interaction, plan: ImportPlan) -> None:
        done = await self.service.apply_import(_actor(press), plan)
        await press.edit_original_response(
            content=f"Imported: {done.summary()}. The next push (within 10 s) sends the new prices.",
            embed=None,
            view=None,
        )

    # ------------------------------------------------------------------ /shop visibility
    @shop.command(name="visibility", description="Show or hide your payment method on Neverlose's checkout")
    @app_commands.describe(public="True: every customer sees it; False: only you (for testing)")
    @staff_only()
    @server_manager_only()
    async def visibility(self, interaction: Interaction, public: bool) -> None:
        if not public:
            await interaction.response.defer(ephemeral=True, thinking=True)
            await self.service.set_visibility(_actor(interaction), False)
            await interaction.followup.send(
                "Your integration is now hidden: only you see it on Neverlose's checkout.", ephemeral=True
            )
            return
        nxt = await self.service.next_push()
        warning = ""
        if nxt.text is None:
            warning = f"\n\n**Warning:** nothing is pushed to Neverlose yet. {nxt.reason}"

        async def confirm(press: Interaction) -> None:
            await self.service.set_visibility(_actor(press), True)
            await press.edit_original_response(
                content="Your integration is now public: every customer sees it on Neverlose's checkout.",
                embed=None,
                view=None,
            )

        view = ShopConfirmView(owner_id=interaction.user.id, on_confirm=confirm, timeout=self.confirm_timeout)
        view.origin = interaction
        await interaction.response.send_message(
            "Make your integration **public**? Every customer will see your payment method and prices on "
            f"Neverlose's checkout and can be redirected to this bot.{warning}",
            view=view,
            ephemeral=True,
        )

    # ------------------------------------------------------------------ /shop status
    @shop.command(name="status", description="Integration, visibility, pushes, errors and the Redirect URL")
    @staff_only()
    async def status(self, interaction: Interaction) -> None:
        status = await self.service.status()
        embed = discord.Embed(title="Shop status", colour=0xED4245 if status.alert_active else 0x57F287)
        for name, value in status.lines():
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
        if await self.service.set_manual_instructions(_actor(interaction), instructions):
            message = "Manual payments are enabled with these instructions. The next push includes their prices."
        else:
            message = "Manual payments are disabled. The next push leaves out prices only they had."
        await interaction.response.send_message(message, ephemeral=True)


async def setup(bot: ResellerBot) -> None:
    reason = shop_disabled_reason(bot.settings.shop.integration_id)
    if reason is not None:
        raise FeatureDisabled(reason)
    if bot.shop is None:
        raise FeatureDisabled("the shop service was not started")
    await bot.add_cog(ShopCog(bot.shop))
