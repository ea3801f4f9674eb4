"""Durable storage of webhook events: the hot path (one group-commit writer) with its fan-out, then queries.

Every write goes through one writer thread (:class:`~bot.storage.batch_writer.BatchWriter`, its own
connection, WAL with ``synchronous=FULL``, so a returned commit survives power loss). A request queues its
insert and waits; the thread takes every insert that is waiting and commits them in ONE ``BEGIN IMMEDIATE …
COMMIT``. Only then is each request resolved. Under load one fsync covers many events (group commit); a lone
event is committed at once. If a batch fails, each of its jobs is retried alone, so one bad job cannot fail
its neighbours.

The transaction records the event row (once per ``(kind, unique_id)``: see :func:`_insert_events`), the gap
bookkeeping, quarantined bodies (once per content hash) and the rejected-signature counters (per UTC hour,
flushed with the next batch; a flood of forgeries costs no transaction per request); and, in the SAME
transaction, the fan-out of what is new: the hooks registered here (:class:`FanoutHooks`: the notification
outbox rows, the linking receipts and role grants, the audit alert for a quarantined body), synchronous, on
the writer's thread. So an acknowledged event always has its notifications queued, and a crash can never leave
one without the other.

A failing hook never costs the event: if a hook raises, the whole transaction is rolled back (the hooks'
writes with it) and the batch's rows are written again in a new one, without the fan-out, committed with
``processed_at`` NULL (their fan-out deferred); the :class:`~bot.webhooks.processor.EventProcessor` retries it
in the background (with backoff, giving up after repeated failures with an audit alert). The usual batch so
pays no savepoint (two statements, each a hand-off of the GIL between the writer and the busy event loop).

A hook may also be done by the insert itself (``on_insert``: a statement run by a ``TEMP`` trigger of the
writer's connection for each event row it inserts processed; the announcement is one). When every events hook
is one of those, the usual batch (new events following on from their kind's highest unique_id, nothing else)
is ONE ``INSERT`` without ``BEGIN``/``COMMIT`` (:meth:`_IngestHandler.write_alone`): SQLite commits it, synced,
before the statement returns. One statement step instead of four (``BEGIN``, the events, the announcements,
``COMMIT``): ingest alone 164 -> 137 us of CPU per event at load 1-4 (medians of 10 alternating pairs, a probe),
156.5 -> 148 quiet (4 pairs); the writer thread 43 -> 38.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar

from bot.stats.sums import stored_units
from bot.storage import Database
from bot.storage.batch_writer import BatchWriter, BatchWriterClosed
from bot.storage.multirow import ROWS_PER_STATEMENT, chunked, row_marks
from bot.storage.timestamps import format_timestamp, parse_timestamp
from bot.webhooks.models import EVENT_KINDS, EventKind, QuarantinedBody, WebhookEvent

log = logging.getLogger(__name__)

T = TypeVar("T")

EventsHook = Callable[[sqlite3.Connection, Sequence[WebhookEvent]], None]
"""Fan-out of NEW valid events (all those of one transaction at once, in arrival order). Synchronous, on the
batch writer's thread, inside the transaction that stores them (or the processor's retry transaction): SQL on
``conn`` only, quick, no I/O. Raising defers the fan-out of the whole batch to the processor."""
QuarantineHook = Callable[[sqlite3.Connection, Sequence[QuarantinedBody]], None]
"""Fan-out of NEW quarantined bodies; same rules as :data:`EventsHook`."""
_Line = tuple[int, str, tuple[object, ...], BaseException | None]
"""A log line waiting for its batch's commit: level, message, arguments, exception."""

_stored_units = lru_cache(maxsize=1024)(stored_units)
""":func:`~bot.stats.sums.stored_units` cached by the amount's text (a shop's amounts repeat: its prices):
1.5 -> 0.2 us per stored event. Cached here, not decorated there, so mutation testing still reaches it."""

DEFAULT_MAX_BATCH = 512
_INSERT_EVENTS = (
    "INSERT INTO webhook_events "
    "(kind, unique_id, username, amount, amount_units, amount_places, item_id, received_at, remote, body, "
    "processed_at) VALUES "
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def _hour(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H")


class StoreUnavailable(Exception):
    """The event could not be committed (database failure or store closed); the sender should retry."""


@dataclass(frozen=True, slots=True)
class Gap:
    kind: str
    first_missing: int
    last_missing: int
    detected_at: datetime

    @property
    def size(self) -> int:
        return self.last_missing - self.first_missing + 1


EVENT_COLUMNS = "kind, unique_id, username, amount, item_id, received_at"
"""The ``webhook_events`` columns :func:`event_from_row` reads, in its order."""


def event_from_row(row: Sequence[Any]) -> WebhookEvent:
    """The event stored in a row that starts with :data:`EVENT_COLUMNS` (either connection kind)."""
    return WebhookEvent(
        kind="purchase" if row[0] == "purchase" else "transfer",
        unique_id=int(row[1]),
        username=str(row[2]),
        amount=Decimal(str(row[3])),
        item_id=None if row[4] is None else str(row[4]),
        received_at=parse_timestamp(str(row[5])),
    )


@dataclass(slots=True)
class FanoutHooks:
    """What runs for new events and quarantined bodies: in the ingest transaction, or the processor's retry."""

    events: list[EventsHook] = field(default_factory=list)
    quarantine: list[QuarantineHook] = field(default_factory=list)
    on_insert: dict[EventsHook, str] = field(default_factory=dict)
    """Events hooks the ingest path does in SQL (see :meth:`WebhookStore.add_events_hook`): their statement,
    run by a trigger for each event row the ingest inserts; the hook itself runs only in the processor's retry."""

    def run(
        self,
        conn: sqlite3.Connection,
        events: Sequence[WebhookEvent],
        quarantined: Sequence[QuarantinedBody],
        *,
        inserted: bool = False,
    ) -> None:
        """Every hook, in registration order (inside the caller's transaction); ``inserted``: the events were
        just inserted by the ingest path, whose insert already did the :attr:`on_insert` hooks' work."""
        if events:
            for events_hook in self.events:
                if not (inserted and events_hook in self.on_insert):
                    events_hook(conn, events)
        if quarantined:
            for quarantine_hook in self.quarantine:
                quarantine_hook(conn, quarantined)


@dataclass(slots=True)
class _Job:
    """One write of the hot path; a job with neither event nor body only flushes the rejection counts. Never
    changed once made; not ``frozen`` only because a frozen dataclass is built about five times slower (each
    field set through ``object.__setattr__``), and one is built per request."""

    event: WebhookEvent | None = None
    body: str = ""
    remote: str | None = None
    quarantined: QuarantinedBody | None = None


@dataclass(frozen=True, slots=True)
class _Stored:
    """A job's result: whether its row was new, and whether its batch's fan-out was deferred (one of three
    shared instances below: none is built per job)."""

    new: bool
    deferred: bool = False


_NEW, _NEW_DEFERRED, _NOT_NEW = _Stored(new=True), _Stored(new=True, deferred=True), _Stored(new=False)
"""The three results a job can have, shared by every job (never changed)."""


class _RejectionCounts:
    """Rejected signatures per UTC hour not yet committed; shared by the event loop (counting) and the writer's
    thread (taking them into a batch, reading them for the status), hence the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, hour: str) -> bool:
        """Count one; ``True`` when it is the first since the counts were last taken (queue a flush)."""
        with self._lock:
            first = not self._counts
            self._counts[hour] += 1
            return first

    def take(self) -> Counter[str]:
        with self._lock:
            taken, self._counts = self._counts, Counter()
            return taken

    def restore(self, counts: Counter[str]) -> None:
        with self._lock:
            self._counts.update(counts)

    def since(self, hour: str) -> int:
        with self._lock:
            return sum(n for h, n in self._counts.items() if h >= hour)

    def __bool__(self) -> bool:
        with self._lock:
            return bool(self._counts)


@dataclass(slots=True)
class _BatchState:
    """What one transaction of the hot path changes besides the database."""

    maxes: dict[str, int | None]
    hooks: FanoutHooks
    stamp: str
    deferred: str | None = None
    """The error type when the batch's fan-out failed and was left to the processor."""
    lines: list[_Line] = field(default_factory=list)
    """What the batch has to log, logged once it committed (a rolled-back batch changed nothing: a full disk must
    not log a gap per failed attempt; a batch written again logs only what its second writing found)."""

    def log(self, level: int, message: str, *args: object, exc_info: BaseException | None = None) -> None:
        self.lines.append((level, message, args, exc_info))


class _FanoutFailed(Exception):
    """A hook raised: the batch is written again without its fan-out (see :meth:`_IngestHandler.write`)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(type(error).__name__)
        self.error = error


class _IngestHandler:
    """The hot path's :class:`~bot.storage.batch_writer.BatchHandler`: all of it runs on the writer's thread,
    which alone owns the per-kind highest unique_ids (gap detection) between transactions."""

    def __init__(
        self,
        hooks: FanoutHooks,
        rejections: _RejectionCounts,
        maxes: dict[str, int | None],
        clock: Callable[[], datetime],
    ) -> None:
        self._hooks = hooks
        self._rejections = rejections
        self._maxes = maxes
        self._clock = clock
        self._state: _BatchState | None = None
        self._taken: Counter[str] = Counter()

    def write(self, conn: sqlite3.Connection, jobs: Sequence[_Job]) -> list[_Stored]:
        stamp = format_timestamp(self._clock())
        state = self._state = _BatchState(maxes=dict(self._maxes), hooks=self._hooks, stamp=stamp)
        self._taken = self._rejections.take()
        try:
            new = _write_rows(conn, jobs, state, self._taken)
        except _FanoutFailed as failed:
            # Undo everything (the hooks' writes included), then write the same rows again, fan-out deferred.
            if conn.in_transaction:  # (a hook's error may have ended it already: RAISE(ROLLBACK), some I/O errors)
                conn.execute("ROLLBACK")
            conn.execute("BEGIN IMMEDIATE")
            state = self._state = _BatchState(maxes=dict(self._maxes), hooks=self._hooks, stamp=stamp)
            state.deferred = type(failed.error).__name__
            new = _write_rows(conn, jobs, state, self._taken)
            state.log(
                logging.WARNING,
                "webhook fan-out deferred to the processor events=%d quarantined=%d error=%s",
                sum(new[i] for i, job in enumerate(jobs) if job.event is not None),
                sum(new[i] for i, job in enumerate(jobs) if job.quarantined is not None),
                state.deferred,
                exc_info=failed.error,
            )
        if state.deferred is not None:
            return [_NEW_DEFERRED if is_new else _NOT_NEW for is_new in new]
        return [_NEW if is_new else _NOT_NEW for is_new in new]

    def write_alone(self, conn: sqlite3.Connection, jobs: Sequence[_Job]) -> list[_Stored] | None:
        """The usual batch as ONE statement outside a transaction (SQLite commits it, durably, when it returns):
        new events only, each kind's unique_ids following on from its highest stored one without a gap, and no
        fan-out but the hooks the insert does itself (:attr:`FanoutHooks.on_insert`). ``None`` (nothing written)
        for any other batch (rejected-signature counts come with a job of their own: it needs a transaction), and
        when the insert meets a row another connection stored (a unique constraint: SQLite undid the statement)."""
        hooks = self._hooks
        if conn.in_transaction or any(hook not in hooks.on_insert for hook in hooks.events):
            return None
        first: dict[tuple[str, int], _Job] = {}
        for job in jobs:
            if job.event is None:
                return None
            first.setdefault((job.event.kind, job.event.unique_id), job)
        if len(first) > ROWS_PER_STATEMENT:
            return None
        maxes = dict(self._maxes)
        for kind, unique_id in sorted(first):
            top = maxes.get(kind)
            if top is not None and unique_id != top + 1:  # a redelivery, a late event or a gap: not the usual
                return None
            maxes[kind] = unique_id
        stamp = format_timestamp(self._clock())
        try:
            _insert_event_rows(conn, [(job, job.event) for job in first.values() if job.event is not None], stamp)
        except sqlite3.IntegrityError:
            return None
        self._state = _BatchState(maxes=maxes, hooks=hooks, stamp=stamp)
        self._taken = Counter()
        new = {id(job) for job in first.values()}
        return [_NEW if id(job) in new else _NOT_NEW for job in jobs]

    def committed(self) -> None:
        if self._state is not None:
            self._maxes = self._state.maxes
            for level, message, args, exc_info in self._state.lines:
                log.log(level, message, *args, exc_info=exc_info)
        self._state, self._taken = None, Counter()

    def rolled_back(self) -> None:
        self._rejections.restore(self._taken)
        self._state, self._taken = None, Counter()


def _write_rows(
    conn: sqlite3.Connection, jobs: Sequence[_Job], state: _BatchState, rejections: Counter[str]
) -> list[bool]:
    """The whole hot-path transaction of one batch: rows, fan-out, counters; for each job, whether it was new."""
    new_events = _insert_events(conn, jobs, state)
    results: list[bool] = []
    new_quarantined: dict[int, QuarantinedBody] = {}
    for job in jobs:
        if job.event is not None:
            results.append(id(job) in new_events)
        elif job.quarantined is not None:
            row_id = _insert_quarantined(conn, job.quarantined, state.stamp)
            results.append(row_id is not None)
            if row_id is not None:
                new_quarantined[row_id] = job.quarantined
        else:
            results.append(False)
    if new_events or new_quarantined:
        _fan_out(conn, state, list(new_events.values()), new_quarantined)
    if rejections:
        conn.executemany(
            "INSERT INTO webhook_rejections (hour, count) VALUES (?, ?) "
            "ON CONFLICT (hour) DO UPDATE SET count = count + excluded.count",
            list(rejections.items()),
        )
    return results


def _fan_out(
    conn: sqlite3.Connection,
    state: _BatchState,
    events: list[WebhookEvent],
    quarantined: dict[int, QuarantinedBody],
) -> None:
    """Run the hooks for the batch's new rows (:class:`_FanoutFailed` if one raises: the caller writes the batch
    again without them); when the batch is that second writing, leave its new rows unprocessed
    (``processed_at`` NULL) for the processor instead."""
    if state.deferred is None:
        try:
            state.hooks.run(conn, events, list(quarantined.values()), inserted=True)
        except Exception as exc:
            raise _FanoutFailed(exc) from exc
        return
    # (its events were inserted unprocessed: see _insert_events)
    conn.executemany(
        "UPDATE webhook_quarantine SET processed_at = NULL WHERE id = ?", [(row_id,) for row_id in quarantined]
    )


def _insert_events(conn: sqlite3.Connection, jobs: Sequence[_Job], state: _BatchState) -> dict[int, WebhookEvent]:
    """Insert the batch's new events, marked processed (the fan-out follows in the same transaction; unprocessed
    when the batch's fan-out was deferred, so that the on-insert hooks' triggers skip them). For each
    job whose event was new: its event, keyed by ``id(job)``, in arrival order.

    Within one batch the first delivery of a (kind, unique_id) wins; later copies are duplicates. Rows go in
    with multi-row statements (:mod:`bot.storage.multirow`), a few steps per batch rather than a few per event.
    unique_ids increase, so only an event at or below its kind's highest stored unique_id (a redelivery or a
    late event) is looked up first; the rest are new unless another connection wrote them, which the unique
    constraint catches (the statement is undone and its rows are looked up). The writer holds the write lock
    (``BEGIN IMMEDIATE``) throughout.
    """
    first: dict[tuple[str, int], tuple[_Job, WebhookEvent]] = {}
    for job in jobs:
        if job.event is not None:
            first.setdefault((job.event.kind, job.event.unique_id), (job, job.event))
    maxes = state.maxes
    doubtful = [key for key in first if (top := maxes.get(key[0])) is not None and key[1] <= top]
    stored = _already_stored(conn, doubtful)
    pending = [(key, job, event) for key, (job, event) in first.items() if key not in stored]
    new_jobs: dict[int, WebhookEvent] = {}
    written_elsewhere: list[WebhookEvent] = []  # above the known highest unique_id, yet stored: in the sequence
    while pending:
        chunk = pending[:ROWS_PER_STATEMENT]
        try:  # processed now (the fan-out follows), or left to the processor when it was deferred
            processed_at = state.stamp if state.deferred is None else None
            _insert_event_rows(conn, [(job, event) for _, job, event in chunk], processed_at)
        except sqlite3.IntegrityError:  # stored by someone else after all: undone, look them up
            stored = _already_stored(conn, [key for key, _, _ in pending])
            if not stored:
                raise  # not a duplicate: a real constraint failure (the batch is retried job by job)
            written_elsewhere += [event for key, _, event in pending if key in stored]
            pending = [item for item in pending if item[0] not in stored]
            continue
        new_jobs.update((id(job), event) for _, job, event in chunk)
        pending = pending[len(chunk) :]
    # In unique_id order: events of one batch that raced each other are not a gap opened and filled at once.
    for event in sorted([*new_jobs.values(), *written_elsewhere], key=lambda e: (e.kind, e.unique_id)):
        _track_sequence(conn, event, state)
    return new_jobs


def _insert_event_rows(
    conn: sqlite3.Connection, rows: Sequence[tuple[_Job, WebhookEvent]], processed_at: str | None
) -> None:
    params: list[object] = []
    for job, event in rows:
        amount = str(event.amount)
        params.extend(
            (
                event.kind,
                event.unique_id,
                event.username,
                amount,
                *_stored_units(amount),  # what the insert trigger would set (migration 0014): it then does nothing
                event.item_id,
                format_timestamp(event.received_at),
                job.remote,
                job.body,
                processed_at,
            )
        )
    conn.execute(_INSERT_EVENTS + row_marks("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", len(rows)), params)


def _already_stored(conn: sqlite3.Connection, keys: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
    """Which of these (kind, unique_id) are stored already (one indexed lookup each, one statement)."""
    found: set[tuple[str, int]] = set()
    for chunk in chunked(keys):
        rows = conn.execute(
            f"SELECT e.kind, e.unique_id FROM (VALUES {row_marks('(?, ?)', len(chunk))}) AS v "  # noqa: S608
            "JOIN webhook_events AS e ON e.kind = v.column1 AND e.unique_id = v.column2",
            [part for key in chunk for part in key],
        )
        found.update((str(row[0]), int(row[1])) for row in rows)
    return found


def _track_sequence(conn: sqlite3.Connection, event: WebhookEvent, state: _BatchState) -> None:
    """Record a gap when unique_id jumps ahead; shrink the gap a late (reordered) event fills."""
    previous = state.maxes.get(event.kind)
    uid = event.unique_id
    if previous is None or uid > previous:
        if previous is not None and uid > previous + 1:
            conn.execute(
                "INSERT OR IGNORE INTO webhook_gaps (kind, first_missing, last_missing, detected_at) "
                "VALUES (?, ?, ?, ?)",
                (event.kind, previous + 1, uid - 1, format_timestamp(event.received_at)),
            )
            state.log(
                logging.WARNING,
                "webhook sequence gap kind=%s first_missing=%d last_missing=%d",
                event.kind,
                previous + 1,
                uid - 1,
            )
        state.maxes[event.kind] = uid
        return
    row = conn.execute(
        "SELECT first_missing, last_missing, detected_at FROM webhook_gaps "
        "WHERE kind = ? AND first_missing <= ? AND last_missing >= ?",
        (event.kind, uid, uid),
    ).fetchone()
    if row is None:
        return
    first, last, detected = int(row[0]), int(row[1]), str(row[2])
    conn.execute("DELETE FROM webhook_gaps WHERE kind = ? AND first_missing = ?", (event.kind, first))
    for lo, hi in ((first, uid - 1), (uid + 1, last)):
        if lo <= hi:
            conn.execute(
                "INSERT INTO webhook_gaps (kind, first_missing, last_missing, detected_at) VALUES (?, ?, ?, ?)",
                (event.kind, lo, hi, detected),
            )
    state.log(logging.INFO, "webhook gap filled kind=%s unique_id=%d", event.kind, uid)


def _insert_quarantined(conn: sqlite3.Connection, item: QuarantinedBody, stamp: str) -> int | None:
    """Store a quarantined body once per content hash; its row id when it was new, else ``None``."""
    row = conn.execute(
        "INSERT INTO webhook_quarantine (body_sha256, body, reason, kind, remote, received_at, processed_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (body_sha256) DO UPDATE SET deliveries = deliveries + 1 "
        "RETURNING id, deliveries",
        (item.body_sha256, item.body, item.reason, item.kind, item.remote, format_timestamp(item.received_at), stamp),
    ).fetchone()
    return int(row[0]) if row is not None and int(row[1]) == 1 else None


class WebhookStore:
    """Events, quarantined bodies, gaps and rejected-signature counts; see the module docstring."""

    def __init__(
        self,
        db: Database,
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._db = db
        self._max_batch = max_batch
        self._clock = clock
        self.hooks = FanoutHooks()
        self._commit_listeners: list[Callable[[], None]] = []
        self._deferred_listeners: list[Callable[[], None]] = []
        self._writer: BatchWriter[_Job, _Stored] | None = None
        self._rejections = _RejectionCounts()
        self._closed = False

    # ----------------------------------------------------------------- lifecycle
    def add_events_hook(self, hook: EventsHook, *, on_insert: str | None = None) -> None:
        """Fan-out for NEW valid events (see :data:`EventsHook`); register before the first event arrives.

        ``on_insert``: the hook's work as ONE SQL statement over ``NEW`` (the inserted ``webhook_events`` row),
        run by a trigger on the ingest writer's connection for every event row it inserts with its fan-out (not
        for the rows of a batch whose fan-out was deferred: those are inserted unprocessed; registered before
        :meth:`start`). The ingest path then leaves ``hook`` out, and its usual batch is one statement outside a
        transaction (:meth:`_IngestHandler.write_alone`); ``hook`` still runs in the processor's retry, and must
        do the same as the statement (idempotently: the statement may have run already)."""
        if on_insert is not None:
            if self._writer is not None:
                raise RuntimeError("an on-insert hook must be registered before the store starts")
            self.hooks.on_insert[hook] = on_insert
        self.hooks.events.append(hook)

    def add_quarantine_hook(self, hook: QuarantineHook) -> None:
        self.hooks.quarantine.append(hook)

    def add_commit_listener(self, listener: Callable[[], None]) -> None:
        """Called (synchronously) after a commit that stored something new, e.g. ``dispatcher.wake``."""
        self._commit_listeners.append(listener)

    def add_deferred_listener(self, listener: Callable[[], None]) -> None:
        """Called after a commit whose fan-out failed and was deferred, e.g. ``processor.wake``."""
        self._deferred_listeners.append(listener)

    async def start(self) -> None:
        """Load each kind's highest unique_id (for gap detection), then start the writer thread."""
        maxes: dict[str, int | None] = {}
        for kind in EVENT_KINDS:
            row = await self._db.fetchone("SELECT max(unique_id) FROM webhook_events WHERE kind = ?", (kind,))
            maxes[kind] = None if row is None or row[0] is None else int(row[0])
        handler = _IngestHandler(self.hooks, self._rejections, maxes, self._clock)
        writer = BatchWriter(self._db.path, handler, max_batch=self._max_batch)
        await writer.start()
        statements = list(self.hooks.on_insert.values())

        def create_triggers(conn: sqlite3.Connection) -> None:  # TEMP: this connection's inserts only
            for number, statement in enumerate(statements):
                conn.execute(
                    f"CREATE TEMP TRIGGER webhook_events_on_insert_{number} AFTER INSERT ON main.webhook_events "
                    f"WHEN NEW.processed_at IS NOT NULL BEGIN {statement}; END"
                )

        if statements:
            try:
                await writer.run(create_triggers)
            except BaseException:
                await writer.close()
                raise
        self._writer = writer

    @property
    def running(self) -> bool:
        return not self._closed and self._writer is not None and self._writer.running

    @property
    def write_fault(self) -> str | None:
        """Why the writer's writes are failing (a full disk...), while they are (bot.storage.write_health)."""
        return None if self._writer is None else self._writer.health.problem

    async def close(self) -> None:
        """Commit what is queued, then stop the writer. Later writes raise :class:`StoreUnavailable`."""
        if self._closed:
            return
        self._closed = True
        writer = self._writer
        if writer is None:
            return
        if self._rejections and writer.running:
            writer.submit_nowait(_Job())
        await writer.close()

    # ----------------------------------------------------------------- writes
    async def add_event(self, event: WebhookEvent, *, body: str, remote: str | None) -> bool:
        """Commit ``event`` (durably) before returning; ``False`` when (kind, unique_id) was already stored."""
        return await self._submit(_Job(event=event, body=body, remote=remote))

    async def quarantine(self, item: QuarantinedBody) -> bool:
        """Store a signed but invalid body once (by content hash); ``True`` when it was new."""
        return await self._submit(_Job(quarantined=item))

    def note_rejected_signature(self) -> None:
        """Count a request refused for its signature (persisted with the next batch, never awaited)."""
        if self._rejections.add(_hour(self._clock())) and self.running and self._writer is not None:
            self._writer.submit_nowait(_Job())  # make sure a batch comes, even if no event does

    async def transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(conn)`` in a transaction of its own on the writer's thread, between two ingest batches (the
        event processor's retries). :class:`StoreUnavailable` when the store is not running."""
        if not self.running or self._writer is None:
            raise StoreUnavailable("webhook store is not running")
        try:
            return await self._writer.run(fn)
        except BatchWriterClosed as exc:
            raise StoreUnavailable("webhook store closed") from exc

    async def _submit(self, job: _Job) -> bool:
        if self._closed or self._writer is None:
            raise StoreUnavailable("webhook store is not running")
        try:
            stored = await self._writer.submit(job)
        except BatchWriterClosed as exc:
            raise StoreUnavailable("webhook store closed") from exc
        except Exception as exc:  # a database failure (logged by the writer): the sender retries
            raise StoreUnavailable("database write failed") from exc
        if stored.new:
            for listener in self._commit_listeners:
                listener()
        if stored.deferred:
            for listener in self._deferred_listeners:
                listener()
        return stored.new

    # ----------------------------------------------------------------- queries
    async def last_events(self) -> dict[EventKind, WebhookEvent]:
        """The event with the highest unique_id of each kind."""
        found: dict[EventKind, WebhookEvent] = {}
        for kind in EVENT_KINDS:
            row = await self._db.fetchone(
                f"SELECT {EVENT_COLUMNS} FROM webhook_events "  # noqa: S608 - fixed column list
                "WHERE kind = ? ORDER BY unique_id DESC LIMIT 1",
                (kind,),
            )
            if row is not None:
                found[kind] = event_from_row(row)
        return found

    async def event_counts_since(self, since: datetime) -> dict[str, int]:
        rows = await self._db.fetchall(
            "SELECT kind, count(*) FROM webhook_events WHERE received_at >= ? GROUP BY kind", (format_timestamp(since),)
        )
        counts: dict[str, int] = dict.fromkeys(EVENT_KINDS, 0)
        counts.update({str(r[0]): int(r[1]) for r in rows})
        return counts

    async def gaps(self) -> list[Gap]:
        rows = await self._db.fetchall(
            "SELECT kind, first_missing, last_missing, detected_at FROM webhook_gaps ORDER BY kind, first_missing"
        )
        return [Gap(str(r[0]), int(r[1]), int(r[2]), parse_timestamp(str(r[3]))) for r in rows]

    async def rejected_signatures_since(self, since: datetime) -> int:
        """Stored plus not yet stored counts, read on the writer's thread (between two batches) so that a
        batch committing them at the same moment is counted exactly once."""
        hour = _hour(since)
        sql = "SELECT coalesce(sum(count), 0) FROM webhook_rejections WHERE hour >= ?"

        def read(conn: sqlite3.Connection) -> int:
            row = conn.execute(sql, (hour,)).fetchone()
            return int(row[0]) + self._rejections.since(hour)

        try:
            return await self.transaction(read)
        except StoreUnavailable:  # stopped: nothing is being written any more
            row = await self._db.fetchone(sql, (hour,))
            return (int(row[0]) if row is not None else 0) + self._rejections.since(hour)

    async def quarantined_since(self, since: datetime) -> int:
        row = await self._db.fetchone(
            "SELECT count(*) FROM webhook_quarantine WHERE received_at >= ?", (format_timestamp(since),)
        )
        return int(row[0]) if row is not None else 0

    async def quarantined_total(self) -> int:
        row = await self._db.fetchone("SELECT count(*) FROM webhook_quarantine")
        return int(row[0]) if row is not None else 0

    async def fanout_counts(self) -> tuple[int, int]:
        """(events and quarantined bodies waiting for fan-out, those whose fan-out was given up)."""
        waiting = failed = 0
        for table in ("webhook_events", "webhook_quarantine"):
            row = await self._db.fetchone(
                "SELECT count(*) FILTER (WHERE processed_at IS NULL AND fanout_failed_at IS NULL), "  # noqa: S608
                f"count(*) FILTER (WHERE fanout_failed_at IS NOT NULL) FROM {table} WHERE processed_at IS NULL"
            )
            if row is not None:
                waiting += int(row[0])
                failed += int(row[1])
        return waiting, failed

    def now(self) -> datetime:
        return self._clock()

    def day_ago(self) -> datetime:
        return self._clock() - timedelta(hours=24)
