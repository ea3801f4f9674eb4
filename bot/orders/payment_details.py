"""The buyer's payment as the provider reported it, for staff who send a payment back by hand.

Crypto Pay has no refund call: staff refund from @CryptoBot, so ``/order show`` and ``/order refund`` show the
asset and amount the buyer paid, the exchange rates, the time and the invoice number. The details stored when
the payment was recorded are used first (they work while the provider is unreachable); only when none are
stored is the provider asked (``poll``). Only the known, non-secret keys below are ever shown.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from bot.orders.models import Order, OrderState
from bot.payments.registry import PaymentRegistry
from bot.shop.catalog import PaymentMethod

log = logging.getLogger(__name__)

PAID_STATES = frozenset(
    {OrderState.PAID, OrderState.FULFILLING, OrderState.DELIVERED, OrderState.NEEDS_ATTENTION, OrderState.REFUNDED}
)
"""States in which money arrived, so there is something to send back."""

LABELS = (
    ("invoice_id", "Invoice"),
    ("paid_asset", "Asset paid"),
    ("paid_amount", "Amount paid"),
    ("paid_fiat_rate", "Fiat rate"),
    ("paid_usd_rate", "USD rate"),
    ("paid_at", "Paid at"),
    ("paid_anonymously", "Paid anonymously"),
)
"""The keys shown, in this order, with their labels; any other key a provider returns is left out."""


@runtime_checkable
class StoredDetails(Protocol):
    """A provider that keeps the payer's details it was sent (read without asking the provider)."""

    async def stored_details(self, order_id: str) -> Mapping[str, str]: ...


async def payer_details(providers: PaymentRegistry, order: Order) -> dict[str, str] | None:
    """Label → value of the buyer's payment; ``None`` when there is nothing to show (no money arrived, the
    manual method, a method without a provider). An empty dict: the provider has no details now."""
    if order.state not in PAID_STATES or order.method in (None, PaymentMethod.MANUAL):
        return None
    if order.method not in providers:
        return None
    provider = providers.get(order.method)
    details: Mapping[str, str] = {}
    try:
        if isinstance(provider, StoredDetails):
            details = await provider.stored_details(order.id)
        if not details:
            status = await provider.poll(order.id)
            details = status.details if status is not None else {}
    except Exception:
        log.exception("payment details lookup failed order_id=%s method=%s", order.id, order.method.value)
        details = {}
    return {label: str(details[key]) for key, label in LABELS if details.get(key)}


def details_lines(order: Order, details: Mapping[str, str]) -> list[str]:
    """The details as lines for staff (or why there are none)."""
    if not details:
        reference = f" (invoice `{order.payment_reference}`)" if order.payment_reference else ""
        method = order.method.label if order.method is not None else "The provider"
        return [f"{method} returned no payment details for this order{reference}; look it up there."]
    return [f"{label}: `{value}`" for label, value in details.items()]
