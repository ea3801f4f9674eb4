"""The simulator's set-reseller-prices and integration-visibility: every format rule of the docs, expiry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bot.market.simulator.runner import RunningSimulator
from bot.market.simulator.state import PRICES_TTL, SANDBOX_INTEGRATION_ID, Integration, SimulatorState
from tests.market.test_simulator import post

NOW = datetime(2026, 3, 17, 12, 0, tzinfo=UTC)


@pytest.fixture
def market_state() -> SimulatorState:
    state = SimulatorState.demo()
    state.clock = lambda: NOW
    return state


async def push(
    session: aiohttp.ClientSession, sim: RunningSimulator, prices: Any, integration: Any = 1
) -> dict[str, Any]:
    text = prices if isinstance(prices, str) else json.dumps(prices)
    _, answer = await post(session, sim, "set-reseller-prices", {"integration_id": integration, "prices": text})
    return answer


@pytest.mark.parametrize(
    "prices",
    [
        {"cs2-30": {"EUR": ["30.50", "31.30"], "USD": ["31.82", "32.65"]}},
        {"csgo-180": {"EUR": "14.10", "USD": "14.71", "XMR": "0.162"}},
        {"marketplace": {"EUR": "1.1", "USD": "1.15"}},
        {"csgo-365": {"AAA": "0.00000001"}, "cs2-90": {"ZZZ": "7"}},
    ],
)
async def test_documented_examples_are_accepted(
    market_session: aiohttp.ClientSession, market_sim: RunningSimulator, prices: dict[str, Any]
) -> None:
    assert await push(market_session, market_sim, prices) == {"succ": True, "success": True}
    integration = market_sim.state.integrations["1"]
    assert integration.prices == prices
    assert integration.prices_text == json.dumps(prices)
    assert integration.pushed_at == NOW
    assert integration.expires_at == NOW + timedelta(hours=24)


async def test_plan_defaults_to_30_days(market_session: aiohttp.ClientSession, market_sim: RunningSimulator) -> None:
    assert (await push(market_session, market_sim, {"cs2": {"EUR": "1"}}))["success"] is True
    assert market_sim.state.integrations["1"].prices == {"cs2-30": {"EUR": "1"}}
    answer = await push(market_session, market_sim, {"cs2": {"EUR": "1"}, "cs2-30": {"EUR": "2"}})
    assert answer["error"] == "Invalid prices format: cs2-30 duplicates cs2-30"


@pytest.mark.parametrize(
    ("prices", "error"),
    [
        ("{", "Invalid prices format: prices is not JSON"),
        ("[]", "Invalid prices format: prices must be a non-empty JSON object"),
        ("{}", "Invalid prices format: prices must be a non-empty JSON object"),
        ({"dota-30": {"EUR": "1"}}, "Invalid prices format: unknown product in key 'dota-30'"),
        ({"CS2-30": {"EUR": "1"}}, "Invalid prices format: unknown product in key 'CS2-30'"),
        ({"cs2-45": {"EUR": "1"}}, "Invalid prices format: no '45'-day plan in key 'cs2-45'"),
        ({"cs2-": {"EUR": "1"}}, "Invalid prices format: no ''-day plan in key 'cs2-'"),
        ({"marketplace-30": {"EUR": "1"}}, "Invalid prices format: unknown product in key 'marketplace-30'"),
        ({"cs2-30": {}}, "Invalid prices format: cs2-30 must be an object of currencies"),
        ({"cs2-30": "1"}, "Invalid prices format: cs2-30 must be an object of currencies"),
        (
            {"cs2-30": {"EUR": "1", "USD": "1", "GBP": "1", "XMR": "1"}},
            "Too many currencies: cs2-30 has 4, at most 3",
        ),
        ({"cs2-30": {"eur": "1"}}, "Invalid prices format: currency 'eur' must be 3 uppercase latin letters"),
        ({"cs2-30": {"EURO": "1"}}, "Invalid prices format: currency 'EURO' must be 3 uppercase latin letters"),
        ({"cs2-30": {"€": "1"}}, "Invalid prices format: currency '€' must be 3 uppercase latin letters"),
        ({"cs2-30": {"EUR": 1}}, "Invalid prices format: cs2-30.EUR decimal values must be passed as strings"),
        ({"cs2-30": {"EUR": 1.5}}, "Invalid prices format: cs2-30.EUR decimal values must be passed as strings"),
        ({"cs2-30": {"EUR": "0"}}, "Invalid prices format: cs2-30.EUR '0' is not a positive decimal number"),
        ({"cs2-30": {"EUR": "-1"}}, "Invalid prices format: cs2-30.EUR '-1' is not a positive decimal number"),
        ({"cs2-30": {"EUR": "1e3"}}, "Invalid prices format: cs2-30.EUR '1e3' is not a positive decimal number"),
        ({"cs2-30": {"EUR": "1,5"}}, "Invalid prices format: cs2-30.EUR '1,5' is not a positive decimal number"),
        ({"cs2-30": {"EUR": ["1"]}}, "Invalid prices format: cs2-30.EUR range must have exactly 2 elements"),
        ({"cs2-30": {"EUR": ["1", "2", "3"]}}, "Invalid prices format: cs2-30.EUR range must have exactly 2 elements"),
        (
            {"cs2-30": {"EUR": ["2", "1"]}},
            "Invalid prices format: cs2-30.EUR range first price must be less than the second",
        ),
        (
            {"cs2-30": {"EUR": ["1", "1.0"]}},
            "Invalid prices format: cs2-30.EUR range first price must be less than the second",
        ),
        ({"cs2-30": {"EUR": ["1", 2]}}, "Invalid prices format: cs2-30.EUR decimal values must be passed as strings"),
    ],
)
async def test_every_format_rule(
    market_session: aiohttp.ClientSession, market_sim: RunningSimulator, prices: Any, error: str
) -> None:
    assert await push(market_session, market_sim, {"cs2-30": {"EUR": "5"}}) == {"succ": True, "success": True}
    assert await push(market_session, market_sim, prices) == {"succ": False, "success": False, "error": error}
    assert market_sim.state.integrations["1"].prices == {"cs2-30": {"EUR": "5"}}  # the last good push stays


async def test_field_and_integration_errors(
    market_session: aiohttp.ClientSession, market_sim: RunningSimulator
) -> None:
    answer = await push(market_session, market_sim, {"cs2-30": {"EUR": "1"}}, integration=99)
    assert answer["error"] == "Invalid integration_id"
    _, answer = await post(market_session, market_sim, "set-reseller-prices", {"integration_id": 1})
    assert answer["error"] == "Missing field: prices"
    _, answer = await post(market_session, market_sim, "set-reseller-prices", {"integration_id": 1, "prices": {}})
    assert answer["error"] == "Invalid field type: prices"
    _, answer = await post(market_session, market_sim, "set-reseller-prices", {"prices": "{}"})
    assert answer["error"] == "Missing field: integration_id"
    _, answer = await post(market_session, market_sim, "integration-visibility", {"integration_id": 1})
    assert answer["error"] == "Missing field: is_public"
    _, answer = await post(
        market_session, market_sim, "integration-visibility", {"integration_id": 7, "is_public": True}
    )
    assert answer["error"] == "Invalid integration_id"
    _, answer = await post(
        market_session, market_sim, "integration-visibility", {"integration_id": "1", "is_public": True}
    )
    assert answer == {"succ": True, "success": True}
    assert market_sim.state.integrations["1"].is_public is True


def test_expiry() -> None:
    assert timedelta(hours=24) == PRICES_TTL
    assert SANDBOX_INTEGRATION_ID == 1
    assert str(SANDBOX_INTEGRATION_ID) in SimulatorState.demo().integrations
    integration = Integration(prices={"cs2-30": {"EUR": "1"}}, expires_at=NOW + timedelta(hours=24))
    assert integration.live_prices(NOW) == {"cs2-30": {"EUR": "1"}}
    assert integration.live_prices(NOW + timedelta(hours=23, minutes=59)) is not None
    assert integration.live_prices(NOW + timedelta(hours=24)) is None
    assert Integration().live_prices(NOW) is None
