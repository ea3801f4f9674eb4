"""End to end in a real headless Chromium with Crypto Pay: the checkout link → choose Crypto Pay → pay on the
fake Crypto Pay's page → back on the order page → "Delivered", exactly one gift in the Market simulator.

The bot is the real ``ResellerBot`` (in-process, fake Discord, Market simulator) with ``CRYPTOPAY_TOKEN`` and
``CRYPTOPAY_API_BASE`` pointing at the fake, which sends its signed webhook to the bot's own route.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.market.simulator.runner import RunningSimulator
from bot.market.simulator.state import SimulatorState
from bot.orders.models import OrderState
from bot.orders.sandbox_link import sample_checkout_link
from bot.payments.cryptopay.simulator import RunningFakeCryptoPay
from bot.payments.enabled import set_manual_instructions
from bot.shop.catalog import PaymentMethod
from bot.shop.price_table import PriceEntry, PriceTable
from tests.orders.test_browser import INSTRUCTIONS, SECRET
from tests.plugins.bot import StartBot
from tests.plugins.browser import PHONE


@pytest.fixture
def market_state() -> SimulatorState:
    return SimulatorState.demo(secret=SECRET)


@pytest.mark.parametrize("webhook", ["delivered", "lost"])
async def test_checkout_with_crypto_pay_in_chromium(
    browser: Any,
    start_bot: StartBot,
    market_sim: RunningSimulator,
    cp_fake: RunningFakeCryptoPay,
    webhook: str,
    images: Path,
) -> None:
    from playwright.async_api import expect

    bot = await start_bot(MARKET_INTEGRATION_ID="1", CRYPTOPAY_TOKEN=cp_fake.token, CRYPTOPAY_API_BASE=cp_fake.api_base)
    assert bot.orders is not None
    assert bot.cryptopay is not None
    cp_fake.state.webhook_url = bot.web.local_url + "/hooks/cryptopay"
    if webhook == "lost":
        cp_fake.state.webhook_faults.lose = 1
    await PriceTable(bot.db).put(PriceEntry("cs2-30", "EUR", Decimal("19.90")), updated_by=None)
    await set_manual_instructions(bot.db, INSTRUCTIONS)  # two methods: the customer chooses

    context = await browser.new_context(**PHONE)
    page = await context.new_page()
    await page.goto(sample_checkout_link(bot.web.local_url, "/checkout", SECRET, 1))
    order_id = page.url.rsplit("/", 1)[1]
    await expect(page.get_by_role("group", name="Choose how to pay")).to_be_visible(timeout=15_000)
    await page.get_by_label("Crypto Pay").check()
    await page.get_by_role("button", name="Continue").click()
    pay = page.get_by_role("link", name="Pay 19.90 EUR")
    await expect(pay).to_be_visible(timeout=10_000)
    if webhook == "delivered":
        await page.screenshot(path=str(images / "checkout-cryptopay-phone.png"), full_page=True)
    await page.reload()  # reloading never creates a second invoice
    await pay.click()

    assert page.url.startswith(cp_fake.base_url + "/pay/")
    await expect(page.get_by_text("Amount: 19.90 EUR")).to_be_visible()
    await page.get_by_label("Pay with").select_option("TON")
    await page.get_by_role("button", name="Pay").click()
    await page.wait_for_url(f"{bot.web.local_url}/orders/{order_id}")
    if webhook == "lost":
        await bot.cryptopay.provider.poll_pass()  # what the minute's poll does
    await expect(page.get_by_role("status")).to_have_text("Delivered", timeout=20_000)
    await context.close()

    assert len(cp_fake.state.invoices) == 1
    [invoice] = cp_fake.state.invoices.values()
    assert (invoice.payload, invoice.amount, invoice.fiat, invoice.paid_asset) == (
        order_id,
        Decimal("19.90"),
        "EUR",
        "TON",
    )
    assert len(market_sim.state.effects("gift-product")) == 1
    order = await bot.orders.service.get(order_id)
    assert (order.state, order.method, order.payment_reference) == (
        OrderState.DELIVERED,
        PaymentMethod.CRYPTOPAY,
        str(invoice.invoice_id),
    )
    sent = [d.status for d in cp_fake.state.deliveries]
    assert sent == ([200] if webhook == "delivered" else [])
