"""Which language the bot writes in where no reader is at hand: channel posts and DMs.

- **Channel posts** (notifications, order cards, audit): ``BOT_LOCALE`` when the operator set it; else the
  server's language as Discord gave it with the last ``/setup`` command (``interaction.guild_locale``, which
  Community servers set), stored in ``guild_config`` under ``locale``; else English.
- **DMs**: the recipient's last known Discord language (``guild_config`` key ``locale.member.<user id>``,
  written when a member's language changed), else the channel language. (A key of the existing key/value
  table, not a table of its own: migrations are consecutive and 0012 is another change's; a later
  ``member_locales`` table can take these rows over.)

:meth:`Languages.channel` is synchronous (a cached value) because posts are rendered inside the
transaction of the change they report.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable

import aiosqlite

from bot.guild_config import GuildConfig
from bot.i18n.catalog import DEFAULT_LOCALE
from bot.i18n.negotiation import from_discord, supported
from bot.settings import LanguageSettings
from bot.storage.multirow import chunked, row_marks

log = logging.getLogger(__name__)

GUILD_KEY = "locale"


def member_key(user_id: int) -> str:
    return f"locale.member.{user_id}"


async def member_locale_on(conn: aiosqlite.Connection, user_id: int) -> str | None:
    """A member's last known language, read on an open connection (inside a transaction's hook)."""
    async with conn.execute("SELECT value FROM guild_config WHERE key = ?", (member_key(user_id),)) as cur:
        row = await cur.fetchone()
    return None if row is None else supported(str(row[0]))


def member_locales_sync(conn: sqlite3.Connection, user_ids: Iterable[int]) -> dict[int, str]:
    """:func:`member_locale_on` for many members at once, on a synchronous connection (the webhook store's writer
    thread, inside the ingest transaction): one statement per chunk of keys rather than one per member. Members
    without a known (supported) language are absent."""
    keys = {member_key(user_id): user_id for user_id in user_ids}
    found: dict[int, str] = {}
    for chunk in chunked(sorted(keys)):
        rows = conn.execute(
            f"SELECT key, value FROM guild_config WHERE key IN ({row_marks('?', len(chunk))})",  # noqa: S608
            chunk,
        )
        for key, value in rows:
            language = supported(str(value))
            if language is not None:
                found[keys[str(key)]] = language
    return found


class Languages:
    def __init__(self, settings: LanguageSettings, guild_config: GuildConfig) -> None:
        self._explicit = "locale" in settings.model_fields_set
        self._setting = settings.locale
        self._guild_config = guild_config
        self._channel = settings.locale
        self._members: dict[int, str] = {}

    async def load(self) -> None:
        """Read the server's stored language (at start-up)."""
        if not self._explicit:
            stored = supported(await self._guild_config.value(GUILD_KEY))
            self._channel = stored or self._setting

    def channel(self) -> str:
        return self._channel

    async def remember_guild(self, guild_locale: object) -> None:
        """``/setup`` ran: keep the server's language (when Discord gave one and BOT_LOCALE is not set)."""
        language = supported(str(getattr(guild_locale, "value", guild_locale))) if guild_locale else None
        if self._explicit or language is None or language == self._channel:
            return
        await self._guild_config.set_value(GUILD_KEY, language)
        self._channel = language
        log.info("channel language set locale=%s", language)

    async def remember_member(self, user_id: int, locale: object) -> str:
        """Record the member's Discord language when it changed; the language to answer them in. The stored
        language is read once per member and process (this class writes every change): after a restart, a
        member's first interaction is a read, not a write of what is already stored."""
        language = from_discord(locale, DEFAULT_LOCALE)
        if user_id not in self._members:
            stored = supported(await self._guild_config.value(member_key(user_id)))
            if stored is not None:
                self._members[user_id] = stored
        if self._members.get(user_id) != language:
            await self._guild_config.set_value(member_key(user_id), language, updated_by=user_id)
            self._members[user_id] = language
        return language

    async def member(self, user_id: int) -> str:
        """The language of a DM to ``user_id``."""
        known = self._members.get(user_id)
        if known is None:
            known = supported(await self._guild_config.value(member_key(user_id)))
        return known or self._channel
