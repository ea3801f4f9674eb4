"""Scenario 6: ``/healthz`` follows the Discord connection, and the bot reconnects by itself."""

from __future__ import annotations

import time

import aiohttp
import pytest

from tests.e2e.conftest import StartBot
from tests.e2e.harness import answered
from tests.fake_discord import FakeDiscord

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("outage", ["down", "stopped"])
async def test_healthz_503_while_discord_is_down_and_reconnect(
    start_bot: StartBot, fake: FakeDiscord, http: aiohttp.ClientSession, outage: str
) -> None:
    """``down``: the fake answers 503 and refuses the gateway; ``stopped``: nothing listens on its port."""
    bot = await start_bot()
    status, body = await bot.healthz(http)
    assert (status, body["checks"]["discord"]) == (200, "ok")
    await bot.wait_for_line(r"garbage collector settled frozen=\d+", timeout=15)  # start-up is over (bot.collector)

    if outage == "down":
        await fake.set_down(True)
        body = await bot.wait_health(http, 503)
        await fake.wait_for(lambda: fake.gateway.refused >= 1)  # the bot tried to come back at least once
        started = time.monotonic()
        await fake.set_down(False)
    else:
        await fake.stop()
        body = await bot.wait_health(http, 503)
        started = time.monotonic()
        await fake.start()  # same port
    assert body["status"] == "unavailable"
    assert body["checks"]["discord"] == "gateway not connected"
    assert body["checks"]["database"] == "ok"

    await bot.wait_health(http, 200, timeout=15)
    reconnect_s = time.monotonic() - started
    assert fake.gateway.resumes + fake.gateway.identifies >= 2
    rec = await fake.invoke_command("balance", {}, user="staff")
    assert "NLE" in await answered(rec)
    bot.lines.append(f"----- e2e: reconnected {reconnect_s:.2f} s after Discord came back -----")
    settled = [line for line in bot.lines if "garbage collector settled frozen=" in line]
    assert len(settled) == 1, settled  # once: not again after reconnecting
    fake.assert_no_violations()
    await bot.terminate()
    # discord.py logs each failed reconnect attempt at ERROR with its traceback; nothing else may be an error
    bot.assert_clean_log(allow=lambda record: "discord.client Attempting a reconnect in" in record)
