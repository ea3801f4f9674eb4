"""Matching a paid invoice to the order it pays: the one decision between "deliver" and "quarantine".

Pure: it sees the invoice Crypto Pay reported (webhook or poll) and the row the bot stored when it created
the invoice, and answers a :class:`Match`. A payment is *accepted* only when every field agrees: the invoice
is paid; it is the one stored for the order (or the order's createInvoice outcome was unknown and this is
the invoice it created, found by ``payload``); its ``payload`` is the order id; it is priced in the same fiat
currency and for exactly the same amount. A payment for an order that has withdrawn its invoice (expired or
cancelled) is *late*: money arrived and staff decide. Everything else is *quarantined*: stored, reported to
the audit channel, never delivered.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from bot.payments.cryptopay.models import Invoice, InvoiceStatus


class RowState(enum.StrEnum):
    CREATING = "creating"  # intent stored, createInvoice sent or about to be: outcome unknown
    ACTIVE = "active"
    PAID = "paid"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class Verdict(enum.StrEnum):
    ACCEPTED = "accepted"
    LATE = "late"
    DUPLICATE = "duplicate"
    QUARANTINED = "quarantined"


@dataclass(frozen=True, slots=True)
class StoredInvoice:
    """A ``cryptopay_invoices`` row."""

    order_id: str
    invoice_id: int | None
    state: RowState
    amount: Decimal
    fiat: str
    pay_url: str | None = None
    late: bool = False
    confirmed: bool = False
    updated_at: datetime | None = None
    details: Mapping[str, str] = field(default_factory=dict)
    """The payer's details stored with the payment (:meth:`Invoice.payer_details`); empty until paid."""


@dataclass(frozen=True, slots=True)
class Match:
    verdict: Verdict
    reason: str | None = None


def match_paid_invoice(invoice: Invoice, stored: StoredInvoice | None) -> Match:
    """See the module docstring; ``reason`` says why a payment is not accepted."""
    if invoice.status is not InvoiceStatus.PAID:
        return Match(Verdict.QUARANTINED, f"invoice status is {invoice.status.value}, not paid")
    if stored is None:
        return Match(Verdict.QUARANTINED, "unknown invoice: no order has this invoice")
    if stored.invoice_id is not None and stored.invoice_id != invoice.invoice_id:
        return Match(Verdict.QUARANTINED, f"the order's invoice is {stored.invoice_id}, not {invoice.invoice_id}")
    if invoice.payload != stored.order_id:
        return Match(Verdict.QUARANTINED, "payload does not name the invoice's order")
    if invoice.currency_type != "fiat" or invoice.fiat != stored.fiat:
        paid_in = invoice.fiat if invoice.currency_type == "fiat" else f"{invoice.asset} (crypto)"
        return Match(Verdict.QUARANTINED, f"currency {paid_in} instead of {stored.fiat}")
    if invoice.amount != stored.amount:
        return Match(Verdict.QUARANTINED, f"amount {invoice.amount} instead of {stored.amount} {stored.fiat}")
    if stored.state is RowState.PAID:
        return Match(Verdict.DUPLICATE)
    if stored.state in (RowState.EXPIRED, RowState.CANCELLED):
        return Match(Verdict.LATE, f"paid after the order's invoice was {stored.state.value}")
    return Match(Verdict.ACCEPTED)
