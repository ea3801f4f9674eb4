"""A fake Crypto Pay on 127.0.0.1: the four API methods, a pay page, signed webhooks, fault injection.

For tests, and for ``reseller-bot sandbox``, which sells with Crypto Pay end to end without an account.

- ``POST|GET /api/<method>`` with the ``Crypto-Pay-API-Token`` header: ``getMe``, ``createInvoice``,
  ``getInvoices``, ``deleteInvoice``; fields as JSON body, form or query string, answered like the real API
  (``{"ok": true, "result": …}`` / ``{"ok": false, "error": {"code", "name"}}``);
- ``GET /pay/<hash>``: a small page with a "Pay" button per accepted asset; pressing it marks the invoice
  paid, sends the signed ``invoice_paid`` update to ``state.webhook_url`` and redirects to the invoice's
  ``paid_btn_url`` (back to the shop's order page);
- invoices are ``active`` until paid or until ``expires_in`` runs out (``expired``, checked on access);
- faults: API faults per method through :class:`~bot.market.simulator.faults.FaultPlan` (5xx, 429,
  latency/timeouts, dropped connections, garbage), and webhook faults: lost, duplicated, held back and
  released in another order.

Assumptions where Crypto Pay's documentation is silent: error names ``UNAUTHORIZED``,
``INVOICE_NOT_FOUND``, ``INVOICE_PAID`` (deleting a paid invoice) and ``PARAM_<NAME>_INVALID``; invoices are
listed newest first; a webhook answered other than 2xx is re-sent a few times.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

import aiohttp
from aiohttp import web

from bot.http.listen import listen
from bot.market.simulator.faults import Fault, FaultKind, FaultPlan
from bot.payments.cryptopay.client import TOKEN_HEADER
from bot.payments.cryptopay.models import FIAT_CURRENCIES, MAX_EXPIRES_IN, InvoiceStatus
from bot.payments.cryptopay.signature import SIGNATURE_HEADER, sign, webhook_key

log = logging.getLogger(__name__)

SANDBOX_TOKEN = "1234:sandbox-cryptopay-token"  # noqa: S105 - the fake's public sandbox credential
API_PREFIX = "/api"
STATE_KEY: web.AppKey[FakeCryptoPayState] = web.AppKey("fake_cryptopay_state")
# Demo rates: 1 unit of the asset in USD; other fiats through USD_PER_FIAT.
USD_PER_ASSET = {"USDT": Decimal("1"), "TON": Decimal("5"), "BTC": Decimal("60000"), "USDC": Decimal("1")}
USD_PER_FIAT = {"USD": Decimal("1"), "EUR": Decimal("1.1"), "RUB": Decimal("0.011")}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ApiRefusal(Exception):
    def __init__(self, name: str, code: int = 400) -> None:
        self.name = name
        self.code = code
        super().__init__(name)


@dataclass(slots=True)
class FakeInvoice:
    invoice_id: int
    hash: str
    amount: Decimal
    fiat: str
    accepted_assets: list[str]
    payload: str | None
    description: str | None
    paid_btn_url: str | None
    created_at: datetime
    expires_at: datetime | None
    status: InvoiceStatus = InvoiceStatus.ACTIVE
    paid_at: datetime | None = None
    paid_asset: str | None = None
    paid_amount: Decimal | None = None
    paid_fiat_rate: Decimal | None = None
    paid_usd_rate: Decimal | None = None

    def to_json(self, base_url: str) -> dict[str, object]:
        pay_url = f"{base_url}/pay/{self.hash}"
        body: dict[str, object] = {
            "invoice_id": self.invoice_id,
            "hash": self.hash,
            "currency_type": "fiat",
            "fiat": self.fiat,
            "amount": str(self.amount),
            "accepted_assets": list(self.accepted_assets),
            "status": self.status.value,
            "bot_invoice_url": pay_url,
            "mini_app_invoice_url": pay_url,
            "web_app_invoice_url": pay_url,
            "created_at": _iso(self.created_at),
            "allow_comments": False,
            "allow_anonymous": True,
        }
        optional: dict[str, object | None] = {
            "description": self.description,
            "payload": self.payload,
            "paid_btn_name": "callback" if self.paid_btn_url else None,
            "paid_btn_url": self.paid_btn_url,
            "expiration_date": None if self.expires_at is None else _iso(self.expires_at),
        }
        if self.status is InvoiceStatus.PAID:
            optional.update(
                paid_at=None if self.paid_at is None else _iso(self.paid_at),
                paid_asset=self.paid_asset,
                paid_amount=None if self.paid_amount is None else str(self.paid_amount),
                paid_fiat_rate=None if self.paid_fiat_rate is None else str(self.paid_fiat_rate),
                paid_usd_rate=None if self.paid_usd_rate is None else str(self.paid_usd_rate),
                paid_anonymously=False,
                fee_asset=self.paid_asset,
                fee_amount="0",
            )
        body.update({key: value for key, value in optional.items() if value is not None})
        return body


@dataclass(slots=True)
class WebhookFaults:
    """What happens to the next webhooks: ``lose`` / ``duplicate`` counts; ``hold`` keeps them back until
    :meth:`FakeCryptoPay.release_held` (in reverse order by default: reordering)."""

    lose: int = 0
    duplicate: int = 0
    hold: bool = False


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    update_id: int
    invoice_id: int
    status: int | None  # None: not answered (connection error)


@dataclass(slots=True)
class FakeCryptoPayState:
    token: str = SANDBOX_TOKEN
    app_name: str = "Sandbox shop"
    webhook_url: str | Callable[[], str] | None = None  # a callable is asked at each delivery
    invoices: dict[int, FakeInvoice] = field(default_factory=dict)
    faults: FaultPlan = field(default_factory=FaultPlan)
    webhook_faults: WebhookFaults = field(default_factory=WebhookFaults)
    webhook_attempts: int = 3
    webhook_retry_delay: float = 0.05
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    request_log: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    deliveries: list[WebhookDelivery] = field(default_factory=list)
    held: list[bytes] = field(default_factory=list)
    next_invoice_id: int = 1001
    next_update_id: int = 1

    # ----------------------------------------------------------------- business rules
    def refresh(self, invoice: FakeInvoice) -> FakeInvoice:
        if (
            invoice.status is InvoiceStatus.ACTIVE
            and invoice.expires_at is not None
            and self.clock() >= invoice.expires_at
        ):
            invoice.status = InvoiceStatus.EXPIRED
        return invoice

    def create_invoice(self, fields: Mapping[str, str]) -> FakeInvoice:
        if fields.get("currency_type") != "fiat":
            raise ApiRefusal("PARAM_CURRENCY_TYPE_INVALID")  # the fake supports fiat invoices only
        fiat = fields.get("fiat", "")
        if fiat not in FIAT_CURRENCIES:
            raise ApiRefusal("PARAM_FIAT_INVALID")
        try:
            amount = Decimal(fields.get("amount", ""))
        except InvalidOperation:
            raise ApiRefusal("PARAM_AMOUNT_INVALID") from None
        if not amount.is_finite() or amount <= 0:
            raise ApiRefusal("PARAM_AMOUNT_INVALID")
        assets = [a for a in fields.get("accepted_assets", "USDT,TON,BTC").split(",") if a]
        if not assets or any(a not in USD_PER_ASSET for a in assets):
            raise ApiRefusal("PARAM_ACCEPTED_ASSETS_INVALID")
        now = self.clock()  # one reading: the invoice lives exactly expires_in from its creation
        expires_at = None
        if "expires_in" in fields:
            text = fields["expires_in"]
            if not text.isdigit() or not 1 <= int(text) <= MAX_EXPIRES_IN:
                raise ApiRefusal("PARAM_EXPIRES_IN_INVALID")
            expires_at = now + timedelta(seconds=int(text))
        payload = fields.get("payload")
        if payload is not None and len(payload.encode("utf-8")) > 4096:
            raise ApiRefusal("PARAM_PAYLOAD_TOO_LONG")
        invoice = FakeInvoice(
            invoice_id=self.next_invoice_id,
            hash="IV" + secrets.token_hex(6),
            amount=amount,
            fiat=fiat,
            accepted_assets=assets,
            payload=payload,
            description=fields.get("description"),
            paid_btn_url=fields.get("paid_btn_url"),
            created_at=now,
            expires_at=expires_at,
        )
        self.next_invoice_id += 1
        self.invoices[invoice.invoice_id] = invoice
        return invoice

    def list_invoices(self, fields: Mapping[str, str]) -> list[FakeInvoice]:
        chosen = sorted(self.invoices.values(), key=lambda i: i.invoice_id, reverse=True)
        if fields.get("invoice_ids"):
            try:
                wanted = {int(part) for part in fields["invoice_ids"].split(",")}
            except ValueError:
                raise ApiRefusal("PARAM_INVOICE_IDS_INVALID") from None
            chosen = [i for i in chosen if i.invoice_id in wanted]
        for invoice in chosen:
            self.refresh(invoice)
        if fields.get("status"):
            chosen = [i for i in chosen if i.status.value == fields["status"]]
        offset, count = fields.get("offset", "0"), fields.get("count", "100")
        if not offset.isdigit() or not count.isdigit() or not 1 <= int(count) <= 1000:
            raise ApiRefusal("PARAM_COUNT_INVALID")
        return chosen[int(offset) : int(offset) + int(count)]

    def delete_invoice(self, fields: Mapping[str, str]) -> bool:
        text = fields.get("invoice_id", "")
        invoice = self.invoices.get(int(text)) if text.isdigit() else None
        if invoice is None:
            raise ApiRefusal("INVOICE_NOT_FOUND")
        if invoice.status is InvoiceStatus.PAID:
            raise ApiRefusal("INVOICE_PAID")
        del self.invoices[invoice.invoice_id]
        return True

    def by_hash(self, invoice_hash: str) -> FakeInvoice | None:
        for invoice in self.invoices.values():
            if invoice.hash == invoice_hash:
                return self.refresh(invoice)
        return None

    def mark_paid(self, invoice: FakeInvoice, asset: str) -> bool:
        """Pay ``invoice`` in ``asset`` at the demo rates; False when it is not payable."""
        self.refresh(invoice)
        if invoice.status is not InvoiceStatus.ACTIVE or asset not in invoice.accepted_assets:
            return False
        usd_per_fiat = USD_PER_FIAT.get(invoice.fiat, Decimal("1"))
        fiat_rate = (USD_PER_ASSET[asset] / usd_per_fiat).quantize(Decimal("0.00000001"))
        invoice.status = InvoiceStatus.PAID
        invoice.paid_at = self.clock()
        invoice.paid_asset = asset
        invoice.paid_fiat_rate = fiat_rate
        invoice.paid_usd_rate = USD_PER_ASSET[asset]
        invoice.paid_amount = (invoice.amount / fiat_rate).quantize(Decimal("0.00000001"), rounding=ROUND_DOWN)
        return True

    def update_body(self, invoice: FakeInvoice, base_url: str) -> bytes:
        """The ``invoice_paid`` update for ``invoice``, serialised as it will be signed and sent."""
        update = {
            "update_id": self.next_update_id,
            "update_type": "invoice_paid",
            "request_date": _iso(self.clock()),
            "payload": invoice.to_json(base_url),
        }
        self.next_update_id += 1
        return json.dumps(update, separators=(",", ":")).encode("utf-8")


# --------------------------------------------------------------------- HTTP layer
def _answer(result: object) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _refuse(name: str, code: int) -> web.Response:
    return web.json_response({"ok": False, "error": {"code": code, "name": name}}, status=code)


async def _fields(request: web.Request) -> dict[str, str]:
    fields = dict(request.query.items())
    if request.method == "POST" and request.can_read_body:
        raw = await request.read()
        if request.content_type == "application/json":
            try:
                body = json.loads(raw)
            except ValueError:
                raise ApiRefusal("BODY_INVALID") from None
            if not isinstance(body, dict):
                raise ApiRefusal("BODY_INVALID")
            fields.update({k: (json.dumps(v) if isinstance(v, bool) else str(v)) for k, v in body.items()})
        else:
            form = await request.post()
            fields.update({k: str(v) for k, v in form.items()})
    return fields


async def _spoil(request: web.Request, fault: Fault) -> web.StreamResponse:
    if fault.kind is FaultKind.DROP:
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError
    if fault.kind is FaultKind.MALFORMED:
        return web.Response(body=fault.body, status=fault.status, content_type="application/json")
    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
    return web.Response(text=f"HTTP {fault.status} (simulated)", status=fault.status, headers=headers)


class FakeCryptoPay:
    """The application and its webhook sender; :func:`run_fake_cryptopay` starts it on a port."""

    def __init__(self, state: FakeCryptoPayState) -> None:
        self.state = state
        self.base_url = ""
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self.app = web.Application()
        self.app[STATE_KEY] = state
        self.app.router.add_route("*", API_PREFIX + "/{method}", self.handle_api)
        self.app.router.add_get("/pay/{hash}", self.pay_page)
        self.app.router.add_post("/pay/{hash}", self.pay_submit)

    @property
    def api_base(self) -> str:
        return self.base_url + API_PREFIX

    # ----------------------------------------------------------------- API
    async def handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        state = self.state
        if request.headers.get(TOKEN_HEADER) != state.token:
            return _refuse("UNAUTHORIZED", 401)
        try:
            fields = await _fields(request)
        except ApiRefusal as refusal:
            return _refuse(refusal.name, refusal.code)
        state.request_log.append((method, fields))
        decision = state.faults.take(method)
        if decision.delay > 0:
            await self._pause(decision.delay)
        if decision.fault is not None and not decision.fault.after_effect:
            return await _spoil(request, decision.fault)
        try:
            result = self._apply(method, fields)
        except ApiRefusal as refusal:
            return _refuse(refusal.name, refusal.code)
        if decision.delay_after_effect > 0:
            await self._pause(decision.delay_after_effect)
        if decision.fault is not None:
            return await _spoil(request, decision.fault)
        return _answer(result)

    def _apply(self, method: str, fields: Mapping[str, str]) -> Any:
        state = self.state
        if method == "getMe":
            return {"app_id": 1, "name": state.app_name, "payment_processing_bot_username": "CryptoTestnetBot"}
        if method == "createInvoice":
            return state.create_invoice(fields).to_json(self.base_url)
        if method == "getInvoices":
            return {"items": [invoice.to_json(self.base_url) for invoice in state.list_invoices(fields)]}
        if method == "deleteInvoice":
            return state.delete_invoice(fields)
        raise ApiRefusal("METHOD_NOT_FOUND", 405)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    # ----------------------------------------------------------------- pay page
    async def pay_page(self, request: web.Request) -> web.Response:
        invoice = self.state.by_hash(request.match_info["hash"])
        if invoice is None:
            return web.Response(
                text=_page("Invoice not found", "<p>This invoice does not exist.</p>"),
                status=404,
                content_type="text/html",
            )
        title = html.escape(invoice.description or f"Invoice {invoice.invoice_id}")
        amount = f"{html.escape(str(invoice.amount))} {html.escape(invoice.fiat)}"
        if invoice.status is not InvoiceStatus.ACTIVE:
            body = f"<p>{amount}</p><p>This invoice is {invoice.status.value}.</p>"
            if invoice.paid_btn_url:
                body += f'<p><a href="{html.escape(invoice.paid_btn_url)}">Return to the shop</a></p>'
            return web.Response(text=_page(title, body), content_type="text/html")
        options = "".join(
            f'<option value="{html.escape(a)}">{html.escape(a)}</option>' for a in invoice.accepted_assets
        )
        body = (
            f"<p>Amount: {amount}</p>"
            f'<form method="post"><label for="asset">Pay with</label> <select id="asset" name="asset">{options}'
            '</select> <button type="submit">Pay</button></form>'
        )
        return web.Response(text=_page(title, body), content_type="text/html")

    async def pay_submit(self, request: web.Request) -> web.Response:
        invoice = self.state.by_hash(request.match_info["hash"])
        if invoice is None:
            return web.Response(text=_page("Invoice not found", ""), status=404, content_type="text/html")
        form = await request.post()
        asset = str(form.get("asset") or invoice.accepted_assets[0])
        if await self.pay(invoice.invoice_id, asset) and invoice.paid_btn_url:
            raise web.HTTPSeeOther(invoice.paid_btn_url)
        raise web.HTTPSeeOther(f"/pay/{invoice.hash}")

    async def pay(self, invoice_id: int, asset: str = "USDT") -> bool:
        """The customer pays: the invoice becomes paid and its webhook is sent (in the background)."""
        invoice = self.state.invoices.get(invoice_id)
        if invoice is None or not self.state.mark_paid(invoice, asset):
            return False
        log.info("fake cryptopay invoice paid invoice_id=%d asset=%s", invoice_id, asset)
        self.send_update(invoice)
        return True

    # ----------------------------------------------------------------- webhooks
    def send_update(self, invoice: FakeInvoice) -> None:
        state = self.state
        body = state.update_body(invoice, self.base_url)
        faults = state.webhook_faults
        if faults.lose > 0:
            faults.lose -= 1
            log.info("fake cryptopay webhook lost invoice_id=%d", invoice.invoice_id)
            return
        copies = 1
        if faults.duplicate > 0:
            faults.duplicate -= 1
            copies = 2
        for _ in range(copies):
            if faults.hold:
                state.held.append(body)
            else:
                self._spawn(body)

    def release_held(self, *, reverse: bool = True) -> int:
        """Send the held-back webhooks (newest first by default); returns how many."""
        held = list(reversed(self.state.held)) if reverse else list(self.state.held)
        self.state.held.clear()
        self.state.webhook_faults.hold = False
        for body in held:
            self._spawn(body)
        return len(held)

    def _spawn(self, body: bytes) -> None:
        task = asyncio.ensure_future(self._deliver(body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait until every webhook in flight was answered (or given up)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _deliver(self, body: bytes) -> None:
        state = self.state
        url = state.webhook_url() if callable(state.webhook_url) else state.webhook_url
        parsed = json.loads(body)
        update_id, invoice_id = int(parsed["update_id"]), int(parsed["payload"]["invoice_id"])
        if url is None:
            log.info("fake cryptopay webhook not configured invoice_id=%d", invoice_id)
            return
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, webhook_key(state.token))}
        for attempt in range(state.webhook_attempts):
            status: int | None = None
            try:
                async with self._session.post(url, data=body, headers=headers) as resp:
                    status = resp.status
                    await resp.read()
            except (aiohttp.ClientError, TimeoutError):
                status = None
            state.deliveries.append(WebhookDelivery(update_id, invoice_id, status))
            log.info("fake cryptopay webhook sent invoice_id=%d status=%s attempt=%d", invoice_id, status, attempt + 1)
            if status is not None and 200 <= status < 300:
                return
            await self._pause(state.webhook_retry_delay)
            if self._stopping.is_set():
                return

    async def close(self) -> None:
        self._stopping.set()
        await self.idle()
        if self._session is not None:
            await self._session.close()


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title} · Crypto Pay (sandbox)</title></head><body><h1>{title}</h1>{body}"
        "<p><small>Fake Crypto Pay: no real money moves.</small></p></body></html>"
    )


class RunningFakeCryptoPay:
    """A started fake: its URLs, state, and the runner to stop it."""

    def __init__(self, fake: FakeCryptoPay, runner: web.AppRunner) -> None:
        self.fake = fake
        self._runner = runner

    @property
    def state(self) -> FakeCryptoPayState:
        return self.fake.state

    @property
    def base_url(self) -> str:
        return self.fake.base_url

    @property
    def api_base(self) -> str:
        return self.fake.api_base

    @property
    def token(self) -> str:
        return self.state.token

    async def pay(self, invoice_id: int, asset: str = "USDT") -> bool:
        return await self.fake.pay(invoice_id, asset)

    async def close(self) -> None:
        await self.fake.close()
        await self._runner.cleanup()
        log.info("fake cryptopay stopped url=%s", self.base_url)


async def run_fake_cryptopay(
    state: FakeCryptoPayState | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> RunningFakeCryptoPay:
    """Start the fake in the running loop; the caller must ``await running.close()``."""
    fake = FakeCryptoPay(state or FakeCryptoPayState())
    runner, bound = await listen(fake.app, host, port, access_log=None)
    fake.base_url = f"http://{host}:{bound}"
    log.info("fake cryptopay started url=%s", fake.base_url)
    return RunningFakeCryptoPay(fake, runner)
