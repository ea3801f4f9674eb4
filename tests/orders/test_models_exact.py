"""Exact values of the order model's views and errors (what staff and customers read)."""

from __future__ import annotations

import pytest

from bot.orders.models import (
    IllegalTransition,
    OrderError,
    OrderNotFound,
    OrderRefused,
    OrderState,
    is_legal,
)

S = OrderState


def test_every_label_exactly() -> None:
    assert {s: s.label for s in OrderState} == {
        S.AWAITING_PAYMENT: "Awaiting payment",
        S.PAID: "Paid",
        S.FULFILLING: "Delivering",
        S.DELIVERED: "Delivered",
        S.EXPIRED: "Expired",
        S.CANCELLED: "Cancelled",
        S.NEEDS_ATTENTION: "Being looked at",
        S.REFUNDED: "Refunded",
    }


def test_is_legal_follows_the_table() -> None:
    assert is_legal(S.AWAITING_PAYMENT, S.PAID)
    assert is_legal(S.EXPIRED, S.PAID)
    assert not is_legal(S.PAID, S.AWAITING_PAYMENT)
    assert not is_legal(S.CANCELLED, S.PAID)
    assert not is_legal(S.DELIVERED, S.DELIVERED)


def test_order_not_found() -> None:
    exc = OrderNotFound("abc")
    assert str(exc) == "no such order"
    assert exc.order_id == "abc"
    assert isinstance(exc, OrderError)
    assert isinstance(exc, LookupError)


def test_illegal_transition_says_both_states() -> None:
    exc = IllegalTransition("abc", S.CANCELLED, S.PAID)
    assert str(exc) == "order abc is cancelled; it cannot become paid"
    assert (exc.order_id, exc.current, exc.wanted) == ("abc", S.CANCELLED, S.PAID)
    assert isinstance(exc, OrderError)


def test_order_refused_is_an_order_error() -> None:
    with pytest.raises(OrderError, match=r"^why$"):
        raise OrderRefused("why")


def test_run_results_carry_nothing_they_do_not_need() -> None:
    from datetime import UTC, datetime

    from bot.market.journal import Operation, OperationStatus
    from bot.orders.fulfilment import RunResult, outcome_of

    now = datetime(2026, 12, 7, tzinfo=UTC)

    def op(status: OperationStatus, error: str | None = None) -> Operation:
        return Operation(
            id=1,
            request_id="r",
            method="transfer-money",
            params={},
            requested_by=None,
            guild_id=None,
            created_at=now,
            updated_at=now,
            status=status,
            attempts=1,
            result=None,
            error=error,
            confirmed_on_retry=False,
            amount_nle=None,
        )

    assert outcome_of(op(OperationStatus.SUCCEEDED)) == RunResult(
        outcome_of(op(OperationStatus.SUCCEEDED)).outcome, note="transfer-money done", error=None, low_balance=False
    )
    delivered = outcome_of(op(OperationStatus.SUCCEEDED))
    assert delivered.low_balance is False
    refused = outcome_of(op(OperationStatus.FAILED, "Insufficient balance"))
    assert (refused.note, refused.error, refused.low_balance) == (None, "Insufficient balance", True)
    already = outcome_of(op(OperationStatus.FAILED, "Invalid id."))
    assert (already.error, already.low_balance) == (None, False)
    open_ = outcome_of(op(OperationStatus.UNKNOWN))
    assert (open_.note, open_.error, open_.low_balance) == (None, None, False)


def test_a_second_colon_leaves_no_staff_id() -> None:
    from bot.orders.models import staff_id

    assert staff_id("staff:1:2") is None
    assert staff_id("staff:staff:5") is None
    assert staff_id("staff:007") == 7
