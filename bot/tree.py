"""The command tree: one error handler for every application command.

Rendering lives in :func:`bot.staff.errors.render_error`: Market refusals show the API's own text, an
unreachable Neverlose is said so (for spending commands: recorded, re-checked, nothing spent twice),
validation and permission problems are explained, anything else gets a reference code that is logged with
the full traceback. Views use :func:`report_interaction_error` for their buttons, so buttons and commands
answer the same way.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from bot.i18n import from_discord
from bot.staff.errors import GENERIC_FAILURE, render_error, unwrap

__all__ = ["GENERIC_FAILURE", "BotCommandTree", "report_interaction_error", "send_ephemeral"]

log = logging.getLogger(__name__)

EXPIRED_INTERACTION_CODES = frozenset({10062, 10015, 50027})
"""Discord's "Unknown interaction", "Unknown Webhook" and "Invalid Webhook Token": the interaction is over."""


async def send_ephemeral(interaction: discord.Interaction[Any], content: str) -> None:
    """Answer ephemerally whether the interaction was answered, deferred or not yet; never raise."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(content, ephemeral=True)
        else:
            await interaction.response.send_message(content, ephemeral=True)
    except discord.HTTPException as exc:  # expired (10062) or Discord unavailable: nothing more to do
        log.warning("could not deliver error reply interaction=%s status=%s", interaction.id, exc.status)


async def report_interaction_error(
    interaction: discord.Interaction[Any], error: BaseException, *, where: str, spending: bool = False
) -> None:
    """Log ``error`` (with a traceback only when unexpected) and answer the user ephemerally."""
    original = unwrap(error)
    if isinstance(original, discord.HTTPException) and original.code in EXPIRED_INTERACTION_CODES:
        # Discord no longer knows the interaction (answered after its 3 s, e.g. held back by a 429, or after its
        # token's 15 min): nobody can be answered, and it is no bug of ours to trace
        log.warning(
            "interaction expired before the bot answered where=%s user=%s code=%s",
            where,
            interaction.user.id,
            original.code,
        )
        return
    rendered = render_error(error, spending=spending, locale=from_discord(interaction.locale))
    if rendered.reference is not None:
        log.error(
            "interaction failed ref=%s where=%s user=%s",
            rendered.reference,
            where,
            interaction.user.id,
            exc_info=unwrap(error),
        )
    else:
        log.log(
            rendered.level,
            "interaction refused where=%s user=%s error=%s",
            where,
            interaction.user.id,
            type(unwrap(error)).__name__,
        )
    await send_ephemeral(interaction, rendered.text)


class BotCommandTree(app_commands.CommandTree[discord.Client]):
    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        command = interaction.command
        name = command.qualified_name if command else "?"
        spending = bool(command is not None and command.extras.get("spending"))
        await report_interaction_error(interaction, error, where=f"/{name}", spending=spending)
