"""The webhook event the bot acts upon, after signature verification and strict validation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

EventKind = Literal["purchase", "transfer"]
EVENT_KINDS: tuple[EventKind, ...] = ("purchase", "transfer")


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A verified, strictly valid event.

    ``username`` is the buyer (purchase) or the sender (transfer); ``item_id`` is the market item code of a
    purchase and ``None`` for a transfer. ``unique_id`` increments per kind. ``received_at`` is ours (UTC):
    events carry no timestamp.
    """

    kind: EventKind
    unique_id: int
    username: str
    amount: Decimal
    item_id: str | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class QuarantinedBody:
    """A validly signed body that failed strict validation: stored raw, reported, never acted upon."""

    body: str
    body_sha256: str
    reason: str
    kind: str | None
    remote: str | None
    received_at: datetime
