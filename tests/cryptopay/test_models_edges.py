"""Parsing edges the mutation run pointed at: a naive time on a host that is not on UTC, empty optional
decimals, an empty asset list."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bot.payments.cryptopay.models import parse_invoice, parse_time


@pytest.fixture
def tokyo_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone is UTC+9 (a host not on UTC)."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("tokyo_host")
def test_a_naive_time_is_utc_whatever_the_host_time_zone() -> None:
    assert time.localtime(0).tm_hour == 9  # the fixture took effect
    moment = parse_time("2026-12-07T12:00:00", "t")
    assert moment == datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert moment.tzinfo is UTC


def test_empty_optional_decimals_and_times_are_absent() -> None:
    invoice = parse_invoice(
        {
            "invoice_id": 9,
            "status": "paid",
            "amount": "1",
            "paid_fiat_rate": "",
            "paid_usd_rate": "",
            "created_at": "",
            "expiration_date": "",
            "accepted_assets": "",
        }
    )
    assert (invoice.paid_fiat_rate, invoice.paid_usd_rate, invoice.created_at, invoice.expiration_date) == (
        None,
        None,
        None,
        None,
    )
    assert invoice.accepted_assets == ()
    assert invoice.amount == Decimal(1)
