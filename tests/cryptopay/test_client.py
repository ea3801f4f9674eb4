"""CryptoPayClient against the fake Crypto Pay on a real loopback port: methods, errors, retries, no floats."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import aiohttp
import pytest

from bot.market.retry import RetryPolicy
from bot.payments.cryptopay.client import CryptoPayClient, InvoiceRequest, interpret
from bot.payments.cryptopay.errors import CryptoPayError, CryptoPayProtocolError, CryptoPayUnavailable
from bot.payments.cryptopay.models import InvoiceStatus
from bot.payments.cryptopay.simulator import FakeCryptoPayState, RunningFakeCryptoPay


def _request(**changes: object) -> InvoiceRequest:
    values: dict[str, object] = {
        "amount": Decimal("12.50"),
        "fiat": "EUR",
        "accepted_assets": ("USDT", "TON"),
        "payload": "order-abc",
        "description": "CS2 — 30 days",
        "expires_in": 3600,
        "paid_btn_url": "http://127.0.0.1:8080/orders/order-abc",
    }
    values.update(changes)
    return InvoiceRequest(**values)  # type: ignore[arg-type]


async def test_get_me(cp_client: CryptoPayClient) -> None:
    app = await cp_client.get_me()
    assert (app.app_id, app.name, app.payment_processing_bot_username) == (1, "Sandbox shop", "CryptoTestnetBot")


async def test_token_travels_in_the_documented_header_only(
    cp_client: CryptoPayClient, cp_state: FakeCryptoPayState, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await cp_client.get_me()
    assert cp_state.request_log == [("getMe", {})]
    assert cp_state.token not in repr(cp_client)
    assert cp_state.token not in caplog.text


async def test_wrong_token_is_a_refusal_with_name_and_code(
    cp_session: aiohttp.ClientSession, cp_fake: RunningFakeCryptoPay, caplog: pytest.LogCaptureFixture
) -> None:
    client = CryptoPayClient(
        cp_session, api_base=cp_fake.api_base, token="9:wrong-token", retry=RetryPolicy.immediate()
    )
    with pytest.raises(CryptoPayError) as caught:
        await client.get_me()
    assert (caught.value.name, caught.value.code, caught.value.status, caught.value.method) == (
        "UNAUTHORIZED",
        401,
        401,
        "getMe",
    )
    assert str(caught.value) == "getMe: UNAUTHORIZED (code 401)"
    assert "wrong-token" not in caplog.text


async def test_create_invoice_sends_exact_fields_and_parses_decimals(
    cp_client: CryptoPayClient, cp_state: FakeCryptoPayState
) -> None:
    invoice = await cp_client.create_invoice(_request())
    method, fields = cp_state.request_log[-1]
    assert method == "createInvoice"
    assert fields == {
        "currency_type": "fiat",
        "fiat": "EUR",
        "amount": "12.50",
        "accepted_assets": "USDT,TON",
        "payload": "order-abc",
        "description": "CS2 — 30 days",
        "expires_in": "3600",
        "allow_comments": "false",
        "paid_btn_name": "callback",
        "paid_btn_url": "http://127.0.0.1:8080/orders/order-abc",
    }
    assert invoice.amount == Decimal("12.50")
    assert isinstance(invoice.amount, Decimal)
    assert (invoice.fiat, invoice.payload, invoice.status) == ("EUR", "order-abc", InvoiceStatus.ACTIVE)
    assert invoice.accepted_assets == ("USDT", "TON")
    assert invoice.pay_url is not None
    assert invoice.pay_url.endswith("/pay/" + cp_state.invoices[invoice.invoice_id].hash)
    assert invoice.expiration_date is not None
    assert invoice.created_at is not None
    assert (invoice.expiration_date - invoice.created_at).total_seconds() == 3600


async def test_create_invoice_without_button(cp_client: CryptoPayClient, cp_state: FakeCryptoPayState) -> None:
    await cp_client.create_invoice(_request(paid_btn_url=None))
    assert "paid_btn_name" not in cp_state.request_log[-1][1]
    assert "paid_btn_url" not in cp_state.request_log[-1][1]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount": Decimal("0")}, "amount"),
        ({"amount": Decimal("-1")}, "amount"),
        ({"amount": Decimal("NaN")}, "amount"),
        ({"amount": 12.5}, "amount"),
        ({"fiat": "XYZ"}, "fiat"),
        ({"fiat": "usd"}, "fiat"),
        ({"accepted_assets": ()}, "accepted_assets"),
        ({"payload": ""}, "payload"),
        ({"payload": "x" * 4097}, "payload"),
        ({"description": "d" * 1025}, "description"),
        ({"expires_in": 0}, "expires_in"),
        ({"expires_in": 2_678_401}, "expires_in"),
        ({"expires_in": True}, "expires_in"),
        ({"paid_btn_url": "javascript:alert(1)"}, "paid_btn_url"),
    ],
)
async def test_create_invoice_refused_before_sending(
    cp_client: CryptoPayClient, cp_state: FakeCryptoPayState, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await cp_client.create_invoice(_request(**changes))
    assert cp_state.request_log == []


def test_invoice_request_limits_are_inclusive() -> None:
    _request(payload="x" * 4096, description="d" * 1024, expires_in=2_678_400).validate()
    _request(expires_in=1, amount=Decimal("0.01")).validate()


async def test_create_invoice_is_one_attempt(cp_client: CryptoPayClient, cp_state: FakeCryptoPayState) -> None:
    cp_state.faults.fail_next("createInvoice", status=503)
    with pytest.raises(CryptoPayUnavailable) as caught:
        await cp_client.create_invoice(_request())
    assert caught.value.status == 503
    assert [m for m, _ in cp_state.request_log] == ["createInvoice"]


async def test_create_invoice_timeout_after_effect_is_unavailable(
    cp_client: CryptoPayClient, cp_state: FakeCryptoPayState
) -> None:
    cp_state.faults.delay_next("createInvoice", seconds=5, after_effect=True)
    with pytest.raises(CryptoPayUnavailable, match="timed out"):
        await cp_client.create_invoice(_request())
    assert len(cp_state.invoices) == 1  # the invoice exists although the client never heard of it


async def test_get_invoices_filters_and_pages(cp_client: CryptoPayClient, cp_fake: RunningFakeCryptoPay) -> None:
    first = await cp_client.create_invoice(_request(payload="o1"))
    second = await cp_client.create_invoice(_request(payload="o2"))
    assert await cp_fake.pay(second.invoice_id, "TON")
    both = await cp_client.get_invoices(invoice_ids=[first.invoice_id, second.invoice_id])
    assert [i.payload for i in both] == ["o2", "o1"]
    paid = await cp_client.get_invoices(status=InvoiceStatus.PAID)
    assert [i.invoice_id for i in paid] == [second.invoice_id]
    got = paid[0]
    assert (got.paid_asset, got.paid_fiat_rate, got.paid_usd_rate) == ("TON", Decimal("4.54545455"), Decimal("5"))
    assert got.paid_amount == Decimal("2.74999999")  # 12.50 EUR / 4.54545455, rounded down
    assert got.paid_at is not None
    page = await cp_client.get_invoices(offset=1, count=1)
    assert [i.payload for i in page] == ["o1"]
    method, fields = cp_fake.state.request_log[-1]
    assert (method, fields) == ("getInvoices", {"offset": "1", "count": "1"})


async def test_get_invoices_argument_bounds(cp_client: CryptoPayClient) -> None:
    for kwargs in ({"count": 0}, {"count": 1001}, {"offset": -1}):
        with pytest.raises(ValueError, match="count must be"):
            await cp_client.get_invoices(**kwargs)  # type: ignore[arg-type]
    assert await cp_client.get_invoices(count=1000) == []
    assert await cp_client.get_invoices(count=1) == []


async def test_reads_are_retried_with_backoff(
    cp_client: CryptoPayClient, cp_state: FakeCryptoPayState, cp_sleeps: list[float]
) -> None:
    cp_state.faults.fail_next("getInvoices", times=2, status=502)
    assert await cp_client.get_invoices() == []
    assert [m for m, _ in cp_state.request_log] == ["getInvoices"] * 3
    assert cp_sleeps == [0.01, 0.02]


async def test_reads_give_up_after_the_policy(cp_client: CryptoPayClient, cp_state: FakeCryptoPayState) -> None:
    cp_state.faults.fail_next("getMe", times=3, status=500)
    with pytest.raises(CryptoPayUnavailable) as caught:
        await cp_client.get_me()
    assert caught.value.status == 500
    assert len(cp_state.request_log) == 3


async def test_rate_limit_honours_retry_after(
    cp_client: CryptoPayClient, cp_state: FakeCryptoPayState, cp_sleeps: list[float]
) -> None:
    cp_state.faults.rate_limit_next("getMe", retry_after="1")
    await cp_client.get_me()
    assert cp_sleeps == [0.05]  # Retry-After 1 s, capped by the test policy


async def test_dropped_connection_is_unavailable(cp_client: CryptoPayClient, cp_state: FakeCryptoPayState) -> None:
    cp_state.faults.drop_next("getMe", times=3, after_effect=False)
    with pytest.raises(CryptoPayUnavailable) as caught:
        await cp_client.get_me()
    assert caught.value.status is None
    assert [m for m, _ in cp_state.request_log] == ["getMe"] * 3  # a dropped connection is retried too


async def test_delete_invoice(cp_client: CryptoPayClient, cp_state: FakeCryptoPayState) -> None:
    invoice = await cp_client.create_invoice(_request())
    assert await cp_client.delete_invoice(invoice.invoice_id) is True
    assert cp_state.invoices == {}
    with pytest.raises(CryptoPayError) as caught:
        await cp_client.delete_invoice(invoice.invoice_id)
    assert caught.value.name == "INVOICE_NOT_FOUND"
    assert [m for m, _ in cp_state.request_log] == ["createInvoice", "deleteInvoice", "deleteInvoice"]  # no retry


async def test_malformed_answer_is_a_protocol_error(cp_client: CryptoPayClient, cp_state: FakeCryptoPayState) -> None:
    cp_state.faults.malformed_next("getMe")
    with pytest.raises(CryptoPayProtocolError, match="not JSON"):
        await cp_client.get_me()


@pytest.mark.parametrize(
    ("status", "body", "error", "match"),
    [
        (200, b"[]", CryptoPayProtocolError, "no boolean 'ok'"),
        (200, b'{"ok": 1}', CryptoPayProtocolError, "no boolean 'ok'"),
        (200, b'{"ok": true}', CryptoPayProtocolError, "without result"),
        (201, b'{"ok": true, "result": 1}', None, None),
        (302, b'{"ok": true, "result": 1}', CryptoPayProtocolError, "without result"),
        (400, b'{"ok": false}', CryptoPayProtocolError, "without an error name"),
        (400, b'{"ok": false, "error": {"code": 400}}', CryptoPayProtocolError, "without an error name"),
        (400, b'{"ok": false, "error": {"name": "X", "code": true}}', CryptoPayError, "^m: X$"),
        (400, b'{"ok": false, "error": {"name": "X", "code": 400}}', CryptoPayError, r"^m: X \(code 400\)$"),
        (429, b"", CryptoPayUnavailable, "HTTP 429"),
        (500, b'{"ok": true, "result": 1}', CryptoPayUnavailable, "HTTP 500"),
        (499, b"\xff", CryptoPayProtocolError, "not JSON"),
    ],
)
def test_interpret(status: int, body: bytes, error: type[Exception] | None, match: str | None) -> None:
    if error is None:
        assert interpret("m", status, body) == 1
        return
    with pytest.raises(error, match=match):
        interpret("m", status, body)


def test_interpret_parses_numbers_as_decimal() -> None:
    result = interpret("m", 200, json.dumps({"ok": True, "result": {"a": 0.1}}).encode())
    assert result == {"a": Decimal("0.1")}
    assert isinstance(result["a"], Decimal)


def test_empty_token_refused(cp_session: aiohttp.ClientSession) -> None:
    with pytest.raises(ValueError, match="token"):
        CryptoPayClient(cp_session, api_base="http://x", token="")
