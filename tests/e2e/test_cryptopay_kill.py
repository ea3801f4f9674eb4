"""kill -9 of the real bot process between Crypto Pay's paid webhook (answered 200) and the delivery: the next
start delivers exactly once (the stored payment is confirmed again, the fulfilment resumes with its request id).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from bot.market.simulator.runner import RunningSimulator, running_simulator
from bot.market.simulator.state import SimulatorState
from bot.orders.sandbox_link import sample_checkout_link
from bot.payments.cryptopay.simulator import FakeCryptoPayState, RunningFakeCryptoPay, run_fake_cryptopay
from bot.shop.price_table import PriceEntry, PriceTable
from bot.storage import Database
from tests.e2e.harness import BotProcess
from tests.fake_discord import FakeDiscord
from tests.orders.test_browser import SECRET

_PAY_LINK = re.compile(r'href="(http://127\.0\.0\.1:\d+/pay/[A-Za-z0-9]+)"')


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with running_simulator(SimulatorState.demo(secret=SECRET)) as sim:
        yield sim


@pytest.fixture
async def cryptopay() -> AsyncIterator[RunningFakeCryptoPay]:
    fake = await run_fake_cryptopay(FakeCryptoPayState(webhook_attempts=1))
    try:
        yield fake
    finally:
        await fake.close()


async def _status(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url + "/status") as resp:
        return str((await resp.json())["state"])


async def _wait_state(http: aiohttp.ClientSession, url: str, state: str) -> None:
    for _ in range(300):
        if await _status(http, url) == state:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"order never became {state} (is {await _status(http, url)})")


@pytest.mark.parametrize("kill_at", ["right after the 200", "during the gift"])
async def test_kill_9_between_the_paid_webhook_and_delivery(
    make_bot: Callable[..., BotProcess],
    fake: FakeDiscord,
    sim: RunningSimulator,
    cryptopay: RunningFakeCryptoPay,
    http: aiohttp.ClientSession,
    tmp_path: Path,
    kill_at: str,
) -> None:
    db = await Database.open(tmp_path / "bot.sqlite3")
    await PriceTable(db).put(PriceEntry("cs2-30", "EUR", Decimal("19.90")), updated_by=None)
    await db.close()
    bot = make_bot(MARKET_INTEGRATION_ID="1", CRYPTOPAY_TOKEN=cryptopay.token, CRYPTOPAY_API_BASE=cryptopay.api_base)
    await bot.start("run")
    await bot.wait_ready(fake, http)
    cryptopay.state.webhook_url = bot.base_url + "/hooks/cryptopay"

    async with http.get(sample_checkout_link(bot.base_url, "/checkout", SECRET, 1)) as resp:
        assert resp.status == 200
        order_url = str(resp.url)
        order_path = resp.url.path
    pay_url = None
    for _ in range(200):  # the pre-checks run in the background; only Crypto Pay is enabled: its link shows
        async with http.get(order_url) as resp:
            found = _PAY_LINK.search(await resp.text())
        if found:
            pay_url = found.group(1)
            break
        await asyncio.sleep(0.05)
    assert pay_url is not None, bot.log_tail()

    if kill_at == "during the gift":
        sim.state.faults.delay_next("gift-product", seconds=30)  # the delivery hangs in flight
    async with http.post(pay_url, data={"asset": "USDT"}, allow_redirects=False) as resp:
        assert resp.status == 303
        assert resp.headers["Location"] == order_url
    await cryptopay.fake.idle()
    assert [d.status for d in cryptopay.state.deliveries] == [200]  # the webhook was answered: stored
    if kill_at == "during the gift":
        await fake.wait_for(lambda: len(sim.state.requests_for("gift-product")) == 1, timeout=10)
    await bot.kill()
    assert sim.state.effects("gift-product") == []

    db = await Database.open(tmp_path / "bot.sqlite3")
    rows = await db.fetchall("SELECT verdict, source FROM cryptopay_updates")
    await db.close()
    assert [(r["verdict"], r["source"]) for r in rows] == [("accepted", "webhook")]

    sim.state.faults.clear()
    await bot.start("run")
    await bot.wait_ready(fake, http)
    await _wait_state(http, bot.base_url + order_path, "delivered")  # a new port after the restart
    assert len(sim.state.effects("gift-product")) == 1
    assert len(cryptopay.state.invoices) == 1
    assert [d.status for d in cryptopay.state.deliveries] == [200]  # no second webhook was needed
    await bot.terminate()
