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

from bot.i18n.catalog import DEFAULT_LOCALE, t
from bot.orders import localized
from bot.orders.models import Order, OrderState
from bot.payments.registry import PaymentRegistry
from bot.shop.catalog import PaymentMethod

log = logging.getLogger(__name__)

PAID_STATES = frozenset(
    {OrderState.PAID, OrderState.FULFILLING, OrderState.DELIVERED, OrderState.NEEDS_ATTENTION, OrderState.REFUNDED}
)
"""States in which money arrived, so there is something to send back."""

KEYS = ("invoice_id", "paid_asset", "paid_amount", "paid_fiat_rate", "paid_usd_rate", "paid_at", "paid_anonymously")
"""The keys shown, in this order (labelled by ``orders.payment.<key>`` in the reader's language); any other
key a provider returns is left out."""


@runtime_checkable
class StoredDetails(Protocol):
    """A provider that keeps the payer's details it was sent (read without asking the provider)."""

    async def stored_details(self, order_id: str) -> Mapping[str, str]: ...


async def payer_details(providers: PaymentRegistry, order: Order) -> dict[str, str] | None:
    """Key → value of the buyer's payment (in :data:`KEYS` order); ``None`` when there is nothing to show (no
    money arrived, the manual method, a method without a provider). An empty dict: the provider has no details
    now."""
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
    return {key: str(details[key]) for key in KEYS if details.get(key)}


def details_lines(order: Order, details: Mapping[str, str], locale: str = DEFAULT_LOCALE) -> list[str]:
    """The details as lines for staff in ``locale`` (or why there are none)."""
    if not details:
        method = (
            localized.method_label(order.method, locale)
            if order.method is not None
            else t(locale, "orders.payment.provider")
        )
        if order.payment_reference:
            return [t(locale, "orders.payment.none_invoice", method=method, invoice=order.payment_reference)]
        return [t(locale, "orders.payment.none", method=method)]
    return [
        t(locale, "orders.payment.line", label=t(locale, f"orders.payment.{key}"), value=value)
        for key, value in details.items()
    ]
