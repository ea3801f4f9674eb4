from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.storage import Database
from tests.webhooks.helpers import open_db


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with open_db(tmp_path / "bot.sqlite3") as database:
        yield database


# The fake Discord fixtures (until ``tests.plugins.fake_discord`` is registered in tests/conftest.py).
from tests.plugins.fake_discord import discord_py_at_fake, fake_discord  # noqa: E402, F401
