"""End to end in a real headless Chromium: a checkout link signed like Neverlose's → the order page → manual
payment → "I have paid" → a staff confirmation → "Delivered" on the page, exactly one gift in the simulator.

The bot is the real ``ResellerBot`` (in-process, against the fake Discord and the Market simulator). The
screenshots of the order page (phone 390 px and desktop) go to the test's temporary folder, or to
``docs/images/`` for ``docs/checkout.md`` when ``UPDATE_DOC_IMAGES=1``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.guild_config import ChannelKind
from bot.market.simulator.runner import RunningSimulator
from bot.market.simulator.state import SimulatorState
from bot.orders.models import OrderState
from bot.orders.sandbox_link import sample_checkout_link
from bot.payments.enabled import set_manual_instructions
from bot.shop.price_table import PriceEntry, PriceTable
from tests.fake_discord import FakeDiscord
from tests.plugins.bot import StartBot
from tests.plugins.browser import DESKTOP, PHONE

SECRET = "browser-test-market-secret-" + "x" * 40
INSTRUCTIONS = (
    "Pay by SEPA transfer to:\nAcme Reseller Ltd\nIBAN DE02 1203 0000 0000 2020 51\n"
    "or by PayPal to pay@acme-reseller.example.\nPut your order number in the payment's comment."
)


@pytest.fixture
def market_state() -> SimulatorState:
    return SimulatorState.demo(secret=SECRET)


async def test_checkout_to_delivered_in_chromium(
    browser: Any, start_bot: StartBot, market_sim: RunningSimulator, fake_discord: FakeDiscord, images: Path
) -> None:
    from playwright.async_api import expect

    bot = await start_bot(MARKET_INTEGRATION_ID="1", SHOP_SUPPORT_URL="https://discord.gg/acme-reseller")
    assert bot.orders is not None
    prices = PriceTable(bot.db)
    await prices.put(PriceEntry("cs2-30", "EUR", Decimal("19.90")), updated_by=None)
    await prices.put(PriceEntry("cs2-30", "USD", Decimal("21.50")), updated_by=None)
    await set_manual_instructions(bot.db, INSTRUCTIONS)
    await bot.guild_config.set_channel(ChannelKind.ORDERS, fake_discord.channels["general"].id, updated_by=None)
    url = sample_checkout_link(bot.web.local_url, "/checkout", SECRET, 1)  # signed as Neverlose signs it

    phone = await browser.new_context(**PHONE)
    page = await phone.new_page()
    await page.goto(url)
    assert "/orders/" in page.url
    assert "nl_purchase" not in page.url
    order_id = page.url.rsplit("/", 1)[1]
    # The pre-checks run in the background; the page reloads itself when they are done.
    await expect(page.get_by_role("heading", name="How to pay")).to_be_visible(timeout=15_000)
    await expect(page.get_by_text("19.90 EUR").first).to_be_visible()
    await page.screenshot(path=str(images / "checkout-order-phone.png"), full_page=True)

    desktop = await browser.new_context(**DESKTOP)
    desktop_page = await desktop.new_page()
    await desktop_page.goto(f"{bot.web.local_url}/orders/{order_id}")
    await expect(desktop_page.get_by_role("button", name="I have paid")).to_be_visible()
    await desktop_page.screenshot(path=str(images / "checkout-order-desktop.png"), full_page=True)
    await desktop.close()

    await page.get_by_label("Payment reference (optional)").fill("SEPA 4471")
    await page.get_by_role("button", name="I have paid").click()
    await expect(page.get_by_text("We are checking your payment")).to_be_visible(timeout=10_000)
    order = await bot.orders.service.get(order_id)
    assert (order.claim_reference, order.state) == ("SEPA 4471", OrderState.AWAITING_PAYMENT)

    # The staff confirmation: a real press of the card's Confirm payment button in the fake Discord's orders channel.
    def card() -> dict[str, Any] | None:
        found = [m for m in fake_discord.messages("general") if order_id in str(m["embeds"])]
        return found[0] if found and f"order:confirm:{order_id}" in str(found[0]["components"]) else None

    message = await fake_discord.wait_for(card, timeout=10)
    press = await fake_discord.click_button(message, f"order:confirm:{order_id}", user="staff")
    await press.wait_until(lambda r: "confirmed" in r.all_text(), timeout=10)
    await expect(page.get_by_role("status")).to_have_text("Delivered", timeout=20_000)
    await expect(page.get_by_text("is on the Neverlose account")).to_be_visible()
    await page.screenshot(path=str(images / "checkout-delivered-phone.png"), full_page=True)
    await phone.close()

    assert len(market_sim.state.effects("gift-product")) == 1
    assert (await bot.orders.service.get(order_id)).state is OrderState.DELIVERED
    await fake_discord.wait_for(lambda: "Delivered" in str(fake_discord.messages("general")[-1]["embeds"]))
    assert len([m for m in fake_discord.messages("general") if order_id in str(m["embeds"])]) == 1  # edited card


async def test_a_refused_link_in_chromium(browser: Any, start_bot: StartBot, images: Path) -> None:
    from playwright.async_api import expect

    bot = await start_bot(MARKET_INTEGRATION_ID="1")
    context = await browser.new_context(**PHONE)
    page = await context.new_page()
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)  # expired an hour ago
    response = await page.goto(sample_checkout_link(bot.web.local_url, "/checkout", SECRET, 1, now=two_hours_ago))
    assert response is not None
    assert response.status == 410
    await expect(page.get_by_role("heading", name="Link expired")).to_be_visible()
    await expect(page.get_by_role("link", name="Go to Neverlose's site")).to_have_attribute(
        "href", "https://neverlose.cc"
    )
    await page.screenshot(path=str(images / "checkout-expired-phone.png"), full_page=True)
    await context.close()


async def test_the_order_page_in_russian_and_english_in_chromium(
    browser: Any, start_bot: StartBot, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    """A Russian browser (Accept-Language ru-RU) gets the page in Russian; the switcher's "English" link
    remembers English in a cookie (no script), which then wins over the browser's language; the form still
    posts with its CSRF token. Screenshots of both languages go to the test's folder."""
    from playwright.async_api import expect

    bot = await start_bot(MARKET_INTEGRATION_ID="1", SHOP_SUPPORT_URL="https://discord.gg/acme-reseller")
    prices = PriceTable(bot.db)
    await prices.put(PriceEntry("cs2-30", "EUR", Decimal("1234.50")), updated_by=None)
    await set_manual_instructions(bot.db, INSTRUCTIONS)
    url = sample_checkout_link(bot.web.local_url, "/checkout", SECRET, 1)

    russian = await browser.new_context(**PHONE, locale="ru-RU")
    page = await russian.new_page()
    await page.goto(url)
    await expect(page.get_by_role("heading", name="Как оплатить")).to_be_visible(timeout=15_000)
    assert await page.get_attribute("html", "lang") == "ru"
    await expect(page.get_by_role("status")).to_have_text("Ожидает оплаты")
    await expect(page.get_by_text("1\N{NO-BREAK SPACE}234,50\N{NO-BREAK SPACE}EUR").first).to_be_visible()
    await expect(page.get_by_role("heading", name="CS2, 30 дней")).to_be_visible()
    await page.screenshot(path=str(tmp_path / "checkout-order-ru-phone.png"), full_page=True)

    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("heading", name="How to pay")).to_be_visible()
    await expect(page.get_by_text("1,234.50 EUR").first).to_be_visible()
    assert [c["value"] for c in await russian.cookies() if c["name"] == "lang"] == ["en"]
    await page.reload()  # the cookie wins over the browser's Russian
    await expect(page.get_by_role("button", name="I have paid")).to_be_visible()
    await page.screenshot(path=str(tmp_path / "checkout-order-en-phone.png"), full_page=True)

    await page.get_by_role("link", name="Русский").click()
    await page.get_by_label("Номер платежа (необязательно)").fill("SEPA 1")
    await page.get_by_role("button", name="Я оплатил(а)").click()
    await expect(page.get_by_text("Проверяем вашу оплату")).to_be_visible(timeout=10_000)
    await page.screenshot(path=str(tmp_path / "checkout-claimed-ru-phone.png"), full_page=True)
    await russian.close()
