"""``reseller-bot sandbox`` sells with Crypto Pay end to end without an account: the embedded fake Crypto Pay
creates the invoice, shows its pay page and sends the signed webhook to the bot, which delivers through the
embedded Market simulator."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import aiohttp

from bot.market.simulator.state import SANDBOX_SECRET
from bot.orders.sandbox_link import sample_checkout_link
from bot.shop.price_table import PriceEntry, PriceTable
from bot.storage import Database
from tests.e2e.harness import BotProcess
from tests.fake_discord import FakeDiscord

_PAY_LINK = re.compile(r'href="(http://127\.0\.0\.1:\d+/pay/[A-Za-z0-9]+)"')


async def test_sandbox_sells_with_the_embedded_crypto_pay(
    make_bot: Callable[..., BotProcess], fake: FakeDiscord, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    db = await Database.open(tmp_path / "bot.sqlite3")
    await PriceTable(db).put(PriceEntry("cs2-30", "EUR", Decimal("9.90")), updated_by=None)
    await db.close()
    bot = make_bot(with_sim=False, MARKET_INTEGRATION_ID="1")
    await bot.start("sandbox")
    await bot.wait_ready(fake, http)
    await bot.wait_for_line(r"sandbox crypto pay running url=http://127\.0\.0\.1:\d+")

    link = sample_checkout_link(bot.base_url, "/checkout", SANDBOX_SECRET, 1)
    async with http.get(link) as resp:
        assert resp.status == 200
        order_path = resp.url.path
    pay_url = None
    for _ in range(200):
        async with http.get(bot.base_url + order_path) as resp:
            found = _PAY_LINK.search(await resp.text())
        if found:
            pay_url = found.group(1)
            break
        await asyncio.sleep(0.05)
    assert pay_url is not None, bot.log_tail()
    async with http.get(pay_url) as resp:
        page = await resp.text()
    assert "Amount: 9.90 EUR" in page
    assert "Fake Crypto Pay: no real money moves." in page
    async with http.post(pay_url, data={"asset": "TON"}, allow_redirects=False) as resp:
        assert resp.status == 303
        assert resp.headers["Location"] == bot.base_url + order_path
    state = ""
    for _ in range(300):
        async with http.get(bot.base_url + order_path + "/status") as resp:
            state = (await resp.json())["state"]
        if state == "delivered":
            break
        await asyncio.sleep(0.05)
    assert state == "delivered", bot.log_tail()
    await bot.wait_for_line(r"cryptopay payment accepted invoice_id=1001 order_id=\S+ source=webhook")
    await bot.terminate()
    bot.assert_clean_log()
