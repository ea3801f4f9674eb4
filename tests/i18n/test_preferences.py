"""Where no reader is at hand: the channel language (BOT_LOCALE, else the server's kept at /setup) and each
member's last known language for DMs, stored in a real SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import discord

from bot.guild_config import GuildConfig
from bot.i18n.preferences import Languages, member_key
from bot.settings import Settings
from bot.storage import Database
from tests.fake_discord import FakeDiscord
from tests.plugins.bot import StartBot


async def _languages(make_settings: Callable[..., Settings], **env: str) -> tuple[Languages, Database, GuildConfig]:
    settings = make_settings(**env)
    db = await Database.open(settings.storage.database_path)
    config = GuildConfig(db, settings)
    languages = Languages(settings.language, config)
    await languages.load()
    return languages, db, config


async def test_the_server_language_kept_at_setup_unless_bot_locale_is_set(
    make_settings: Callable[..., Settings],
) -> None:
    languages, db, config = await _languages(make_settings)
    try:
        assert languages.channel() == "en"
        await languages.remember_guild(discord.Locale.russian)
        assert languages.channel() == "ru"
        await languages.remember_guild(discord.Locale.german)  # no catalog: the kept language stays
        assert languages.channel() == "ru"
        again = Languages(make_settings().language, config)
        await again.load()
        assert again.channel() == "ru", "kept across a restart"
        explicit = Languages(make_settings(BOT_LOCALE="en").language, config)
        await explicit.load()
        assert explicit.channel() == "en", "BOT_LOCALE set by the operator wins"
        await explicit.remember_guild(discord.Locale.russian)
        assert explicit.channel() == "en"
    finally:
        await db.close()


async def test_a_members_language_is_remembered_for_dms(make_settings: Callable[..., Settings]) -> None:
    languages, db, config = await _languages(make_settings, BOT_LOCALE="ru")
    try:
        assert await languages.member(7) == "ru", "unknown member: the channel language"
        assert await languages.remember_member(7, discord.Locale.british_english) == "en"
        assert await config.value(member_key(7)) == "en"
        fresh = Languages(make_settings(BOT_LOCALE="ru").language, config)
        assert await fresh.member(7) == "en"
        assert await languages.remember_member(7, discord.Locale.russian) == "ru"
        assert await fresh.member(7) == "ru"
    finally:
        await db.close()


async def test_a_restart_does_not_rewrite_a_members_unchanged_language(make_settings: Callable[..., Settings]) -> None:
    """After a restart, a member's first interaction in the stored language reads it and writes nothing; a
    change is still written, once."""
    languages, db, config = await _languages(make_settings)
    try:
        assert await languages.remember_member(7, discord.Locale.russian) == "ru"
        await db.execute("UPDATE guild_config SET updated_at = 'marker' WHERE key = ?", (member_key(7),))
        restarted = Languages(make_settings().language, config)
        assert await restarted.remember_member(7, discord.Locale.russian) == "ru"
        assert await restarted.remember_member(7, discord.Locale.russian) == "ru"
        row = await db.fetchone("SELECT value, updated_at FROM guild_config WHERE key = ?", (member_key(7),))
        assert row is not None
        assert tuple(row) == ("ru", "marker"), "not written again"
        assert await restarted.remember_member(7, discord.Locale.british_english) == "en"
        row = await db.fetchone("SELECT value, updated_at FROM guild_config WHERE key = ?", (member_key(7),))
        assert row is not None
        assert row[0] == "en"
        assert row[1] != "marker"
        assert await restarted.member(7) == "en"
        assert await restarted.remember_member(8, discord.Locale.russian) == "ru", "never seen: written"
        assert await config.value(member_key(8)) == "ru"
    finally:
        await db.close()


async def test_setup_in_a_russian_server_makes_channel_posts_russian(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    bot = await start_bot()
    assert bot.languages.channel() == "en"
    fake_discord.guild_locale = "ru"
    record = await fake_discord.invoke_command(
        "setup", {"kind": "audit", "channel": fake_discord.channels["audit"]}, user="owner", subcommand="notifications"
    )
    await record.wait_response()
    for _ in range(200):  # the interaction event runs beside the command; bounded wait
        if bot.languages.channel() == "ru":
            break
        await asyncio.sleep(0.01)
    assert bot.languages.channel() == "ru"
