"""``reseller-bot sandbox`` is a working shop: it prints a checkout link signed like Neverlose's, and the link
opens an order for the demo customer on the bot's own checkout page."""

from __future__ import annotations

import aiohttp
import pytest

from tests.e2e.conftest import StartBot
from tests.fake_discord import FakeDiscord

pytestmark = pytest.mark.e2e


async def test_the_sandbox_prints_a_working_checkout_link(
    start_bot: StartBot, fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    bot = await start_bot("sandbox", with_sim=False)
    match = await bot.wait_for_line(r"Sample checkout link \(valid 1 h.*\): (\S+)", timeout=10)
    link = match.group(1)
    assert link.startswith(f"{bot.base_url}/checkout?nl_purchase=")
    async with http.get(link, allow_redirects=False) as resp:
        assert resp.status == 303
        order_path = resp.headers["Location"]
    assert order_path.startswith("/orders/")
    async with http.get(bot.base_url + order_path) as resp:
        assert resp.status == 200
        page = await resp.text()
    assert "darth" in page
    assert "nl_purchase" not in " ".join(bot.lines[-40:]).replace(link, "")  # the token is printed once, not logged
    await bot.terminate()
    bot.assert_clean_log()
