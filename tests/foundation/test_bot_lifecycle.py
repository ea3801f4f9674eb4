"""The bot core starts every resource, serves /healthz on an ephemeral port, and shuts down in order."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable

import aiohttp
import pytest

from bot.core import ResellerBot
from bot.market.simulator.runner import RunningSimulator
from bot.settings import Settings
from tests.fake_discord import FakeDiscord, point_discord_py_at
from tests.plugins.bot import StartBot


async def _healthz(url: str) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


async def _wait_healthy(url: str) -> dict[str, object]:
    for _ in range(200):
        try:
            status, body = await _healthz(url)
        except aiohttp.ClientConnectionError:
            status, body = 0, {}
        if status == 200:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"never healthy: {status} {body}")


async def test_start_serve_and_graceful_shutdown(
    fake_discord: FakeDiscord,
    market_sim: RunningSimulator,
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(
        DISCORD_TOKEN=fake_discord.token,
        DISCORD_API_BASE=fake_discord.api_base,
        DISCORD_GUILD_ID=str(fake_discord.guild.id),
        MARKET_BASE_URL=market_sim.base_url,
        MARKET_USER_ID=str(market_sim.user_id),
        MARKET_SECRET=market_sim.secret,
    )
    caplog.set_level(logging.DEBUG, logger="bot")
    bot = ResellerBot(settings)
    with point_discord_py_at(fake_discord):
        runner = asyncio.create_task(bot.start(settings.discord.token.get_secret_value()))
        try:
            await fake_discord.wait_until_ready(timeout=10)
            assert bot.web.port not in (None, 0, 8080)
            health_url = f"{bot.web.local_url}/healthz"
            body = await _wait_healthy(health_url)
            assert body["status"] == "ok"
            assert set(body["checks"]) >= {"database", "discord", "extensions"}  # type: ignore[arg-type]
            # every public cog was discovered and loaded (none failed), and commands were synced to the guild
            assert not bot.extension_report.failed
            assert bot.extension_report.loaded
            assert fake_discord.commands, "the command tree was synced"
            assert settings.storage.database_path.exists()
        finally:
            await asyncio.wait_for(bot.close(), timeout=10)
            await asyncio.wait_for(runner, timeout=10)

    assert bot.is_closed()
    assert bot.http_session.closed
    assert not await bot.db.ping()
    with pytest.raises(aiohttp.ClientConnectionError):
        await _healthz(health_url)
    steps = [r.getMessage().split("step=")[1] for r in caplog.records if "shutdown step done" in r.getMessage()]
    assert steps[0] == "http server"
    assert steps[-3:] == ["market session", "database", "discord"]
    assert "shutdown complete" in caplog.text


async def test_unhealthy_until_the_gateway_is_connected(
    fake_discord: FakeDiscord, market_sim: RunningSimulator, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(
        DISCORD_TOKEN=fake_discord.token,
        DISCORD_API_BASE=fake_discord.api_base,
        MARKET_BASE_URL=market_sim.base_url,
        MARKET_USER_ID=str(market_sim.user_id),
        MARKET_SECRET=market_sim.secret,
    )
    bot = ResellerBot(settings)
    with point_discord_py_at(fake_discord):
        async with bot:
            await bot.login(settings.discord.token.get_secret_value())  # runs setup_hook; no gateway yet
            status, body = await _healthz(f"{bot.web.local_url}/healthz")
            assert status == 503
            assert body["checks"]["discord"] == "gateway not connected"  # type: ignore[index]
            assert body["checks"]["database"] == "ok"  # type: ignore[index]


async def test_hung_feature_closers_do_not_block_the_rest_of_the_shutdown(start_bot: StartBot) -> None:
    bot = await start_bot()
    hung: list[str] = []

    async def hangs() -> None:
        hung.append("started")
        await asyncio.Event().wait()  # never finishes

    for _ in range(3):
        bot.on_close(hangs)
    bot.shutdown_budget = 1.0
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(bot.close(), timeout=10)
    elapsed = loop.time() - started
    assert hung == ["started"] * 3
    # every later step still ran: the Market session, the database and Discord are closed
    assert bot.http_session.closed
    assert not await bot.db.ping()
    assert bot.is_closed()
    # bounded by the budget plus the short minimum each remaining step keeps (0.5 s), not 3 s a closer
    assert elapsed < bot.shutdown_budget + 7 * 0.5


async def test_healthz_reports_writes_failing_until_one_succeeds(start_bot: StartBot) -> None:
    """A full disk (here SQLite's own "database or disk is full": neither connection may grow the file) shows in
    /healthz, for the main connection and for the webhook writer, with SQLite's reason; writes that succeed
    again clear it."""
    bot = await start_bot()
    webhooks = bot.webhooks
    assert webhooks is not None
    health_url = f"{bot.web.local_url}/healthz"
    await _wait_healthy(health_url)
    big = "x" * 5000  # a row that needs pages of its own

    def cap(conn: sqlite3.Connection) -> None:
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        conn.execute(f"PRAGMA max_page_count = {pages}")

    await bot.db.run_in_transaction(cap)
    await webhooks.store.transaction(cap)
    with pytest.raises(sqlite3.OperationalError, match="full"):
        await bot.db.execute("INSERT INTO webhook_rejections (hour, count) VALUES (?, 1)", (big,))
    status, body = await _healthz(health_url)
    assert status == 503
    checks = body["checks"]
    assert isinstance(checks, dict)
    assert checks["database"] == "writes failing: OperationalError: database or disk is full"
    assert checks["webhooks"] == "ok"

    def write_big(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO webhook_rejections (hour, count) VALUES (?, 1)", ("w" + big,))

    with pytest.raises(sqlite3.OperationalError, match="full"):
        await webhooks.store.transaction(write_big)
    status, body = await _healthz(health_url)
    assert (status, body["checks"]) == (
        503,
        {
            "database": "writes failing: OperationalError: database or disk is full",
            "discord": "ok",
            "extensions": "ok",
            "webhooks": "webhook writes failing: OperationalError: database or disk is full",
        },
    )

    def uncap(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA max_page_count = 1000000")

    await bot.db.run_in_transaction(uncap)  # room again: a write succeeds on each connection
    await webhooks.store.transaction(uncap)
    status, body = await _healthz(health_url)
    assert (status, body["status"]) == (200, "ok")
