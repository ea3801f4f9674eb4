"""Fixtures of the end-to-end suite: the fake Discord and the Market simulator in the test's loop, and bot
processes that are always killed when the test ends (even when it fails)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from bot.market.simulator.runner import RunningSimulator, running_simulator
from bot.market.simulator.state import SimulatorState
from tests.e2e.harness import BotProcess, bot_env
from tests.fake_discord import FakeDiscord

StartBot = Callable[..., Awaitable[BotProcess]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
    assert not fake.internal_errors, f"the fake Discord itself failed: {fake.internal_errors}"


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with running_simulator(SimulatorState.demo()) as sim:
        yield sim


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


@pytest.fixture
async def bots() -> AsyncIterator[list[BotProcess]]:
    """Every bot process a test started; killed and reaped at the end whatever happened."""
    started: list[BotProcess] = []
    try:
        yield started
    finally:
        for bot in started:
            await bot.close()


@pytest.fixture
def make_bot(
    fake: FakeDiscord, sim: RunningSimulator, tmp_path: Path, bots: list[BotProcess]
) -> Callable[..., BotProcess]:
    """A (not yet started) bot process against ``fake`` and ``sim``; keyword arguments override variables."""

    def factory(*, with_sim: bool = True, **overrides: str) -> BotProcess:
        bot = BotProcess(env=bot_env(fake, sim if with_sim else None, tmp_path, **overrides), cwd=tmp_path)
        bots.append(bot)
        return bot

    return factory


@pytest.fixture
def start_bot(make_bot: Callable[..., BotProcess], fake: FakeDiscord, http: aiohttp.ClientSession) -> StartBot:
    """Start a bot (``run`` unless ``command=``) and wait until it is ready."""

    async def starter(command: str = "run", **overrides: str) -> BotProcess:
        bot = make_bot(**overrides)
        await bot.start(command)
        await bot.wait_ready(fake, http)
        return bot

    return starter
