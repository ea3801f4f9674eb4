"""Helpers to run a real discord.py client against a :class:`~.server.FakeDiscord` in-process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import discord
import discord.gateway
import discord.http
import yarl

from .server import FakeDiscord


@contextmanager
def point_discord_py_at(fake: FakeDiscord) -> Iterator[None]:
    """Point discord.py's REST base (``Route.BASE``) and default gateway
    (``DiscordWebSocket.DEFAULT_GATEWAY``) at ``fake`` for the duration of the block, then restore them."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


@contextlib.asynccontextmanager
async def run_client(
    client: discord.Client, fake: FakeDiscord, *, timeout: float = 10.0
) -> AsyncIterator[discord.Client]:
    """Log ``client`` in against ``fake``, run it in a task until it is ready, yield it, then close it
    cleanly (no unclosed sessions). The caller must already have pointed discord.py at the fake."""
    task = asyncio.create_task(client.start(fake.token), name="fake-discord-client")
    try:
        waiter = asyncio.create_task(client.wait_until_ready())
        done, _ = await asyncio.wait({waiter, task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            if task in done:
                task.result()  # re-raise the login/connection error
            raise TimeoutError("discord.py client did not become ready against the fake")
        yield client
    finally:
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=timeout)
