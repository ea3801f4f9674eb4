"""Retries of the webhook fan-out that failed in the ingest transaction: exactly once, never blocking the rest.

The fan-out of an event normally commits WITH the event (:mod:`bot.webhooks.store`). When a hook raised there,
the event was committed anyway with ``processed_at`` NULL; rows from before this design (an upgrade after a
crash) look the same. This processor finds those rows (``webhook_events`` and ``webhook_quarantine``, oldest
first) and, in ONE transaction on the store's writer thread (one hop, between two ingest batches):

- runs the same hooks (:class:`~bot.webhooks.store.FanoutHooks`) for the whole batch inside a savepoint and
  sets ``processed_at``;
- if the batch fails, rolls that savepoint back and tries each row alone (a savepoint each), so the good rows
  go through at once; a row whose own fan-out fails gets ``fanout_attempts`` and the error type stored and is
  retried later with capped exponential backoff; after ``max_attempts`` failures it is given up:
  ``fanout_failed_at`` set and an alert queued for the audit channel in the same transaction (and an ERROR
  logged). It is counted in :meth:`~bot.webhooks.store.WebhookStore.fanout_counts`.

A crash before the commit leaves the rows unprocessed (picked up again at the next start); a crash after it
leaves them processed with every outbox row in place (the outbox's dedupe keys are a second guard). After each
pass that committed something the listeners run (``NotificationDispatcher.wake``).

The processor runs once when it starts, whenever the store reports a deferred fan-out (:meth:`wake`), and,
while rows wait for a retry, again when their backoff expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.i18n.catalog import DEFAULT_LOCALE, t
from bot.notifications.embeds import Embed, alert_embed
from bot.notifications.outbox import Outbox, OutboxMessage
from bot.notifications.targets import AUDIT_TARGET
from bot.storage.timestamps import format_timestamp, parse_timestamp
from bot.webhooks.models import QuarantinedBody, WebhookEvent
from bot.webhooks.store import EVENT_COLUMNS, WebhookStore, event_from_row, utc_now

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 200
"""Rows per transaction: a pass never holds the writer (and the ingest behind it) for long."""
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_BASE_DELAY = 1.0
DEFAULT_MAX_DELAY = 60.0

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
class _Failure:
    item: _Item
    error: Exception
    given_up: bool


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


@dataclass(slots=True)
class _Pass:
    """The outcome of one transaction (built on the writer's thread, read on the loop)."""

    found: int = 0
    processed: list[tuple[Table, int]] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)


def _quarantined(row: Sequence[Any]) -> QuarantinedBody:
    return QuarantinedBody(
        body=str(row[0]),
        body_sha256=str(row[1]),
        reason=str(row[2]),
        kind=None if row[3] is None else str(row[3]),
        remote=None if row[4] is None else str(row[4]),
        received_at=parse_timestamp(str(row[5])),
    )


_READY_EVENTS = (
    f"SELECT {EVENT_COLUMNS}, id, fanout_attempts FROM webhook_events "  # noqa: S608 - fixed column list
    "WHERE processed_at IS NULL AND fanout_failed_at IS NULL ORDER BY id LIMIT ?"
)
_READY_QUARANTINED = (
    "SELECT body, body_sha256, reason, kind, remote, received_at, id, fanout_attempts FROM webhook_quarantine "
    "WHERE processed_at IS NULL AND fanout_failed_at IS NULL ORDER BY id LIMIT ?"
)


class EventProcessor:
    """Retries deferred webhook fan-out in the background; see the module docstring."""

    def __init__(
        self,
        store: WebhookStore,
        *,
        alerts: Outbox | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        base_delay: float = DEFAULT_BASE_DELAY,
        max_delay: float = DEFAULT_MAX_DELAY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._alerts = alerts
        self._batch_size = batch_size
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._clock = clock
        self._listeners: list[Callable[[], None]] = []
        self._not_before: dict[tuple[Table, int], float] = {}
        self._wake = asyncio.Event()
        self._started = asyncio.Event()
        self._pass_lock = asyncio.Lock()
        self._closing = False
        self._run_task: asyncio.Task[None] | None = None

    # ----------------------------------------------------------------- control
    def add_listener(self, listener: Callable[[], None]) -> None:
        """Called (synchronously) after each pass that committed something, e.g. ``dispatcher.wake``."""
        self._listeners.append(listener)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        """Let :meth:`run` begin (call once every hook is registered, e.g. when the web server starts)."""
        self._started.set()
        self._wake.set()

    async def run(self) -> None:
        """Retry what is waiting, then whenever woken or a retry is due; until :meth:`close`."""
        self._run_task = asyncio.current_task()
        await self._started.wait()
        while not self._closing:
            self._wake.clear()
            timeout: float | None
            try:
                await self.drain()
            except Exception:  # e.g. the database is locked or gone: keep the loop alive, try again later
                log.exception("webhook fan-out retry pass failed")
                timeout = self._base_delay
            else:
                timeout = self._next_retry_in()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)

    async def close(self) -> None:
        """Stop the loop after its current pass (call before closing the store)."""
        self._closing = True
        self._started.set()  # a loop that never started (e.g. the web server failed) must still end
        self._wake.set()
        task = self._run_task
        if task is not None and task is not asyncio.current_task() and not task.done():
            await asyncio.wait([task])

    # ----------------------------------------------------------------- passes
    async def drain(self) -> ProcessResult:
        """Process batches until no row is ready (rows waiting for a retry are left for later)."""
        total = ProcessResult()
        async with self._pass_lock:
            while True:
                now = self._clock()
                waiting = {key for key, due in self._not_before.items() if due > now}
                outcome = await self._store.transaction(functools.partial(self._pass, waiting=waiting))
                total.add(self._settle(outcome))
                if outcome.found < self._batch_size:
                    return total

    def _next_retry_in(self) -> float | None:
        if not self._not_before:
            return None
        return max(0.0, min(self._not_before.values()) - self._clock())

    # --- on the writer's thread, inside one transaction
    def _pass(self, conn: sqlite3.Connection, waiting: set[tuple[Table, int]]) -> _Pass:
        items = self._ready(conn, waiting)
        outcome = _Pass(found=len(items))
        if not items:
            return outcome
        error = self._apply(conn, items)
        if error is None:
            outcome.processed = [item.key for item in items]
            return outcome
        if len(items) == 1:
            outcome.failures.append(self._record_failure(conn, items[0], error))
            return outcome
        for item in items:  # the batch failed: each row alone, so the good ones go through
            error = self._apply(conn, [item])
            if error is None:
                outcome.processed.append(item.key)
            else:
                outcome.failures.append(self._record_failure(conn, item, error))
        return outcome

    def _ready(self, conn: sqlite3.Connection, waiting: set[tuple[Table, int]]) -> list[_Item]:
        """Up to ``batch_size`` unprocessed rows of each table, oldest first, skipping those waiting for a retry
        (fetched in excess by their number, so the rest always progress). Each row ends with (id, attempts)."""
        items: list[_Item] = []
        for table, sql in ((EVENTS, _READY_EVENTS), (QUARANTINE, _READY_QUARANTINED)):
            skip = sum(1 for kind, _ in waiting if kind == table)
            found: list[_Item] = []
            for row in conn.execute(sql, (self._batch_size + skip,)).fetchall():
                row_id, attempts = int(row[-2]), int(row[-1])
                if (table, row_id) in waiting:
                    continue
                if table == EVENTS:
                    found.append(_Item(table, row_id, attempts, event=event_from_row(row)))
                else:
                    found.append(_Item(table, row_id, attempts, quarantined=_quarantined(row)))
            items += found[: self._batch_size]
        return items

    def _apply(self, conn: sqlite3.Connection, items: list[_Item]) -> Exception | None:
        """The hooks and the processed mark of ``items`` inside a savepoint; the error when they failed (the
        savepoint is then rolled back)."""
        conn.execute("SAVEPOINT retry")
        try:
            events = [item.event for item in items if item.event is not None]
            quarantined = [item.quarantined for item in items if item.quarantined is not None]
            self._store.hooks.run(conn, events, quarantined)
            stamp = format_timestamp(utc_now())
            for table in (EVENTS, QUARANTINE):
                ids = [(stamp, item.row_id) for item in items if item.table == table]
                if ids:
                    conn.executemany(
                        f"UPDATE {table} SET processed_at = ? WHERE id = ? AND processed_at IS NULL",  # noqa: S608
                        ids,
                    )
        except Exception as exc:
            conn.execute("ROLLBACK TO retry")
            conn.execute("RELEASE retry")
            return exc
        conn.execute("RELEASE retry")
        return None

    def _record_failure(self, conn: sqlite3.Connection, item: _Item, exc: Exception) -> _Failure:
        """Count a failed fan-out of ``item``; give it up (and queue the audit alert) after ``max_attempts``."""
        item.attempts += 1
        error = type(exc).__name__
        give_up = item.attempts >= self._max_attempts
        conn.execute(
            f"UPDATE {item.table} SET fanout_attempts = ?, fanout_error = ?, "  # noqa: S608
            "fanout_failed_at = CASE WHEN ? THEN ? ELSE fanout_failed_at END WHERE id = ?",
            (item.attempts, error, give_up, format_timestamp(utc_now()), item.row_id),
        )
        if give_up and self._alerts is not None:
            self._alerts.enqueue_sync(
                conn,
                [
                    OutboxMessage(
                        target=AUDIT_TARGET,
                        embeds=[self._alert(item, error, self._alerts.channel_locale())],
                        dedupe_key=f"webhook:fanout-failed:{item.table}:{item.row_id}",
                    )
                ],
            )
        return _Failure(item, exc, give_up)

    # --- back on the event loop
    def _settle(self, outcome: _Pass) -> ProcessResult:
        result = ProcessResult(processed=len(outcome.processed))
        for key in outcome.processed:
            self._not_before.pop(key, None)
        if outcome.processed:
            log.info("webhook fan-out retried rows=%d", len(outcome.processed))
        for failure in outcome.failures:
            item, error = failure.item, type(failure.error).__name__
            if failure.given_up:
                result.given_up += 1
                self._not_before.pop(item.key, None)
                log.error(
                    "webhook fan-out given up %s attempts=%d error=%s",
                    item.label,
                    item.attempts,
                    error,
                    exc_info=failure.error,
                )
                continue
            result.retrying += 1
            delay = self._delay(item.attempts)
            self._not_before[item.key] = self._clock() + delay
            log.warning(
                "webhook fan-out failed %s attempts=%d error=%s retry_in=%.1fs",
                item.label,
                item.attempts,
                error,
                delay,
                exc_info=failure.error if item.attempts == 1 else None,
            )
        if outcome.processed or result.given_up:
            for listener in self._listeners:
                listener()
        return result

    def _delay(self, attempts: int) -> float:
        return float(min(self._max_delay, self._base_delay * 2 ** max(0, attempts - 1)))

    @staticmethod
    def _alert(item: _Item, error: str, locale: str = DEFAULT_LOCALE) -> Embed:
        """The audit alert for a given-up fan-out, in ``locale`` (the error is an exception's class name)."""
        if item.event is not None:
            what = t(locale, "webhook.fanout_failed.event", kind=item.event.kind, unique_id=item.event.unique_id)
        else:
            sha = item.quarantined.body_sha256[:16] if item.quarantined is not None else "?"
            what = t(locale, "webhook.fanout_failed.quarantined", sha=sha)
        return alert_embed(
            t(locale, "webhook.fanout_failed.title"),
            t(locale, "webhook.fanout_failed.text"),
            fields=[
                (t(locale, "webhook.fanout_failed.field.event"), what),
                (t(locale, "webhook.fanout_failed.field.error"), error),
                (t(locale, "webhook.fanout_failed.field.attempts"), str(item.attempts)),
            ],
        )
