"""CryptoPayClient: the four Crypto Pay API methods the shop uses, typed results, typed failures.

Every request is ``POST <api_base>/<method>`` with a JSON body and the app token in the
``Crypto-Pay-API-Token`` header, as Crypto Pay documents it. The token is never logged and never part of an
error. Amounts are sent as decimal strings and answers are decoded with ``parse_float=Decimal``: no float
touches money. Answers are ``{"ok": true, "result": …}`` or ``{"ok": false, "error": {"code", "name"}}``.

Retries: ``getMe``, ``getInvoices`` and ``deleteInvoice`` are safe to repeat and are retried with the
:class:`~bot.market.retry.RetryPolicy` on :class:`CryptoPayUnavailable` (the Market client's loop,
:func:`~bot.market.retry.with_retries`). ``createInvoice`` is NOT idempotent at Crypto Pay (no idempotency
key): it makes exactly ONE attempt, and an unavailable answer means the invoice may or may not exist. The
provider (:mod:`.provider`) owns that case: it records its intent before calling and, after an uncertain
outcome, looks for the invoice by its ``payload`` before creating another.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import aiohttp

from bot.market.retry import RetryPolicy, parse_retry_after, with_retries
from bot.payments.cryptopay.errors import CryptoPayError, CryptoPayProtocolError, CryptoPayUnavailable
from bot.payments.cryptopay.models import (
    FIAT_CURRENCIES,
    MAX_DESCRIPTION,
    MAX_EXPIRES_IN,
    MAX_PAYLOAD_BYTES,
    App,
    Invoice,
    InvoiceStatus,
    parse_app,
    parse_invoice,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
TOKEN_HEADER = "Crypto-Pay-API-Token"  # noqa: S105 - a header name, not a secret
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5)
MAX_COUNT = 1000
_DECODER = json.JSONDecoder(parse_float=Decimal)


@dataclass(frozen=True, slots=True)
class InvoiceRequest:
    """``createInvoice`` for an amount in fiat (``currency_type=fiat``)."""

    amount: Decimal
    fiat: str
    accepted_assets: Sequence[str]
    payload: str
    description: str
    expires_in: int
    paid_btn_url: str | None = None

    def validate(self) -> None:
        """:class:`ValueError` for what Crypto Pay would refuse, before anything is sent."""
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite() or self.amount <= 0:
            raise ValueError("amount must be a positive Decimal")
        if self.fiat not in FIAT_CURRENCIES:
            raise ValueError(f"fiat {self.fiat!r} is not a currency Crypto Pay accepts")
        if not self.accepted_assets:
            raise ValueError("accepted_assets must name at least one asset")
        if not self.payload or len(self.payload.encode("utf-8")) > MAX_PAYLOAD_BYTES:
            raise ValueError("payload must be 1..4096 bytes")
        if len(self.description) > MAX_DESCRIPTION:
            raise ValueError("description must be at most 1024 characters")
        if isinstance(self.expires_in, bool) or not 1 <= self.expires_in <= MAX_EXPIRES_IN:
            raise ValueError(f"expires_in must be 1..{MAX_EXPIRES_IN} seconds")
        if self.paid_btn_url is not None and not self.paid_btn_url.startswith(("http://", "https://")):
            raise ValueError("paid_btn_url must be an http(s) URL")

    def fields(self) -> dict[str, object]:
        self.validate()
        fields: dict[str, object] = {
            "currency_type": "fiat",
            "fiat": self.fiat,
            "amount": format(self.amount, "f"),
            "accepted_assets": ",".join(self.accepted_assets),
            "payload": self.payload,
            "description": self.description,
            "expires_in": self.expires_in,
            "allow_comments": False,
        }
        if self.paid_btn_url is not None:
            fields["paid_btn_name"] = "callback"
            fields["paid_btn_url"] = self.paid_btn_url
        return fields


class CryptoPayClient:
    """One Crypto Pay app. Shares the bot's ``ClientSession``; never closes it."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        api_base: str,
        token: str,
        retry: RetryPolicy | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> None:
        if not token:
            raise ValueError("token must not be empty")
        self._session = session
        self.api_base = api_base.rstrip("/")
        self._headers = {TOKEN_HEADER: token, "Content-Type": "application/json", "Accept": "application/json"}
        self.retry = retry or RetryPolicy()
        self.timeout = timeout or DEFAULT_TIMEOUT

    def __repr__(self) -> str:  # never shows the token
        return f"CryptoPayClient(api_base={self.api_base!r})"

    async def get_me(self) -> App:
        result = await self._read("getMe", {})
        return _parsed("getMe", parse_app, result)

    async def create_invoice(self, request: InvoiceRequest) -> Invoice:
        """ONE attempt (see the module docstring); :class:`CryptoPayUnavailable` = outcome unknown."""
        result = await self._call("createInvoice", request.fields())
        return _parsed("createInvoice", parse_invoice, result)

    async def get_invoices(
        self,
        *,
        invoice_ids: Sequence[int] = (),
        status: InvoiceStatus | None = None,
        offset: int = 0,
        count: int = 100,
    ) -> list[Invoice]:
        """``getInvoices``: by id (all statuses unless ``status``), or a page of the app's invoices."""
        if not 1 <= count <= MAX_COUNT or offset < 0:
            raise ValueError("count must be 1..1000 and offset >= 0")
        fields: dict[str, object] = {"offset": offset, "count": count}
        if invoice_ids:
            fields["invoice_ids"] = ",".join(str(int(i)) for i in invoice_ids)
        if status is not None:
            fields["status"] = status.value
        result = await self._read("getInvoices", fields)
        items = result.get("items") if isinstance(result, dict) else None
        if not isinstance(items, list):
            raise CryptoPayProtocolError("getInvoices: 'items' missing or not a list", method="getInvoices")
        return [_parsed("getInvoices", parse_invoice, item) for item in items]

    async def delete_invoice(self, invoice_id: int) -> bool:
        """``deleteInvoice``; ``True`` when deleted."""
        result = await self._read("deleteInvoice", {"invoice_id": int(invoice_id)})
        if not isinstance(result, bool):
            raise CryptoPayProtocolError("deleteInvoice: result is not a boolean", method="deleteInvoice")
        return result

    # ------------------------------------------------------------------ transport
    async def _read(self, method: str, fields: Mapping[str, object]) -> Any:
        return await with_retries(
            self.retry, method, lambda: self._call(method, fields), retry_on=CryptoPayUnavailable, service="cryptopay"
        )

    async def _call(self, method: str, fields: Mapping[str, object]) -> Any:
        """One HTTP attempt; the ``result`` of a success or a typed failure."""
        body = json.dumps(dict(fields), separators=(",", ":")).encode("utf-8")
        started = time.perf_counter()
        try:
            async with self._session.post(
                f"{self.api_base}/{method}", data=body, headers=self._headers, timeout=self.timeout
            ) as resp:
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
                raw = await resp.read()
        except TimeoutError:
            log.warning("cryptopay call timed out method=%s", method)
            raise CryptoPayUnavailable(f"{method}: timed out", method=method) from None
        except aiohttp.ClientError as exc:
            log.warning("cryptopay call failed method=%s error=%s", method, type(exc).__name__)
            raise CryptoPayUnavailable(f"{method}: {type(exc).__name__}", method=method) from None
        log.debug(
            "cryptopay call method=%s status=%d elapsed_ms=%.1f", method, status, (time.perf_counter() - started) * 1e3
        )
        return interpret(method, status, raw, retry_after)


def interpret(method: str, status: int, raw: bytes, retry_after: str | None = None) -> Any:
    """The ``result`` of one HTTP answer, or the typed failure it means."""
    if status == 429 or status >= 500:
        raise CryptoPayUnavailable(
            f"{method}: HTTP {status}", method=method, status=status, retry_after=parse_retry_after(retry_after)
        )
    try:
        answer = _DECODER.decode(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise CryptoPayProtocolError(
            f"{method}: answer is not JSON (HTTP {status})", method=method, status=status
        ) from None
    if not isinstance(answer, dict) or not isinstance(answer.get("ok"), bool):
        raise CryptoPayProtocolError(f"{method}: answer has no boolean 'ok'", method=method, status=status)
    if answer["ok"] is False:
        error = answer.get("error")
        if not isinstance(error, dict) or not isinstance(error.get("name"), str):
            raise CryptoPayProtocolError(f"{method}: refusal without an error name", method=method, status=status)
        code = error.get("code")
        number = code if isinstance(code, int) and not isinstance(code, bool) else None
        log.info("cryptopay refused method=%s status=%d error=%s code=%s", method, status, error["name"][:100], number)
        raise CryptoPayError(error["name"], number, method=method, status=status)
    if not 200 <= status < 300 or "result" not in answer:
        raise CryptoPayProtocolError(
            f"{method}: success answer without result (HTTP {status})", method=method, status=status
        )
    return answer["result"]


def _parsed(method: str, parse: Callable[[object], T], value: object) -> T:
    try:
        return parse(value)
    except ValueError as exc:
        raise CryptoPayProtocolError(f"{method}: {exc}", method=method) from None
