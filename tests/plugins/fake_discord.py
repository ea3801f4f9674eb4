"""pytest fixtures for the project's fake Discord (``tests/fake_discord``).

Load with ``pytest_plugins = ["tests.plugins.fake_discord"]`` in ``tests/conftest.py``.

* ``fake_discord`` - a running :class:`~tests.fake_discord.FakeDiscord` on 127.0.0.1 (free port) with the
  seeded guild; ids: ``fake_discord.guild.id``, ``.owner.id``, ``.staff.id``, ``.member.id``,
  ``.staff_role.id``, ``.channels["purchases"].id`` (also ``guild_id``, ``owner_id``, ... attributes).
* ``discord_py_at_fake`` - discord.py's ``Route.BASE`` and default gateway point at the fake during the test.
* ``fake_bot`` - a connected, ready ``commands.Bot`` (intents: guilds, members, guild messages); add
  commands/cogs, ``await fake_bot.tree.sync(guild=discord.Object(fake_discord.guild.id))``, then drive it
  with ``fake_discord.invoke_command(...)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import discord
import pytest
import pytest_asyncio
from discord.ext import commands

from tests.fake_discord import FakeDiscord, point_discord_py_at, run_client


@pytest_asyncio.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    fake.guild_id = fake.guild.id  # type: ignore[attr-defined]
    fake.owner_id = fake.owner.id  # type: ignore[attr-defined]
    fake.staff_id = fake.staff.id  # type: ignore[attr-defined]
    fake.member_id = fake.member.id  # type: ignore[attr-defined]
    fake.staff_role_id = fake.staff_role.id  # type: ignore[attr-defined]
    fake.channel_ids = {name: ch.id for name, ch in fake.channels.items()}  # type: ignore[attr-defined]
    try:
        yield fake
    finally:
        await fake.stop()
    assert not fake.internal_errors, f"the fake Discord itself failed: {fake.internal_errors}"


@pytest.fixture
def discord_py_at_fake(fake_discord: FakeDiscord) -> Iterator[FakeDiscord]:
    with point_discord_py_at(fake_discord):
        yield fake_discord


def bot_intents() -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True
    intents.members = True
    intents.guild_messages = True
    return intents


@pytest_asyncio.fixture
async def fake_bot(discord_py_at_fake: FakeDiscord) -> AsyncIterator[commands.Bot]:
    bot = commands.Bot(command_prefix=commands.when_mentioned, intents=bot_intents(), guild_ready_timeout=0.05)
    async with run_client(bot, discord_py_at_fake):
        yield bot
