"""The one small interface every payment method implements.

The order service asks a provider to *start* a payment for an order (where to send the customer, or what
to show them), to *poll* it (the fallback when a confirmation was missed), and to *cancel* it (the order
expired or was cancelled). A provider that learns of a payment by itself (a webhook) reports it to the
:class:`PaymentListener` it was given; so does a staff confirmation for the manual method. Adding a method
is one module that implements :class:`PaymentProvider` and one setting that enables it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from bot.shop.catalog import PaymentMethod


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """What a provider needs to take the money for one order."""

    order_id: str
    amount: Decimal
    currency: str
    description: str
    expires_at: datetime  # aware, UTC: the order's time to live ends then
    return_url: str  # the order page, where the customer comes back to


@dataclass(frozen=True, slots=True)
class PaymentStart:
    """Where to send the customer (``redirect_url``) or what to show them (``instructions``), never neither."""

    reference: str | None = None  # the provider's own id (an invoice id), stored with the order
    redirect_url: str | None = None
    instructions: str | None = None


class PaymentOutcome(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class PaymentStatus:
    """What the provider knows of one order's payment."""

    outcome: PaymentOutcome
    reference: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    paid_at: datetime | None = None
    # Shown to staff for a manual refund (e.g. the payer's asset and amount); never secrets.
    details: Mapping[str, str] = field(default_factory=dict)


class PaymentStartRefused(RuntimeError):
    """A provider cannot start the payment now for an expected reason (the method was withdrawn, the provider did
    not answer, the order expired); ``customer_text`` says in plain words what to do (never a secret)."""

    def __init__(self, customer_text: str) -> None:
        self.customer_text = customer_text
        super().__init__(customer_text)


class PaymentListener(Protocol):
    """The order service's side: a provider reports a confirmed payment here (idempotent)."""

    async def payment_confirmed(
        self, order_id: str, method: PaymentMethod, status: PaymentStatus, actor: str
    ) -> None: ...


class PaymentProvider(Protocol):
    """A payment method; see the module docstring."""

    @property
    def method(self) -> PaymentMethod: ...

    def offers(self, currency: str) -> bool:
        """Whether this method can take payment in ``currency`` (otherwise it is not offered for the order)."""
        ...

    async def start(self, request: PaymentRequest) -> PaymentStart:
        """Begin (or find the already begun) payment for the order: calling twice never charges twice."""
        ...

    async def poll(self, order_id: str) -> PaymentStatus | None:
        """Ask the provider now; ``None`` when it knows nothing of the order."""
        ...

    async def cancel(self, order_id: str) -> None:
        """Withdraw the payment request (the order expired or was cancelled); safe to call twice."""
        ...
