"""Parsing what Crypto Pay returns: exact values, Decimal amounts, every refusal with its message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.payments.cryptopay.models import (
    App,
    Invoice,
    InvoiceStatus,
    parse_app,
    parse_decimal,
    parse_invoice,
    parse_time,
)

FULL: dict[str, Any] = {
    "invoice_id": 1,
    "hash": "IVabc",
    "currency_type": "fiat",
    "fiat": "EUR",
    "amount": "20.00",
    "accepted_assets": ["USDT", "TON"],
    "status": "paid",
    "bot_invoice_url": "https://t.me/CryptoBot?start=IVabc",
    "pay_url": "https://t.me/old",
    "description": "CS2, 30 days",
    "payload": "order-1",
    "created_at": "2026-12-07T12:00:00.000Z",
    "paid_at": "2026-12-07T12:05:30.250Z",
    "expiration_date": "2026-12-07T13:00:00Z",
    "paid_asset": "TON",
    "paid_amount": "4.4",
    "paid_fiat_rate": "4.54545455",
    "paid_usd_rate": "5",
    "paid_anonymously": False,
}


def test_a_full_paid_invoice() -> None:
    invoice = parse_invoice(FULL)
    assert invoice == Invoice(
        invoice_id=1,
        status=InvoiceStatus.PAID,
        currency_type="fiat",
        amount=Decimal("20.00"),
        fiat="EUR",
        asset=None,
        pay_url="https://t.me/CryptoBot?start=IVabc",
        description="CS2, 30 days",
        payload="order-1",
        created_at=datetime(2026, 12, 7, 12, 0, tzinfo=UTC),
        paid_at=datetime(2026, 12, 7, 12, 5, 30, 250000, tzinfo=UTC),
        expiration_date=datetime(2026, 12, 7, 13, 0, tzinfo=UTC),
        paid_asset="TON",
        paid_amount=Decimal("4.4"),
        paid_fiat_rate=Decimal("4.54545455"),
        paid_usd_rate=Decimal("5"),
        paid_anonymously=False,
        accepted_assets=("USDT", "TON"),
    )
    assert invoice.payer_details() == {
        "invoice_id": "1",
        "paid_asset": "TON",
        "paid_amount": "4.4",
        "paid_fiat_rate": "4.54545455",
        "paid_usd_rate": "5",
        "paid_at": "2026-12-07T12:05:30.250000+00:00",
        "paid_anonymously": "false",
    }


def test_a_minimal_invoice_and_defaults() -> None:
    invoice = parse_invoice({"invoice_id": 7, "status": "active", "amount": 3, "paid_amount": "", "paid_at": ""})
    assert (invoice.currency_type, invoice.fiat, invoice.pay_url, invoice.description) == ("crypto", None, None, None)
    assert invoice.amount == Decimal(3)
    assert (invoice.paid_amount, invoice.paid_at, invoice.paid_anonymously) == (None, None, None)
    assert invoice.accepted_assets == ()
    assert invoice.payer_details() == {"invoice_id": "7"}


def test_old_pay_url_and_asset_list_as_text() -> None:
    data = {**FULL, "accepted_assets": "USDT,,BTC", "paid_anonymously": True}
    del data["bot_invoice_url"]
    invoice = parse_invoice(data)
    assert invoice.pay_url == "https://t.me/old"
    assert invoice.accepted_assets == ("USDT", "BTC")
    assert invoice.payer_details()["paid_anonymously"] == "true"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"invoice_id": 0}, "invoice_id must be a positive integer"),
        ({"invoice_id": -1}, "invoice_id must be a positive integer"),
        ({"invoice_id": True}, "invoice_id must be a positive integer"),
        ({"invoice_id": "1"}, "invoice_id must be a positive integer"),
        ({"invoice_id": 2**63}, "invoice_id must be a positive integer"),  # beyond SQLite's INTEGER
        ({"description": "\ud800"}, "description must be a string"),  # JSON can carry it, UTF-8 cannot
        ({"payload": "order-1\udfff"}, "payload must be a string"),
        ({"status": "PAID"}, "unknown invoice status 'PAID'"),
        ({"status": ["paid"]}, r"unknown invoice status \['paid'\]"),
        ({"amount": None}, "amount must be a decimal number"),
        ({"amount": 1.5}, "amount must be a decimal number"),
        ({"amount": "1,5"}, "amount must be a decimal number"),
        ({"amount": "NaN"}, "amount must be finite"),
        ({"fiat": 5}, "fiat must be a string"),
        ({"payload": {"order": 1}}, "payload must be a string"),
        ({"accepted_assets": [1]}, "accepted_assets must be a list of strings"),
        ({"accepted_assets": {"USDT": 1}}, "accepted_assets must be a list of strings"),
        ({"paid_anonymously": "no"}, "paid_anonymously must be a boolean"),
        ({"paid_at": "yesterday"}, "paid_at must be an ISO 8601 time"),
        ({"paid_at": 1700000000}, "paid_at must be an ISO 8601 time"),
        ({"paid_at": "9999-12-31T23:59:59-05:00"}, "paid_at must be an ISO 8601 time"),  # past year 9999 in UTC
        ({"created_at": "0001-01-01T00:00:00+05:00"}, "created_at must be an ISO 8601 time"),  # before year 1
        ({"paid_amount": "x"}, "paid_amount must be a decimal number"),
        ({"paid_usd_rate": "x"}, "paid_usd_rate must be a decimal number"),
    ],
)
def test_refusals(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        parse_invoice({**FULL, **changes})


def test_the_largest_stored_invoice_id_is_accepted() -> None:
    assert parse_invoice({**FULL, "invoice_id": 2**63 - 1}).invoice_id == 2**63 - 1


def test_not_an_object() -> None:
    with pytest.raises(ValueError, match=r"^invoice must be an object$"):
        parse_invoice(["invoice_id", 1])


def test_one_is_a_valid_id() -> None:
    assert parse_invoice({**FULL, "invoice_id": 1}).invoice_id == 1


def test_parse_decimal() -> None:
    assert parse_decimal(" 12.50 ", "x") == Decimal("12.50")
    assert str(parse_decimal(" 12.50 ", "x")) == "12.50"
    assert parse_decimal(7, "x") == Decimal(7)
    assert parse_decimal(Decimal("0.1"), "x") == Decimal("0.1")
    with pytest.raises(ValueError, match=r"^price must be a decimal number$"):
        parse_decimal("abc", "price")
    with pytest.raises(ValueError, match=r"^price must be finite$"):
        parse_decimal("Infinity", "price")


def test_parse_time() -> None:
    assert parse_time("2026-12-07T12:00:00Z", "t") == datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert parse_time(" 2026-12-07T12:00:00 ", "t") == datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # naive = UTC
    moment = parse_time("2026-12-07T15:00:00+03:00", "t")
    assert moment == datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert moment.tzinfo is UTC
    assert parse_time("2026-12-07T12:00:00+00:00", "t").utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match=r"^t must be an ISO 8601 time$"):
        parse_time("2026-12-07T12:00:00z", "t")  # lower-case z is not ISO 8601 as Crypto Pay writes it
    with pytest.raises(ValueError, match=r"^t must be an ISO 8601 time$"):
        parse_time(None, "t")


def test_parse_app() -> None:
    assert parse_app({"app_id": 3, "name": "Shop", "payment_processing_bot_username": "CryptoBot"}) == App(
        3, "Shop", "CryptoBot"
    )
    assert parse_app({"app_id": 3, "name": "Shop"}).payment_processing_bot_username is None
    for bad in ({"app_id": "3", "name": "Shop"}, {"app_id": 3, "name": 5}, {"app_id": True, "name": "S"}, {}):
        with pytest.raises(ValueError, match=r"^app needs an integer app_id and a string name$"):
            parse_app(bad)
    with pytest.raises(ValueError, match=r"^app must be an object$"):
        parse_app([])
