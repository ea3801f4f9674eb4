"""The report behind ``/webhook status``: what arrived, what waits, what looks wrong."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.notifications.outbox import Outbox
from bot.webhooks.models import EventKind
from bot.webhooks.store import Gap, StoredEvent, WebhookStore

MAX_GAPS_SHOWN = 10


@dataclass(frozen=True, slots=True)
class WebhookStatus:
    last_events: dict[EventKind, StoredEvent]
    events_24h: dict[str, int]
    pending_notifications: int
    undeliverable_notifications: int
    gaps: list[Gap]
    rejected_signatures_24h: int
    quarantined_24h: int
    quarantined_total: int
    webhook_url: str | None
    generated_at: datetime

    @property
    def missing_events(self) -> int:
        return sum(gap.size for gap in self.gaps)


async def collect_status(store: WebhookStore, outbox: Outbox, *, webhook_url: str | None) -> WebhookStatus:
    since = store.day_ago()
    counts = await outbox.counts()
    return WebhookStatus(
        last_events=await store.last_events(),
        events_24h=await store.event_counts_since(since),
        pending_notifications=counts.pending,
        undeliverable_notifications=counts.undeliverable,
        gaps=await store.gaps(),
        rejected_signatures_24h=await store.rejected_signatures_since(since),
        quarantined_24h=await store.quarantined_since(since),
        quarantined_total=await store.quarantined_total(),
        webhook_url=webhook_url,
        generated_at=store.now(),
    )
