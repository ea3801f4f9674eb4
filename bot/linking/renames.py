"""The audit channel's note when a linked Neverlose account changed its login.

Queued through the notifications outbox (target ``channel:audit``) inside the transaction that records the
new login, like every other audit alert: an audit channel outage or a crash loses nothing, and without an
audit channel the note is dropped by the dispatcher like the others.
"""

from __future__ import annotations

import aiosqlite

from bot.linking.links import Rename
from bot.notifications.embeds import Embed, alert_embed
from bot.notifications.outbox import Outbox, OutboxMessage

AUDIT_TARGET = "channel:audit"


def rename_embed(rename: Rename) -> Embed:
    link = rename.link
    user_id = str(link.neverlose_user_id) if link.neverlose_user_id is not None else link.neverlose_sub
    return alert_embed(
        "Neverlose login changed",
        f"The Neverlose account linked to <@{link.discord_user_id}> is now called `{link.neverlose_login}` "
        f"(was `{rename.old_login}`). Receipts, role grants and order lookups use the new login.",
        problem=False,
        fields=[
            ("Neverlose user id", f"`{user_id}`"),
            ("Old login", f"`{rename.old_login}`"),
            ("New login", f"`{link.neverlose_login}`"),
        ],
    )


def rename_notice(rename: Rename) -> OutboxMessage:
    link = rename.link
    return OutboxMessage(
        target=AUDIT_TARGET,
        embeds=[rename_embed(rename)],
        dedupe_key=f"linking:rename:{link.neverlose_sub}:{link.neverlose_login}:{rename.seen_at.isoformat()}",
    )


class RenameAudit:
    """A rename hook for :class:`~bot.linking.links.LinkRepository` that notes renames in the audit channel."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    async def on_renamed(self, conn: aiosqlite.Connection, rename: Rename) -> None:
        await self._outbox.enqueue_many(conn, [rename_notice(rename)])
