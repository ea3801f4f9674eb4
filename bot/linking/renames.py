"""The audit channel's note when a linked Neverlose account changed its login (in the channel's language).

Queued through the notifications outbox (target ``channel:audit``) inside the transaction that records the
new login, like every other audit alert: an audit channel outage or a crash loses nothing, and without an
audit channel the note is dropped by the dispatcher like the others.
"""

from __future__ import annotations

import aiosqlite

from bot.i18n.catalog import DEFAULT_LOCALE, t
from bot.linking.links import Rename
from bot.notifications.embeds import Embed, alert_embed
from bot.notifications.outbox import Outbox, OutboxMessage
from bot.notifications.targets import AUDIT_TARGET


def rename_embed(rename: Rename, locale: str = DEFAULT_LOCALE) -> Embed:
    link = rename.link
    user_id = str(link.neverlose_user_id) if link.neverlose_user_id is not None else link.neverlose_sub
    return alert_embed(
        t(locale, "linking.rename.title"),
        t(
            locale,
            "linking.rename.text",
            member=f"<@{link.discord_user_id}>",
            login=link.neverlose_login,
            old=rename.old_login,
        ),
        problem=False,
        fields=[
            (t(locale, "linking.rename.field.user_id"), f"`{user_id}`"),
            (t(locale, "linking.rename.field.old"), f"`{rename.old_login}`"),
            (t(locale, "linking.rename.field.new"), f"`{link.neverlose_login}`"),
        ],
    )


def rename_notice(rename: Rename, locale: str = DEFAULT_LOCALE) -> OutboxMessage:
    link = rename.link
    return OutboxMessage(
        target=AUDIT_TARGET,
        embeds=[rename_embed(rename, locale)],
        dedupe_key=f"linking:rename:{link.neverlose_sub}:{link.neverlose_login}:{rename.seen_at.isoformat()}",
    )


class RenameAudit:
    """A rename hook for :class:`~bot.linking.links.LinkRepository` that notes renames in the audit channel."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    async def on_renamed(self, conn: aiosqlite.Connection, rename: Rename) -> None:
        await self._outbox.enqueue_many(conn, [rename_notice(rename, self._outbox.channel_locale())])
