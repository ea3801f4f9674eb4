"""Signed webhook events, as the Market API sends them to a reseller's server.

Two signature forms are supported so receivers can be tested against both:

* ``"documented"`` (default): the amount is a JSON float and the signature covers every field but
  ``signature``, ``kind`` included;
* ``"vector"``: what the published test vectors show — the amount as given (``1`` stays ``1``) while the
  signature covers ``str(float(amount))`` and leaves ``kind`` out.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import aiohttp

from bot.market.signing import sign

log = logging.getLogger(__name__)

EventKind = Literal["purchase", "transfer"]
SignatureForm = Literal["documented", "vector"]
_REQUIRED: dict[str, tuple[str, ...]] = {
    "transfer": ("amount", "username", "unique_id"),
    "purchase": ("amount", "username", "unique_id", "item_id"),
}


@dataclass(frozen=True, slots=True)
class EventDelivery:
    """What the receiver answered."""

    body: dict[str, object]
    status: int
    text: str


def build_event(kind: str, secret: str, *, form: SignatureForm = "documented", **fields: object) -> dict[str, object]:
    """The signed event body (amount may be Decimal, int or float)."""
    if kind not in _REQUIRED:
        raise ValueError(f"unknown event kind {kind!r}; use 'purchase' or 'transfer'")
    missing = [name for name in _REQUIRED[kind] if name not in fields]
    if missing:
        raise ValueError(f"{kind} event needs {', '.join(missing)}")
    amount = fields["amount"]
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int | float):
        raise ValueError("amount must be a number")
    body: dict[str, object] = {"kind": kind, **fields}
    if form == "documented":
        body["amount"] = float(amount)
        body["signature"] = sign(body, secret)
    else:
        if isinstance(amount, Decimal):
            body["amount"] = int(amount) if amount == amount.to_integral_value() else float(amount)
        legacy = {k: v for k, v in body.items() if k != "kind"}
        legacy["amount"] = str(float(amount))
        body["signature"] = sign(legacy, secret)
    return body


async def send_event(
    session: aiohttp.ClientSession,
    url: str,
    secret: str,
    kind: str,
    *,
    form: SignatureForm = "documented",
    **fields: object,
) -> EventDelivery:
    """POST one signed event to ``url`` (``Content-Type: application/json``) and return the answer."""
    body = build_event(kind, secret, form=form, **fields)
    payload = json.dumps(body).encode("utf-8")
    async with session.post(url, data=payload, headers={"Content-Type": "application/json"}) as resp:
        text = await resp.text()
        log.info("simulator event sent kind=%s unique_id=%s status=%d", kind, fields.get("unique_id"), resp.status)
        return EventDelivery(body=body, status=resp.status, text=text)
