"""Pure parts of the orders feature: prices and the currency rule, request ids, the spending call, the outcome
of a journal run, the payment registry, the manual provider and the enabled-methods reader."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from bot.market.journal import Operation, OperationStatus
from bot.orders.fulfilment import (
    Outcome,
    amount_for_journal,
    is_low_balance,
    outcome_of,
    request_id_for,
    spending_call,
)
from bot.orders.models import Order, OrderState
from bot.orders.prechecks import BlockReason, Offer, charge, choose_offer, offer_prices
from bot.payments.enabled import EnabledMethods, manual_instructions, set_manual_instructions
from bot.payments.manual import ManualPaymentUnavailable, ManualProvider
from bot.payments.provider import PaymentRequest
from bot.payments.registry import PaymentRegistry, UnknownPaymentMethod
from bot.shop.catalog import PaymentMethod, ProductKey
from bot.shop.price_table import PriceEntry
from bot.storage import Database

M, C = PaymentMethod.MANUAL, PaymentMethod.CRYPTOPAY
NOW = datetime(2026, 12, 7, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------- prices
@pytest.mark.parametrize(
    ("price", "nle", "expected"),
    [
        ("20.00", None, "20.00"),
        ("1.10", "12.50", "13.75"),
        ("1.1", "3", "3.30"),
        ("1.10", "0.01", "0.02"),  # 0.011 rounded UP
        ("1.15", "0.01", "0.02"),
        ("0.00012345", "3", "0.00037035"),
        ("0.001", "0.5", "0.001"),  # 0.0005 up to the price's places
        ("2", "1.5", "3.00"),
    ],
)
def test_charge(price: str, nle: str | None, expected: str) -> None:
    result = charge(Decimal(price), None if nle is None else Decimal(nle))
    assert result == Decimal(expected)
    assert str(result) == expected


def entries(*rows: tuple[str, str, str, PaymentMethod | None]) -> list[PriceEntry]:
    return [PriceEntry(key, cur, Decimal(price), method) for key, cur, price, method in rows]


CS2 = ProductKey.parse("cs2-30")


def test_offer_first_common_currency() -> None:
    table = entries(("cs2-30", "USD", "22", None), ("cs2-30", "EUR", "20", None), ("cs2-30", "RUB", "1800", C))
    offer = choose_offer(table, CS2, [M, C], None)
    assert offer == Offer("EUR", {M: Decimal(20), C: Decimal(20)})


def test_offer_first_common_currency_is_not_always_the_first_currency() -> None:
    table = entries(("cs2-30", "EUR", "20", M), ("cs2-30", "USD", "22", None))
    assert choose_offer(table, CS2, [M, C], None) == Offer("USD", {M: Decimal(22), C: Decimal(22)})
    table = entries(("cs2-30", "AUD", "30", C), ("cs2-30", "EUR", "20", M), ("cs2-30", "USD", "22", None))
    assert choose_offer(table, CS2, [M, C], None) == Offer("USD", {M: Decimal(22), C: Decimal(22)})


def test_offer_method_specific_price_wins() -> None:
    table = entries(("cs2-30", "EUR", "20", None), ("cs2-30", "EUR", "21", C))
    assert choose_offer(table, CS2, [M, C], None) == Offer("EUR", {M: Decimal(20), C: Decimal(21)})


def test_offer_without_a_common_currency() -> None:
    table = entries(("cs2-30", "USD", "22", M), ("cs2-30", "EUR", "21", C))
    assert choose_offer(table, CS2, [M, C], None) == Offer("EUR", {C: Decimal(21)})


def test_offer_only_enabled_methods() -> None:
    table = entries(("cs2-30", "USD", "22", M), ("cs2-30", "EUR", "21", C))
    assert choose_offer(table, CS2, [M], None) == Offer("USD", {M: Decimal(22)})
    assert choose_offer(table, CS2, [], None) is None


def test_offer_other_keys_ignored_and_marketplace_multiplied() -> None:
    table = entries(("cs2-90", "EUR", "50", None), ("marketplace", "EUR", "1.10", None))
    assert choose_offer(table, CS2, [M], None) is None
    assert choose_offer(table, ProductKey.marketplace(), [M], Decimal("10")) == Offer("EUR", {M: Decimal("11.00")})


def test_offer_prices_filters_methods() -> None:
    offer = Offer("EUR", {M: Decimal(1), C: Decimal(2)})
    assert offer_prices(offer, {C: object()}) == {C: Decimal(2)}


def test_block_reasons() -> None:
    assert {r for r in BlockReason if r.shop_wide} == {BlockReason.LOW_BALANCE, BlockReason.MARKET_UNAVAILABLE}
    for reason in BlockReason:
        assert reason.customer_text.endswith(".")
        assert reason.staff_text
    assert "Nothing has been charged" in BlockReason.LOW_BALANCE.customer_text


# ---------------------------------------------------------------------------------------------- fulfilment
def test_request_ids() -> None:
    order_id = "A" * 22
    assert request_id_for(order_id, 1) == f"ord-{order_id}-1"
    assert request_id_for(order_id, 12) == f"ord-{order_id}-12"
    with pytest.raises(ValueError, match=r"^attempts count from 1$"):
        request_id_for(order_id, 0)
    from bot.market.validation import validate_request_id

    assert validate_request_id(request_id_for("-_" * 11, 99999)) == "ord--_-_-_-_-_-_-_-_-_-_-_-99999"


def make_order(**overrides: Any) -> Order:
    fields: dict[str, Any] = {
        "id": "o" * 22,
        "login": "darth",
        "email": None,
        "product_key": "csgo-180",
        "nle": None,
        "currency": "EUR",
        "method": M,
        "amount": Decimal(20),
        "nle_cost": Decimal("80.10"),
        "state": OrderState.PAID,
        "check_status": "ok",
        "check_reason": None,
        "payment_reference": None,
        "payment_claimed_at": None,
        "claim_reference": None,
        "paid_by": 5,
        "fulfil_attempt": 0,
        "request_id": None,
        "auto_retry": False,
        "last_error": None,
        "discord_user_id": None,
        "created_at": NOW,
        "updated_at": NOW,
        "expires_at": NOW,
        "form_token": "t",
        "seq": 1,
    }
    fields.update(overrides)
    return Order(**fields)


def test_spending_call() -> None:
    assert spending_call(make_order()) == ("gift-product", {"username": "darth", "product": "csgo", "cnt": 2})
    market = make_order(product_key="marketplace", nle=Decimal("12.50"))
    assert spending_call(market) == ("transfer-money", {"username": "darth", "amount": Decimal("12.50")})
    with pytest.raises(ValueError, match=r"^a marketplace order needs its NLE amount$"):
        spending_call(make_order(product_key="marketplace", nle=None))
    assert amount_for_journal(make_order()) == Decimal("80.10")


def test_order_views() -> None:
    assert make_order().description == "CS:GO, 180 days"
    assert make_order(product_key="marketplace", nle=Decimal("5.00")).description == "5.00 NLE"
    assert make_order(product_key="marketplace", nle=Decimal(5)).is_marketplace
    assert not make_order().is_marketplace
    assert make_order(state=OrderState.AWAITING_PAYMENT).payable
    assert not make_order(state=OrderState.AWAITING_PAYMENT, check_status="blocked").payable
    assert not make_order(state=OrderState.AWAITING_PAYMENT, check_status="pending").payable
    assert not make_order(state=OrderState.PAID).payable
    assert make_order(email="ab@cd.ef").masked_email == "a•••@c•••.ef"


def operation(status: OperationStatus, *, error: str | None = None, confirmed: bool = False) -> Operation:
    return Operation(
        id=1,
        request_id="r",
        method="gift-product",
        params={},
        requested_by=None,
        guild_id=None,
        created_at=NOW,
        updated_at=NOW,
        status=status,
        attempts=1,
        result=None,
        error=error,
        confirmed_on_retry=confirmed,
        amount_nle=None,
    )


def test_outcomes() -> None:
    done = outcome_of(operation(OperationStatus.SUCCEEDED))
    assert (done.outcome, done.note, done.error) == (Outcome.DELIVERED, "gift-product done", None)
    retried = outcome_of(operation(OperationStatus.SUCCEEDED, confirmed=True))
    assert (retried.outcome, retried.note) == (Outcome.DELIVERED, "confirmed on retry (Invalid id.)")
    invalid = outcome_of(operation(OperationStatus.FAILED, error=" Invalid id. "))
    assert (invalid.outcome, invalid.note) == (Outcome.DELIVERED, "already done (Invalid id.)")
    refused = outcome_of(operation(OperationStatus.FAILED, error="User doesn't exist"))
    assert (refused.outcome, refused.error, refused.low_balance) == (Outcome.REFUSED, "User doesn't exist", False)
    broke = outcome_of(operation(OperationStatus.FAILED, error="Insufficient balance"))
    assert (broke.outcome, broke.low_balance) == (Outcome.REFUSED, True)
    blank = outcome_of(operation(OperationStatus.FAILED))
    assert (blank.outcome, blank.error) == (Outcome.REFUSED, "refused")
    for status in (OperationStatus.PENDING, OperationStatus.UNKNOWN):
        open_ = outcome_of(operation(status, error="timeout"))
        assert (open_.outcome, open_.error) == (Outcome.OPEN, "timeout")


@pytest.mark.parametrize(
    ("error", "low"), [("Insufficient balance", True), ("BALANCE too low", True), ("Invalid cnt", False), (None, False)]
)
def test_is_low_balance(error: str | None, low: bool) -> None:
    assert is_low_balance(error) is low


# ---------------------------------------------------------------------------------------------- payments
async def test_manual_provider_and_enabled_methods(market_db: Database) -> None:
    provider = ManualProvider(market_db)
    request = PaymentRequest("o", Decimal(1), "EUR", "CS2", NOW, "https://x/orders/o")
    assert provider.method is M
    assert provider.offers("EUR")
    assert provider.offers("XMR")
    assert await provider.poll("o") is None
    assert await provider.cancel("o") is None
    with pytest.raises(ManualPaymentUnavailable):
        await provider.start(request)
    methods = EnabledMethods(market_db, cryptopay_enabled=False)
    assert await methods.methods() == []
    assert await EnabledMethods(market_db, cryptopay_enabled=True).methods() == [C]
    await set_manual_instructions(market_db, "  IBAN 1  ")
    assert await manual_instructions(market_db) == "IBAN 1"
    assert (await provider.start(request)).instructions == "IBAN 1"
    assert await methods.methods() == [M]
    assert await EnabledMethods(market_db, cryptopay_enabled=True).methods() == [M, C]
    await set_manual_instructions(market_db, "IBAN 2")
    assert await manual_instructions(market_db) == "IBAN 2"
    await set_manual_instructions(market_db, " ")
    assert await manual_instructions(market_db) is None
    assert await methods.methods() == []
    await market_db.execute("INSERT INTO shop_state (key, value) VALUES ('manual.instructions', '   ')")
    assert await manual_instructions(market_db) is None


def test_registry(market_db: Database) -> None:
    registry = PaymentRegistry()
    assert registry.methods == []
    assert M not in registry
    with pytest.raises(UnknownPaymentMethod):
        registry.get(M)
    provider = ManualProvider(market_db)
    registry.add(provider)
    assert registry.get(M) is provider
    assert M in registry
    assert C not in registry
    assert registry.methods == [M]
    other = ManualProvider(market_db)
    registry.add(other)
    assert registry.get(M) is other


# ---------------------------------------------------------------------------------------------- shared reads
async def test_shared_market_reads(market_client: Any, market_sim: Any) -> None:
    import asyncio

    from bot.market.models import Product
    from bot.orders.market_cache import SharedMarketReads

    now = [0.0]
    reads = SharedMarketReads(market_client, ttl=10.0, clock=lambda: now[0])
    first = await asyncio.gather(*(reads.get_balance() for _ in range(5)))
    assert first == [Decimal("1000.00")] * 5
    assert len(market_sim.state.requests_for("get-balance")) == 1
    market_sim.state.balance = Decimal("5.00")
    now[0] = 9.99
    assert await reads.get_balance() == Decimal("1000.00")
    now[0] = 10.0
    assert await reads.get_balance() == Decimal("5.00")
    assert len(market_sim.state.requests_for("get-balance")) == 2
    await reads.get_prices(Product.CS2)
    await reads.get_prices("cs2")
    await reads.get_prices(Product.CSGO)
    assert len(market_sim.state.requests_for("get-prices")) == 2
    for _ in range(2):
        assert await reads.is_user_exists("darth") is True
        assert (await reads.is_user_invited("darth", Product.CS2)).can_receive_gift
    assert len(market_sim.state.requests_for("is-user-exists")) == 2
    assert len(market_sim.state.requests_for("is-user-invited")) == 2


async def test_shared_reads_do_not_keep_failures(market_client: Any, market_sim: Any) -> None:
    import asyncio

    from bot.market.errors import MarketUnavailable
    from bot.orders.market_cache import SharedMarketReads

    reads = SharedMarketReads(market_client, ttl=10.0, clock=lambda: 0.0)
    market_sim.state.faults.fail_next("get-balance", times=4)
    results = await asyncio.gather(reads.get_balance(), reads.get_balance(), return_exceptions=True)
    assert all(isinstance(r, MarketUnavailable) for r in results)
    assert await reads.get_balance() == Decimal("1000.00")
