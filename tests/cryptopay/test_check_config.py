"""``reseller-bot check-config`` with CRYPTOPAY_TOKEN set: a separate process against both fakes."""

from __future__ import annotations

from pathlib import Path

from bot.market.simulator.runner import RunningSimulator
from bot.payments.cryptopay.simulator import RunningFakeCryptoPay
from tests.market.test_check_config_cli import check_config, market_env


async def test_prints_the_app_name(market_sim: RunningSimulator, cp_fake: RunningFakeCryptoPay, tmp_path: Path) -> None:
    env = market_env(market_sim, CRYPTOPAY_TOKEN=cp_fake.token, CRYPTOPAY_API_BASE=cp_fake.api_base)
    code, out, err = await check_config(env, tmp_path)
    assert code == 0, err
    assert f"Crypto Pay OK: app 'Sandbox shop' (id 1) at {cp_fake.api_base}." in out
    assert cp_fake.token not in out + err


async def test_wrong_token_names_the_problem(
    market_sim: RunningSimulator, cp_fake: RunningFakeCryptoPay, tmp_path: Path
) -> None:
    env = market_env(market_sim, CRYPTOPAY_TOKEN="777:not-the-token", CRYPTOPAY_API_BASE=cp_fake.api_base)
    code, out, err = await check_config(env, tmp_path)
    assert code == 1
    assert f"Crypto Pay refused getMe at {cp_fake.api_base}: UNAUTHORIZED (check CRYPTOPAY_TOKEN, and" in err
    assert "testnet-pay.crypt.bot" in err
    assert "not-the-token" not in out + err
    assert "Traceback" not in err


async def test_unreachable(market_sim: RunningSimulator, tmp_path: Path) -> None:
    env = market_env(market_sim, CRYPTOPAY_TOKEN="1:t", CRYPTOPAY_API_BASE="http://127.0.0.1:9/api")
    code, out, err = await check_config(env, tmp_path)
    assert code == 1
    assert "Market API OK" in out
    assert "Crypto Pay unreachable at http://127.0.0.1:9/api: getMe: ClientConnectorError" in err


async def test_not_checked_without_a_token(market_sim: RunningSimulator, tmp_path: Path) -> None:
    code, out, err = await check_config(market_env(market_sim), tmp_path)
    assert code == 0, err
    assert "Crypto Pay" not in out + err
