"""The audit channel's delivery-problem alerts and the quarantine alert in the channel language (issue #19)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.guild_config import ChannelKind
from bot.notifications.dispatcher import NotificationDispatcher
from bot.notifications.outbox import Outbox
from bot.storage import Database
from bot.webhooks.feature import quarantine_message
from bot.webhooks.models import QuarantinedBody
from tests.i18n.leaks import english_in
from tests.notifications.recording import Channels, RecordingSink, blocked_error, refused_error
from tests.notifications.test_dispatcher import AUDIT, PURCHASES, TRANSFERS, enqueue


def _russian(db: Database, sink: RecordingSink, channels: Channels) -> tuple[Outbox, NotificationDispatcher]:
    outbox = Outbox(db, locale=lambda: "ru")
    dispatcher = NotificationDispatcher(outbox, sink, channels, base_delay=0.001, max_delay=0.004, jitter=lambda: 0.0)
    return outbox, dispatcher


def _text(embed: dict[str, Any]) -> str:
    fields = " ".join(f"{f['name']} {f['value']}" for f in embed.get("fields", []))
    return f"{embed['title']} {embed['description']} {fields}"


async def test_an_unconfigured_channel_is_reported_in_russian(db: Database) -> None:
    sink = RecordingSink()
    outbox, dispatcher = _russian(db, sink, Channels({ChannelKind.AUDIT: AUDIT}))
    await enqueue(outbox, 1, "channel:transfer")
    for _ in range(2):
        await dispatcher.drain()
    alert = sink.to(AUDIT)[0].embeds[0]
    assert alert["title"] == "Канал уведомлений не настроен"
    assert "/настройка уведомления вид:transfer" in alert["description"]
    assert english_in(_text(alert)) == []


async def test_a_blocked_channel_is_reported_in_russian(db: Database) -> None:
    sink = RecordingSink(failures=[blocked_error()])
    outbox, dispatcher = _russian(db, sink, Channels({ChannelKind.AUDIT: AUDIT, ChannelKind.PURCHASE: PURCHASES}))
    await enqueue(outbox, 2)
    for _ in range(2):
        await dispatcher.drain()
    alert = sink.to(AUDIT)[0].embeds[0]
    assert alert["title"] == "Не удаётся публиковать уведомления"
    assert english_in(_text(alert)) == []


async def test_an_undeliverable_notification_is_reported_in_russian(db: Database) -> None:
    sink = RecordingSink(failures=[refused_error()])
    outbox, dispatcher = _russian(db, sink, Channels({ChannelKind.AUDIT: AUDIT, ChannelKind.TRANSFER: TRANSFERS}))
    await enqueue(outbox, 1, "channel:transfer")
    await dispatcher.drain()
    alert = sink.to(AUDIT)[0].embeds[0]
    assert alert["title"] == "Уведомление не удалось доставить"
    assert english_in(_text(alert)) == []


def test_the_quarantine_alert_in_russian() -> None:
    item = QuarantinedBody('{"a": 1}', "ab" * 32, "unknown event shape", None, None, datetime.now(UTC))
    embed = quarantine_message(item, "ru").embeds[0]
    assert embed["title"] == "Вебхук помещён в карантин"
    assert "`/вебхук статус`" in embed["description"]
    assert english_in(_text(embed)) == []
    assert quarantine_message(item).embeds[0]["title"] == "Webhook quarantined"
