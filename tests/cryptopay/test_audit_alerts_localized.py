"""The Crypto Pay audit alerts, written in English by bot/payments/cryptopay/store.py (reasons by matching.py,
mutation-tested money modules), shown in the audit channel's language when the outbox reads them for delivery
(bot/notifications/alerts.py); in English exactly as written. Each alert's English text must stay a catalog
message's: a module whose wording drifts from its catalog message fails here."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest

from bot.i18n.english import match
from bot.notifications.alerts import alert_reason
from bot.notifications.outbox import Outbox
from bot.payments.cryptopay.matching import RowState, StoredInvoice, match_paid_invoice
from bot.payments.cryptopay.models import InvoiceStatus, parse_invoice
from bot.payments.cryptopay.provider import PaymentNotApplicable
from bot.payments.cryptopay.store import CryptoPayStore
from bot.payments.cryptopay.webhook import read_update
from bot.storage import Database
from tests.cryptopay.conftest import audit_rows
from tests.cryptopay.test_store import active, paid
from tests.i18n.everything import latin_runs
from tests.i18n.leaks import english_in


async def _shown(db: Database, locale: str) -> list[dict[str, object]]:
    rows = await Outbox(db, locale=lambda: locale).pending(target="channel:audit")
    return [dict(embed) for row in rows for embed in row.embeds]


def _text(embed: dict[str, object]) -> str:
    fields = embed.get("fields") or []
    assert isinstance(fields, list)
    parts = [str(embed["title"]), str(embed["description"])]
    parts += [f"{item['name']}: {item['value']}" for item in fields]
    return "\n".join(parts)


def _catalog_ids(embed: dict[str, object]) -> list[str | None]:
    """The catalog message of each English text of an alert (``None``: none matches)."""
    fields = embed.get("fields") or []
    assert isinstance(fields, list)
    found = [match(str(embed["title"]), "alerts.title."), match(str(embed["description"]), "alerts.text.")]
    found += [match(str(item["name"]), "alerts.field.") for item in fields if item["name"] != "SHA-256"]
    found += [match(str(item["value"]), "alerts.reason.") for item in fields if item["name"] == "Reason"]
    return [None if item is None else item[0] for item in found]


async def test_a_late_payment_alert_in_russian_exactly(cp_store: CryptoPayStore, market_db: Database) -> None:
    await active(cp_store)
    await cp_store.withdraw("order-1", RowState.EXPIRED)
    await cp_store.record_paid(paid(), body="{}", source="poll")
    [english] = await _shown(market_db, "en")
    assert english == (await audit_rows(market_db))[0]["embeds"][0]  # type: ignore[index]
    assert None not in _catalog_ids(english)
    [russian] = await _shown(market_db, "ru")
    assert russian == {
        "title": "Crypto Pay: оплата после истечения срока",
        "description": "Деньги пришли, когда заказ их уже не ждал. Ничего не выдано: решите, выдать ли заказ "
        "(`/order retry`) или вернуть деньги вручную (`/order refund`).",
        "color": english["color"],
        "fields": [
            {"name": "Причина", "value": "оплачено, когда счёт заказа был уже в состоянии «истёк»", "inline": False},
            {"name": "Заказ", "value": "order-1", "inline": False},
            {"name": "Счёт", "value": "1001 · 20.00 EUR", "inline": False},
            {"name": "Оплачено", "value": "21.5 USDT", "inline": False},
            {"name": "Получено через", "value": "опрос", "inline": False},
        ],
    }
    assert english_in(_text(russian)) == []
    assert latin_runs(_text(russian)) == []


async def test_quarantined_payments_in_russian(cp_store: CryptoPayStore, market_db: Database) -> None:
    await active(cp_store)
    await cp_store.record_paid(paid(amount=Decimal("2.00")), body="{}", source="webhook")
    unknown = paid(1005, None, currency_type="crypto", fiat=None, asset="TON", paid_asset=None, paid_amount=None)
    await cp_store.record_paid(unknown, body="{}", source="webhook")
    english = await _shown(market_db, "en")
    assert english == [row["embeds"][0] for row in await audit_rows(market_db)]  # type: ignore[index]
    for embed in english:
        assert None not in _catalog_ids(embed), embed
    amount, nobody = await _shown(market_db, "ru")
    assert amount["title"] == "Платёж Crypto Pay на карантине"
    assert amount["description"] == (
        "Он сохранён и подтверждён, но НИЧЕГО не выдано. Проверьте счёт в @CryptoBot и верните деньги вручную, "
        "если это деньги покупателя."
    )
    assert [(f["name"], f["value"]) for f in amount["fields"]][:2] == [  # type: ignore[attr-defined]
        ("Причина", "сумма 2.00 вместо 20.00 EUR"),
        ("Заказ", "order-1"),
    ]
    assert [(f["name"], f["value"]) for f in nobody["fields"]][:2] == [  # type: ignore[attr-defined]
        ("Причина", "неизвестный счёт: ни у одного заказа нет такого счёта"),
        ("Заказ", "нет"),
    ]
    for embed in (amount, nobody):
        assert english_in(_text(embed)) == []


async def test_an_unusable_update_and_an_unapplied_payment_in_russian(
    cp_store: CryptoPayStore, market_db: Database
) -> None:
    await cp_store.record_unusable("{", "body is not valid JSON", remote=None)
    await cp_store.alert_unapplied("order-1", str(PaymentNotApplicable.cancelled()))
    await cp_store.alert_unapplied("order-2", str(PaymentNotApplicable.in_state("delivered")))
    await cp_store.alert_unapplied("order-3", "order order-3 is cancelled")  # no message: an old or foreign text
    english = await _shown(market_db, "en")
    assert english == [row["embeds"][0] for row in await audit_rows(market_db)]  # type: ignore[index]
    for embed in english[:3]:
        assert None not in _catalog_ids(embed), embed
    update, cancelled, delivered, foreign = await _shown(market_db, "ru")
    assert update["title"] == "Обновление Crypto Pay на карантине"
    assert update["description"] == (
        "Не удалось прочитать правильно подписанное обновление Crypto Pay. Оно сохранено и подтверждено, "
        "но НЕ обработано.\n```json\n{\n```"
    )
    assert update["fields"][0] == {"name": "Причина", "value": "тело — не корректный JSON", "inline": False}  # type: ignore[index]
    assert update["fields"][1]["name"] == "SHA-256"  # type: ignore[index]
    assert cancelled["title"] == "Crypto Pay: платёж не зачтён"
    assert cancelled["fields"] == [
        {"name": "Заказ", "value": "order-1", "inline": False},
        {"name": "Причина", "value": "заказ отменили до того, как пришла оплата", "inline": False},
    ]
    assert delivered["fields"][1] == {"name": "Причина", "value": "заказ уже в состоянии «Выдан»", "inline": False}  # type: ignore[index]
    assert foreign["fields"][1] == {"name": "Причина", "value": "order order-3 is cancelled", "inline": False}  # type: ignore[index]
    for embed in (update, cancelled, delivered):
        assert english_in(_text(embed)) == []
        assert latin_runs(_text(embed)) == []


def test_the_order_sides_refusals_are_their_catalog_messages() -> None:
    """Each ``PaymentNotApplicable`` carries its message id: its English text is that message's."""
    cancelled, refunded = PaymentNotApplicable.cancelled(), PaymentNotApplicable.in_state("refunded")
    for refusal in (cancelled, refunded):
        assert refusal.said is not None
        assert str(refusal) == refusal.said("en")
    assert alert_reason(str(cancelled), "ru") == "заказ отменили до того, как пришла оплата"
    assert alert_reason(str(refunded), "ru") == "заказ уже в состоянии «Деньги возвращены»"


def test_every_matching_and_webhook_reason_is_a_catalog_message_shown_in_russian() -> None:
    stored = StoredInvoice("order-1", 1001, RowState.ACTIVE, Decimal("20.00"), "EUR")
    cases = [
        (paid(status=InvoiceStatus.ACTIVE), stored),
        (paid(), None),
        (paid(1002), stored),
        (paid(order_id="order-2"), stored),
        (paid(currency_type="crypto", fiat=None, asset="TON"), stored),
        (paid(fiat="USD"), stored),
        (paid(amount=Decimal("2.00")), stored),
        (paid(), replace(stored, state=RowState.EXPIRED)),
        (paid(), replace(stored, state=RowState.CANCELLED)),
    ]
    reasons = [str(match_paid_invoice(invoice, row).reason) for invoice, row in cases]
    bodies = ["{", "[]", '{"update_type": "x"}', "{}"]
    bodies += [json.dumps({"update_type": "invoice_paid", "payload": payload}) for payload in _BAD_INVOICES]
    reasons += [str(read_update(body)) for body in bodies]
    assert len(set(reasons)) == len(reasons)
    assert [reason for reason in reasons if match(reason, "alerts.reason.") is None] == []
    shown = [alert_reason(reason, "ru") for reason in reasons]
    assert shown[7] == "оплачено, когда счёт заказа был уже в состоянии «истёк»"
    assert shown[0] == "счёт не оплачен: его статус — «активен»"
    assert shown[-1] == "полезная нагрузка — не счёт: поле paid_at должно быть временем в формате ISO 8601"
    assert {text: english_in(text) for text in shown if english_in(text)} == {}
    assert {text: latin_runs(text) for text in shown if latin_runs(text)} == {}


_INVOICE = {"invoice_id": 7, "status": "paid", "amount": "1"}
_BAD_INVOICES: list[object] = [
    1,
    {**_INVOICE, "invoice_id": 0},
    {**_INVOICE, "status": "lost"},
    {**_INVOICE, "accepted_assets": [1]},
    {**_INVOICE, "paid_anonymously": "no"},
    {**_INVOICE, "amount": True},
    {**_INVOICE, "amount": "Infinity"},
    {**_INVOICE, "fiat": 5},
    {**_INVOICE, "paid_at": 5},
]
"""An invoice payload for each error the parser (bot/payments/cryptopay/models.py) writes."""


def test_every_error_of_the_invoice_parser_is_a_catalog_message() -> None:
    errors = []
    for payload in _BAD_INVOICES:
        with pytest.raises(ValueError, match=r"must|unknown") as caught:
            parse_invoice(payload)
        errors.append(str(caught.value))
    assert len(set(errors)) == len(errors)
    assert [error for error in errors if match(error, "alerts.parse.") is None] == []
