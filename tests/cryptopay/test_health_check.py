"""``check_app`` and its operator lines (behind ``reseller-bot check-config``) against the fake Crypto Pay.

The separate-process runs are in test_check_config.py; these pin the lines for each kind of failure.
"""

from __future__ import annotations

import aiohttp
import pytest
from pydantic import SecretStr

from bot.market.retry import RetryPolicy
from bot.payments.cryptopay.errors import CryptoPayError, CryptoPayProtocolError, CryptoPayUnavailable
from bot.payments.cryptopay.health_check import CHECK_RETRY, check_app, describe_app, describe_failure
from bot.payments.cryptopay.simulator import FakeCryptoPayState, RunningFakeCryptoPay
from bot.settings import CryptoPaySettings


@pytest.fixture
def cp_settings(cp_fake: RunningFakeCryptoPay) -> CryptoPaySettings:
    return CryptoPaySettings(_env_file=None).model_copy(
        update={"token": SecretStr(cp_fake.token), "api_base": cp_fake.api_base}
    )


async def test_names_the_app(cp_session: aiohttp.ClientSession, cp_settings: CryptoPaySettings) -> None:
    app = await check_app(cp_session, cp_settings)
    assert describe_app(app, cp_settings) == f"Crypto Pay OK: app 'Sandbox shop' (id 1) at {cp_settings.api_base}."


async def test_needs_a_token(cp_session: aiohttp.ClientSession, cp_settings: CryptoPaySettings) -> None:
    with pytest.raises(ValueError, match=r"^CRYPTOPAY_TOKEN is not set$"):
        await check_app(cp_session, cp_settings.model_copy(update={"token": None}))


async def test_another_refusal_points_at_the_token_only(
    cp_session: aiohttp.ClientSession, cp_settings: CryptoPaySettings, cp_state: FakeCryptoPayState
) -> None:
    cp_state.faults.malformed_next("getMe", body=b'{"ok": false, "error": {"code": 403, "name": "METHOD_DISABLED"}}')
    with pytest.raises(CryptoPayError) as caught:
        await check_app(cp_session, cp_settings)
    assert describe_failure(caught.value, cp_settings) == (
        f"Crypto Pay refused getMe at {cp_settings.api_base}: METHOD_DISABLED (check CRYPTOPAY_TOKEN)"
    )
    assert len(cp_state.request_log) == 1  # a refusal is not retried


async def test_unexpected_answer(
    cp_session: aiohttp.ClientSession, cp_settings: CryptoPaySettings, cp_state: FakeCryptoPayState
) -> None:
    cp_state.faults.malformed_next("getMe")
    with pytest.raises(CryptoPayProtocolError) as caught:
        await check_app(cp_session, cp_settings)
    assert describe_failure(caught.value, cp_settings) == (
        f"Crypto Pay answered unexpectedly at {cp_settings.api_base}: getMe: answer is not JSON (HTTP 200)"
    )
    assert cp_state.token not in describe_failure(caught.value, cp_settings)


async def test_unavailable_after_the_check_policy(
    cp_session: aiohttp.ClientSession, cp_settings: CryptoPaySettings, cp_state: FakeCryptoPayState
) -> None:
    assert CHECK_RETRY.attempts == 2
    cp_state.faults.fail_next("getMe", times=2, status=502)
    with pytest.raises(CryptoPayUnavailable) as caught:
        await check_app(cp_session, cp_settings, retry=RetryPolicy.immediate(CHECK_RETRY.attempts))
    assert len(cp_state.request_log) == 2
    assert describe_failure(caught.value, cp_settings) == (
        f"Crypto Pay unreachable at {cp_settings.api_base}: getMe: HTTP 502"
    )
