"""A real, connected ``ResellerBot`` against the fake Discord and the Market simulator, in-process.

``start_bot(**variables)`` builds Settings from environment variables (the standard wiring below plus your
overrides), starts the bot with discord.py pointed at the fake, waits until it is ready, and stops it when
the test ends. ``start_bot(sandbox=True)`` also hands it the simulator for the ``/sandbox`` demo commands.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

import pytest

from bot.core import ResellerBot
from bot.market.simulator.runner import RunningSimulator
from bot.settings import Settings
from tests.fake_discord import FakeDiscord, point_discord_py_at, run_client


class StartBot(Protocol):
    def __call__(self, *, sandbox: bool = False, **variables: str) -> Awaitable[ResellerBot]: ...


def standard_variables(fake: FakeDiscord, sim: RunningSimulator) -> dict[str, str]:
    """The wiring every in-process bot test shares: Discord at the fake, Market at the simulator."""
    return {
        "DISCORD_TOKEN": fake.token,
        "DISCORD_GUILD_ID": str(fake.guild.id),
        "MARKET_BASE_URL": sim.base_url,
        "MARKET_USER_ID": str(sim.user_id),
        "MARKET_SECRET": sim.secret,
        "STAFF_ROLE_IDS": str(fake.staff_role.id),
    }


@pytest.fixture
async def start_bot(
    fake_discord: FakeDiscord, market_sim: RunningSimulator, make_settings: Callable[..., Settings]
) -> AsyncIterator[StartBot]:
    async with contextlib.AsyncExitStack() as stack:

        async def start(*, sandbox: bool = False, **variables: str) -> ResellerBot:
            settings = make_settings(**{**standard_variables(fake_discord, market_sim), **variables})
            bot = ResellerBot(settings, sandbox_simulator=market_sim if sandbox else None)
            stack.enter_context(point_discord_py_at(fake_discord))
            await stack.enter_async_context(run_client(bot, fake_discord))
            return bot

        yield start
