"""Orders: the states, the one table of legal transitions, and the immutable views the service hands out.

An order goes ``awaiting_payment`` → ``paid`` → ``fulfilling`` → ``delivered`` on the happy path. Unpaid it
can become ``expired`` (after ``ORDER_TTL``) or ``cancelled``; a Market refusal while fulfilling makes it
``needs_attention`` (staff retry it, back to ``paid``, or record a refund); a paid, delivered or refused
order can be marked ``refunded`` (a refund made by hand outside the bot). A payment confirmed for an order
that had just expired still counts (``expired`` → ``paid``): the money was taken.

Actors (the ``actor`` of every transition) are plain strings: ``customer``, ``system``,
``staff:<discord user id>``, ``discord:<discord user id>`` (a customer ordering with ``/buy``) or
``provider:<method>`` (a payment provider's own confirmation).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from bot.shop.catalog import PaymentMethod, ProductKey


class OrderState(enum.StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    FULFILLING = "fulfilling"
    DELIVERED = "delivered"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    NEEDS_ATTENTION = "needs_attention"
    REFUNDED = "refunded"

    @property
    def label(self) -> str:
        """The customer's words for the state."""
        return _STATE_LABELS[self]

    @property
    def final(self) -> bool:
        """No transition leaves this state."""
        return not TRANSITIONS[self]


_STATE_LABELS = {
    OrderState.AWAITING_PAYMENT: "Awaiting payment",
    OrderState.PAID: "Paid",
    OrderState.FULFILLING: "Delivering",
    OrderState.DELIVERED: "Delivered",
    OrderState.EXPIRED: "Expired",
    OrderState.CANCELLED: "Cancelled",
    OrderState.NEEDS_ATTENTION: "Being looked at",
    OrderState.REFUNDED: "Refunded",
}

S = OrderState
TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    S.AWAITING_PAYMENT: frozenset({S.PAID, S.EXPIRED, S.CANCELLED}),
    S.EXPIRED: frozenset({S.PAID, S.NEEDS_ATTENTION}),  # needs_attention: a provider's late payment
    S.PAID: frozenset({S.FULFILLING, S.REFUNDED}),
    S.FULFILLING: frozenset({S.DELIVERED, S.NEEDS_ATTENTION}),
    S.NEEDS_ATTENTION: frozenset({S.PAID, S.REFUNDED}),
    S.DELIVERED: frozenset({S.REFUNDED}),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}
"""The legal transitions, the only place they are listed: ``from`` → the states it may move to."""
del S


def is_legal(from_state: OrderState, to_state: OrderState) -> bool:
    return to_state in TRANSITIONS[from_state]


class OrderError(Exception):
    """Base of the order errors; ``str()`` is a sentence fit for staff."""


class OrderNotFound(OrderError, LookupError):
    def __init__(self, order_id: str) -> None:
        super().__init__("no such order")
        self.order_id = order_id


class IllegalTransition(OrderError):
    """The order is not in a state that allows the move (or another actor moved it first)."""

    def __init__(self, order_id: str, current: OrderState, wanted: OrderState) -> None:
        super().__init__(f"order {order_id} is {current.value}; it cannot become {wanted.value}")
        self.order_id = order_id
        self.current = current
        self.wanted = wanted


class OrderRefused(OrderError):
    """A request about an order that the rules refuse (no such method, not checked yet...); says why."""


@dataclass(frozen=True, slots=True)
class Order:
    """One row of ``orders``. Money is ``Decimal``; times are aware UTC."""

    id: str
    login: str
    email: str | None
    product_key: str
    """``cs2-30`` … or ``marketplace`` (see :class:`bot.shop.catalog.ProductKey`)."""
    nle: Decimal | None
    """Marketplace orders: the NLE amount transferred to ``login``."""
    currency: str | None
    method: PaymentMethod | None
    amount: Decimal | None
    """What the customer is charged, in ``currency``, once a method is chosen."""
    nle_cost: Decimal
    """What fulfilment costs the reseller in NLE (plan price, or ``nle``): counts toward daily limits."""
    state: OrderState
    check_status: str
    """``pending`` (pre-checks running), ``ok`` (payment may be offered) or ``blocked`` (see ``check_reason``)."""
    check_reason: str | None
    payment_reference: str | None
    payment_claimed_at: datetime | None
    claim_reference: str | None
    paid_by: int | None
    """Discord id of the staff member whose confirmation made it paid (``None`` for a provider)."""
    fulfil_attempt: int
    request_id: str | None
    """The spending journal's request id of the current fulfilment attempt (derived from ``id``)."""
    auto_retry: bool
    """Refused for the Market balance: retried automatically when the balance covers ``nle_cost``."""
    last_error: str | None
    discord_user_id: int | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    form_token: str
    seq: int

    @property
    def key(self) -> ProductKey:
        return ProductKey.parse(self.product_key)

    @property
    def is_marketplace(self) -> bool:
        return self.key.is_marketplace

    @property
    def description(self) -> str:
        """``CS2, 30 days`` or ``12.50 NLE``."""
        if self.nle is not None:
            return f"{self.nle} NLE"
        return self.key.label

    @property
    def masked_email(self) -> str:
        return mask_email(self.email)

    @property
    def payable(self) -> bool:
        """Payment may be offered: awaiting payment and every pre-check passed."""
        return self.state is OrderState.AWAITING_PAYMENT and self.check_status == "ok"


@dataclass(frozen=True, slots=True)
class Transition:
    """One entry of an order's history (``from_state`` is ``None`` for the creation)."""

    order_id: str
    seq: int
    from_state: OrderState | None
    to_state: OrderState
    at: datetime
    actor: str
    note: str | None


def mask_email(email: str | None) -> str:
    """``jane.doe@example.com`` → ``j•••@e•••.com``; empty text for none."""
    if not email:
        return ""
    local, _, domain = email.partition("@")
    host, dot, tld = domain.rpartition(".")
    if not dot:
        host, tld = domain, ""
    masked_domain = f"{host[:1]}•••" + (f".{tld}" if tld else "")
    return f"{local[:1]}•••@{masked_domain}"


def staff_id(actor: str) -> int | None:
    """The Discord id in ``staff:<id>``; ``None`` for any other actor."""
    # rpartition would read the same: either way a second ":" leaves no id.
    prefix, _, rest = actor.partition(":")  # pragma: no mutate
    if prefix == "staff" and rest.isascii() and rest.isdigit():
        return int(rest)
    return None
