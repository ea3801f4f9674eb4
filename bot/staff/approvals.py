"""Two-person approval of large transfers, persisted so a restart loses nothing.

A transfer above ``TRANSFER_APPROVAL_THRESHOLD`` becomes a pending approval with an expiry. Another staff
member approves it with a button in the audit channel; :meth:`ApprovalStore.claim` is the one atomic
``pending → approved`` transition, so two approvers (or a double click) start the transfer once. The
requester can never approve their own transfer; an expired approval can no longer be approved.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

import aiosqlite

from bot.i18n import t
from bot.i18n.said import Said
from bot.staff.errors import ApprovalRefused
from bot.staff.limits import Clock, utc_now
from bot.staff.models import from_iso, to_iso
from bot.storage import Database

log = logging.getLogger(__name__)

DEFAULT_APPROVAL_TTL = timedelta(hours=1)


class ApprovalStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Approval:
    id: int
    created_at: datetime
    expires_at: datetime
    guild_id: int | None
    requested_by: int
    username: str
    amount: Decimal
    status: ApprovalStatus
    decided_by: int | None
    decided_at: datetime | None
    operation_id: int | None
    channel_id: int | None
    message_id: int | None

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> Approval:
        return cls(
            id=int(row["id"]),
            created_at=from_iso(row["created_at"]),
            expires_at=from_iso(row["expires_at"]),
            guild_id=row["guild_id"],
            requested_by=int(row["requested_by"]),
            username=str(row["username"]),
            amount=Decimal(row["amount_nle"]),
            status=ApprovalStatus(row["status"]),
            decided_by=row["decided_by"],
            decided_at=from_iso(row["decided_at"]) if row["decided_at"] else None,
            operation_id=row["operation_id"],
            channel_id=row["channel_id"],
            message_id=row["message_id"],
        )


class ApprovalStore:
    """The ``staff_approvals`` table."""

    def __init__(self, db: Database, *, ttl: timedelta = DEFAULT_APPROVAL_TTL, clock: Clock = utc_now) -> None:
        self._db = db
        self.ttl = ttl
        self._clock = clock

    async def create(self, *, requested_by: int, guild_id: int | None, username: str, amount: Decimal) -> Approval:
        now = self._clock()
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO staff_approvals (created_at, expires_at, guild_id, requested_by, username, amount_nle)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (to_iso(now), to_iso(now + self.ttl), guild_id, requested_by, username, str(amount)),
            )
            approval_id = cursor.lastrowid
        log.info(
            "approval created id=%s requested_by=%s username=%s amount=%s", approval_id, requested_by, username, amount
        )
        approval = await self.get(int(approval_id or 0))
        if approval is None:  # pragma: no cover - just inserted
            raise RuntimeError("approval vanished")
        return approval

    async def get(self, approval_id: int) -> Approval | None:
        row = await self._db.fetchone("SELECT * FROM staff_approvals WHERE id = ?", (approval_id,))
        return None if row is None else Approval.from_row(row)

    async def attach_message(self, approval_id: int, *, channel_id: int, message_id: int) -> Approval | None:
        """Record where the approval's message is; returns the approval as it is now (a sweep may already have
        expired it while the message was being posted: the caller then marks the message at once)."""
        await self._db.execute(
            "UPDATE staff_approvals SET channel_id = ?, message_id = ? WHERE id = ?",
            (channel_id, message_id, approval_id),
        )
        return await self.get(approval_id)

    async def set_operation(self, approval_id: int, operation_id: int) -> None:
        await self._db.execute("UPDATE staff_approvals SET operation_id = ? WHERE id = ?", (operation_id, approval_id))

    async def claim(self, approval_id: int, approver_id: int) -> Approval:
        """Atomically approve a pending, unexpired approval by someone other than the requester.

        Raises :class:`ApprovalRefused` (with the reason) otherwise; an approval found past its expiry is
        marked expired on the way.
        """
        return await self._decide(approval_id, approver_id, ApprovalStatus.APPROVED)

    async def deny(self, approval_id: int, decider_id: int) -> Approval:
        """Atomically deny a pending, unexpired approval; the requester may withdraw their own request.

        Raises :class:`ApprovalRefused` as :meth:`claim` does. Nothing is sent for a denied approval.
        """
        return await self._decide(approval_id, decider_id, ApprovalStatus.DENIED)

    async def _decide(self, approval_id: int, decider_id: int, decision: ApprovalStatus) -> Approval:
        now = self._clock()
        refusal: Said | None = None
        async with self._db.transaction() as conn:
            async with conn.execute("SELECT * FROM staff_approvals WHERE id = ?", (approval_id,)) as cursor:
                row = await cursor.fetchone()
            if row is None:
                raise ApprovalRefused.said_as(Said("approval.refused.missing", {"id": approval_id}))
            approval = Approval.from_row(row)
            if approval.status is not ApprovalStatus.PENDING:
                status = _status_said(approval.status)
                refusal = (
                    Said(
                        "approval.refused.decided_by",
                        {"id": approval_id, "status": status, "mention": f"<@{approval.decided_by}>"},
                    )
                    if approval.decided_by
                    else Said("approval.refused.decided", {"id": approval_id, "status": status})
                )
            elif now >= approval.expires_at:
                await conn.execute(
                    "UPDATE staff_approvals SET status = 'expired', decided_at = ? WHERE id = ?",
                    (to_iso(now), approval_id),
                )
                refusal = Said("approval.refused.expired", {"id": approval_id})
            elif decision is ApprovalStatus.APPROVED and decider_id == approval.requested_by:
                refusal = Said("approval.refused.own")
            else:
                await conn.execute(
                    "UPDATE staff_approvals SET status = ?, decided_by = ?, decided_at = ? "
                    "WHERE id = ? AND status = 'pending'",
                    (decision.value, decider_id, to_iso(now), approval_id),
                )
        if refusal is not None:
            raise ApprovalRefused.said_as(refusal)
        decided = await self.get(approval_id)
        if decided is None:  # pragma: no cover - just updated
            raise RuntimeError("approval vanished")
        log.info("approval %s id=%s by=%s", decision.value, approval_id, decider_id)
        return decided

    async def expire_due(self) -> list[Approval]:
        """Mark every pending approval past its expiry as expired; return them."""
        now = to_iso(self._clock())
        async with self._db.transaction() as conn:
            async with conn.execute(
                "SELECT * FROM staff_approvals WHERE status = 'pending' AND expires_at <= ?", (now,)
            ) as cursor:
                rows = list(await cursor.fetchall())
            await conn.execute(
                "UPDATE staff_approvals SET status = 'expired', decided_at = ? "
                "WHERE status = 'pending' AND expires_at <= ?",
                (now, now),
            )
        expired = [Approval.from_row(r) for r in rows]
        for approval in expired:
            log.info("approval expired id=%s requested_by=%s", approval.id, approval.requested_by)
        return [replace(a, status=ApprovalStatus.EXPIRED) for a in expired]

    async def list_pending(self) -> list[Approval]:
        rows = await self._db.fetchall("SELECT * FROM staff_approvals WHERE status = 'pending' ORDER BY id")
        return [Approval.from_row(r) for r in rows]


def _status_said(status: ApprovalStatus) -> Callable[[str], str]:
    return lambda locale: t(locale, f"approval.status.{status.value}")
