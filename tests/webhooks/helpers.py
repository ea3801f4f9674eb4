"""Test helpers shared by the webhook and notification tests: a real receiver on 127.0.0.1:0."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.http.server import error_middleware
from bot.market.signing import signed_body
from bot.notifications.outbox import Outbox
from bot.storage import Database
from bot.webhooks.feature import announce_events, quarantine_alert_hook
from bot.webhooks.processor import EventProcessor
from bot.webhooks.receiver import webhook_handler
from bot.webhooks.store import WebhookStore

SECRET = "key"
PATH = "/webhooks/market"


def purchase(unique_id: int, *, amount: float = 0.9, username: str = "A49", item_id: str = "E3yugw") -> dict[str, Any]:
    return signed_body(
        {"kind": "purchase", "amount": amount, "username": username, "unique_id": unique_id, "item_id": item_id},
        SECRET,
    )


def transfer(unique_id: int, *, amount: float = 1.0, username: str = "A49") -> dict[str, Any]:
    return signed_body({"kind": "transfer", "amount": amount, "username": username, "unique_id": unique_id}, SECRET)


@dataclass
class Receiver:
    url: str
    db: Database
    store: WebhookStore
    outbox: Outbox
    session: aiohttp.ClientSession
    processor: EventProcessor

    async def post(
        self,
        body: dict[str, Any] | list[Any] | bytes | str,
        *,
        content_type: str | None = "application/json",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        data = (
            body if isinstance(body, bytes) else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        )
        sent = dict(headers or {})
        if content_type is not None:
            sent["Content-Type"] = content_type
        async with self.session.post(self.url, data=data, headers=sent, skip_auto_headers=["Content-Type"]) as resp:
            text = await resp.text()
            try:
                payload: Any = json.loads(text)
            except ValueError:
                payload = text
            return resp.status, payload

    async def events(self) -> list[tuple[str, int]]:
        rows = await self.db.fetchall("SELECT kind, unique_id FROM webhook_events ORDER BY id")
        return [(str(r[0]), int(r[1])) for r in rows]

    async def outbox_rows(self) -> list[tuple[str, str]]:
        """The outbox (filled in the transaction that stores each event: nothing to wait for)."""
        rows = await self.db.fetchall("SELECT target, dedupe_key FROM notification_outbox ORDER BY id")
        return [(str(r[0]), str(r[1])) for r in rows]


@asynccontextmanager
async def running_receiver(db: Database, **handler_options: Any) -> AsyncIterator[Receiver]:
    """The production handler (with the production error middleware) on 127.0.0.1:0 over ``db``, with the
    fan-out retries running as wired in production (stopped on exit)."""
    outbox = Outbox(db)
    store = WebhookStore(db)
    announce_events(store)
    store.add_quarantine_hook(quarantine_alert_hook(outbox))
    processor = EventProcessor(store, alerts=outbox, base_delay=0.001, max_delay=0.01)
    store.add_deferred_listener(processor.wake)
    await store.start()
    processor.start()
    fanout = asyncio.create_task(processor.run())
    app = web.Application(middlewares=[error_middleware])
    app.router.add_post(PATH, webhook_handler(store, SECRET, **handler_options))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    session = aiohttp.ClientSession()
    try:
        yield Receiver(f"http://127.0.0.1:{port}{PATH}", db, store, outbox, session, processor)
    finally:
        await session.close()
        await runner.cleanup()
        await processor.close()
        await fanout
        await store.close()


@asynccontextmanager
async def open_db(path: Path) -> AsyncIterator[Database]:
    db = await Database.open(path)
    try:
        yield db
    finally:
        await db.close()
