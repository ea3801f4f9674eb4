"""Fixtures for Crypto Pay tests: the fake Crypto Pay on a real loopback port, a client pointed at it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import aiohttp
import pytest

from bot.market.retry import RetryPolicy
from bot.notifications.outbox import Outbox
from bot.payments.cryptopay.client import CryptoPayClient
from bot.payments.cryptopay.provider import CryptoPayProvider, PaymentNotApplicable
from bot.payments.cryptopay.simulator import FakeCryptoPayState, RunningFakeCryptoPay, run_fake_cryptopay
from bot.payments.cryptopay.store import CryptoPayStore
from bot.payments.provider import PaymentRequest, PaymentStart, PaymentStatus
from bot.storage import Database
from tests.orders.conftest import Clock


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


# ---------------------------------------------------------------------- store, provider, orders
@dataclass
class RecordingEvents:
    """The order side as the provider sees it, recording each call (unit tests of the provider alone; the
    integration tests use the real ``OrderPaymentEvents`` over the real order service)."""

    confirmed: list[tuple[str, PaymentStatus]] = field(default_factory=list)
    late: list[tuple[str, PaymentStatus]] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    refuse: str | None = None
    broken: str | None = None
    """When set, ``payment_confirmed`` fails with ``RuntimeError(broken)`` (e.g. the database is locked)."""
    failed: list[str] = field(default_factory=list)

    async def payment_confirmed(self, order_id: str, status: PaymentStatus) -> None:
        if self.broken is not None:
            self.failed.append(order_id)
            raise RuntimeError(self.broken)
        if self.refuse is not None:
            raise PaymentNotApplicable(self.refuse)
        self.confirmed.append((order_id, status))

    async def payment_late(self, order_id: str, status: PaymentStatus) -> None:
        self.late.append((order_id, status))

    async def invoice_expired(self, order_id: str) -> None:
        self.expired.append(order_id)


@pytest.fixture
def cp_clock(cp_state: FakeCryptoPayState) -> Clock:
    clock = Clock()
    cp_state.clock = clock
    return clock


@pytest.fixture
def cp_outbox(market_db: Database) -> Outbox:
    return Outbox(market_db)


@pytest.fixture
def cp_wakes() -> list[int]:
    return []


@pytest.fixture
def cp_store(market_db: Database, cp_outbox: Outbox, cp_clock: Clock, cp_wakes: list[int]) -> CryptoPayStore:
    return CryptoPayStore(market_db, cp_outbox, clock=cp_clock, wake=lambda: cp_wakes.append(1))


@pytest.fixture
def cp_events() -> RecordingEvents:
    return RecordingEvents()


@pytest.fixture
async def cp_provider(
    cp_client: CryptoPayClient, cp_store: CryptoPayStore, cp_events: RecordingEvents, cp_clock: Clock
) -> AsyncIterator[CryptoPayProvider]:
    provider = CryptoPayProvider(cp_client, cp_store, assets=["USDT", "TON"], events=cp_events, clock=cp_clock)
    try:
        yield provider
    finally:
        await provider.close()


def payment_request(clock: Clock, order_id: str = "order-1", **changes: object) -> PaymentRequest:
    values: dict[str, object] = {
        "order_id": order_id,
        "amount": Decimal("20.00"),
        "currency": "EUR",
        "description": "CS2 — 30 days for darth",
        "expires_at": clock.now + timedelta(minutes=60),
        "return_url": f"https://shop.example/orders/{order_id}",
    }
    values.update(changes)
    return PaymentRequest(**values)  # type: ignore[arg-type]


async def pay_with_webhook_lost(
    provider: CryptoPayProvider,
    fake: RunningFakeCryptoPay,
    clock: Clock,
    order_id: str = "order-1",
    asset: str = "USDT",
) -> PaymentStart:
    """Start the order's invoice and pay it in the fake with its webhook lost: only a poll (or an update the test
    posts itself) tells the bot. The order's :class:`PaymentStart`."""
    start = await provider.start(payment_request(clock, order_id))
    assert start.reference is not None
    fake.state.webhook_faults.lose += 1
    assert await fake.pay(int(start.reference), asset)
    return start


async def audit_rows(db: Database) -> list[dict[str, object]]:
    rows = await db.fetchall(
        "SELECT dedupe_key, target, embeds FROM notification_outbox WHERE target = 'channel:audit' ORDER BY id"
    )
    return [{"dedupe_key": r["dedupe_key"], "target": r["target"], "embeds": json.loads(r["embeds"])} for r in rows]
