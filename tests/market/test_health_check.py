"""``check_balance`` (behind ``reseller-bot check-config``) against the simulator."""

from __future__ import annotations

from decimal import Decimal

import aiohttp
import pytest
from pydantic import SecretStr

from bot.market.errors import MarketError, MarketUnavailable
from bot.market.health_check import check_balance, describe_balance, describe_failure
from bot.market.retry import RetryPolicy
from bot.market.simulator.state import SimulatorState
from bot.settings import MarketSettings


async def test_reports_balance(
    market_session: aiohttp.ClientSession, market_settings: MarketSettings, market_state: SimulatorState
) -> None:
    market_state.balance = Decimal("62.6")
    balance = await check_balance(market_session, market_settings)
    assert balance == Decimal("62.60")
    assert describe_balance(balance) == "Market API OK: balance 62.60 NLE"


async def test_wrong_secret_is_a_precise_refusal(
    market_session: aiohttp.ClientSession, market_settings: MarketSettings
) -> None:
    settings = market_settings.model_copy(update={"secret": SecretStr("wrong")})
    with pytest.raises(MarketError) as info:
        await check_balance(market_session, settings)
    assert info.value.text == "Invalid signature"
    text = describe_failure(info.value, settings)
    assert "Invalid signature" in text
    assert "wrong" not in text


async def test_unreachable(market_session: aiohttp.ClientSession, market_settings: MarketSettings) -> None:
    settings = market_settings.model_copy(update={"base_url": "http://127.0.0.1:9/api/market"})
    with pytest.raises(MarketUnavailable) as info:
        await check_balance(market_session, settings, retry=RetryPolicy.immediate(1))
    assert describe_failure(info.value, settings).startswith("Market API unreachable at http://127.0.0.1:9/api/market")
