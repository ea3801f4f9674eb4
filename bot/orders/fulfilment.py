"""Delivering a paid order exactly once, through the spending journal.

Attempt ``n`` of order ``X`` uses the request id ``ord-X-n`` (:func:`request_id_for`): stored on the order
in the same transaction that moves it ``paid`` → ``fulfilling``, then journaled (``pending``, committed)
before anything is sent. Whatever is killed or retried afterwards finds that row by its request id and runs
it again with the same id, so Neverlose either does it once or answers ``Invalid id.`` (already done). A
staff retry after a refusal is attempt ``n + 1`` with a new id: the refused attempt spent nothing.

The outcome of one run (:func:`outcome_of`): ``delivered`` (succeeded, or ``Invalid id.`` whatever the
attempt number: ids derived from an unguessable order id are used by nobody else), ``refused`` (Neverlose
said no: the order needs attention, and an insufficient balance is retried automatically when the balance
allows), or ``open`` (no definite answer yet: the order stays ``fulfilling`` and is run again later).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from bot.market.errors import INVALID_ID_TEXT
from bot.market.journal import Operation, OperationStatus
from bot.orders.models import Order

REQUEST_ID_PREFIX = "ord"


def request_id_for(order_id: str, attempt: int) -> str:
    """``ord-<order id>-<attempt>``: valid for the Market (letters, digits, ``-``, ``_``; <= 80 characters)."""
    if attempt < 1:
        raise ValueError("attempts count from 1")
    return f"{REQUEST_ID_PREFIX}-{order_id}-{attempt}"


def spending_call(order: Order) -> tuple[str, dict[str, object]]:
    """The journal method and parameters that deliver ``order``."""
    key = order.key
    # A ProductKey has both a product and a plan or neither (marketplace): "or" would read the same.
    if key.product is not None and key.plan is not None:  # pragma: no mutate
        return "gift-product", {"username": order.login, "product": key.product.value, "cnt": int(key.plan)}
    if order.nle is None:
        raise ValueError("a marketplace order needs its NLE amount")
    return "transfer-money", {"username": order.login, "amount": order.nle}


class Outcome(enum.StrEnum):
    DELIVERED = "delivered"
    REFUSED = "refused"
    OPEN = "open"


@dataclass(frozen=True, slots=True)
class RunResult:
    outcome: Outcome
    note: str | None = None
    error: str | None = None
    low_balance: bool = False


def is_low_balance(error: str | None) -> bool:
    """Neverlose's refusal for a balance that does not cover the cost."""
    return error is not None and "balance" in error.lower()


def outcome_of(op: Operation) -> RunResult:
    if op.status is OperationStatus.SUCCEEDED:
        note = "confirmed on retry (Invalid id.)" if op.confirmed_on_retry else f"{op.method} done"
        return RunResult(Outcome.DELIVERED, note=note)
    if op.status is OperationStatus.FAILED:
        if op.error is not None and op.error.strip() == INVALID_ID_TEXT:
            return RunResult(Outcome.DELIVERED, note="already done (Invalid id.)")
        return RunResult(Outcome.REFUSED, error=op.error or "refused", low_balance=is_low_balance(op.error))
    return RunResult(Outcome.OPEN, error=op.error)


def amount_for_journal(order: Order) -> Decimal:
    """What the operation spends in NLE (counts toward the confirming staff member's daily limit)."""
    return order.nle_cost
