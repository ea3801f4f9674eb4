"""Wiring of the webhook feature: store (with its fan-out hooks) + processor + dispatcher + route.

:meth:`WebhookFeature.create` is what ``bot/core.py`` calls. The store commits each new valid event together
with its announcement row for the purchase or transfer channel (dedupe key ``webhook:<kind>:<unique_id>``,
rendered when delivered), and each
new quarantined body with an audit-channel alert, then wakes the dispatcher. The
:class:`~bot.webhooks.processor.EventProcessor` retries a fan-out that failed there; it starts when the web
server starts (``on_startup``), i.e. after every feature registered its hooks.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiohttp import web

from bot.i18n import DEFAULT_LOCALE, t
from bot.notifications.discord_sink import DiscordSink
from bot.notifications.dispatcher import ChannelResolver, NotificationDispatcher
from bot.notifications.embeds import alert_embed
from bot.notifications.outbox import (
    EVENT_ANNOUNCEMENT_ON_INSERT,
    Outbox,
    OutboxMessage,
    queue_event_announcements,
)
from bot.notifications.targets import AUDIT_TARGET
from bot.storage import Database
from bot.webhooks.models import QuarantinedBody, WebhookEvent
from bot.webhooks.processor import EventProcessor
from bot.webhooks.reasons import reason_text
from bot.webhooks.receiver import webhook_handler
from bot.webhooks.status import WebhookStatus, collect_status
from bot.webhooks.store import EventsHook, QuarantineHook, WebhookStore

log = logging.getLogger(__name__)

QUARANTINE_EXCERPT = 900


def event_notification_hook() -> EventsHook:
    """Queue the announcement of new events in their kind's channel, in the transaction that stores them (a
    reference to the event row, rendered when it is delivered: no rendering on the ingest path)."""

    def hook(conn: sqlite3.Connection, events: Sequence[WebhookEvent]) -> None:
        queue_event_announcements(conn, [(event.kind, event.unique_id) for event in events])

    return hook


def announce_events(store: WebhookStore) -> None:
    """Register the announcement of new events on ``store`` (before it starts): queued by the ingest's own insert
    (:data:`~bot.notifications.outbox.EVENT_ANNOUNCEMENT_ON_INSERT`, so the usual batch is one statement), and
    by :func:`event_notification_hook` in the processor's retries."""
    store.add_events_hook(event_notification_hook(), on_insert=EVENT_ANNOUNCEMENT_ON_INSERT)


def _redacted_excerpt(body: str) -> str:
    """The body with its signature value removed (it is valid: no need to spread it), shortened."""
    try:
        parsed = json.loads(body)
    except ValueError:  # pragma: no cover - only parsed bodies are quarantined
        parsed = None
    if isinstance(parsed, dict) and "signature" in parsed:
        parsed["signature"] = "<redacted>"
        body = json.dumps(parsed, ensure_ascii=True)
    body = body.replace("```", "'''")
    return body if len(body) <= QUARANTINE_EXCERPT else body[:QUARANTINE_EXCERPT] + "…"


def quarantine_message(item: QuarantinedBody, locale: str = DEFAULT_LOCALE) -> OutboxMessage:
    """The audit-channel alert for a new quarantined body (dedupe key ``quarantine:<sha256>``), in ``locale``."""
    description = t(locale, "alert.quarantine.text") + f"\n```json\n{_redacted_excerpt(item.body)}\n```"
    embed = alert_embed(
        t(locale, "alert.quarantine.title"),
        description,
        problem=False,
        fields=[
            (t(locale, "alert.field.reason"), reason_text(item.reason, locale)),
            (t(locale, "alert.field.kind"), item.kind or t(locale, "alert.kind_unknown")),
            ("SHA-256", item.body_sha256[:16]),
        ],
    )
    return OutboxMessage(target=AUDIT_TARGET, embeds=[embed], dedupe_key=f"quarantine:{item.body_sha256}")


def quarantine_alert_hook(outbox: Outbox) -> QuarantineHook:
    """Report new quarantined bodies to the audit channel, in the transaction that stores them."""

    def hook(conn: sqlite3.Connection, items: Sequence[QuarantinedBody]) -> None:
        locale = outbox.channel_locale()
        outbox.enqueue_sync(conn, [quarantine_message(item, locale) for item in items])

    return hook


@dataclass
class WebhookFeature:
    store: WebhookStore
    processor: EventProcessor
    outbox: Outbox
    dispatcher: NotificationDispatcher
    secret: str
    public_url: str | None

    @classmethod
    async def create(
        cls,
        db: Database,
        *,
        secret: str,
        channels: ChannelResolver,
        sink: DiscordSink,
        public_url: str | None,
        locale: Callable[[], str] = lambda: DEFAULT_LOCALE,
    ) -> WebhookFeature:
        outbox = Outbox(db, locale=locale)
        dispatcher = NotificationDispatcher(outbox, sink, channels)
        store = WebhookStore(db)
        announce_events(store)
        store.add_quarantine_hook(quarantine_alert_hook(outbox))
        processor = EventProcessor(store, alerts=outbox)
        store.add_commit_listener(dispatcher.wake)
        store.add_deferred_listener(processor.wake)
        processor.add_listener(dispatcher.wake)
        await store.start()
        return cls(
            store=store, processor=processor, outbox=outbox, dispatcher=dispatcher, secret=secret, public_url=public_url
        )

    def add_route(self, app: web.Application, path: str) -> None:
        """``POST path``; the fan-out starts with the app (``on_startup``), once every hook is registered."""
        app.router.add_post(path, webhook_handler(self.store, self.secret))
        app.on_startup.append(self._start_fanout)
        log.info("webhook route added path=%s", path)

    async def _start_fanout(self, _app: web.Application) -> None:
        self.processor.start()

    async def probe(self) -> str | None:
        """Health probe: the writer that commits events must be running, and its writes not failing."""
        if not self.store.running:
            return "webhook writer stopped"
        fault = self.store.write_fault
        return None if fault is None else f"webhook writes failing: {fault}"

    async def status(self) -> WebhookStatus:
        return await collect_status(self.store, self.outbox, webhook_url=self.public_url)

    async def close(self) -> None:
        """Stop the retries, commit queued events (the HTTP server is already stopped), stop the dispatcher."""
        await self.processor.close()
        await self.store.close()
        await self.dispatcher.close()
