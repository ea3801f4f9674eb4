"""The audit trail: every spending action, its outcome and every refusal of a spending command.

Each record is stored in ``staff_audit`` and, when an audit channel is configured (``AUDIT_CHANNEL_ID`` or
``/setup``), queued for the ``channel:audit`` target of the notifications outbox *in the same transaction*,
so an audit channel outage (or a crash) loses nothing. ``/audit`` reads selections back, pages them and
exports them as CSV.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import aiosqlite

from bot.i18n import DEFAULT_LOCALE
from bot.notifications.targets import AUDIT_TARGET
from bot.staff.limits import Clock, utc_now
from bot.staff.models import AuditEntry, AuditEvent, AuditRecord, from_iso, to_iso
from bot.staff.rendering import audit_embed
from bot.storage import Database

log = logging.getLogger(__name__)

CSV_COLUMNS = (
    "id",
    "created_at",
    "guild_id",
    "staff_id",
    "action",
    "event",
    "username",
    "item_code",
    "detail",
    "amount_nle",
    "request_id",
    "operation_id",
    "result",
)


class OutboxWriter(Protocol):
    """The part of ``bot.notifications`` the audit log needs (``Outbox.enqueue``)."""

    async def enqueue(
        self,
        conn: aiosqlite.Connection,
        *,
        target: str,
        embeds: list[dict[str, Any]],
        content: str | None = None,
        dedupe_key: str,
    ) -> bool: ...


AuditChannel = Callable[[], Awaitable[int | None]]


@dataclass(frozen=True, slots=True)
class AuditQuery:
    staff_id: int | None = None
    username: str | None = None
    since: datetime | None = None
    limit: int = 1000


@dataclass(frozen=True, slots=True)
class Page:
    records: Sequence[AuditRecord]
    number: int
    count: int
    total: int


def paginate(records: Sequence[AuditRecord], number: int, *, per_page: int = 10) -> Page:
    """Page ``number`` (0-based, clamped into range) of ``records``."""
    count = max(1, -(-len(records) // per_page))
    number = min(max(number, 0), count - 1)
    return Page(records[number * per_page : (number + 1) * per_page], number, count, len(records))


def to_csv(records: Sequence[AuditRecord]) -> bytes:
    """The whole selection as CSV (UTF-8 with BOM so spreadsheets detect the encoding)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in records:
        e = r.entry
        writer.writerow(
            [
                r.id,
                to_iso(r.created_at),
                e.guild_id or "",
                e.staff_id,
                e.action,
                e.event.value,
                spreadsheet_cell(e.username or ""),
                spreadsheet_cell(e.item_code or ""),
                spreadsheet_cell(e.detail),
                "" if e.amount_nle is None else f"{e.amount_nle:.2f}",
                e.request_id or "",
                e.operation_id or "",
                spreadsheet_cell(e.result),
            ]
        )
    return buffer.getvalue().encode("utf-8-sig")


def spreadsheet_cell(text: str) -> str:
    """Neutralise spreadsheet formulas in free text (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _record(row: aiosqlite.Row) -> AuditRecord:
    entry = AuditEntry(
        action=row["action"],
        event=AuditEvent(row["event"]),
        staff_id=int(row["staff_id"]),
        guild_id=row["guild_id"],
        username=row["username"],
        item_code=row["item_code"],
        detail=row["detail"],
        amount_nle=None if row["amount_nle"] is None else Decimal(row["amount_nle"]),
        request_id=row["request_id"],
        operation_id=row["operation_id"],
        result=row["result"],
    )
    return AuditRecord(int(row["id"]), from_iso(row["created_at"]), entry)


class AuditLog:
    """Stores audit records and queues their embeds for the audit channel."""

    def __init__(
        self,
        db: Database,
        *,
        outbox: OutboxWriter | None = None,
        audit_channel: AuditChannel | None = None,
        wake: Callable[[], None] | None = None,
        clock: Clock = utc_now,
        locale: Callable[[], str] = lambda: DEFAULT_LOCALE,
    ) -> None:
        self._db = db
        self._locale = locale  # the audit channel's language
        self._outbox = outbox
        self._audit_channel = audit_channel
        self._wake = wake
        self._clock = clock

    async def record(self, entry: AuditEntry) -> AuditRecord:
        """Store ``entry``; when an audit channel is set, queue its embed in the same transaction."""
        post = self._outbox is not None and self._audit_channel is not None and await self._audit_channel() is not None
        now = self._clock()
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO staff_audit (created_at, guild_id, staff_id, action, event, username, item_code,"
                " detail, amount_nle, request_id, operation_id, result) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    to_iso(now),
                    entry.guild_id,
                    entry.staff_id,
                    entry.action,
                    entry.event.value,
                    entry.username,
                    entry.item_code,
                    entry.detail,
                    None if entry.amount_nle is None else str(entry.amount_nle),
                    entry.request_id,
                    entry.operation_id,
                    entry.result,
                ),
            )
            record = AuditRecord(int(cursor.lastrowid or 0), from_iso(to_iso(now)), entry)
            if post and self._outbox is not None:
                await self._outbox.enqueue(
                    conn,
                    target=AUDIT_TARGET,
                    embeds=[audit_embed(record, self._locale()).to_dict()],  # type: ignore[list-item]
                    dedupe_key=f"staff-audit:{record.id}",
                )
        log.info(
            "audit id=%d action=%s event=%s staff=%s username=%s request_id=%s",
            record.id,
            entry.action,
            entry.event.value,
            entry.staff_id,
            entry.username,
            entry.request_id,
        )
        if post and self._wake is not None:
            self._wake()
        return record

    async def query(self, query: AuditQuery) -> list[AuditRecord]:
        """Newest first: records matching every given filter."""
        clauses: list[str] = []
        params: list[object] = []
        if query.staff_id is not None:
            clauses.append("staff_id = ?")
            params.append(query.staff_id)
        if query.username is not None:
            clauses.append("username = ? COLLATE NOCASE")
            params.append(query.username)
        if query.since is not None:
            clauses.append("created_at >= ?")
            params.append(to_iso(query.since))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = await self._db.fetchall(
            f"SELECT * FROM staff_audit {where} ORDER BY id DESC LIMIT ?",  # noqa: S608 - fixed clauses only
            (*params, query.limit),
        )
        return [_record(r) for r in rows]

    async def recent_usernames(self, prefix: str = "", *, limit: int = 25) -> list[str]:
        """Recipients used recently, newest first (autocomplete)."""
        return await self._recent("username", prefix, limit)

    async def recent_item_codes(self, prefix: str = "", *, limit: int = 25) -> list[str]:
        return await self._recent("item_code", prefix, limit)

    async def _recent(self, column: str, prefix: str, limit: int) -> list[str]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = await self._db.fetchall(
            f"SELECT {column} AS value FROM staff_audit WHERE {column} IS NOT NULL "  # noqa: S608 - fixed column
            f"AND {column} LIKE ? ESCAPE '\\' GROUP BY {column} ORDER BY MAX(id) DESC LIMIT ?",
            (escaped + "%", limit),
        )
        return [str(r["value"]) for r in rows]
