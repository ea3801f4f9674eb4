"""MarketClient against the simulator on a real loopback port: every method, every error class."""

from __future__ import annotations

import json
from decimal import Decimal

import aiohttp
import pytest
from aiohttp import web

from bot.market.client import MarketClient
from bot.market.errors import (
    MarketError,
    MarketFailure,
    MarketProtocolError,
    MarketUnavailable,
    MarketValidationError,
)
from bot.market.models import InviteStatus, Plan, Product
from bot.market.retry import RetryPolicy
from bot.market.signing import verify
from bot.market.simulator.runner import RunningSimulator
from bot.market.simulator.state import SimulatorState

# ---------------------------------------------------------------------- read-only methods


async def test_get_balance(market_client: MarketClient, market_state: SimulatorState) -> None:
    assert await market_client.get_balance() == Decimal("1000.00")
    market_state.balance = Decimal("62.60")
    balance = await market_client.get_balance()
    assert balance == Decimal("62.60")
    assert str(balance) == "62.60"


async def test_get_prices(market_client: MarketClient) -> None:
    prices = await market_client.get_prices(Product.CSGO)
    assert prices.product is Product.CSGO
    assert set(prices.plans) == set(Plan)
    month = prices.price(Plan.DAYS_30)
    assert (month.days, month.cnt, month.nle, month.rub) == (30, Plan.DAYS_30, Decimal("17.10"), Decimal("1368.00"))
    assert prices.price(Plan.DAYS_365).nle == Decimal("134.10")


async def test_is_user_exists(market_client: MarketClient) -> None:
    assert await market_client.is_user_exists("darth") is True
    assert await market_client.is_user_exists("DARTH") is True
    assert await market_client.is_user_exists("nobody") is False


async def test_is_user_invited(market_client: MarketClient) -> None:
    assert await market_client.is_user_invited("a49", Product.CSGO) == InviteStatus(
        cheat_public=True, user_invited=True
    )
    assert await market_client.is_user_invited("a49", "cs2") == InviteStatus(cheat_public=False, user_invited=False)
    status = await market_client.is_user_invited("darth", Product.CS2)
    assert status == InviteStatus(cheat_public=False, user_invited=True)
    assert status.can_receive_gift


# ---------------------------------------------------------------------- spending methods


async def test_gift_product_debits_plan_price(market_client: MarketClient, market_state: SimulatorState) -> None:
    await market_client.gift_product("darth", Product.CS2, Plan.DAYS_90, request_id="t-1")
    assert market_state.balance == Decimal("955.90")
    darth = market_state.user("darth")
    assert darth is not None
    assert darth.subscription_days[Product.CS2] == 90


async def test_give_for_free_debits_item_price(market_client: MarketClient, market_state: SimulatorState) -> None:
    await market_client.give_for_free("a49", "E3yugw", request_id="t-2")
    assert market_state.balance == Decimal("999.10")
    user = market_state.user("a49")
    assert user is not None
    assert "E3yugw" in user.items


async def test_transfer_money_sends_float_and_signs_what_it_sends(
    market_client: MarketClient, market_state: SimulatorState
) -> None:
    await market_client.transfer_money("a49", Decimal("2.00"), request_id="t-3")
    assert market_state.balance == Decimal("998.00")
    entry = market_state.requests_for("transfer-money")[-1]
    assert entry.content_type == "application/json"
    assert b'"amount":2.0' in entry.raw
    assert entry.body is not None
    assert entry.body["amount"] == 2.0
    assert isinstance(entry.body["amount"], float)
    assert verify(entry.body, market_state.secret)


async def test_integration_methods(market_client: MarketClient, market_state: SimulatorState) -> None:
    await market_client.set_reseller_prices(
        1,
        {
            "cs2-30": {"EUR": Decimal("17.10"), "RUB": (Decimal("1300"), Decimal("1400"))},
            "marketplace": {"USD": Decimal("1.05")},
        },
    )
    integration = market_state.integrations["1"]
    assert integration.prices == {
        "cs2-30": {"EUR": "17.10", "RUB": ["1300.00", "1400.00"]},
        "marketplace": {"USD": "1.05"},
    }
    await market_client.integration_visibility(1, True)
    assert integration.is_public is True
    body = market_state.requests_for("integration-visibility")[-1].body
    assert body is not None
    assert body["is_public"] is True
    await market_client.integration_visibility("1", False)
    assert integration.is_public is False
    with pytest.raises(MarketError) as info:
        await market_client.integration_visibility(99, True)
    assert info.value.text == "Invalid integration_id"


# ---------------------------------------------------------------------- MarketError: the API refused


@pytest.mark.parametrize(
    ("call", "text"),
    [
        (lambda c: c.gift_product("ghost", Product.CSGO, Plan.DAYS_30, request_id="e-1"), "User doesn't exist"),
        (
            lambda c: c.gift_product("a49", Product.CS2, Plan.DAYS_30, request_id="e-2"),
            "User is not invited to this product",
        ),
        (lambda c: c.give_for_free("a49", "NoSuch", request_id="e-3"), "invalid item"),
        (lambda c: c.transfer_money("a49", Decimal("5000.00"), request_id="e-4"), "Insufficient balance"),
        (lambda c: c.is_user_invited("ghost", Product.CS2), "User doesn't exist"),
    ],
)
async def test_api_refusals_carry_exact_text(
    market_client: MarketClient, market_state: SimulatorState, call, text
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MarketError) as info:
        await call(market_client)
    assert info.value.text == text
    assert market_state.balance == Decimal("1000.00")


async def test_already_has_item(market_client: MarketClient) -> None:
    await market_client.give_for_free("a49", "E3yugw", request_id="i-1")
    with pytest.raises(MarketError, match="This user already has this item"):
        await market_client.give_for_free("a49", "E3yugw", request_id="i-2")


async def test_reused_id_answers_invalid_id_without_second_effect(
    market_client: MarketClient, market_state: SimulatorState
) -> None:
    await market_client.transfer_money("a49", Decimal("1.50"), request_id="same")
    with pytest.raises(MarketError) as info:
        await market_client.transfer_money("a49", Decimal("1.50"), request_id="same")
    assert info.value.is_invalid_id
    assert market_state.balance == Decimal("998.50")


async def test_wrong_secret_is_refused(market_session: aiohttp.ClientSession, market_sim: RunningSimulator) -> None:
    client = MarketClient(market_session, base_url=market_sim.base_url, user_id=market_sim.user_id, secret="wrong")
    with pytest.raises(MarketError) as info:
        await client.get_balance()
    assert info.value.text == "Invalid signature"
    assert info.value.status == 403


async def test_wrong_user_id_is_refused(market_session: aiohttp.ClientSession, market_sim: RunningSimulator) -> None:
    client = MarketClient(market_session, base_url=market_sim.base_url, user_id=999, secret=market_sim.secret)
    with pytest.raises(MarketError, match="Invalid user_id"):
        await client.get_balance()


async def test_reseller_only_methods_refused_for_plain_account(
    market_client: MarketClient, market_state: SimulatorState
) -> None:
    market_state.reseller = False
    assert await market_client.get_balance() == Decimal("1000.00")
    await market_client.give_for_free("a49", "E3yugw", request_id="np-1")  # not reseller-only
    calls = [
        market_client.get_prices(Product.CSGO),
        market_client.is_user_exists("a49"),
        market_client.is_user_invited("a49", Product.CSGO),
        market_client.gift_product("a49", Product.CSGO, Plan.DAYS_30, request_id="np-2"),
        market_client.transfer_money("a49", Decimal("1.00"), request_id="np-3"),
        market_client.integration_visibility(1, True),
    ]
    for call in calls:
        with pytest.raises(MarketError) as info:
            await call
        assert info.value.text == "This method is available for official resellers only"
    assert market_state.balance == Decimal("999.10")


# ---------------------------------------------------------------------- validation before sending


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.transfer_money("a49", Decimal("0"), request_id="v1"),
        lambda c: c.transfer_money("a49", Decimal("-1.00"), request_id="v2"),
        lambda c: c.transfer_money("a49", Decimal("1.005"), request_id="v3"),
        lambda c: c.transfer_money("a49", Decimal("NaN"), request_id="v4"),
        lambda c: c.transfer_money("a49", Decimal("1000000.01"), request_id="v5"),
        lambda c: c.transfer_money("a49", 2.0, request_id="v6"),
        lambda c: c.transfer_money("a49", True, request_id="v6b"),
        lambda c: c.transfer_money("bad name", Decimal("1.00"), request_id="v7"),
        lambda c: c.transfer_money("", Decimal("1.00"), request_id="v8"),
        lambda c: c.transfer_money("a49", Decimal("1.00"), request_id="x" * 81),
        lambda c: c.transfer_money("a49", Decimal("1.00"), request_id="has space"),
        lambda c: c.transfer_money("a49", Decimal("1.00"), request_id=""),
        lambda c: c.gift_product("a49", "dota", Plan.DAYS_30, request_id="v9"),
        lambda c: c.gift_product("a49", Product.CSGO, 4, request_id="v10"),
        lambda c: c.gift_product("a49", Product.CSGO, True, request_id="v11"),
        lambda c: c.give_for_free("a49", "bad code!", request_id="v12"),
        lambda c: c.is_user_exists("x" * 65),
        lambda c: c.get_prices("csgo2"),
        lambda c: c.set_reseller_prices(1, {"cs2-31": {"EUR": Decimal("1")}}),
        lambda c: c.set_reseller_prices(1, {"cs2-30": {"eur": Decimal("1")}}),
        lambda c: c.set_reseller_prices(1, {"cs2-30": {"EUR": (Decimal("2"), Decimal("1"))}}),
        lambda c: c.integration_visibility(0, True),
        lambda c: c.integration_visibility(1, "yes"),
    ],
)
async def test_validation_errors_are_raised_before_sending(
    market_client: MarketClient, market_state: SimulatorState, call
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MarketValidationError) as info:
        await call(market_client)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, MarketFailure)
    assert len(market_state.request_log) == 0


# ---------------------------------------------------------------------- MarketUnavailable and retries


async def test_read_retries_5xx_then_succeeds(
    market_client: MarketClient, market_state: SimulatorState, market_sleeps: list[float]
) -> None:
    market_state.faults.fail_next("get-balance", times=2, status=503)
    assert await market_client.get_balance() == Decimal("1000.00")
    assert [e.status for e in market_state.requests_for("get-balance")] == [503, 503, 200]
    assert len(market_sleeps) == 2


async def test_read_gives_up_after_policy_attempts(market_client: MarketClient, market_state: SimulatorState) -> None:
    market_state.faults.fail_next("get-balance", times=10, status=502)
    with pytest.raises(MarketUnavailable) as info:
        await market_client.get_balance()
    assert info.value.status == 502
    assert len(market_state.requests_for("get-balance")) == 4


async def test_429_retry_after_is_honoured(
    market_client: MarketClient, market_state: SimulatorState, market_sleeps: list[float]
) -> None:
    market_client.retry = RetryPolicy(
        attempts=3, base_delay=0.001, max_delay=0.001, jitter=0.0, sleep=market_client.retry.sleep
    )
    market_state.faults.rate_limit_next("get-prices", retry_after="7")
    prices = await market_client.get_prices(Product.CSGO)
    assert prices.product is Product.CSGO
    assert market_sleeps == [7.0]


async def test_429_exhausted_is_unavailable(market_client: MarketClient, market_state: SimulatorState) -> None:
    market_state.faults.rate_limit_next(None, times=4, retry_after=None)
    with pytest.raises(MarketUnavailable) as info:
        await market_client.is_user_exists("a49")
    assert info.value.status == 429


async def test_spending_call_is_not_retried_by_the_client(
    market_client: MarketClient, market_state: SimulatorState
) -> None:
    market_state.faults.fail_next("gift-product", status=503)
    with pytest.raises(MarketUnavailable):
        await market_client.gift_product("darth", Product.CSGO, Plan.DAYS_30, request_id="once")
    assert len(market_state.requests_for("gift-product")) == 1
    assert market_state.balance == Decimal("1000.00")


async def test_connection_refused_is_unavailable(market_session: aiohttp.ClientSession) -> None:
    client = MarketClient(
        market_session, base_url="http://127.0.0.1:9/api/market", user_id=1, secret="s", retry=RetryPolicy.immediate(2)
    )
    with pytest.raises(MarketUnavailable):
        await client.get_balance()


async def test_timeout_is_unavailable(market_session: aiohttp.ClientSession, market_sim: RunningSimulator) -> None:
    market_sim.state.faults.delay_next("get-balance", seconds=1.0)
    client = MarketClient(
        market_session,
        base_url=market_sim.base_url,
        user_id=market_sim.user_id,
        secret=market_sim.secret,
        retry=RetryPolicy.immediate(1),
        timeout=aiohttp.ClientTimeout(total=0.05),
    )
    with pytest.raises(MarketUnavailable, match="timed out"):
        await client.get_balance()


async def test_dropped_connection_is_unavailable(market_client: MarketClient, market_state: SimulatorState) -> None:
    market_state.faults.drop_next("transfer-money", after_effect=False)
    with pytest.raises(MarketUnavailable):
        await market_client.transfer_money("a49", Decimal("3.00"), request_id="drop-1")
    assert market_state.balance == Decimal("1000.00")


# ---------------------------------------------------------------------- MarketProtocolError


async def test_non_json_answer_is_protocol_error(market_client: MarketClient, market_state: SimulatorState) -> None:
    market_state.faults.malformed_next("get-balance")
    with pytest.raises(MarketProtocolError, match="not JSON"):
        await market_client.get_balance()


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        ({"success": True, "succ": True}, "balance"),
        ({"success": True, "succ": True, "balance": "62.6"}, "balance"),
        ({"success": True, "succ": False, "balance": 1}, "disagree"),
        ({"balance": 1}, "success"),
        ({"success": False, "succ": False}, "error text"),
        ([1, 2], "object"),
    ],
)
async def test_unexpected_answers_are_protocol_errors(
    market_client: MarketClient, market_state: SimulatorState, answer: object, match: str
) -> None:
    market_state.faults.malformed_next("get-balance", body=json.dumps(answer).encode())
    with pytest.raises(MarketProtocolError, match=match):
        await market_client.get_balance()


async def test_unexpected_prices_shape_is_protocol_error(
    market_client: MarketClient, market_state: SimulatorState
) -> None:
    bad = {"success": True, "succ": True, "prices": {"30": {"cnt": 2, "eur": 17.1, "rub": 1368}}}
    market_state.faults.malformed_next("get-prices", body=json.dumps(bad).encode())
    with pytest.raises(MarketProtocolError, match="cnt"):
        await market_client.get_prices(Product.CSGO)


async def test_html_error_page_is_protocol_error(market_session: aiohttp.ClientSession, unused_tcp_port: int) -> None:
    app = web.Application()

    async def forbidden(request: web.Request) -> web.Response:
        return web.Response(status=403, text="<html>blocked</html>", content_type="text/html")

    app.router.add_post("/api/market/get-balance", forbidden)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", unused_tcp_port)
    await site.start()
    try:
        client = MarketClient(
            market_session, base_url=f"http://127.0.0.1:{unused_tcp_port}/api/market", user_id=1, secret="s"
        )
        with pytest.raises(MarketProtocolError) as info:
            await client.get_balance()
        assert info.value.status == 403
    finally:
        await runner.cleanup()


# ---------------------------------------------------------------------- wire format


async def test_content_type_exact_and_body_signed(market_client: MarketClient, market_state: SimulatorState) -> None:
    await market_client.gift_product("darth", Product.CSGO, Plan.DAYS_30, request_id="w-1")
    entry = market_state.requests_for("gift-product")[-1]
    assert entry.content_type == "application/json"
    assert entry.body == {
        "user_id": 1,
        "id": "w-1",
        "username": "darth",
        "product": "csgo",
        "cnt": 0,
        "signature": entry.body["signature"] if entry.body else None,
    }


def test_client_repr_hides_secret(market_session: aiohttp.ClientSession) -> None:
    client = MarketClient(market_session, base_url="http://x/api/market/", user_id=5, secret="top-secret")
    assert "top-secret" not in repr(client)
    assert client.base_url == "http://x/api/market"


def test_from_settings(market_settings, market_session: aiohttp.ClientSession) -> None:  # type: ignore[no-untyped-def]
    client = MarketClient.from_settings(market_session, market_settings)
    assert client.base_url == market_settings.base_url
    assert client.user_id == market_settings.user_id
