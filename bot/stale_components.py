"""Buttons, selects and modals that nothing listens to any more get an answer instead of silence.

The views of confirmations, pagers and the retry button live in the bot's memory (their custom ids are plain
``confirm``, ``cancel``, ``next``, ``retry:7``, ...). After a restart, or after a view stopped while its
message still shows the buttons (an edit Discord refused), a press reaches no view: discord.py drops it, and
after 3 s Discord shows "This interaction failed". The press is instead answered ephemerally, in the presser's
language: nothing was done, run the command again. Persistent buttons (``DynamicItem`` templates: approvals,
order cards) are handled whatever the restarts and are never answered here.

:func:`is_orphaned` must look at the view store right after discord.py dispatched the interaction (the bot's
``dispatch("interaction", ...)``), before any view task ran: a view that handled the press may stop (and leave
the store) before it answers.
"""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.i18n import from_discord, t

log = logging.getLogger(__name__)


def is_orphaned(client: discord.Client, interaction: discord.Interaction[Any]) -> bool:
    """True when discord.py found no view item, dynamic item or modal for this component press or modal
    submit (the same look-ups as its ``ViewStore.dispatch_view`` / ``dispatch_modal``)."""
    store = getattr(getattr(client, "_connection", None), "_view_store", None)
    if store is None:  # another discord.py layout: cannot tell, so never answer in a view's place
        return False
    data: dict[str, Any] = dict(interaction.data or {})
    custom_id = data.get("custom_id")
    if not isinstance(custom_id, str):
        return False
    if interaction.type is discord.InteractionType.modal_submit:
        return custom_id not in store._modals
    if interaction.type is not discord.InteractionType.component:
        return False
    if any(pattern.fullmatch(custom_id) for pattern in store._dynamic_items):
        return False
    key = (data.get("component_type"), custom_id)
    message_id = interaction.message.id if interaction.message is not None else None
    item = store._views.get(message_id, {}).get(key) if message_id is not None else None
    if item is None:
        item = store._views.get(None, {}).get(key)
    return item is None or item.view is None


async def answer_orphaned(interaction: discord.Interaction[Any]) -> None:
    """Tell the presser that the button no longer works and that nothing was done (ephemeral, never raises)."""
    data: dict[str, Any] = dict(interaction.data or {})
    log.warning(
        "stale component answered custom_id=%s user=%s message=%s",
        str(data.get("custom_id", "?"))[:100],
        interaction.user.id,
        interaction.message.id if interaction.message is not None else None,
    )
    try:
        text = t(from_discord(interaction.locale), "interaction.stale")
        await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException as exc:  # expired or Discord unavailable: nothing more to do
        log.warning("could not answer stale component interaction=%s status=%s", interaction.id, exc.status)
