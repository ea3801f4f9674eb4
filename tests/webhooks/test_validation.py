"""Strict per-kind validation of signed webhook bodies: every refusal, every bound, exact values.

``classify`` decides whether a body becomes an event the bot acts on (money it announces) or is quarantined;
the receiver tests cover the HTTP side, these check the decision itself at each edge.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from bot.webhooks.models import WebhookEvent
from bot.webhooks.validation import MAX_AMOUNT, MAX_UNIQUE_ID, Invalid, classify, kind_hint

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SIG = "0" * 64


def transfer(**changes: Any) -> dict[str, object]:
    body: dict[str, object] = {"kind": "transfer", "amount": 1.0, "username": "A49", "unique_id": 3, "signature": SIG}
    body.update(changes)
    return body


def purchase(**changes: Any) -> dict[str, object]:
    body: dict[str, object] = {
        "kind": "purchase",
        "amount": 0.9,
        "username": "A49",
        "unique_id": 89968,
        "item_id": "E3yugw",
        "signature": SIG,
    }
    body.update(changes)
    return body


def test_limits_are_the_documented_ones() -> None:
    assert MAX_UNIQUE_ID == 9223372036854775807
    assert str(MAX_AMOUNT) == "1000000000"


def test_a_purchase_becomes_an_event_with_exact_values() -> None:
    assert classify(purchase(), AT) == WebhookEvent(
        kind="purchase", unique_id=89968, username="A49", amount=Decimal("0.9"), item_id="E3yugw", received_at=AT
    )


def test_a_transfer_becomes_an_event_without_item() -> None:
    assert classify(transfer(amount=25, username="darth", unique_id=22), AT) == WebhookEvent(
        kind="transfer", unique_id=22, username="darth", amount=Decimal(25), item_id=None, received_at=AT
    )


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (0.9, Decimal("0.9")),  # the float's shortest text, not its binary value 0.90000000000000002220…
        (0.1, Decimal("0.1")),
        (17.1, Decimal("17.1")),
        (1, Decimal(1)),
        (0.01, Decimal("0.01")),
        (1e-9, Decimal("1E-9")),
        (1_000_000_000, MAX_AMOUNT),  # the upper bound itself is accepted
        (1_000_000_000.0, Decimal("1000000000.0")),
    ],
)
def test_amounts_are_read_exactly(amount: float, expected: Decimal) -> None:
    event = classify(transfer(amount=amount), AT)
    assert isinstance(event, WebhookEvent)
    assert event.amount == expected
    assert str(event.amount) == str(expected)


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("1.0", "amount must be a number"),  # a string is not a JSON number, even when it reads as one
        ("1", "amount must be a number"),
        (None, "amount must be a number"),
        (True, "amount must be a number"),
        (False, "amount must be a number"),
        ([1], "amount must be a number"),
        (0, "amount must be positive"),
        (0.0, "amount must be positive"),
        (-0.0, "amount must be positive"),
        (-1, "amount must be positive"),
        (-0.01, "amount must be positive"),
        (float("nan"), "amount must be positive"),  # Python's JSON reader accepts NaN and Infinity
        (float("inf"), "amount must be positive"),
        (float("-inf"), "amount must be positive"),
        (1_000_000_001, "amount is implausibly large"),
        (1_000_000_000.01, "amount is implausibly large"),
        (1e12, "amount is implausibly large"),
    ],
)
def test_bad_amounts_are_refused_with_their_reason(amount: object, reason: str) -> None:
    assert classify(transfer(amount=amount), AT) == Invalid(reason, "transfer")
    assert classify(purchase(amount=amount), AT) == Invalid(reason, "purchase")


def test_an_integer_amount_is_read_exactly_however_long() -> None:
    # Longer than str() may convert (4300 digits): still a number, and far too large.
    assert classify(transfer(amount=10**5000), AT) == Invalid("amount is implausibly large", "transfer")


@pytest.mark.parametrize("unique_id", [1, 2, MAX_UNIQUE_ID])
def test_unique_ids_within_bounds_are_accepted(unique_id: int) -> None:
    event = classify(transfer(unique_id=unique_id), AT)
    assert isinstance(event, WebhookEvent)
    assert event.unique_id == unique_id


@pytest.mark.parametrize(
    ("unique_id", "reason"),
    [
        (0, "unique_id out of range"),
        (-1, "unique_id out of range"),
        (MAX_UNIQUE_ID + 1, "unique_id out of range"),
        (True, "unique_id must be an integer"),
        (False, "unique_id must be an integer"),
        (3.0, "unique_id must be an integer"),
        ("3", "unique_id must be an integer"),
        (None, "unique_id must be an integer"),
    ],
)
def test_bad_unique_ids_are_refused(unique_id: object, reason: str) -> None:
    assert classify(transfer(unique_id=unique_id), AT) == Invalid(reason, "transfer")


@pytest.mark.parametrize("username", ["A49", "a49", "Z", "z", "0", "a.b-c_d", "x" * 64, "ABCXYZabcxyz0189"])
def test_plausible_logins_are_accepted(username: str) -> None:
    event = classify(transfer(username=username), AT)
    assert isinstance(event, WebhookEvent)
    assert event.username == username


@pytest.mark.parametrize("username", ["", "x" * 65, "A 49", "A49\n", "é", "a/b", 49, None, ["A49"]])
def test_implausible_logins_are_refused(username: object) -> None:
    assert classify(transfer(username=username), AT) == Invalid("username is not a plausible login", "transfer")


@pytest.mark.parametrize("code", ["E3yugw", "e", "Z", "0", "a_b-c", "x" * 32])
def test_plausible_item_codes_are_accepted(code: str) -> None:
    event = classify(purchase(item_id=code), AT)
    assert isinstance(event, WebhookEvent)
    assert event.item_id == code


@pytest.mark.parametrize("code", ["", "x" * 33, "a.b", "<b>", "a b", 5, None])
def test_implausible_item_codes_are_refused(code: object) -> None:
    assert classify(purchase(item_id=code), AT) == Invalid("item_id is not a plausible item code", "purchase")


@pytest.mark.parametrize(
    ("kind", "hint"),
    [
        ("refund", "refund"),
        ("Purchase", None),  # the hint is only a short lower-case name (it is logged)
        ("REFUND", None),
        ("a" * 32, "a" * 32),
        ("a" * 33, None),
        ("new.kind_2-x", "new.kind_2-x"),
        ("", None),
        ("pur chase", None),
        ({"purchase": 1}, None),  # unhashable kinds are refused, never a crash
        (["purchase"], None),
        (["transfer", "purchase"], None),
        (5, None),
        (1.5, None),
        (True, None),
        (None, None),
    ],
)
def test_an_unknown_kind_is_refused_with_a_safe_hint(kind: object, hint: str | None) -> None:
    body = transfer(kind=kind)
    assert classify(body, AT) == Invalid("unknown kind", hint)
    assert kind_hint(body) == hint


def test_a_body_without_kind_is_an_unknown_kind() -> None:
    body = transfer()
    del body["kind"]
    assert classify(body, AT) == Invalid("unknown kind", None)
    assert kind_hint(body) is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({k: v for k, v in purchase().items() if k != "item_id"}, "missing item_id"),
        ({k: v for k, v in transfer().items() if k not in ("amount", "username")}, "missing amount,username"),
        ({k: v for k, v in transfer().items() if k != "signature"}, "missing signature"),
        (transfer(item_id="E3yugw"), "1 unexpected field(s)"),
        (transfer(item_id="E3yugw", note="x"), "2 unexpected field(s)"),
        (
            {**{k: v for k, v in purchase().items() if k not in ("item_id", "unique_id")}, "id": 1},
            "missing item_id,unique_id; 1 unexpected field(s)",
        ),
    ],
)
def test_field_sets_must_match_the_kind_exactly(body: dict[str, object], reason: str) -> None:
    assert classify(body, AT) == Invalid(reason, str(body["kind"]))


def test_the_first_problem_is_reported_in_a_fixed_order() -> None:
    # unique_id before amount before username before item_id
    assert classify(purchase(unique_id=0, amount=0, username="", item_id=""), AT) == Invalid(
        "unique_id out of range", "purchase"
    )
    assert classify(purchase(amount=0, username="", item_id=""), AT) == Invalid("amount must be positive", "purchase")
    assert classify(purchase(username="", item_id=""), AT) == Invalid("username is not a plausible login", "purchase")
