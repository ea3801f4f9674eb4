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
