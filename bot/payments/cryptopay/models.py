"""What the Crypto Pay API returns, parsed strictly: amounts as Decimal (never float), times aware UTC.

Amounts arrive as decimal strings (``"12.50"``); numbers are accepted too (the client decodes JSON with
``parse_float=Decimal``). Unknown fields are ignored; a missing or mistyped field the shop relies on raises
:class:`ValueError` (the client turns it into a protocol error, the webhook into a quarantine).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

FIAT_CURRENCIES = frozenset(
    {
        "USD", "EUR", "RUB", "BYN", "UAH", "GBP", "CNY", "KZT", "UZS", "GEL",
        "TRY", "AMD", "THB", "INR", "BRL", "IDR", "AZN", "AED", "PLN", "ILS",
    }
)  # fmt: skip
"""The fiat currencies Crypto Pay prices invoices in (``currency_type=fiat``), per its documentation."""

MAX_EXPIRES_IN = 2_678_400
"""``expires_in`` accepts 1..2678400 seconds (31 days)."""
MAX_PAYLOAD_BYTES = 4096
MAX_DESCRIPTION = 1024
MAX_INVOICE_ID = 2**63 - 1
"""The largest id SQLite stores (a signed 64-bit integer); a larger one is not an invoice."""


class InvoiceStatus(enum.StrEnum):
    ACTIVE = "active"
    PAID = "paid"
    EXPIRED = "expired"


_STATUSES = {status.value: status for status in InvoiceStatus}


@dataclass(frozen=True, slots=True)
class App:
    """``getMe``: the app the token belongs to."""

    app_id: int
    name: str
    payment_processing_bot_username: str | None


@dataclass(frozen=True, slots=True)
class Invoice:
    """One invoice (the fields the shop uses)."""

    invoice_id: int
    status: InvoiceStatus
    currency_type: str
    amount: Decimal
    fiat: str | None = None
    asset: str | None = None
    pay_url: str | None = None
    description: str | None = None
    payload: str | None = None
    created_at: datetime | None = None
    paid_at: datetime | None = None
    expiration_date: datetime | None = None
    paid_asset: str | None = None
    paid_amount: Decimal | None = None
    paid_fiat_rate: Decimal | None = None
    paid_usd_rate: Decimal | None = None
    paid_anonymously: bool | None = None
    accepted_assets: tuple[str, ...] = field(default_factory=tuple)

    def payer_details(self) -> dict[str, str]:
        """What staff need to send a payment back by hand (no secrets): asset, amount, rates, time."""
        details: dict[str, str] = {"invoice_id": str(self.invoice_id)}
        optional = {
            "paid_asset": self.paid_asset,
            "paid_amount": self.paid_amount,
            "paid_fiat_rate": self.paid_fiat_rate,
            "paid_usd_rate": self.paid_usd_rate,
            "paid_at": None if self.paid_at is None else self.paid_at.isoformat(),
            "paid_anonymously": None if self.paid_anonymously is None else str(self.paid_anonymously).lower(),
        }
        details.update({key: str(value) for key, value in optional.items() if value is not None})
        return details


def parse_decimal(value: object, name: str) -> Decimal:
    """A finite Decimal from a decimal string, an int or a Decimal (never a bool or a float)."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError(f"{name} must be a decimal number")
    try:
        number = Decimal(value)  # a string may have spaces around it: Decimal drops them itself
    except InvalidOperation:
        raise ValueError(f"{name} must be a decimal number") from None
    if not number.is_finite():
        raise ValueError(f"{name} must be finite")
    return number


def parse_time(value: object, name: str) -> datetime:
    """An ISO 8601 time (``2026-12-07T03:12:00.000Z``) as an aware UTC datetime."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value.strip())  # Python 3.11 reads the "Z" itself
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: 9999-12-31T23:00:00-05:00 is past the last year in UTC
        raise ValueError(f"{name} must be an ISO 8601 time") from None


def _text(data: Mapping[str, object], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not _utf8(value):
        raise ValueError(f"{name} must be a string")
    return value


def _utf8(text: str) -> bool:
    """Whether ``text`` can be stored: JSON can carry a lone surrogate (``"\\ud800"``), UTF-8 (SQLite) cannot."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _opt_decimal(data: Mapping[str, object], name: str) -> Decimal | None:
    value = data.get(name)
    return None if value is None or value == "" else parse_decimal(value, name)


def _opt_time(data: Mapping[str, object], name: str) -> datetime | None:
    value = data.get(name)
    return None if value is None or value == "" else parse_time(value, name)


def parse_invoice(data: object) -> Invoice:
    """An :class:`Invoice` from the API's JSON object; :class:`ValueError` when it is not one."""
    if not isinstance(data, Mapping):
        raise ValueError("invoice must be an object")
    invoice_id = data.get("invoice_id")
    if isinstance(invoice_id, bool) or not isinstance(invoice_id, int) or not 0 < invoice_id <= MAX_INVOICE_ID:
        raise ValueError("invoice_id must be a positive integer")
    status_text = data.get("status")
    if not isinstance(status_text, str) or status_text not in _STATUSES:
        raise ValueError(f"unknown invoice status {status_text!r}")
    status = _STATUSES[status_text]
    currency_type = _text(data, "currency_type") or "crypto"
    assets = data.get("accepted_assets") or ()
    if isinstance(assets, str):
        assets = [part for part in assets.split(",") if part]
    if not isinstance(assets, list | tuple) or not all(isinstance(a, str) for a in assets):
        raise ValueError("accepted_assets must be a list of strings")
    anonymous = data.get("paid_anonymously")
    if anonymous is not None and not isinstance(anonymous, bool):
        raise ValueError("paid_anonymously must be a boolean")
    return Invoice(
        invoice_id=invoice_id,
        status=status,
        currency_type=currency_type,
        amount=parse_decimal(data.get("amount"), "amount"),
        fiat=_text(data, "fiat"),
        asset=_text(data, "asset"),
        pay_url=_text(data, "bot_invoice_url") or _text(data, "pay_url"),
        description=_text(data, "description"),
        payload=_text(data, "payload"),
        created_at=_opt_time(data, "created_at"),
        paid_at=_opt_time(data, "paid_at"),
        expiration_date=_opt_time(data, "expiration_date"),
        paid_asset=_text(data, "paid_asset"),
        paid_amount=_opt_decimal(data, "paid_amount"),
        paid_fiat_rate=_opt_decimal(data, "paid_fiat_rate"),
        paid_usd_rate=_opt_decimal(data, "paid_usd_rate"),
        paid_anonymously=anonymous,
        accepted_assets=tuple(assets),
    )


def parse_app(data: object) -> App:
    if not isinstance(data, Mapping):
        raise ValueError("app must be an object")
    app_id = data.get("app_id")
    name = data.get("name")
    if isinstance(app_id, bool) or not isinstance(app_id, int) or not isinstance(name, str):
        raise ValueError("app needs an integer app_id and a string name")
    return App(app_id=app_id, name=name, payment_processing_bot_username=_text(data, "payment_processing_bot_username"))
