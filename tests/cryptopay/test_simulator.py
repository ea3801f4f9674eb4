"""The fake Crypto Pay itself: the pay page, invoice expiry, API refusals, query/form fields."""

from __future__ import annotations

from datetime import timedelta

import aiohttp

from bot.payments.cryptopay.client import TOKEN_HEADER
from bot.payments.cryptopay.simulator import FakeCryptoPayState, RunningFakeCryptoPay
from tests.orders.conftest import Clock

FIELDS = {"currency_type": "fiat", "fiat": "USD", "amount": "5", "payload": "p", "paid_btn_url": "http://shop/orders/p"}


async def test_pay_page_pays_and_redirects(cp_fake: RunningFakeCryptoPay, cp_session: aiohttp.ClientSession) -> None:
    invoice = cp_fake.state.create_invoice({**FIELDS, "description": "<b>CS2</b>"})
    url = f"{cp_fake.base_url}/pay/{invoice.hash}"
    async with cp_session.get(url) as resp:
        page = await resp.text()
    assert resp.status == 200
    assert "&lt;b&gt;CS2&lt;/b&gt;" in page  # escaped
    assert '<option value="USDT">USDT</option>' in page
    async with cp_session.post(url, data={"asset": "BTC"}, allow_redirects=False) as resp:
        assert resp.status == 303
        assert resp.headers["Location"] == "http://shop/orders/p"
    assert invoice.status.value == "paid"
    assert invoice.paid_asset == "BTC"
    async with cp_session.get(url) as resp:
        page = await resp.text()
    assert "This invoice is paid." in page
    assert '<a href="http://shop/orders/p">Return to the shop</a>' in page


async def test_unknown_and_expired_invoices(
    cp_fake: RunningFakeCryptoPay, cp_session: aiohttp.ClientSession, cp_state: FakeCryptoPayState
) -> None:
    clock = Clock()
    cp_state.clock = clock
    async with cp_session.get(f"{cp_fake.base_url}/pay/IVnothing") as resp:
        assert resp.status == 404
    async with cp_session.post(f"{cp_fake.base_url}/pay/IVnothing") as resp:
        assert resp.status == 404
    invoice = cp_state.create_invoice({**FIELDS, "expires_in": "60"})
    clock.advance(timedelta(seconds=60))
    async with cp_session.get(f"{cp_fake.base_url}/pay/{invoice.hash}") as resp:
        assert "This invoice is expired." in await resp.text()
    assert await cp_fake.pay(invoice.invoice_id) is False
    async with cp_session.post(f"{cp_fake.base_url}/pay/{invoice.hash}", allow_redirects=False) as resp:
        assert resp.headers["Location"] == f"/pay/{invoice.hash}"


async def test_api_accepts_query_and_form_fields(
    cp_fake: RunningFakeCryptoPay, cp_session: aiohttp.ClientSession
) -> None:
    headers = {TOKEN_HEADER: cp_fake.token}
    async with cp_session.get(f"{cp_fake.api_base}/createInvoice", params=FIELDS, headers=headers) as resp:
        answer = await resp.json()
    assert answer["ok"] is True
    assert answer["result"]["amount"] == "5"
    async with cp_session.post(
        f"{cp_fake.api_base}/deleteInvoice", data={"invoice_id": "1001"}, headers=headers
    ) as resp:
        assert await resp.json() == {"ok": True, "result": True}
    async with cp_session.post(
        f"{cp_fake.api_base}/getInvoices", data=b"[", headers={**headers, "Content-Type": "application/json"}
    ) as resp:
        assert (resp.status, await resp.json()) == (400, {"ok": False, "error": {"code": 400, "name": "BODY_INVALID"}})
    async with cp_session.post(f"{cp_fake.api_base}/transfer", headers=headers) as resp:
        assert (resp.status, (await resp.json())["error"]["name"]) == (405, "METHOD_NOT_FOUND")


async def test_api_refusals(cp_fake: RunningFakeCryptoPay, cp_session: aiohttp.ClientSession) -> None:
    headers = {TOKEN_HEADER: cp_fake.token}
    cases = [
        ({**FIELDS, "currency_type": "crypto"}, "PARAM_CURRENCY_TYPE_INVALID"),
        ({**FIELDS, "fiat": "XXX"}, "PARAM_FIAT_INVALID"),
        ({**FIELDS, "amount": "abc"}, "PARAM_AMOUNT_INVALID"),
        ({**FIELDS, "amount": "-1"}, "PARAM_AMOUNT_INVALID"),
        ({**FIELDS, "accepted_assets": "DOGE"}, "PARAM_ACCEPTED_ASSETS_INVALID"),
        ({**FIELDS, "expires_in": "0"}, "PARAM_EXPIRES_IN_INVALID"),
        ({**FIELDS, "payload": "x" * 4097}, "PARAM_PAYLOAD_TOO_LONG"),
    ]
    for fields, name in cases:
        async with cp_session.post(f"{cp_fake.api_base}/createInvoice", json=fields, headers=headers) as resp:
            assert (await resp.json())["error"]["name"] == name, fields
    async with cp_session.post(f"{cp_fake.api_base}/getInvoices", json={"invoice_ids": "x"}, headers=headers) as resp:
        assert (await resp.json())["error"]["name"] == "PARAM_INVOICE_IDS_INVALID"
    async with cp_session.post(f"{cp_fake.api_base}/getInvoices", json={"count": 0}, headers=headers) as resp:
        assert (await resp.json())["error"]["name"] == "PARAM_COUNT_INVALID"
    assert cp_fake.state.invoices == {}


async def test_webhook_retried_until_answered(cp_fake: RunningFakeCryptoPay, cp_state: FakeCryptoPayState) -> None:
    cp_state.webhook_url = "http://127.0.0.1:9/nobody"
    invoice = cp_state.create_invoice(FIELDS)
    assert await cp_fake.pay(invoice.invoice_id)
    await cp_fake.fake.idle()
    assert [(d.invoice_id, d.status) for d in cp_state.deliveries] == [(1001, None)] * 3
