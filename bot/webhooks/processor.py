"""Background fan-out of committed webhook events: hooks + "processed" mark in ONE transaction, exactly once.

The receiver's hot path (:class:`~bot.webhooks.store.WebhookStore`) only records an event durably. This
processor then reads the committed rows whose ``processed_at`` is still NULL (``webhook_events`` and
``webhook_quarantine``, oldest first, up to ``batch_size`` of each) and, in ONE transaction on the main
:class:`~bot.storage.Database`:

- runs the fan-out hooks registered on the store (:class:`~bot.webhooks.store.FanoutHooks`: the notification
  outbox rows for purchases and transfers, the linking receipts and role grants, the audit alert for a
  quarantined body), each with the transaction's connection;
- sets ``processed_at`` on those rows.

So a crash before the commit leaves the rows unprocessed (they are picked up again, at the latest at the next
start-up), and a crash after it leaves them processed with every outbox row in place: the fan-out happens
exactly once (the outbox's dedupe keys are a second guard). After each committed batch the listeners run
(``NotificationDispatcher.wake``).

Failures: if a batch's transaction fails, everything in it is rolled back and each row is retried alone, so
the good rows go through at once. A row whose own fan-out fails is retried with capped exponential backoff
(``fanout_attempts`` and the error type are stored); after ``max_attempts`` failures it is given up: logged
at ERROR, ``fanout_failed_at`` set and an alert queued for the audit channel in the same transaction. It is
counted in :meth:`~bot.webhooks.store.WebhookStore.fanout_counts` and never blocks the rows behind it.

The processor is woken by the store after each commit (:meth:`wake`), runs once when it starts (what a crash
left committed but unprocessed) and, while rows wait for a retry, again when their backoff expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import aiosqlite

from bot.notifications.embeds import Embed, alert_embed
from bot.notifications.outbox import Outbox
from bot.storage import Database
from bot.webhooks.models import QuarantinedBody, WebhookEvent
from bot.webhooks.store import FanoutHooks, iso, parse_iso, utc_now

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 500
DEFAULT_INGEST_QUIET = 0.02
"""Fan-out waits until no ingest batch was committed for this long (ingest gets the write lock first)…"""
DEFAULT_MAX_LAG = 1.0
"""…but never longer than this: under sustained ingest it then runs one batch at a time…"""
DEFAULT_BUSY_BATCH_SIZE = 100
"""…of at most this many events, so that each interruption of the ingest stays short."""
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_BASE_DELAY = 1.0
DEFAULT_MAX_DELAY = 60.0
DEFAULT_MIN_INTERVAL = 0.05

Table = Literal["webhook_events", "webhook_quarantine"]
EVENTS: Table = "webhook_events"
QUARANTINE: Table = "webhook_quarantine"


@dataclass(slots=True)
class _Item:
    table: Table
    row_id: int
    attempts: int
    event: WebhookEvent | None = None
    quarantined: QuarantinedBody | None = None

    @property
    def key(self) -> tuple[Table, int]:
        return self.table, self.row_id

    @property
    def label(self) -> str:
        if self.event is not None:
            return f"event kind={self.event.kind} unique_id={self.event.unique_id}"
        sha = self.quarantined.body_sha256[:16] if self.quarantined is not None else "?"
        return f"quarantined sha256={sha}"


@dataclass(slots=True)
class ProcessResult:
    """What one :meth:`EventProcessor.drain` did: rows fanned out, rows that failed (now or for good)."""

    processed: int = 0
    retrying: int = 0
    given_up: int = 0

    def add(self, other: ProcessResult) -> None:
        self.processed += other.processed
        self.retrying += other.retrying
        self.given_up += other.given_up


class _AlreadyProcessed(Exception):
    """Another pass marked some of the rows first: roll back and read again (never counted as a failure)."""


def _event(row: aiosqlite.Row) -> WebhookEvent:
    return WebhookEvent(
        kind="purchase" if row["kind"] == "purchase" else "transfer",
        unique_id=int(row["unique_id"]),
        username=str(row["username"]),
        amount=Decimal(str(row["amount"])),
        item_id=None if row["item_id"] is None else str(row["item_id"]),
        received_at=parse_iso(str(row["received_at"])),
    )


def _quarantined(row: aiosqlite.Row) -> QuarantinedBody:
    return QuarantinedBody(
        body=str(row["body"]),
        body_sha256=str(row["body_sha256"]),
        reason=str(row["reason"]),
        kind=None if row["kind"] is None else str(row["kind"]),
        remote=None if row["remote"] is None else str(row["remote"]),
        received_at=parse_iso(str(row["received_at"])),
    )


class EventProcessor:
    """Fans out committed webhook events in the background; see the module docstring."""

    def __init__(
        self,
        db: Database,
        hooks: FanoutHooks,
        *,
        alerts: Outbox | None = None,
        write_gate: asyncio.Lock | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        base_delay: float = DEFAULT_BASE_DELAY,
        max_delay: float = DEFAULT_MAX_DELAY,
        min_interval: float = DEFAULT_MIN_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        last_ingest: Callable[[], float] | None = None,
        ingest_quiet: float = DEFAULT_INGEST_QUIET,
        max_lag: float = DEFAULT_MAX_LAG,
        busy_batch_size: int = DEFAULT_BUSY_BATCH_SIZE,
    ) -> None:
        self._db = db
        self._hooks = hooks
        self._alerts = alerts
        self._write_gate = write_gate or asyncio.Lock()
        self._batch_size = batch_size
        self._busy_batch_size = min(batch_size, busy_batch_size)
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._min_interval = min_interval
        self._clock = clock
        self._last_ingest = last_ingest
        self._ingest_quiet = ingest_quiet
        self._max_lag = max_lag
        self._listeners: list[Callable[[], None]] = []
        self._not_before: dict[tuple[Table, int], float] = {}
        self._wake = asyncio.Event()
        self._started = asyncio.Event()
        self._pass_lock = asyncio.Lock()
        self._closing = False
        self._run_task: asyncio.Task[None] | None = None

    # ----------------------------------------------------------------- control
    def add_listener(self, listener: Callable[[], None]) -> None:
        """Called (synchronously) after each committed fan-out batch, e.g. ``dispatcher.wake``."""
        self._listeners.append(listener)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        """Let :meth:`run` begin (call once every hook is registered, e.g. when the web server starts)."""
        self._started.set()
        self._wake.set()

    async def run(self) -> None:
        """Fan out what is waiting, then whenever woken or a retry is due; until :meth:`close`."""
        self._run_task = asyncio.current_task()
        await self._started.wait()
        busy_until = 0.0
        while not self._stopping():
            pause = busy_until - time.monotonic()
            if pause > 0:  # under load: let events gather into one bigger batch (fewer, shorter interruptions)
                await asyncio.sleep(pause)
            if self._stopping():  # close() may have come during the pause: its wake must not be cleared
                break
            self._wake.clear()
            timeout: float | None
            try:
                quiet = await self._yield_to_ingest()
                result = await self.drain(max_batches=None if quiet else 1)
                busy_until = time.monotonic() + self._min_interval if result.processed else 0.0
            except Exception:  # e.g. the database is locked or gone: keep the loop alive, try again later
                log.exception("webhook fan-out pass failed")
                timeout = self._base_delay
            else:
                timeout = self._next_retry_in()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)

    def _stopping(self) -> bool:
        return self._closing

    async def _yield_to_ingest(self) -> bool:
        """Ingest has priority over fan-out for the database's write lock: wait until no ingest batch was
        committed for ``ingest_quiet`` seconds, but at most ``max_lag`` seconds. ``True`` when ingest is quiet
        (drain everything); ``False`` under sustained load (process one batch, then yield again)."""
        if self._last_ingest is None:
            return True
        give_up = time.monotonic() + self._max_lag
        while not self._stopping():
            now = time.monotonic()
            idle = now - self._last_ingest()
            if idle >= self._ingest_quiet:
                return True
            if now >= give_up:
                return False
            await asyncio.sleep(min(self._ingest_quiet - idle, give_up - now))
        return True

    async def close(self) -> None:
        """Stop the loop after its current pass, then fan out what is already committed (best effort)."""
        self._closing = True
        self._started.set()  # a loop that never started (e.g. the web server failed) must still end
        self._wake.set()
        task = self._run_task
        if task is not None and task is not asyncio.current_task() and not task.done():
            await asyncio.wait([task])
        try:
            await self.drain()
        except Exception:
            log.exception("webhook fan-out at shutdown failed; it resumes at the next start")

    # ----------------------------------------------------------------- passes
    async def drain(self, *, max_batches: int | None = None) -> ProcessResult:
        """Process batches until no row is ready (rows waiting for a retry are left for later), or at most
        ``max_batches`` batches."""
        total = ProcessResult()
        done = 0
        async with self._pass_lock:
            while max_batches is None or done < max_batches:
                items = await self._ready_items(self._busy_batch_size if max_batches is not None else self._batch_size)
                if not items:
                    return total
                total.add(await self._process(items))
                done += 1
            if max_batches is not None:
                self._wake.set()  # more may be ready: come back after yielding to ingest
            return total

    def _next_retry_in(self) -> float | None:
        if not self._not_before:
            return None
        return max(0.0, min(self._not_before.values()) - self._clock())

    async def _ready_items(self, batch_size: int) -> list[_Item]:
        now = self._clock()
        waiting = {key for key, due in self._not_before.items() if due > now}
        items: list[_Item] = []
        # Rows waiting for a retry are skipped in Python, so fetch that many more: the rest always progress.
        skip = sum(1 for table, _ in waiting if table == EVENTS)
        for row in await self._db.fetchall(
            "SELECT id, kind, unique_id, username, amount, item_id, received_at, fanout_attempts FROM webhook_events "
            "WHERE processed_at IS NULL AND fanout_failed_at IS NULL ORDER BY id LIMIT ?",
            (batch_size + skip,),
        ):
            if (EVENTS, int(row["id"])) not in waiting:
                items.append(_Item(EVENTS, int(row["id"]), int(row["fanout_attempts"]), event=_event(row)))
        skip = sum(1 for table, _ in waiting if table == QUARANTINE)
        for row in await self._db.fetchall(
            "SELECT id, body, body_sha256, reason, kind, remote, received_at, fanout_attempts FROM webhook_quarantine "
            "WHERE processed_at IS NULL AND fanout_failed_at IS NULL ORDER BY id LIMIT ?",
            (batch_size + skip,),
        ):
            if (QUARANTINE, int(row["id"])) not in waiting:
                items.append(
                    _Item(QUARANTINE, int(row["id"]), int(row["fanout_attempts"]), quarantined=_quarantined(row))
                )
        events = [item for item in items if item.table == EVENTS][:batch_size]
        return events + [item for item in items if item.table == QUARANTINE][:batch_size]

    async def _process(self, items: list[_Item]) -> ProcessResult:
        result = ProcessResult()
        try:
            await self._apply(items)
        except _AlreadyProcessed:
            return result
        except Exception as exc:
            if len(items) == 1:
                await self._failed(items[0], exc, result)
                return result
            log.warning(
                "webhook fan-out batch failed, retrying one by one rows=%d error=%s", len(items), type(exc).__name__
            )
            for item in items:
                try:
                    await self._apply([item])
                except _AlreadyProcessed:
                    continue
                except Exception as single:
                    await self._failed(item, single, result)
                else:
                    result.processed += 1
            return result
        result.processed += len(items)
        return result

    async def _apply(self, items: list[_Item]) -> None:
        """The hooks and the processed mark of ``items``, in one transaction; then wake the listeners."""
        stamp = iso(utc_now())
        events = [item.event for item in items if item.event is not None]
        quarantined = [item.quarantined for item in items if item.quarantined is not None]
        async with self._write_gate, self._db.transaction() as conn:
            if events:
                for batch_hook in self._hooks.batch:
                    await batch_hook(conn, events)
                for hook in self._hooks.event:
                    for event in events:
                        await hook(conn, event)
            for body in quarantined:
                for quarantine_hook in self._hooks.quarantine:
                    await quarantine_hook(conn, body)
            for table in (EVENTS, QUARANTINE):
                ids = [(stamp, item.row_id) for item in items if item.table == table]
                if not ids:
                    continue
                cursor = await conn.executemany(
                    f"UPDATE {table} SET processed_at = ? WHERE id = ? AND processed_at IS NULL",  # noqa: S608
                    ids,
                )
                if cursor.rowcount != len(ids):
                    raise _AlreadyProcessed
        for item in items:
            self._not_before.pop(item.key, None)
        log.debug("webhook fan-out committed events=%d quarantined=%d", len(events), len(quarantined))
        for listener in self._listeners:
            listener()

    def _delay(self, attempts: int) -> float:
        return float(min(self._max_delay, self._base_delay * 2 ** max(0, attempts - 1)))

    async def _failed(self, item: _Item, exc: Exception, result: ProcessResult) -> None:
        """Count a failed fan-out of ``item``; give it up (ERROR, audit alert) after ``max_attempts``."""
        item.attempts += 1
        error = type(exc).__name__
        give_up = item.attempts >= self._max_attempts
        try:
            async with self._write_gate, self._db.transaction() as conn:
                await conn.execute(
                    f"UPDATE {item.table} SET fanout_attempts = ?, fanout_error = ?, "  # noqa: S608
                    "fanout_failed_at = CASE WHEN ? THEN ? ELSE fanout_failed_at END WHERE id = ?",
                    (item.attempts, error, give_up, iso(utc_now()), item.row_id),
                )
                if give_up and self._alerts is not None:
                    await self._alerts.enqueue(
                        conn,
                        target="channel:audit",
                        embeds=[self._alert(item, error)],
                        dedupe_key=f"webhook:fanout-failed:{item.table}:{item.row_id}",
                    )
        except Exception:
            log.exception("webhook fan-out failure not recorded %s", item.label)
            give_up = False
        if give_up:
            result.given_up += 1
            self._not_before.pop(item.key, None)
            log.error(
                "webhook fan-out given up %s attempts=%d error=%s", item.label, item.attempts, error, exc_info=exc
            )
            for listener in self._listeners:
                listener()
            return
        result.retrying += 1
        delay = self._delay(item.attempts)
        self._not_before[item.key] = self._clock() + delay
        log.warning(
            "webhook fan-out failed %s attempts=%d error=%s retry_in=%.1fs",
            item.label,
            item.attempts,
            error,
            delay,
            exc_info=exc if item.attempts == 1 else None,
        )

    @staticmethod
    def _alert(item: _Item, error: str) -> Embed:
        what = item.label.replace("event ", "").replace("quarantined ", "quarantined body ")
        return alert_embed(
            "Webhook event not processed",
            "An event was stored and acknowledged, but its notifications, receipts or role grants failed "
            "repeatedly and were given up. Check the log for the error; the event stays in the database.",
            fields=[("Event", what), ("Error", error), ("Attempts", str(item.attempts))],
        )
