"""Refunds by hand: ``/order show`` and ``/order refund`` show staff the buyer's Crypto Pay payment (asset,
amount, rates, invoice), read from what was stored when the payment was recorded, so it works while Crypto Pay
is unreachable; never the token. Real SQLite, the Market simulator and the fake Crypto Pay."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from bot.guild_config import GuildConfig
from bot.market.journal import SpendingJournal
from bot.orders import rendering
from bot.orders.models import OrderState
from bot.orders.payment_details import PAID_STATES, payer_details
from bot.orders.staff_actions import OrderStaffActions
from bot.orders.staff_spending import OrderSpending
from bot.payments.registry import PaymentRegistry
from bot.settings import Settings
from bot.shop.catalog import PaymentMethod
from bot.staff.audit import AuditLog
from bot.staff.permissions import StaffSubject
from tests.cryptopay.test_orders_flow import Shop, shop  # noqa: F401 (the fixture)

ROLE = 77
ALICE = StaffSubject(1, frozenset({ROLE}), manage_guild=False)


@pytest.fixture
def actions(shop: Shop, market_journal: SpendingJournal, make_settings: Callable[..., Settings]) -> OrderStaffActions:  # noqa: F811
    config = GuildConfig(shop.db, make_settings(STAFF_ROLE_IDS=str(ROLE)))
    return OrderStaffActions(shop.service, audit=AuditLog(shop.db), config=config, spent=OrderSpending(shop.db))


async def paid_order(shop: Shop, asset: str = "TON") -> tuple[str, int]:  # noqa: F811
    order = await shop.order()
    invoice_id = await shop.invoice_id(order)
    assert await shop.fake.pay(invoice_id, asset)
    await shop.settle()
    assert (await shop.service.get(order.id)).state is OrderState.DELIVERED
    return order.id, invoice_id


async def test_refund_and_show_give_the_buyers_payment_while_crypto_pay_is_down(
    shop: Shop,  # noqa: F811
    actions: OrderStaffActions,
) -> None:
    order_id, invoice_id = await paid_order(shop)
    invoice = shop.fake.state.invoices[invoice_id]
    assert invoice.paid_at is not None
    expected = {
        "invoice_id": str(invoice_id),
        "paid_asset": "TON",
        "paid_amount": str(invoice.paid_amount),
        "paid_fiat_rate": str(invoice.paid_fiat_rate),
        "paid_usd_rate": str(invoice.paid_usd_rate),
        "paid_at": invoice.paid_at.isoformat(),
        "paid_anonymously": "false",
    }
    labels = ["Invoice", "Asset paid", "Amount paid", "Fiat rate", "USD rate", "Paid at", "Paid anonymously"]
    shown = "\n".join(f"{label}: `{value}`" for label, value in zip(labels, expected.values(), strict=True))
    assert invoice.paid_amount is not None
    assert invoice.paid_amount > 0
    shop.fake.state.faults.fail_next("getInvoices", times=50, status=503)  # Crypto Pay unreachable from now on
    calls = len(shop.fake.state.request_log)
    order = await shop.service.get(order_id)
    assert await actions.payment_details(order) == expected
    embed = rendering.detail_embed(order, await shop.service.history(order_id), payment_details=expected)
    field = next(f for f in embed["fields"] if f["name"] == "Buyer's payment (Crypto Pay)")
    assert field["value"] == shown
    assert [f["name"] for f in embed["fields"]][-2:] == ["Buyer's payment (Crypto Pay)", "Timeline"]

    result = await actions.refund(order_id, ALICE, "sent back from @CryptoBot")
    assert result.order.state is OrderState.REFUNDED
    assert result.text == (
        f"Order `{order_id}` marked refunded: sent back from @CryptoBot\n"
        "The buyer's payment (send it back from @CryptoBot, Wallet → Send):\n" + shown
    )
    russian = result.text_in("ru")
    assert russian.startswith(
        f"Заказ `{order_id}` отмечен как возвращённый: sent back from @CryptoBot\n"
        "Оплата покупателя (верните её через @CryptoBot, Wallet → Send):\n"
    )
    assert "Счёт: `" + str(invoice_id) + "`\nОплачено в валюте: `TON`\n" in russian
    russian_embed = rendering.detail_embed(
        order, await shop.service.history(order_id), payment_details=expected, locale="ru"
    )
    assert "Оплаченная сумма: `" in str(russian_embed)
    assert shop.fake.token not in result.text
    assert shop.fake.token not in str(embed)
    assert len(shop.fake.state.request_log) == calls  # nothing was asked of Crypto Pay
    assert await actions.payment_details(result.order) == expected  # refunded orders still show them


async def test_without_stored_details_the_provider_is_polled_and_staff_are_told(
    shop: Shop,  # noqa: F811
    actions: OrderStaffActions,
) -> None:
    order_id, invoice_id = await paid_order(shop, "USDT")
    await shop.db.execute("UPDATE cryptopay_invoices SET payer_details = NULL WHERE order_id = ?", (order_id,))
    order = await shop.service.get(order_id)
    assert await payer_details(shop.service.providers, order) == {}
    result = await actions.refund(order_id, ALICE, "sent back by hand")
    assert result.text.endswith(
        f"\nCrypto Pay returned no payment details for this order (invoice `{invoice_id}`); look it up there."
    )
    assert result.text_in("ru").endswith(
        f"\nCrypto Pay не вернула данных об оплате этого заказа (счёт `{invoice_id}`); посмотрите их там."
    )


async def test_no_details_before_the_money_arrived_or_for_other_methods(shop: Shop) -> None:  # noqa: F811
    order = await shop.order()
    await shop.invoice_id(order)
    assert order.state not in PAID_STATES
    assert await payer_details(shop.service.providers, order) is None
    assert {
        OrderState.PAID,
        OrderState.FULFILLING,
        OrderState.DELIVERED,
        OrderState.NEEDS_ATTENTION,
        OrderState.REFUNDED,
    } == PAID_STATES
    order_id, _ = await paid_order(shop)
    paid = await shop.service.get(order_id)
    manual = dataclasses.replace(paid, method=PaymentMethod.MANUAL)
    assert await payer_details(shop.service.providers, manual) is None
    unknown = dataclasses.replace(paid, method=None)
    assert await payer_details(shop.service.providers, unknown) is None
    assert rendering.detail_embed(paid, [], payment_details=None)["fields"][-1]["name"] == "Timeline"


async def test_no_details_when_the_method_has_no_provider_now(shop: Shop) -> None:  # noqa: F811
    order_id, _ = await paid_order(shop)
    paid = await shop.service.get(order_id)
    assert await payer_details(PaymentRegistry(), paid) is None  # e.g. CRYPTOPAY_TOKEN removed since


async def test_a_failing_lookup_shows_no_details_and_is_logged(
    shop: Shop,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    order_id, _ = await paid_order(shop)
    paid = await shop.service.get(order_id)
    await shop.db.execute("ALTER TABLE cryptopay_invoices RENAME TO cryptopay_invoices_gone")
    assert await payer_details(shop.service.providers, paid) == {}
    [record] = [r for r in caplog.records if r.getMessage().startswith("payment details lookup failed")]
    assert record.getMessage() == f"payment details lookup failed order_id={order_id} method=cryptopay"
    assert record.exc_info is not None


async def test_the_refund_answer_in_both_languages_and_its_audit_entry(shop: Shop, actions: OrderStaffActions) -> None:  # noqa: F811
    """The first line of the answer is the refund sentence in the reader's language (the note cut at 300
    characters), then the payment lines; the audit entry names the server the command came from."""
    from bot.staff.audit import AuditQuery

    order_id, _ = await paid_order(shop)
    note = "n" * 299 + "xy" + "z" * 20
    result = await actions.refund(order_id, ALICE, note, guild_id=555)
    assert result.text.split("\n")[0] == f"Order `{order_id}` marked refunded: {note[:300]}"
    russian = result.text_in("ru").split("\n")
    assert russian[0] == f"Заказ `{order_id}` отмечен как возвращённый: {note[:300]}"
    assert russian[1] == "Оплата покупателя (верните её через @CryptoBot, Wallet → Send):"
    refunds = [r.entry for r in await AuditLog(shop.db).query(AuditQuery()) if r.entry.action == "order refund"]
    assert [entry.guild_id for entry in refunds] == [555]
