"""``POST $WEBHOOK_PATH``: the route Neverlose calls for every market event.

Checks, in order, each answered without touching the database unless stated:

1. ``Content-Type`` must be ``application/json`` (parameters such as ``charset`` allowed) → else 415;
2. at most :data:`MAX_BODY_BYTES` → else 413;
3. UTF-8 JSON per the standard ``json`` module (no ``NaN``/``Infinity``, no duplicate keys), an object, with a
   ``signature`` string → else 400 with a short JSON error;
4. signature verified in constant time by :func:`bot.market.signing.verify_event` → else 401 (logged at
   WARNING with the source address and a sanitised kind; counted for ``/webhook status``);
5. strict validation (:mod:`bot.webhooks.validation`): a valid event is committed durably, with its
   notifications queued in the same transaction (:mod:`bot.webhooks.store`), BEFORE answering 200
   (``accepted`` or ``duplicate``). A signed but invalid body is stored raw once, its audit-channel alert
   queued with it, and answered 200 ``quarantined`` (never acted upon);
6. if the database cannot commit: 503, so the sender retries. Bad input never produces a 5xx.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from aiohttp import hdrs, web

from bot.market.signing import verify_event
from bot.webhooks.models import QuarantinedBody, WebhookEvent
from bot.webhooks.store import StoreUnavailable, WebhookStore, utc_now
from bot.webhooks.validation import Invalid, classify, kind_hint

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
JSON_CONTENT_TYPE = "application/json"


def media_type(header: str) -> str:
    """The media type of a Content-Type header, lower-cased, parameters dropped.

    Parsed here rather than with ``request.content_type``: aiohttp hands the header to the stdlib e-mail
    parser, which raises on some malformed values (``;0*``), and bad input must never become a 500.
    """
    return header.split(";", 1)[0].strip().lower()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _BadJson(ValueError):
    pass


def _reject_constant(name: str) -> object:
    raise _BadJson(f"{name} is not JSON")


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _BadJson("duplicate key")
    return result


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
"""The standard ``json`` decoder, strict (no ``NaN``/``Infinity``, no duplicate keys), built once."""


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


_OK_BODIES = {status: json.dumps({"status": status}).encode() for status in ("accepted", "duplicate", "quarantined")}


def _ok(status: str) -> web.Response:
    """``200 {"status": …}`` from a pre-serialised body (the hot path answers thousands per second)."""
    return web.Response(body=_OK_BODIES[status], content_type=JSON_CONTENT_TYPE)


async def read_limited(request: web.Request, limit: int) -> bytes | None:
    """The body, or ``None`` when it exceeds ``limit`` bytes (declared, or counted while reading)."""
    declared = request.content_length
    if declared is not None:
        if declared > limit:
            return None
        return await request.read()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def parse_body(raw: bytes) -> tuple[dict[str, object], str] | str:
    """(the JSON object, the decoded text) or a short reason why ``raw`` is not a JSON object."""
    try:
        text = raw.decode("utf-8")
        parsed = _DECODER.decode(text)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return "body is not valid JSON"
    if not isinstance(parsed, dict):
        return "body must be a JSON object"
    return parsed, text


def _verified(body: dict[str, object], secret: str) -> bool:
    try:
        return verify_event(body, secret)
    except (ValueError, RecursionError, TypeError, ArithmeticError):  # absurd values (deep nesting, huge ints)
        return False


def webhook_handler(
    store: WebhookStore,
    secret: str,
    *,
    clock: Callable[[], datetime] = utc_now,
    max_body: int = MAX_BODY_BYTES,
) -> Handler:
    """The request handler for the webhook route (see the module docstring for what it answers)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if media_type(request.headers.get(hdrs.CONTENT_TYPE, "")) != JSON_CONTENT_TYPE:
            return _error(415, "content type must be application/json")
        raw = await read_limited(request, max_body)
        if raw is None:
            return _error(413, f"body larger than {max_body} bytes")
        parsed = parse_body(raw)
        if isinstance(parsed, str):
            return _error(400, parsed)
        body, text = parsed  # the text is stored as received: decoded once, never re-serialised
        if not isinstance(body.get("signature"), str):
            return _error(400, "unsigned: signature missing")
        remote = request.remote
        if not _verified(body, secret):
            store.note_rejected_signature()
            log.warning("webhook signature rejected remote=%s kind=%s", remote, kind_hint(body) or "?")
            return _error(401, "invalid signature")

        received_at = clock()
        outcome = classify(body, received_at)
        try:
            if isinstance(outcome, Invalid):
                return await _quarantine(store, text, outcome, remote, received_at)
            return await _store(store, outcome, text, remote)
        except StoreUnavailable:
            return _error(503, "temporarily unable to store the event; retry later")

    return handle


async def _store(store: WebhookStore, event: WebhookEvent, text: str, remote: str | None) -> web.Response:
    new = await store.add_event(event, body=text, remote=remote)
    if not new:
        log.info("webhook duplicate kind=%s unique_id=%d", event.kind, event.unique_id)
        return _ok("duplicate")
    log.info(
        "webhook accepted kind=%s unique_id=%d username=%s amount=%s",
        event.kind,
        event.unique_id,
        event.username,
        event.amount,
    )
    return _ok("accepted")


async def _quarantine(
    store: WebhookStore, text: str, invalid: Invalid, remote: str | None, received_at: datetime
) -> web.Response:
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    item = QuarantinedBody(
        body=text,
        body_sha256=digest,
        reason=invalid.reason,
        kind=invalid.kind,
        remote=remote,
        received_at=received_at,
    )
    new = await store.quarantine(item)
    log.warning(
        "webhook quarantined kind=%s reason=%s remote=%s sha256=%s new=%s",
        invalid.kind or "?",
        invalid.reason,
        remote,
        digest[:16],
        new,
    )
    return _ok("quarantined")


def add_webhook_route(app: web.Application, path: str, store: WebhookStore, secret: str) -> None:
    """Register ``POST path`` on ``app`` (other methods get aiohttp's 405)."""
    handler = webhook_handler(store, secret)
    app.router.add_post(path, handler)
