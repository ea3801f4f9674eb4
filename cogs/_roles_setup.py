"""``/setup roles``: map market item codes and products to the Discord roles linked customers receive."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import ResellerBot
from bot.i18n import from_discord, t
from bot.linking.roles import RoleKey, RoleMapping, RoleMappings
from bot.market.errors import MarketValidationError
from bot.market.validation import validate_item_code, validate_product
from bot.staff.permissions import server_manager_only
from cogs._setup_group import add_setup_commands, remove_setup_commands

log = logging.getLogger(__name__)

ACTIONS = [
    app_commands.Choice(name="add a mapping", value="add"),
    app_commands.Choice(name="remove a mapping", value="remove"),
    app_commands.Choice(name="list mappings", value="list"),
]
KINDS = [
    app_commands.Choice(name="market item code (purchases, free items)", value=RoleKey.ITEM.value),
    app_commands.Choice(name="product (gifted subscriptions: csgo, cs2)", value=RoleKey.PRODUCT.value),
]


def _describe(mapping: RoleMapping, locale: str) -> str:
    kind = t(locale, f"setup.roles.kind.{mapping.kind.value}")
    return t(locale, "setup.roles.describe", kind=kind, key=mapping.key, role=f"<@&{mapping.role_id}>")


def _normalise_key(kind: RoleKey, key: str) -> str:
    """The stored key: a validated item code (case kept) or a product value; raises MarketValidationError."""
    if kind is RoleKey.PRODUCT:
        return validate_product(key).value
    return validate_item_code(key)


def roles_command(mappings: RoleMappings) -> app_commands.Command[Any, ..., None]:
    @app_commands.command(name="roles", description="Roles granted to linked customers for items and products")
    @app_commands.describe(
        action="Add, remove or list mappings",
        kind="What the key is",
        key="The market item code (e.g. E3yugw) or the product (csgo, cs2)",
        role="The role to grant",
    )
    @app_commands.choices(action=ACTIONS, kind=KINDS)
    @app_commands.guild_only()
    @server_manager_only()
    async def roles(
        interaction: discord.Interaction,
        action: app_commands.Choice[str],
        kind: app_commands.Choice[str] | None = None,
        key: app_commands.Range[str, 1, 32] | None = None,
        role: discord.Role | None = None,
    ) -> None:
        guild = interaction.guild
        if guild is None:  # guild_only: never happens
            return
        none = discord.AllowedMentions.none()
        locale = from_discord(interaction.locale)
        if action.value == "list":
            found = await mappings.list(guild.id)
            text = "\n".join(_describe(m, locale) for m in found) or t(locale, "setup.roles.none")
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=none)
            return
        if kind is None or key is None or role is None:
            await interaction.response.send_message(t(locale, f"setup.roles.missing.{action.value}"), ephemeral=True)
            return
        if role.is_default() or role.managed:
            await interaction.response.send_message(t(locale, "setup.roles.unusable"), ephemeral=True)
            return
        role_key = RoleKey(kind.value)
        try:
            normalised = _normalise_key(role_key, key)
        except MarketValidationError as exc:
            await interaction.response.send_message(
                t(locale, "setup.roles.bad_key", message=exc.message_in(locale)), ephemeral=True
            )
            return
        mapping = RoleMapping(guild.id, role_key, normalised, role.id)
        if action.value == "add":
            changed = await mappings.add(guild.id, role_key, normalised, role.id, created_by=interaction.user.id)
            said = "setup.roles.added" if changed else "setup.roles.already"
            text = t(locale, said, mapping=_describe(mapping, locale))
        else:
            changed = await mappings.remove(guild.id, role_key, normalised, role.id)
            said = "setup.roles.removed" if changed else "setup.roles.no_such"
            text = t(locale, said, mapping=_describe(mapping, locale))
        log.info(
            "role mapping %s guild=%d kind=%s key=%s role=%d by=%d changed=%s",
            action.value,
            guild.id,
            role_key.value,
            normalised,
            role.id,
            interaction.user.id,
            changed,
        )
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=none)

    return roles


class RolesSetupCog(commands.Cog):
    def __init__(self, bot: ResellerBot, mappings: RoleMappings) -> None:
        self.bot = bot
        self.command = roles_command(mappings)

    async def cog_load(self) -> None:
        add_setup_commands(self.bot.tree, self.command)

    async def cog_unload(self) -> None:
        remove_setup_commands(self.bot.tree, self.command)
