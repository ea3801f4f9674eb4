"""POST /hooks/cryptopay on a real aiohttp server: signature first, every rejection, dedupe, reorder, late."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.payments.cryptopay.provider import CryptoPayProvider
from bot.payments.cryptopay.signature import SIGNATURE_HEADER, sign, webhook_key
from bot.payments.cryptopay.simulator import FakeCryptoPayState, RunningFakeCryptoPay
from bot.payments.cryptopay.store import CryptoPayStore
from bot.payments.cryptopay.webhook import cryptopay_webhook_handler
from bot.payments.provider import PaymentOutcome
from bot.storage import Database
from tests.cryptopay.conftest import RecordingEvents, audit_rows, pay_with_webhook_lost, payment_request
from tests.orders.conftest import Clock

PATH = "/hooks/cryptopay"
Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def hook(
    cp_store: CryptoPayStore, cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState
) -> AsyncIterator[Client]:
    app = web.Application()
    handler = cryptopay_webhook_handler(
        cp_store, webhook_key(cp_state.token), on_recorded=cp_provider.on_recorded, max_body=4096
    )
    app.router.add_post(PATH, handler)
    async with TestClient(TestServer(app)) as client:
        yield client


async def post(client: Client, body: bytes, token: str | None, *, signature: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    elif token is not None:
        headers[SIGNATURE_HEADER] = sign(body, webhook_key(token))
    resp = await client.post(PATH, data=body, headers=headers)
    return resp.status, await resp.json()


async def paid_update(
    cp_provider: CryptoPayProvider,
    cp_fake: RunningFakeCryptoPay,
    clock: Clock,
    order_id: str = "order-1",
    **changes: Any,
) -> bytes:
    """Start the order's invoice, pay it in the fake (its own webhook lost), return the update body it would send,
    with ``changes`` applied to the invoice payload (e.g. a tampered amount)."""
    start = await pay_with_webhook_lost(cp_provider, cp_fake, clock, order_id)
    invoice = cp_fake.state.invoices[int(str(start.reference))]
    body = json.loads(cp_fake.state.update_body(invoice, cp_fake.base_url))
    body["payload"].update(changes)
    return json.dumps(body).encode()


async def test_paid_update_is_stored_then_confirmed(
    hook: Client,
    cp_provider: CryptoPayProvider,
    cp_fake: RunningFakeCryptoPay,
    cp_clock: Clock,
    cp_store: CryptoPayStore,
    cp_events: RecordingEvents,
    market_db: Database,
    cp_wakes: list[int],
) -> None:
    body = await paid_update(cp_provider, cp_fake, cp_clock)
    assert await post(hook, body, cp_fake.token) == (200, {"status": "accepted"})
    assert (await cp_store.updates())[0] == {
        "dedupe_key": "invoice:1001",
        "invoice_id": 1001,
        "order_id": "order-1",
        "source": "webhook",
        "verdict": "accepted",
        "reason": None,
        "remote": "127.0.0.1",
    }
    await cp_provider.drain()
    [(order_id, status)] = cp_events.confirmed
    assert order_id == "order-1"
    assert (status.outcome, status.reference, status.amount, status.currency) == (
        PaymentOutcome.PAID,
        "1001",
        Decimal("20.00"),
        "EUR",
    )
    assert status.details["paid_asset"] == "USDT"
    assert status.details["paid_amount"] == "21.99999997"  # 20 EUR at 0.90909091 EUR per USDT
    assert status.paid_at == cp_clock.now
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert stored.confirmed
    assert await audit_rows(market_db) == []
    assert cp_wakes == []


async def test_duplicates_are_answered_and_ignored(
    hook: Client,
    cp_provider: CryptoPayProvider,
    cp_fake: RunningFakeCryptoPay,
    cp_clock: Clock,
    cp_store: CryptoPayStore,
    cp_events: RecordingEvents,
) -> None:
    body = await paid_update(cp_provider, cp_fake, cp_clock)
    assert (await post(hook, body, cp_fake.token))[1] == {"status": "accepted"}
    assert (await post(hook, body, cp_fake.token))[1] == {"status": "duplicate"}
    invoice = cp_fake.state.invoices[1001]
    other_update_id = cp_fake.state.update_body(invoice, cp_fake.base_url)  # same invoice, new update_id
    assert (await post(hook, other_update_id, cp_fake.token))[1] == {"status": "duplicate"}
    await cp_provider.drain()
    assert len(cp_events.confirmed) == 1
    assert len(await cp_store.updates()) == 1


async def test_fake_sends_duplicated_and_reordered_webhooks(
    hook: Client,
    cp_provider: CryptoPayProvider,
    cp_fake: RunningFakeCryptoPay,
    cp_clock: Clock,
    cp_events: RecordingEvents,
    cp_store: CryptoPayStore,
) -> None:
    cp_fake.state.webhook_url = str(hook.make_url(PATH))
    first = await cp_provider.start(payment_request(cp_clock, "order-1"))
    second = await cp_provider.start(payment_request(cp_clock, "order-2", amount=Decimal("7.50")))
    cp_fake.state.webhook_faults.hold = True
    cp_fake.state.webhook_faults.duplicate = 2
    assert await cp_fake.pay(int(str(first.reference)), "TON")
    assert await cp_fake.pay(int(str(second.reference)), "BTC") is False  # not an accepted asset
    assert await cp_fake.pay(int(str(second.reference)), "USDT")
    assert len(cp_fake.state.held) == 4
    assert cp_fake.fake.release_held() == 4  # newest first: order-2's copies before order-1's
    await cp_fake.fake.idle()
    await cp_provider.drain()
    statuses = [d.status for d in cp_fake.state.deliveries]
    assert statuses == [200, 200, 200, 200]
    assert [d.invoice_id for d in cp_fake.state.deliveries] == [1002, 1002, 1001, 1001]
    assert sorted(order for order, _ in cp_events.confirmed) == ["order-1", "order-2"]
    assert [u["verdict"] for u in await cp_store.updates()] == ["accepted", "accepted"]


@pytest.mark.parametrize(
    "signature",
    [
        None,  # header missing
        "",
        "deadbeef",
        "0" * 64,
    ],
)
async def test_bad_signature_is_401_and_stores_nothing(
    hook: Client,
    cp_provider: CryptoPayProvider,
    cp_fake: RunningFakeCryptoPay,
    cp_clock: Clock,
    cp_store: CryptoPayStore,
    caplog: pytest.LogCaptureFixture,
    signature: str | None,
) -> None:
    body = await paid_update(cp_provider, cp_fake, cp_clock)
    caplog.set_level(logging.DEBUG)
    status, answer = await post(hook, body, None, signature=signature)
    assert (status, answer) == (401, {"status": "invalid signature"})
    assert await cp_store.updates() == []
    [line] = [r.getMessage() for r in caplog.records if "signature rejected" in r.getMessage()]
    assert line.startswith("cryptopay webhook signature rejected remote=127.0.0.1 bytes=")
    assert cp_fake.token not in caplog.text


async def test_signed_with_another_token_is_401(
    hook: Client,
    cp_provider: CryptoPayProvider,
    cp_fake: RunningFakeCryptoPay,
    cp_clock: Clock,
    cp_store: CryptoPayStore,
) -> None:
    body = await paid_update(cp_provider, cp_fake, cp_clock)
    assert (await post(hook, body, "1234:another-app"))[0] == 401
    assert (await post(hook, body + b" ", cp_fake.token, signature=sign(body, webhook_key(cp_fake.token))))[0] == 401
    for unreadable in (b"not json", b'{"update_type": "check_activated"}'):  # checked before anything is parsed
        assert await post(hook, unreadable, "1234:another-app") == (401, {"status": "invalid signature"})
    assert await cp_store.updates() == []


async def test_body_too_large_is_413(hook: Client, cp_fake: RunningFakeCryptoPay, cp_store: CryptoPayStore) -> None:
    body = b'{"pad": "' + b"x" * 5000 + b'"}'
    assert await post(hook, body, cp_fake.token) == (413, {"status": "body too large"})
    resp = await hook.post(PATH, data=_chunks(body), headers={SIGNATURE_HEADER: sign(body, webhook_key(cp_fake.token))})
    assert resp.status == 413
    exactly = b'{"p":"' + b"x" * (4096 - 8) + b'"}'
    assert len(exactly) == 4096
    assert (await post(hook, exactly, cp_fake.token))[0] == 200
    assert await cp_store.updates() != []


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 1000):
        yield body[start : start + 1000]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "body is not valid JSON"),
        (b"\xff\xfe", "body is not valid JSON"),
        (b'{"update_type": "invoice_paid", "payload": {"amount": NaN}}', "body is not valid JSON"),
        (b"[1, 2]", "body is not a JSON object"),
        (b'{"update_id": 1}', "no update_type"),
        (b'{"update_type": 5}', "no update_type"),
        (b'{"update_type": "check_activated", "payload": {}}', "update_type 'check_activated' is not invoice_paid"),
        (b'{"update_type": "' + b"u" * 50 + b'"}', "update_type '" + "u" * 40 + "' is not invoice_paid"),
        (b'{"update_type": "invoice_paid"}', "payload is not an invoice: invoice must be an object"),
        (
            b'{"update_type": "invoice_paid", "payload": {"invoice_id": "7", "status": "paid", "amount": "1"}}',
            "payload is not an invoice: invoice_id must be a positive integer",
        ),
        (  # an id SQLite cannot store was a 500
            b'{"update_type": "invoice_paid", "payload": {"invoice_id": 9223372036854775808, "status": "paid", '
            b'"amount": "1"}}',
            "payload is not an invoice: invoice_id must be a positive integer",
        ),
        (  # a time past the year 9999 once in UTC was a 500
            b'{"update_type": "invoice_paid", "payload": {"invoice_id": 7, "status": "paid", "amount": "1", '
            b'"paid_at": "9999-12-31T23:59:59-05:00"}}',
            "payload is not an invoice: paid_at must be an ISO 8601 time",
        ),
        (  # a lone surrogate SQLite cannot store was a 503 (Crypto Pay would retry it for ever)
            b'{"update_type": "invoice_paid", "payload": {"invoice_id": 7, "status": "paid", "amount": "1", '
            b'"payload": "order-1\\ud800"}}',
            "payload is not an invoice: payload must be a string",
        ),
        (
            b'{"update_type": "invoice_paid", "payload": {"invoice_id": 7, "status": "refunded", "amount": "1"}}',
            "payload is not an invoice: unknown invoice status 'refunded'",
        ),
        (
            b'{"update_type": "invoice_paid", "payload": {"invoice_id": 7, "status": "paid", "amount": "-Infinity"}}',
            "payload is not an invoice: amount must be finite",
        ),
        (
            b'{"update_type": "invoice_paid", "payload": {"invoice_id": 7, "status": "paid", "amount": true}}',
            "payload is not an invoice: amount must be a decimal number",
        ),
    ],
)
async def test_signed_but_unusable_is_quarantined_once(
    hook: Client,
    cp_fake: RunningFakeCryptoPay,
    cp_store: CryptoPayStore,
    market_db: Database,
    cp_wakes: list[int],
    body: bytes,
    reason: str,
) -> None:
    assert await post(hook, body, cp_fake.token) == (200, {"status": "quarantined"})
    assert await post(hook, body, cp_fake.token) == (200, {"status": "quarantined"})
    [update] = await cp_store.updates()
    assert (update["verdict"], update["reason"], update["invoice_id"], update["source"], update["remote"]) == (
        "quarantined",
        reason,
        None,
        "webhook",
        "127.0.0.1",
    )
    [alert] = await audit_rows(market_db)
    assert alert["embeds"][0]["title"] == "Crypto Pay update quarantined"
    assert cp_wakes == [1]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"amount": "2.00"}, "amount 2.00 instead of 20.00 EUR"),
        ({"fiat": "USD"}, "currency USD instead of EUR"),
        ({"currency_type": "crypto", "asset": "USDT"}, "currency USDT (crypto) instead of EUR"),
        ({"payload": "order-2"}, "payload does not name the invoice's order"),
        ({"invoice_id": 999}, "unknown invoice: no order has this invoice"),
        ({"status": "active"}, "invoice status is active, not paid"),
    ],
)
async def test_mismatch_is_quarantined_reported_and_never_delivered(
    hook: Client,
    cp_provider: CryptoPayProvider,
    cp_fake: RunningFakeCryptoPay,
    cp_clock: Clock,
    cp_store: CryptoPayStore,
    cp_events: RecordingEvents,
    market_db: Database,
    changes: dict[str, Any],
    reason: str,
) -> None:
    body = await paid_update(cp_provider, cp_fake, cp_clock, **changes)
    assert await post(hook, body, cp_fake.token) == (200, {"status": "quarantined"})
    await cp_provider.drain()
    [update] = await cp_store.updates()
    assert (update["verdict"], update["reason"]) == ("quarantined", reason)
    assert cp_events.confirmed == []
    assert cp_events.late == []
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert stored.state.value == "active"
    [alert] = await audit_rows(market_db)
    embed = alert["embeds"][0]
    assert embed["title"] == "Crypto Pay payment quarantined"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Reason"] == reason
    assert fields["Seen by"] == "webhook"
    assert cp_fake.token not in json.dumps(alert)


async def test_late_payment_for_a_withdrawn_invoice(
    hook: Client,
    cp_provider: CryptoPayProvider,
    cp_fake: RunningFakeCryptoPay,
    cp_clock: Clock,
    cp_store: CryptoPayStore,
    cp_events: RecordingEvents,
    market_db: Database,
) -> None:
    body = await paid_update(cp_provider, cp_fake, cp_clock)  # paid at Crypto Pay, webhook not yet arrived
    await cp_provider.cancel("order-1")  # the order expires meanwhile: deleteInvoice refused (already paid)
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert stored.state.value == "cancelled"
    assert await post(hook, body, cp_fake.token) == (200, {"status": "late"})
    await cp_provider.drain()
    assert cp_events.confirmed == []
    [(order_id, status)] = cp_events.late
    assert (order_id, status.outcome, status.details["paid_asset"]) == ("order-1", PaymentOutcome.PAID, "USDT")
    [alert] = await audit_rows(market_db)
    assert alert["embeds"][0]["title"] == "Crypto Pay: paid after expiry"
    assert await post(hook, body, cp_fake.token) == (200, {"status": "duplicate"})


async def test_database_failure_is_503_so_crypto_pay_retries(
    hook: Client,
    cp_provider: CryptoPayProvider,
    cp_fake: RunningFakeCryptoPay,
    cp_clock: Clock,
    market_db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = await paid_update(cp_provider, cp_fake, cp_clock)
    await market_db.execute("DROP TABLE cryptopay_updates")
    status, answer = await post(hook, body, cp_fake.token)
    assert status == 503
    assert answer == {"status": "temporarily unable to store the update; retry later"}
    assert "cryptopay webhook not stored error=OperationalError remote=127.0.0.1" in caplog.messages
    assert (await post(hook, b"garbage", cp_fake.token))[0] == 503


async def test_chunked_body_is_read_whole(
    hook: Client, cp_provider: CryptoPayProvider, cp_fake: RunningFakeCryptoPay, cp_clock: Clock
) -> None:
    body = await paid_update(cp_provider, cp_fake, cp_clock)
    headers = {SIGNATURE_HEADER: sign(body, webhook_key(cp_fake.token)), "Content-Type": "application/json"}
    resp = await hook.post(PATH, data=_chunks(body), headers=headers)
    assert (resp.status, await resp.json()) == (200, {"status": "accepted"})


async def test_other_http_methods_are_405(hook: Client) -> None:
    assert (await hook.get(PATH)).status == 405


async def _slow_chunks(body: bytes, size: int) -> AsyncIterator[bytes]:
    """``body`` in pieces of ``size`` bytes with a pause between them, so the server reads them one by one."""
    for start in range(0, len(body), size):
        yield body[start : start + size]
        await asyncio.sleep(0.02)


async def test_body_arriving_in_pieces_is_joined_exactly(
    hook: Client, cp_provider: CryptoPayProvider, cp_fake: RunningFakeCryptoPay, cp_clock: Clock
) -> None:
    body = await paid_update(cp_provider, cp_fake, cp_clock)
    assert len(body) > 300
    headers = {SIGNATURE_HEADER: sign(body, webhook_key(cp_fake.token)), "Content-Type": "application/json"}
    resp = await hook.post(PATH, data=_slow_chunks(body, 100), headers=headers)
    assert (resp.status, await resp.json()) == (200, {"status": "accepted"})


async def test_pieces_each_under_the_limit_but_too_large_together_are_413(
    hook: Client, cp_fake: RunningFakeCryptoPay, cp_store: CryptoPayStore
) -> None:
    body = b'{"pad": "' + b"x" * 5000 + b'"}'
    resp = await hook.post(
        PATH, data=_slow_chunks(body, 1000), headers={SIGNATURE_HEADER: sign(body, webhook_key(cp_fake.token))}
    )
    assert (resp.status, await resp.json()) == (413, {"status": "body too large"})
    assert await cp_store.updates() == []
