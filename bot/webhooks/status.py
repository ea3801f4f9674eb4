"""The report behind ``/webhook status``: what arrived, what waits, what looks wrong."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.notifications.outbox import Outbox
from bot.webhooks.models import EventKind, WebhookEvent
from bot.webhooks.store import Gap, WebhookStore

MAX_GAPS_SHOWN = 10


@dataclass(frozen=True, slots=True)
class WebhookStatus:
    last_events: dict[EventKind, WebhookEvent]
    events_24h: dict[str, int]
    pending_notifications: int
    undeliverable_notifications: int
    gaps: list[Gap]
    rejected_signatures_24h: int
    quarantined_24h: int
    quarantined_total: int
    webhook_url: str | None
    generated_at: datetime
    fanout_waiting: int = 0
    """Stored events/quarantined bodies whose notifications are not queued yet (normally 0 or a few)."""
    fanout_failed: int = 0
    """Events whose fan-out was given up after repeated failures (each also reported to the audit channel)."""

    @property
    def missing_events(self) -> int:
        return sum(gap.size for gap in self.gaps)


async def collect_status(store: WebhookStore, outbox: Outbox, *, webhook_url: str | None) -> WebhookStatus:
    since = store.day_ago()
    counts = await outbox.counts()
    fanout_waiting, fanout_failed = await store.fanout_counts()
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
        fanout_waiting=fanout_waiting,
        fanout_failed=fanout_failed,
    )
