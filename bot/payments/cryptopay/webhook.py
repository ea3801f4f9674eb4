"""``POST $CRYPTOPAY_WEBHOOK_PATH``: Crypto Pay's ``invoice_paid`` updates.

In order, each step answering without touching the database unless stated:

1. the body, at most :data:`MAX_BODY_BYTES` → else 413;
2. the ``crypto-pay-api-signature`` header checked against the RAW bytes (HMAC-SHA-256, key = SHA-256 of the
   token, constant time), before anything is parsed → else 401, one WARNING line with the source address
   (never the header, the body or the token);
3. a signed body that is not a usable update (not JSON, not an object, another ``update_type``, a payload
   that is not an invoice) is stored once, reported to the audit channel and answered 200 ``quarantined``;
4. a paid invoice is stored, deduplicated and matched in one transaction (:meth:`CryptoPayStore.record_paid`)
   and only then answered 200 (``accepted``, ``late``, ``duplicate`` or ``quarantined``); the order is
   confirmed after the answer (:meth:`CryptoPayProvider.confirm`), and re-driven if the bot dies first;
5. if the database cannot commit: 503, so Crypto Pay sends it again. Bad input never gets a 5xx.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from decimal import Decimal

from aiohttp import web

from bot.payments.cryptopay.matching import Verdict
from bot.payments.cryptopay.models import Invoice, parse_invoice
from bot.payments.cryptopay.signature import SIGNATURE_HEADER, verify
from bot.payments.cryptopay.store import CryptoPayStore, Recorded
from bot.webhooks.receiver import read_limited

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
UPDATE_TYPE = "invoice_paid"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OnRecorded = Callable[[Recorded], None]


class _BadJson(ValueError):
    pass


def _reject_constant(name: str) -> object:
    raise _BadJson(f"{name} is not JSON")  # pragma: no mutate (never shown: the reason is "not valid JSON")


_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)


def _answer(status: str, code: int = 200) -> web.Response:
    return web.json_response({"status": status}, status=code)


def read_update(text: str) -> Invoice | str:
    """The paid invoice an update carries, or why the update cannot be used."""
    try:
        update = _DECODER.decode(text)
    except (ValueError, RecursionError):
        return "body is not valid JSON"
    if not isinstance(update, dict):
        return "body is not a JSON object"
    if update.get("update_type") != UPDATE_TYPE:
        kind = update.get("update_type")
        return f"update_type {str(kind)[:40]!r} is not {UPDATE_TYPE}" if isinstance(kind, str) else "no update_type"
    try:
        return parse_invoice(update.get("payload"))
    except ValueError as exc:
        return f"payload is not an invoice: {exc}"


def cryptopay_webhook_handler(
    store: CryptoPayStore, key: bytes, *, on_recorded: OnRecorded | None = None, max_body: int = MAX_BODY_BYTES
) -> Handler:
    """The route's handler (see the module docstring); ``key`` = :func:`~.signature.webhook_key` of the token."""

    async def handle(request: web.Request) -> web.StreamResponse:
        raw = await read_limited(request, max_body)
        if raw is None:
            return _answer("body too large", 413)
        remote = request.remote
        if not verify(raw, request.headers.get(SIGNATURE_HEADER), key):
            log.warning("cryptopay webhook signature rejected remote=%s bytes=%d", remote, len(raw))
            return _answer("invalid signature", 401)
        text = raw.decode(errors="replace")  # UTF-8
        try:
            found = read_update(text)
            if isinstance(found, str):
                await store.record_unusable(text, found, remote=remote)
                return _answer(Verdict.QUARANTINED.value)
            recorded = await store.record_paid(found, body=text, source="webhook", remote=remote)
        except (sqlite3.Error, ValueError) as exc:  # aiosqlite raises sqlite3 errors; a closed store ValueError
            log.error("cryptopay webhook not stored error=%s remote=%s", type(exc).__name__, remote)
            return _answer("temporarily unable to store the update; retry later", 503)
        if on_recorded is not None:
            on_recorded(recorded)
        return _answer(recorded.verdict.value)

    return handle
