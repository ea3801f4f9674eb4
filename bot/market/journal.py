"""The spending journal: every mutating Market API call is committed before it is sent.

Flow of one operation (``execute`` = ``create`` + ``run``):

1. ``create`` validates the parameters, takes a new request id and COMMITS a ``pending`` row;
2. ``run`` records each attempt (``attempts`` + 1, committed) and then sends ONE request with the
   operation's own request id;
3. the outcome is recorded: ``succeeded``; ``failed`` with the API's text; or, when network errors,
   timeouts, 5xx, 429 or malformed answers exhaust the retries, ``unknown`` (run it again later: it is safe).

``Invalid id.`` after an earlier attempt means that attempt went through: the operation is recorded as
``succeeded`` with ``confirmed_on_retry``. On a first attempt it is a plain failure. Operations still
``pending`` or ``unknown`` at start-up (crash, kill, power loss) are re-driven by
:meth:`SpendingJournal.redrive_pending` with their own id; while the bot runs, ``unknown`` ones are sent
again periodically (:meth:`SpendingJournal.recheck_unknown`). A per-operation lock plus a status check make
concurrent runs send once.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiosqlite

from bot.market.client import MarketClient
from bot.market.errors import (
    MarketError,
    MarketProtocolError,
    MarketUnavailable,
    MarketValidationError,
)
from bot.market.models import quantize_money
from bot.market.request_ids import RequestIdFactory
from bot.market.retry import RetryPolicy
from bot.market.validation import SPENDING_METHODS, normalize_spending_params, validate_request_id
from bot.storage import Database
from bot.storage.timestamps import format_timestamp, parse_timestamp

log = logging.getLogger(__name__)

CONFIRMED_ON_RETRY = "confirmed on retry"


class OperationStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"
    """Retries exhausted without a definite answer; running it again with the same id is safe."""


_SPENDING_STATUSES = (OperationStatus.PENDING, OperationStatus.SUCCEEDED, OperationStatus.UNKNOWN)


@dataclass(frozen=True, slots=True)
class Operation:
    """One row of ``operations``."""

    id: int
    request_id: str
    method: str
    params: dict[str, Any]
    requested_by: int | None
    guild_id: int | None
    created_at: datetime
    updated_at: datetime
    status: OperationStatus
    attempts: int
    result: str | None
    """The API's success answer (JSON text), or ``"confirmed on retry"``."""
    error: str | None
    """The API's error text (failed) or the last transport problem (pending/unknown)."""
    confirmed_on_retry: bool
    amount_nle: Decimal | None

    @property
    def username(self) -> str | None:
        value = self.params.get("username")
        return value if isinstance(value, str) else None

    @property
    def resolved(self) -> bool:
        return self.status in (OperationStatus.SUCCEEDED, OperationStatus.FAILED)


def _row_to_operation(row: aiosqlite.Row) -> Operation:
    return Operation(
        id=int(row["id"]),
        request_id=str(row["request_id"]),
        method=str(row["method"]),
        params=json.loads(row["params"]),
        requested_by=row["requested_by"],
        guild_id=row["guild_id"],
        created_at=parse_timestamp(row["created_at"]),
        updated_at=parse_timestamp(row["updated_at"]),
        status=OperationStatus(row["status"]),
        attempts=int(row["attempts"]),
        result=row["result"],
        error=row["error"],
        confirmed_on_retry=bool(row["confirmed_on_retry"]),
        amount_nle=Decimal(row["amount_nle"]) if row["amount_nle"] is not None else None,
    )


class OperationNotFound(LookupError):
    """No operation with that id."""


class SpendingJournal:
    """The ``operations`` repository and the executor that journals, then sends, then records."""

    def __init__(
        self,
        db: Database,
        client: MarketClient,
        *,
        id_factory: RequestIdFactory,
        retry: RetryPolicy | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._db = db
        self._client = client
        self._ids = id_factory
        self.retry = retry or RetryPolicy(attempts=5, base_delay=1.0, max_delay=30.0)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._locks: dict[int, asyncio.Lock] = {}
        # Set while no start-up recovery is running; new operations wait for it (see redrive_pending).
        self._recovered = asyncio.Event()
        self._recovered.set()

    # ------------------------------------------------------------------ writing
    async def create(
        self,
        method: str,
        params: Mapping[str, object],
        *,
        requested_by: int | None,
        amount_nle: Decimal | None,
        guild_id: int | None = None,
        request_id: str | None = None,
    ) -> Operation:
        """Validate, take a new request id and commit a ``pending`` row; nothing is sent yet.

        ``amount_nle`` is what the operation spends (plan price, item price); for ``transfer-money`` it
        defaults to the amount. ``request_id`` (orders: derived from the order) replaces the factory's new
        id; it must be unused in this journal. Raises :class:`MarketValidationError` for bad parameters.
        """
        normalized = normalize_spending_params(method, params)
        await self._recovered.wait()
        if amount_nle is None and method == "transfer-money":
            amount_nle = Decimal(str(normalized["amount"]))
        if amount_nle is not None:
            if not isinstance(amount_nle, Decimal) or not amount_nle.is_finite() or amount_nle < 0:
                raise MarketValidationError("amount_nle", "must be a non-negative Decimal")
            amount_nle = quantize_money(amount_nle)
        request_id = self._ids.next() if request_id is None else validate_request_id(request_id)
        now = format_timestamp(self._clock())
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO operations (request_id, method, params, username, requested_by, guild_id,"
                " amount_nle, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                (
                    request_id,
                    method,
                    json.dumps(normalized, sort_keys=True),
                    normalized["username"],
                    requested_by,
                    guild_id,
                    str(amount_nle) if amount_nle is not None else None,
                    now,
                    now,
                ),
            )
            op_id = cursor.lastrowid
        if op_id is None:  # pragma: no cover - SQLite always reports it after an INSERT
            raise RuntimeError("no row id after INSERT")  # pragma: no mutate
        # pragma: no mutate start
        log.info(
            "journal operation created op_id=%d request_id=%s method=%s requested_by=%s amount_nle=%s",
            op_id,
            request_id,
            method,
            requested_by,
            amount_nle,
        )
        # pragma: no mutate end
        return await self.get(op_id)

    async def execute(
        self,
        method: str,
        params: Mapping[str, object],
        *,
        requested_by: int | None,
        amount_nle: Decimal | None,
        guild_id: int | None = None,
    ) -> Operation:
        """``create`` then ``run``: the final state of the operation."""
        operation = await self.create(
            method, params, requested_by=requested_by, amount_nle=amount_nle, guild_id=guild_id
        )
        return await self.run(operation)

    async def run(self, operation: int | Operation, *, attempts: int | None = None) -> Operation:
        """Send (and retry) a pending or unknown operation with its own id; record and return the outcome.

        ``attempts`` caps the attempts of this run (default: the retry policy's; at least 1). A resolved
        operation is returned as it is. Concurrent runs of one operation send once.
        """
        if attempts is not None and attempts < 1:
            raise ValueError("attempts must be at least 1")
        op_id = operation.id if isinstance(operation, Operation) else operation
        lock = self._locks.setdefault(op_id, asyncio.Lock())
        try:
            async with lock:
                current = await self.get(op_id)
                final = current if current.resolved else await self._drive(current, attempts or self.retry.attempts)
        except OperationNotFound:
            self._locks.pop(op_id, None)
            raise
        if final.resolved:  # an unresolved one keeps its lock: a concurrent run may still be waiting on it
            self._locks.pop(op_id, None)
        return final

    def begin_recovery(self) -> None:
        """Hold new operations (``create`` waits) until :meth:`redrive_pending` has finished.

        Call it synchronously before scheduling ``redrive_pending`` in the background, so that no new
        operation can slip in between start-up and the recovery task's first step.
        """
        self._recovered.clear()

    async def redrive_pending(self) -> list[Operation]:
        """Re-send every operation left ``pending`` (crash, kill) or ``unknown``, oldest first, with its own id.

        New operations wait until this has finished, so nothing new is sent before the outcome of what an
        earlier run left open is known (or, if Neverlose is still unreachable, recorded as ``unknown``).
        """
        self._recovered.clear()
        try:
            rows = await self._db.fetchall(
                "SELECT id FROM operations WHERE status IN ('pending', 'unknown') ORDER BY id"
            )
            if rows:
                log.warning("journal re-driving unresolved operations count=%d", len(rows))  # pragma: no mutate
            return [await self.run(int(row["id"])) for row in rows]
        finally:
            self._recovered.set()

    async def recheck_unknown(self, *, quiet_for: timedelta, limit: int = 20) -> list[Operation]:
        """Send once more, each with its own id and ONE attempt, the ``unknown`` operations that nothing
        touched for ``quiet_for`` (oldest first, at most ``limit``); each as it is now.

        The periodic re-check (:mod:`bot.market.recheck`): an outage that outlasted an operation's retries
        need not wait for a restart or a staff retry. Unlike start-up recovery it holds nothing up; a staff
        retry of the same operation at the same moment still sends once (per-operation lock).
        """
        cutoff = format_timestamp(self._clock() - quiet_for)
        rows = await self._db.fetchall(
            "SELECT id FROM operations WHERE status = 'unknown' AND updated_at <= ? ORDER BY id LIMIT ?",
            (cutoff, limit),
        )
        return [await self.run(int(row["id"]), attempts=1) for row in rows]

    @property
    def recovering(self) -> bool:
        return not self._recovered.is_set()

    async def _drive(self, op: Operation, attempts: int) -> Operation:
        """Up to ``attempts`` (>= 1) sends of ``op``, each committed first; the outcome, recorded."""
        earlier_attempts = op.attempts
        for number in range(1, attempts + 1):
            attempt = earlier_attempts + 1
            await self._update(op.id, attempts=attempt)
            try:
                answer = await self._client.send_spending(op.method, op.params, request_id=op.request_id)
            except MarketError as exc:
                if exc.is_invalid_id and earlier_attempts > 0:
                    # pragma: no mutate start
                    log.info("journal confirmed on retry op_id=%d request_id=%s", op.id, op.request_id)
                    # pragma: no mutate end
                    return await self._finish(op, OperationStatus.SUCCEEDED, result=CONFIRMED_ON_RETRY, confirmed=True)
                return await self._finish(op, OperationStatus.FAILED, error=exc.text)
            except MarketValidationError as exc:
                return await self._finish(op, OperationStatus.FAILED, error=str(exc))
            except (MarketUnavailable, MarketProtocolError) as exc:
                problem = str(exc)
                if number < attempts:
                    earlier_attempts = attempt
                    await self._update(op.id, error=problem)
                    retry_after = exc.retry_after if isinstance(exc, MarketUnavailable) else None
                    waited = await self.retry.wait(number, retry_after)
                    # pragma: no mutate start
                    log.warning(
                        "journal retry op_id=%d request_id=%s attempt=%d problem=%r waited_s=%.3f",
                        op.id,
                        op.request_id,
                        attempt,
                        problem,
                        waited,
                    )
                    # pragma: no mutate end
                    continue
                return await self._finish(op, OperationStatus.UNKNOWN, error=problem)
            return await self._finish(op, OperationStatus.SUCCEEDED, result=json.dumps(answer, default=str))
        raise AssertionError("unreachable: attempts >= 1")  # pragma: no cover  # pragma: no mutate

    async def _update(self, op_id: int, *, attempts: int | None = None, error: str | None = None) -> None:
        sets = ["updated_at = ?"]
        values: list[object] = [format_timestamp(self._clock())]
        if attempts is not None:
            sets.append("attempts = ?")
            values.append(attempts)
        if error is not None:
            sets.append("error = ?")
            values.append(error)
        await self._db.execute(f"UPDATE operations SET {', '.join(sets)} WHERE id = ?", (*values, op_id))  # noqa: S608

    async def _finish(
        self,
        op: Operation,
        status: OperationStatus,
        *,
        result: str | None = None,
        error: str | None = None,
        confirmed: bool = False,
    ) -> Operation:
        await self._db.execute(
            "UPDATE operations SET status = ?, result = ?, error = ?, confirmed_on_retry = ?, updated_at = ?"
            " WHERE id = ?",
            (status.value, result, error, int(confirmed), format_timestamp(self._clock()), op.id),
        )
        final = await self.get(op.id)
        # pragma: no mutate start
        log.info(
            "journal operation finished op_id=%d request_id=%s method=%s status=%s attempts=%d"
            " confirmed_on_retry=%s error=%r",
            final.id,
            final.request_id,
            final.method,
            final.status,
            final.attempts,
            final.confirmed_on_retry,
            final.error,
        )
        # pragma: no mutate end
        return final

    # ------------------------------------------------------------------ reading
    async def get(self, op_id: int) -> Operation:
        row = await self._db.fetchone("SELECT * FROM operations WHERE id = ?", (op_id,))
        if row is None:
            raise OperationNotFound(f"no operation {op_id}")
        return _row_to_operation(row)

    async def get_by_request_id(self, request_id: str) -> Operation | None:
        row = await self._db.fetchone("SELECT * FROM operations WHERE request_id = ?", (request_id,))
        return _row_to_operation(row) if row is not None else None

    async def list_unresolved(self) -> list[Operation]:
        """Operations ``pending`` or ``unknown``, oldest first."""
        rows = await self._db.fetchall("SELECT * FROM operations WHERE status IN ('pending', 'unknown') ORDER BY id")
        return [_row_to_operation(row) for row in rows]

    async def list_recent(
        self,
        *,
        requested_by: int | None = None,
        username: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[Operation]:
        """Newest first, optionally filtered by requester, recipient (case-insensitive) and time."""
        clauses: list[str] = []
        values: list[object] = []
        if requested_by is not None:
            clauses.append("requested_by = ?")
            values.append(requested_by)
        if username is not None:
            clauses.append("username = ? COLLATE NOCASE")
            values.append(username.strip())
        if since is not None:
            clauses.append("created_at >= ?")
            values.append(format_timestamp(since))
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT * FROM operations{where} ORDER BY created_at DESC, id DESC"  # noqa: S608
        if limit is not None:
            sql += " LIMIT ?"
            values.append(max(0, limit))
        rows = await self._db.fetchall(sql, values)
        return [_row_to_operation(row) for row in rows]

    async def spent_since(self, requested_by: int, since: datetime) -> Decimal:
        """NLE committed by ``requested_by`` since ``since``: succeeded, pending and unknown operations."""
        return spent_total(await self._db.fetchall(SPENT_SQL, spent_params(requested_by, since)))


SPENT_SQL = (
    "SELECT amount_nle FROM operations WHERE requested_by = ? AND created_at >= ?"
    " AND amount_nle IS NOT NULL AND status IN (?, ?, ?)"
)
"""The operations :meth:`SpendingJournal.spent_since` adds up (with :func:`spent_params`), for a reader that must
read them in the same transaction as other rows (``bot.orders.staff_spending``)."""


def spent_params(requested_by: int, since: datetime) -> tuple[object, ...]:
    return (requested_by, format_timestamp(since), *(s.value for s in _SPENDING_STATUSES))


def spent_total(rows: Iterable[Sequence[Any]]) -> Decimal:
    """The sum of :data:`SPENT_SQL`'s rows (their ``amount_nle``), to the cent."""
    return quantize_money(sum((Decimal(row[0]) for row in rows), Decimal("0")))


__all__ = [
    "CONFIRMED_ON_RETRY",
    "SPENDING_METHODS",
    "Operation",
    "OperationNotFound",
    "OperationStatus",
    "SpendingJournal",
]
