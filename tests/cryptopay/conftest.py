"""Fixtures for Crypto Pay tests: the fake Crypto Pay on a real loopback port, a client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.market.retry import RetryPolicy
from bot.payments.cryptopay.client import CryptoPayClient
from bot.payments.cryptopay.simulator import FakeCryptoPayState, RunningFakeCryptoPay, run_fake_cryptopay


@pytest.fixture
def cp_state() -> FakeCryptoPayState:
    return FakeCryptoPayState(webhook_retry_delay=0.0)


@pytest.fixture
async def cp_fake(cp_state: FakeCryptoPayState) -> AsyncIterator[RunningFakeCryptoPay]:
    fake = await run_fake_cryptopay(cp_state)
    try:
        yield fake
    finally:
        await fake.close()


@pytest.fixture
async def cp_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def cp_sleeps() -> list[float]:
    return []


@pytest.fixture
def cp_retry(cp_sleeps: list[float]) -> RetryPolicy:
    async def record(seconds: float) -> None:
        cp_sleeps.append(seconds)

    return RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, jitter=0.0, max_retry_after=0.05, sleep=record)


@pytest.fixture
def cp_client(
    cp_session: aiohttp.ClientSession, cp_fake: RunningFakeCryptoPay, cp_retry: RetryPolicy
) -> CryptoPayClient:
    return CryptoPayClient(
        cp_session,
        api_base=cp_fake.api_base,
        token=cp_fake.token,
        retry=cp_retry,
        timeout=aiohttp.ClientTimeout(total=1.0),
    )
