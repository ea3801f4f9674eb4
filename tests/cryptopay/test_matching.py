"""match_paid_invoice: every verdict and every reason, with exact texts (the money decision)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from bot.payments.cryptopay.matching import Match, RowState, StoredInvoice, Verdict, match_paid_invoice
from bot.payments.cryptopay.models import Invoice, InvoiceStatus

PAID = Invoice(
    invoice_id=42,
    status=InvoiceStatus.PAID,
    currency_type="fiat",
    amount=Decimal("20.00"),
    fiat="EUR",
    payload="order-1",
)
ROW = StoredInvoice(order_id="order-1", invoice_id=42, state=RowState.ACTIVE, amount=Decimal("20.00"), fiat="EUR")


def test_everything_agrees_is_accepted() -> None:
    assert match_paid_invoice(PAID, ROW) == Match(Verdict.ACCEPTED)


def test_numerically_equal_amounts_agree() -> None:
    assert match_paid_invoice(replace(PAID, amount=Decimal("20")), ROW).verdict is Verdict.ACCEPTED
    assert match_paid_invoice(PAID, replace(ROW, amount=Decimal("20.000"))).verdict is Verdict.ACCEPTED


def test_creating_row_adopts_the_invoice_found_by_payload() -> None:
    row = replace(ROW, invoice_id=None, state=RowState.CREATING)
    assert match_paid_invoice(PAID, row) == Match(Verdict.ACCEPTED)


@pytest.mark.parametrize("status", [InvoiceStatus.ACTIVE, InvoiceStatus.EXPIRED])
def test_unpaid_invoice_is_quarantined(status: InvoiceStatus) -> None:
    assert match_paid_invoice(replace(PAID, status=status), ROW) == Match(
        Verdict.QUARANTINED, f"invoice status is {status.value}, not paid"
    )


def test_unknown_invoice() -> None:
    assert match_paid_invoice(PAID, None) == Match(Verdict.QUARANTINED, "unknown invoice: no order has this invoice")


def test_another_invoice_of_the_order() -> None:
    assert match_paid_invoice(replace(PAID, invoice_id=43), ROW) == Match(
        Verdict.QUARANTINED, "the order's invoice is 42, not 43"
    )


@pytest.mark.parametrize("payload", [None, "order-2", "order-1 ", ""])
def test_payload_must_name_the_order(payload: str | None) -> None:
    assert match_paid_invoice(replace(PAID, payload=payload), ROW) == Match(
        Verdict.QUARANTINED, "payload does not name the invoice's order"
    )


def test_other_fiat() -> None:
    assert match_paid_invoice(replace(PAID, fiat="USD"), ROW) == Match(
        Verdict.QUARANTINED, "currency USD instead of EUR"
    )


def test_crypto_priced_invoice_with_the_same_number() -> None:
    invoice = replace(PAID, currency_type="crypto", fiat=None, asset="USDT")
    assert match_paid_invoice(invoice, ROW) == Match(Verdict.QUARANTINED, "currency USDT (crypto) instead of EUR")


def test_crypto_type_even_with_fiat_field() -> None:
    invoice = replace(PAID, currency_type="crypto", asset="TON")
    assert match_paid_invoice(invoice, ROW).reason == "currency TON (crypto) instead of EUR"


@pytest.mark.parametrize("amount", ["19.99", "20.01", "0.01", "200.00"])
def test_other_amount(amount: str) -> None:
    assert match_paid_invoice(replace(PAID, amount=Decimal(amount)), ROW) == Match(
        Verdict.QUARANTINED, f"amount {amount} instead of 20.00 EUR"
    )


def test_already_paid_row_is_a_duplicate() -> None:
    assert match_paid_invoice(PAID, replace(ROW, state=RowState.PAID)) == Match(Verdict.DUPLICATE)


@pytest.mark.parametrize("state", [RowState.EXPIRED, RowState.CANCELLED])
def test_withdrawn_invoice_paid_is_late(state: RowState) -> None:
    assert match_paid_invoice(PAID, replace(ROW, state=state)) == Match(
        Verdict.LATE, f"paid after the order's invoice was {state.value}"
    )
    assert match_paid_invoice(PAID, replace(ROW, state=state, invoice_id=None)).verdict is Verdict.LATE


def test_checks_come_before_the_state() -> None:
    """A mismatching invoice is quarantined whatever the row's state (never 'late' or 'duplicate')."""
    for state in RowState:
        row = replace(ROW, state=state)
        assert match_paid_invoice(replace(PAID, amount=Decimal("1")), row).verdict is Verdict.QUARANTINED
        assert match_paid_invoice(replace(PAID, fiat="RUB"), row).verdict is Verdict.QUARANTINED
        assert match_paid_invoice(replace(PAID, payload="x"), row).verdict is Verdict.QUARANTINED
        assert match_paid_invoice(replace(PAID, status=InvoiceStatus.ACTIVE), row).verdict is Verdict.QUARANTINED
