"""The simulator itself: bad input of every kind, id rules, fault plan, request log, events."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.market.signing import signed_body, verify_event
from bot.market.simulator.events import build_event
from bot.market.simulator.runner import RunningSimulator, running_simulator
from bot.market.simulator.state import SimulatorState


async def post(
    session: aiohttp.ClientSession,
    sim: RunningSimulator,
    method: str,
    fields: dict[str, Any] | None = None,
    *,
    sign: bool = True,
    raw: bytes | None = None,
    content_type: str = "application/json",
) -> tuple[int, dict[str, Any]]:
    body = {"user_id": sim.user_id, **(fields or {})}
    if sign:
        body = signed_body(body, sim.secret)
    data = raw if raw is not None else json.dumps(body).encode()
    async with session.post(sim.url(method), data=data, headers={"Content-Type": content_type}) as resp:
        return resp.status, await resp.json(content_type=None)


@pytest.mark.parametrize(
    ("method", "fields", "error"),
    [
        ("get-balance", {"user_id": "1"}, "Invalid field type: user_id"),
        ("get-balance", {"user_id": True}, "Invalid field type: user_id"),
        ("gift-product", {"id": "a", "username": "darth", "product": "csgo"}, "Missing field: cnt"),
        ("gift-product", {"id": "a", "username": "darth", "product": "csgo", "cnt": "0"}, "Invalid field type: cnt"),
        ("gift-product", {"id": "a", "username": "darth", "product": "csgo", "cnt": 4}, "Invalid cnt"),
        ("gift-product", {"id": "a", "username": "darth", "product": "dota", "cnt": 0}, "Invalid product"),
        ("gift-product", {"username": "darth", "product": "csgo", "cnt": 0}, "Missing field: id"),
        ("gift-product", {"id": 1.5, "username": "darth", "product": "csgo", "cnt": 0}, "Invalid field type: id"),
        ("gift-product", {"id": "a b", "username": "darth", "product": "csgo", "cnt": 0}, "Invalid id format"),
        ("gift-product", {"id": "x" * 81, "username": "darth", "product": "csgo", "cnt": 0}, "Invalid id format"),
        ("transfer-money", {"id": "a", "username": "a49", "amount": "2"}, "Invalid field type: amount"),
        ("transfer-money", {"id": "a", "username": "a49", "amount": 0}, "Invalid amount"),
        ("transfer-money", {"id": "a", "username": "a49", "amount": -1.0}, "Invalid amount"),
        ("transfer-money", {"id": "a", "username": "a49", "amount": 1.001}, "Invalid amount"),
        ("transfer-money", {"id": "a", "username": "ghost", "amount": 1.0}, "User doesn't exist"),
        ("give-for-free", {"id": "a", "username": "a49", "code": 5}, "Invalid field type: code"),
        ("get-prices", {}, "Missing field: product"),
        ("set-reseller-prices", {"integration_id": 1, "prices": "{"}, "Invalid prices format: prices is not JSON"),
        (
            "set-reseller-prices",
            {"integration_id": 1, "prices": '{"cs2-30": {"EUR": 5}}'},
            "Invalid prices format: cs2-30.EUR decimal values must be passed as strings",
        ),
        ("integration-visibility", {"integration_id": 1, "is_public": 1}, "Invalid field type: is_public"),
    ],
)
async def test_bad_fields_get_clear_errors_and_no_effect(
    market_session: aiohttp.ClientSession, market_sim: RunningSimulator, method: str, fields: dict[str, Any], error: str
) -> None:
    status, answer = await post(market_session, market_sim, method, fields)
    assert answer == {"succ": False, "success": False, "error": error}
    assert status in (200, 403)
    assert market_sim.state.balance == Decimal("1000.00")
    assert market_sim.state.used_ids == {}


async def test_bad_requests(market_session: aiohttp.ClientSession, market_sim: RunningSimulator) -> None:
    assert await post(market_session, market_sim, "get-balance", raw=b"{nope") == (
        400,
        {"succ": False, "success": False, "error": "Invalid JSON body"},
    )
    status, answer = await post(market_session, market_sim, "get-balance", raw=b"[1]")
    assert (status, answer["error"]) == (400, "Body must be a JSON object")
    status, answer = await post(market_session, market_sim, "get-balance", content_type="text/plain")
    assert (status, answer["error"]) == (415, "Content-Type must be application/json")
    status, answer = await post(
        market_session, market_sim, "get-balance", content_type="application/json; charset=utf-8"
    )
    assert status == 415
    market_sim.state.strict_content_type = False
    status, answer = await post(
        market_session, market_sim, "get-balance", content_type="application/json; charset=utf-8"
    )
    assert (status, answer["balance"]) == (200, 1000.0)
    status, answer = await post(market_session, market_sim, "get-balance", sign=False)
    assert (status, answer["error"]) == (403, "Invalid signature")
    status, answer = await post(market_session, market_sim, "no-such-method")
    assert (status, answer["error"]) == (404, "Unknown method")
    assert [e.status for e in market_sim.state.request_log] == [400, 400, 415, 415, 200, 403, 404]


async def test_signature_covers_every_field(
    market_session: aiohttp.ClientSession, market_sim: RunningSimulator
) -> None:
    body = signed_body({"user_id": 1, "product": "csgo"}, market_sim.secret)
    body["extra"] = "x"  # added after signing
    async with market_session.post(
        market_sim.url("get-prices"), data=json.dumps(body), headers={"Content-Type": "application/json"}
    ) as resp:
        assert (await resp.json())["error"] == "Invalid signature"


async def test_id_rules(market_session: aiohttp.ClientSession, market_sim: RunningSimulator) -> None:
    state = market_sim.state
    fields = {"id": 123, "username": "a49", "amount": 5000.0}
    # A refused request does not consume its id (documented assumption) ...
    _, answer = await post(market_session, market_sim, "transfer-money", fields)
    assert answer["error"] == "Insufficient balance"
    state.balance = Decimal("6000.00")
    _, answer = await post(market_session, market_sim, "transfer-money", fields)
    assert answer["success"] is True
    assert state.balance == Decimal("1000.00")
    # ... a successful one does, for every method, and 123 is the same id as "123".
    _, answer = await post(
        market_session, market_sim, "give-for-free", {"id": "123", "username": "a49", "code": "E3yugw"}
    )
    assert answer["error"] == "Invalid id."
    assert state.balance == Decimal("1000.00")
    assert state.used_ids == {"123": "transfer-money"}


async def test_plain_account_rules_and_demo_seed(market_session: aiohttp.ClientSession) -> None:
    state = SimulatorState.demo(user_id=7, secret="other")
    async with running_simulator(state) as sim:
        assert sim.base_url.startswith("http://127.0.0.1:")
        assert sim.base_url.endswith("/api/market")
        assert (sim.user_id, sim.secret) == (7, "other")
        _, answer = await post(
            market_session, sim, "gift-product", {"id": "g", "username": "newbie", "product": "cs2", "cnt": 0}
        )
        assert answer["error"] == "User is not invited to this product"
        state.reseller = False
        _, answer = await post(market_session, sim, "is-user-exists", {"username": "darth"})
        assert answer["error"] == "This method is available for official resellers only"


async def test_fault_plan_per_method_and_count(
    market_session: aiohttp.ClientSession, market_sim: RunningSimulator
) -> None:
    faults = market_sim.state.faults
    faults.fail_next("get-prices", times=2, status=502)
    statuses = []
    for method in ("get-balance", "get-prices", "get-prices", "get-prices"):
        body = signed_body(
            {"user_id": 1, "product": "csgo"} if method == "get-prices" else {"user_id": 1}, market_sim.secret
        )
        async with market_session.post(
            market_sim.url(method), data=json.dumps(body), headers={"Content-Type": "application/json"}
        ) as resp:
            statuses.append(resp.status)
    assert statuses == [200, 502, 502, 200]
    assert faults.pending() == []


async def receiver() -> tuple[web.AppRunner, str, list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        assert request.headers["Content-Type"] == "application/json"
        received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/hook", received


async def test_events_are_signed_and_delivered(market_sim: RunningSimulator) -> None:
    runner, url, received = await receiver()
    try:
        purchase = await market_sim.purchase(url, "A49", "E3yugw")
        transfer = await market_sim.receive_transfer(url, "darth", Decimal("5"))
        vector = await market_sim.send_event(url, "transfer", form="vector", amount=1, username="A49", unique_id=22)
    finally:
        await runner.cleanup()
    assert (purchase.status, purchase.text) == (200, "ok")
    assert received[0] == {**purchase.body}
    assert received[0]["kind"] == "purchase"
    assert received[0]["item_id"] == "E3yugw"
    assert received[0]["amount"] == 0.9
    assert received[1]["unique_id"] == 1
    assert received[1]["amount"] == 5.0
    assert all(verify_event(body, market_sim.secret) for body in received)
    assert market_sim.state.balance == Decimal("1005.90")
    assert transfer.status == vector.status == 200
    # The vector form reproduces the published transfer vector exactly.
    published = build_event("transfer", "key", form="vector", amount=1, username="A49", unique_id=22)
    assert published["signature"] == "51a6c1c281c4cd8c4e020f89cc3bdca6aa6c0747fc33f7112ef041064bd864a2"
    assert published["amount"] == 1


def test_build_event_refuses_incomplete_events() -> None:
    with pytest.raises(ValueError, match="item_id"):
        build_event("purchase", "k", amount=1, username="a", unique_id=1)
    with pytest.raises(ValueError, match="kind"):
        build_event("refund", "k", amount=1, username="a", unique_id=1)
