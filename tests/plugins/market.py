"""Shared pytest fixtures for anything that talks to the Market API (register: ``tests.plugins.market``).

Every fixture is function-scoped and real: the simulator listens on 127.0.0.1 with a free port, the
database is a fresh SQLite file in ``tmp_path``. Retry delays are zero and every requested delay is
recorded in ``market_sleeps`` (nothing sleeps for real).

- ``market_state``    — :class:`SimulatorState.demo` (reseller, 1000.00 NLE, users ``darth`` (invited to
  invite-only ``cs2``), ``a49``, ``target_user``, ``newbie``; items ``E3yugw`` 0.90 and ``Lua777`` 2.50).
  Override this fixture in a test module to start from another state.
- ``market_sim``      — the running simulator (``.base_url``, ``.state``, ``.send_event(url, kind, **fields)``).
- ``market_session``  — an ``aiohttp.ClientSession`` closed after the test.
- ``market_sleeps``   — list of the delays retry policies asked for.
- ``market_retry``    — a :class:`RetryPolicy` with 4 attempts that records instead of sleeping.
- ``market_client``   — a :class:`MarketClient` pointed at ``market_sim``.
- ``market_settings`` — :class:`MarketSettings` for ``market_sim`` (for ``check_balance`` and factories).
- ``market_db``       — a migrated :class:`Database` in ``tmp_path`` (closed after the test).
- ``market_ids``      — a :class:`RequestIdFactory` loaded from ``market_db``.
- ``market_journal``  — a :class:`SpendingJournal` over ``market_db`` and ``market_client``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from bot.market.client import MarketClient
from bot.market.journal import SpendingJournal
from bot.market.request_ids import RequestIdFactory
from bot.market.retry import RetryPolicy
from bot.market.simulator.runner import RunningSimulator, running_simulator
from bot.market.simulator.state import SimulatorState
from bot.settings import MarketSettings
from bot.storage import Database


@pytest.fixture
def market_state() -> SimulatorState:
    return SimulatorState.demo()


@pytest.fixture
async def market_sim(market_state: SimulatorState) -> AsyncIterator[RunningSimulator]:
    async with running_simulator(market_state) as sim:
        yield sim


@pytest.fixture
async def market_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def market_sleeps() -> list[float]:
    return []


@pytest.fixture
def market_retry(market_sleeps: list[float]) -> RetryPolicy:
    async def record(seconds: float) -> None:
        market_sleeps.append(seconds)

    return RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.004, jitter=0.0, sleep=record)


@pytest.fixture
def market_client(
    market_session: aiohttp.ClientSession, market_sim: RunningSimulator, market_retry: RetryPolicy
) -> MarketClient:
    return MarketClient(
        market_session,
        base_url=market_sim.base_url,
        user_id=market_sim.user_id,
        secret=market_sim.secret,
        retry=market_retry,
        timeout=aiohttp.ClientTimeout(total=5, connect=2),
    )


@pytest.fixture
def market_settings(market_sim: RunningSimulator) -> MarketSettings:
    return MarketSettings.model_construct(
        user_id=market_sim.user_id, secret=SecretStr(market_sim.secret), base_url=market_sim.base_url
    )


@pytest.fixture
async def market_db(tmp_path: Path) -> AsyncIterator[Database]:
    db = await Database.open(tmp_path / "market.sqlite3")
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
async def market_ids(market_db: Database) -> RequestIdFactory:
    return await RequestIdFactory.load(market_db)


@pytest.fixture
def market_journal(
    market_db: Database, market_client: MarketClient, market_ids: RequestIdFactory, market_retry: RetryPolicy
) -> SpendingJournal:
    return SpendingJournal(market_db, market_client, id_factory=market_ids, retry=market_retry)
