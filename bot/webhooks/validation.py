"""Strict per-kind schemas for webhook bodies whose signature was already verified.

The signature concatenates keys and values without separators, so a captured signature can be re-split into
other shapes (``{"amount": 1, "username": "A49"}`` and ``{"amoun": "t1", ...}`` sign the same text). Only the
exact documented field sets, with exact JSON types and conservative patterns, become a
:class:`~bot.webhooks.models.WebhookEvent`. Everything else is :class:`Invalid`: the receiver stores it raw
(a future kind must not be lost either), acknowledges it and never acts on it.

- purchase: exactly ``{kind, amount, username, unique_id, item_id}`` (+ ``signature``);
- transfer: exactly ``{kind, amount, username, unique_id}`` (+ ``signature``);
- ``unique_id``: a JSON integer, 1 … 2**63-1; ``amount``: a JSON number (not a boolean), finite,
  0 < amount <= 1,000,000,000; ``username``: 1–64 of ``A-Za-z0-9._-``; ``item_id``: 1–32 of ``A-Za-z0-9_-``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from bot.webhooks.models import EventKind, WebhookEvent

SIGNATURE_FIELD = "signature"
MAX_UNIQUE_ID = 2**63 - 1
MAX_AMOUNT = Decimal("1000000000")

FIELDS: dict[EventKind, frozenset[str]] = {
    "purchase": frozenset({"kind", "amount", "username", "unique_id", "item_id", SIGNATURE_FIELD}),
    "transfer": frozenset({"kind", "amount", "username", "unique_id", SIGNATURE_FIELD}),
}

USERNAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
ITEM_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_KIND_HINT = re.compile(r"[a-z0-9_.-]{1,32}")


@dataclass(frozen=True, slots=True)
class Invalid:
    """Why a signed body is not a valid event; ``kind`` is its ``kind`` when that looks like a name."""

    reason: str
    kind: str | None


def kind_hint(body: dict[str, object]) -> str | None:
    """The body's ``kind`` if it is a short plain name (safe to log), else ``None``."""
    kind = body.get("kind")
    if isinstance(kind, str) and _KIND_HINT.fullmatch(kind):
        return kind
    return None


def _amount(value: object) -> Decimal | str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "amount must be a number"
    # A float by its shortest text (0.9 is "0.9", not its binary value); an int exactly, however long.
    amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not amount.is_finite() or amount <= 0:
        return "amount must be positive"
    if amount > MAX_AMOUNT:
        return "amount is implausibly large"
    return amount


def _invalid(body: dict[str, object], reason: str) -> Invalid:
    return Invalid(reason, kind_hint(body))


def classify(body: dict[str, object], received_at: datetime) -> WebhookEvent | Invalid:
    """A :class:`WebhookEvent` when ``body`` (parsed JSON, signature verified) matches its kind exactly."""
    kind = body.get("kind")
    if not isinstance(kind, str) or kind not in FIELDS:  # an object or array is unhashable: check the type first
        return _invalid(body, "unknown kind")
    event_kind: EventKind = "purchase" if kind == "purchase" else "transfer"
    keys = frozenset(body)
    expected = FIELDS[event_kind]
    if keys != expected:
        missing = sorted(expected - keys)
        extra = sorted(keys - expected)
        parts = []
        if missing:
            parts.append("missing " + ",".join(missing))
        if extra:
            parts.append(f"{len(extra)} unexpected field(s)")
        return _invalid(body, "; ".join(parts))

    unique_id = body["unique_id"]
    if isinstance(unique_id, bool) or not isinstance(unique_id, int):
        return _invalid(body, "unique_id must be an integer")
    if not 0 < unique_id <= MAX_UNIQUE_ID:
        return _invalid(body, "unique_id out of range")

    amount = _amount(body["amount"])
    if isinstance(amount, str):
        return _invalid(body, amount)

    username = body["username"]
    if not isinstance(username, str) or not USERNAME.fullmatch(username):
        return _invalid(body, "username is not a plausible login")

    item_id: str | None = None
    if event_kind == "purchase":
        code = body["item_id"]
        if not isinstance(code, str) or not ITEM_CODE.fullmatch(code):
            return _invalid(body, "item_id is not a plausible item code")
        item_id = code

    return WebhookEvent(
        kind=event_kind,
        unique_id=unique_id,
        username=username,
        amount=amount,
        item_id=item_id,
        received_at=received_at,
    )
