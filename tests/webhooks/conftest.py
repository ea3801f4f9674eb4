from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.storage import Database
from tests.webhooks.helpers import Receiver, open_db, running_receiver


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with open_db(tmp_path / "bot.sqlite3") as database:
        yield database


@pytest.fixture
async def receiver(db: Database) -> AsyncIterator[Receiver]:
    async with running_receiver(db) as running:
        yield running
