"""kill -9 between paid and delivered: the next start delivers the order, and never twice.

The bot is a real process, killed with SIGKILL while its ``gift-product`` request is in flight; the Market
simulator is a process of its own (``tests/orders/sim_process.py``), so what Neverlose did survives the kill
exactly as it would. Two windows: the request reached Neverlose and was applied but the answer never came back
(the restart's same request id is answered ``Invalid id.`` = already done), and the request had not been
applied yet (the restart applies it once; the stray first request then finds its id used).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.market.journal import OperationStatus
from bot.market.simulator.app import API_PREFIX
from bot.orders.models import OrderState
from bot.orders.repository import OrderRepository
from bot.orders.sandbox_link import sample_checkout_link
from bot.payments.enabled import set_manual_instructions
from bot.shop.price_table import PriceEntry, PriceTable
from bot.storage import Database
from tests.e2e.harness import REPO_ROOT, BotProcess, bot_env
from tests.fake_discord import FakeDiscord

pytestmark = pytest.mark.e2e

SECRET = "kill-test-market-secret-" + "k" * 48


@contextlib.asynccontextmanager
async def simulator_process() -> AsyncIterator[str]:
    """Start the simulator process; yields its root URL (``http://127.0.0.1:N``)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.orders.sim_process",
        SECRET,
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode()
        match = re.search(r"port=(\d+)", line)
        assert match, line
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        proc.kill()
        await proc.wait()


async def gifts(http: aiohttp.ClientSession, sim_url: str) -> int:
    async with http.get(f"{sim_url}/_control/effects", params={"method": "gift-product"}) as resp:
        return int((await resp.json())["count"])


async def order_state(http: aiohttp.ClientSession, bot: BotProcess, order_id: str) -> str:
    async with http.get(f"{bot.base_url}/orders/{order_id}/status") as resp:
        return str((await resp.json())["state"])


async def eventually(check: Any, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("applied_before_kill", [True, False], ids=["answer-lost", "not-yet-applied"])
async def test_kill_9_between_paid_and_delivered(
    fake: FakeDiscord, http: aiohttp.ClientSession, tmp_path: Path, applied_before_kill: bool
) -> None:
    db_path = tmp_path / "bot.sqlite3"
    db = await Database.open(db_path)
    await PriceTable(db).put(PriceEntry("cs2-30", "EUR", Decimal("19.90")), updated_by=None)
    await set_manual_instructions(db, "Pay to IBAN DE02 1203 0000 0000 2020 51.")
    await db.close()

    async with simulator_process() as sim_url:
        env = bot_env(
            fake,
            None,
            tmp_path,
            MARKET_BASE_URL=sim_url + API_PREFIX,
            MARKET_USER_ID="1",
            MARKET_SECRET=SECRET,
            MARKET_INTEGRATION_ID="1",
        )
        bot = BotProcess(env=env, cwd=tmp_path)
        try:
            # 1. The customer follows the link and says they paid; the bot stops.
            await bot.start("run")
            await bot.wait_ready(fake, http)
            link = sample_checkout_link(bot.base_url, "/checkout", SECRET, 1)  # signed as Neverlose signs it
            async with http.get(link, allow_redirects=False) as r:
                assert r.status == 303, await r.text()
                order_id = r.headers["Location"].rsplit("/", 1)[1]
            async with http.get(f"{bot.base_url}/orders/{order_id}") as r:  # the page starts the pre-checks
                assert r.status == 200
            await bot.wait_for_line(rf"order event order_id={order_id} .*actor=system", timeout=10)
            await bot.terminate()

            # 2. Staff confirm the payment (durable): the order is paid; delivery is the next start's work.
            db = await Database.open(db_path)
            repo = OrderRepository(db, lambda: datetime.now(UTC))
            await repo.move(order_id, OrderState.PAID, actor="staff:1", expect=OrderState.AWAITING_PAYMENT)
            await db.close()

            # 3. Start: the gift is sent, and Neverlose holds the request (before or after applying it): kill -9.
            async with http.post(
                f"{sim_url}/_control/delay",
                params={"method": "gift-product", "seconds": "20", "after_effect": "1" if applied_before_kill else "0"},
            ) as r:
                assert r.status == 200
            await bot.start("run")
            await bot.wait_for_line(r"journal operation created .*method=gift-product", timeout=20)
            if applied_before_kill:
                await eventually(lambda: _is(gifts(http, sim_url), 1))
            else:
                await asyncio.sleep(0.5)
                assert await gifts(http, sim_url) == 0
            assert await bot.kill() == -9

            # 4. The next start delivers it, exactly once.
            await bot.start("run")
            await bot.wait_ready(fake, http)
            await eventually(lambda: _is(order_state(http, bot, order_id), "delivered"))
            assert await gifts(http, sim_url) == 1
            await bot.terminate()
        finally:
            await bot.close()

    db = await Database.open(db_path)
    try:
        repo = OrderRepository(db, lambda: datetime.now(UTC))
        order = await repo.get(order_id)
        assert (order.state, order.fulfil_attempt) == (OrderState.DELIVERED, 1)
        rows = await db.fetchall(
            "SELECT status, confirmed_on_retry FROM operations WHERE request_id = ?", (order.request_id,)
        )
        assert [(OperationStatus(r["status"]), bool(r["confirmed_on_retry"])) for r in rows] == [
            (OperationStatus.SUCCEEDED, applied_before_kill)
        ]
        states = [t.to_state for t in await repo.history(order_id) if t.from_state is not t.to_state]
        assert states == [OrderState.AWAITING_PAYMENT, OrderState.PAID, OrderState.FULFILLING, OrderState.DELIVERED]
    finally:
        await db.close()


async def _is(value: Any, expected: object) -> bool:
    return bool(await value == expected)
