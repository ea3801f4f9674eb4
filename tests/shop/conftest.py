"""Fixtures for the shop: a migrated database, a settable clock, recorded alerts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from bot.shop.state import ShopState
from bot.storage import Database


class Clock:
    """A settable UTC clock."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 17, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class Alerts:
    posted: list[tuple[str, str, bool]] = field(default_factory=list)

    async def __call__(self, title: str, description: str, *, problem: bool) -> None:
        self.posted.append((title, description, problem))

    @property
    def titles(self) -> list[str]:
        return [title for title, _, _ in self.posted]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def alerts() -> Alerts:
    return Alerts()


@pytest.fixture
def shop_db(market_db: Database) -> Database:
    """A real SQLite file with every migration (the shared ``market_db`` of tests/plugins/market.py)."""
    return market_db


@pytest.fixture
def shop_state(shop_db: Database) -> ShopState:
    return ShopState(shop_db)
