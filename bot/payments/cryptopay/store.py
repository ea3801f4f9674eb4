"""Durable state of the Crypto Pay method: the invoice of each order and every paid update seen.

- :meth:`CryptoPayStore.begin_create` commits the intent (state ``creating``) BEFORE ``createInvoice`` is sent;
  :meth:`set_active` records the invoice once Crypto Pay answered; :meth:`forget_failed` removes an intent
  Crypto Pay refused (no invoice exists).
- :meth:`record_paid` is the one way a payment enters: in ONE transaction it stores the update once per
  invoice (the dedupe key ``invoice:<id>``: webhooks and polls of the same invoice are one event, whatever the
  ``update_id``), matches it (:mod:`.matching`), moves the invoice row to ``paid`` and, for a late or
  quarantined one, queues the audit-channel alert. Only after that commit does the webhook answer 200.
- :meth:`record_unusable` stores a signed body the bot cannot read (quarantine, audit alert), once per body.
- The order is confirmed afterwards (:mod:`.provider`); rows ``paid`` without ``confirmed_at`` are re-driven,
  so a crash between the 200 and the order's confirmation loses nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

import aiosqlite

from bot.notifications.embeds import alert_embed
from bot.notifications.outbox import Outbox
from bot.notifications.targets import AUDIT_TARGET
from bot.payments.cryptopay.matching import Match, RowState, StoredInvoice, Verdict, match_paid_invoice
from bot.payments.cryptopay.models import Invoice
from bot.storage import Database
from bot.storage.timestamps import format_timestamp, parse_timestamp

log = logging.getLogger(__name__)

Source = Literal["webhook", "poll"]
_EXCERPT = 700
_COLUMNS = "order_id, invoice_id, state, amount, fiat, pay_url, late, confirmed_at, updated_at, payer_details"


def _row(row: aiosqlite.Row) -> StoredInvoice:
    return StoredInvoice(
        order_id=str(row["order_id"]),
        invoice_id=None if row["invoice_id"] is None else int(row["invoice_id"]),
        state=RowState(row["state"]),
        amount=Decimal(str(row["amount"])),
        fiat=str(row["fiat"]),
        pay_url=None if row["pay_url"] is None else str(row["pay_url"]),
        late=bool(row["late"]),
        confirmed=row["confirmed_at"] is not None,
        updated_at=parse_timestamp(str(row["updated_at"])),
        details=_details(row["payer_details"]),
    )


def _details(stored: str | None) -> dict[str, str]:
    if stored is None:
        return {}
    return {str(k): str(v) for k, v in json.loads(stored).items()}


@dataclass(frozen=True, slots=True)
class Recorded:
    """The outcome of :meth:`CryptoPayStore.record_paid`."""

    verdict: Verdict
    order_id: str | None
    reason: str | None = None


class CryptoPayStore:
    """Repository over ``cryptopay_invoices`` and ``cryptopay_updates``."""

    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        wake: Callable[[], None] | None = None,
    ) -> None:
        self._db = db
        self._outbox = outbox
        self._clock = clock
        self._wake = wake  # the notifications dispatcher: an alert was queued

    def _alerted(self) -> None:
        if self._wake is not None:
            self._wake()

    # ----------------------------------------------------------------- invoices
    async def get(self, order_id: str) -> StoredInvoice | None:
        row = await self._db.fetchone(f"SELECT {_COLUMNS} FROM cryptopay_invoices WHERE order_id = ?", (order_id,))  # noqa: S608
        return None if row is None else _row(row)

    async def by_state(self, *states: RowState, limit: int = 1000) -> list[StoredInvoice]:
        marks = ",".join("?" * len(states))
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM cryptopay_invoices WHERE state IN ({marks}) ORDER BY created_at LIMIT ?",  # noqa: S608
            (*(s.value for s in states), limit),
        )
        return [_row(row) for row in rows]

    async def withdrawn_since(self, since: datetime, limit: int = 1000) -> list[StoredInvoice]:
        """Invoices expired or cancelled since ``since`` (their late payments are still looked for)."""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM cryptopay_invoices WHERE state IN ('expired', 'cancelled') "  # noqa: S608
            "AND invoice_id IS NOT NULL AND updated_at >= ? ORDER BY updated_at LIMIT ?",
            (format_timestamp(since), limit),
        )
        return [_row(row) for row in rows]

    async def unconfirmed(self, limit: int = 1000) -> list[StoredInvoice]:
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM cryptopay_invoices WHERE state = 'paid' AND confirmed_at IS NULL "  # noqa: S608
            "ORDER BY paid_at LIMIT ?",
            (limit,),
        )
        return [_row(row) for row in rows]

    async def begin_create(self, order_id: str, amount: Decimal, fiat: str) -> None:
        """Commit the intent to create the order's invoice (a new row, or a fresh attempt of one whose
        previous invoice is gone)."""
        now = format_timestamp(self._clock())
        await self._db.execute(
            "INSERT INTO cryptopay_invoices (order_id, state, amount, fiat, attempts, created_at, updated_at) "
            "VALUES (?, 'creating', ?, ?, 1, ?, ?) ON CONFLICT (order_id) DO UPDATE SET state = 'creating', "
            "invoice_id = NULL, pay_url = NULL, amount = excluded.amount, fiat = excluded.fiat, "
            "attempts = attempts + 1, updated_at = excluded.updated_at",
            (order_id, str(amount), fiat, now, now),
        )

    async def set_active(self, order_id: str, invoice: Invoice) -> bool:
        """The order's invoice exists: record its id and pay URL (only while ``creating``)."""
        changed = await self._db.execute(
            "UPDATE cryptopay_invoices SET state = 'active', invoice_id = ?, pay_url = ?, updated_at = ? "
            "WHERE order_id = ? AND state = 'creating'",
            (invoice.invoice_id, invoice.pay_url, format_timestamp(self._clock()), order_id),
        )
        return changed == 1

    async def forget_failed(self, order_id: str) -> None:
        """Crypto Pay refused createInvoice: no invoice exists; drop the intent."""
        await self._db.execute(
            "DELETE FROM cryptopay_invoices WHERE order_id = ? AND state = 'creating' AND invoice_id IS NULL",
            (order_id,),
        )

    async def withdraw(
        self, order_id: str, state: Literal[RowState.EXPIRED, RowState.CANCELLED]
    ) -> StoredInvoice | None:
        """Mark an open invoice expired or cancelled; the row as it was (``None`` when nothing was open)."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                f"SELECT {_COLUMNS} FROM cryptopay_invoices WHERE order_id = ? AND state IN ('creating', 'active')",  # noqa: S608
                (order_id,),
            )
            row = await cursor.fetchone()
            if row is None:
                return None
            now = format_timestamp(self._clock())
            await conn.execute(
                "UPDATE cryptopay_invoices SET state = ?, expired_at = ?, updated_at = ? WHERE order_id = ?",
                (state.value, now, now, order_id),
            )
        return _row(row)

    async def mark_confirmed(self, order_id: str) -> None:
        await self._db.execute(
            "UPDATE cryptopay_invoices SET confirmed_at = ? WHERE order_id = ? AND state = 'paid'",
            (format_timestamp(self._clock()), order_id),
        )

    async def payer_details(self, order_id: str) -> dict[str, str]:
        row = await self._db.fetchone("SELECT payer_details FROM cryptopay_invoices WHERE order_id = ?", (order_id,))
        return {} if row is None else _details(row["payer_details"])

    # ----------------------------------------------------------------- updates
    async def record_paid(self, invoice: Invoice, *, body: str, source: Source, remote: str | None = None) -> Recorded:
        """Store, deduplicate and match one paid invoice (see the module docstring); durable on return."""
        now = self._clock()
        async with self._db.transaction() as conn:
            stored = await self._find(conn, invoice)
            match = match_paid_invoice(invoice, stored)
            order_id = stored.order_id if stored is not None else None
            if match.verdict is Verdict.DUPLICATE:
                return Recorded(Verdict.DUPLICATE, order_id)
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO cryptopay_updates (dedupe_key, invoice_id, order_id, source, verdict, reason, "
                "body, remote, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    f"invoice:{invoice.invoice_id}",
                    invoice.invoice_id,
                    order_id,
                    source,
                    match.verdict.value,
                    match.reason,
                    body,
                    remote,
                    format_timestamp(now),
                ),
            )
            if cursor.rowcount != 1:
                return Recorded(Verdict.DUPLICATE, order_id)
            if stored is not None and match.verdict in (Verdict.ACCEPTED, Verdict.LATE):
                await conn.execute(
                    "UPDATE cryptopay_invoices SET state = 'paid', invoice_id = ?, paid_at = ?, late = ?, "
                    "payer_details = ?, updated_at = ? WHERE order_id = ?",
                    (
                        invoice.invoice_id,
                        format_timestamp(invoice.paid_at or now),
                        int(match.verdict is Verdict.LATE),
                        json.dumps(invoice.payer_details(), sort_keys=True),
                        format_timestamp(now),
                        stored.order_id,
                    ),
                )
            if match.verdict is not Verdict.ACCEPTED:
                await self._alert(conn, invoice, match, order_id, source)
        if match.verdict is not Verdict.ACCEPTED:
            self._alerted()
        # pragma: no mutate start
        log.log(
            logging.INFO if match.verdict is Verdict.ACCEPTED else logging.WARNING,
            "cryptopay payment %s invoice_id=%d order_id=%s source=%s reason=%s",
            match.verdict.value,
            invoice.invoice_id,
            order_id,
            source,
            match.reason,
        )
        # pragma: no mutate end
        return Recorded(match.verdict, order_id, match.reason)

    async def record_unusable(self, body: str, reason: str, *, remote: str | None) -> bool:
        """A correctly signed body that is not a usable ``invoice_paid`` update: quarantined once per body."""
        digest = hashlib.sha256(body.encode()).hexdigest()
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO cryptopay_updates (dedupe_key, source, verdict, reason, body, remote, "
                "received_at) VALUES (?, 'webhook', 'quarantined', ?, ?, ?, ?)",
                (f"body:{digest}", reason, body, remote, format_timestamp(self._clock())),
            )
            new = cursor.rowcount == 1
            if new:
                embed = alert_embed(
                    "Crypto Pay update quarantined",
                    "A correctly signed Crypto Pay update could not be read. It was stored and acknowledged but "
                    f"NOT acted upon.\n```json\n{_excerpt(body)}\n```",
                    fields=[("Reason", reason), ("SHA-256", digest[:16])],
                )
                await self._outbox.enqueue(
                    conn, target=AUDIT_TARGET, embeds=[embed], dedupe_key=f"cryptopay:body:{digest}"
                )
        if new:
            self._alerted()
        # pragma: no mutate start
        log.warning(
            "cryptopay update quarantined reason=%s sha256=%s new=%s remote=%s", reason, digest[:16], new, remote
        )
        # pragma: no mutate end
        return new

    async def alert_unapplied(self, order_id: str, reason: str) -> None:
        """The order side could not apply a stored payment (e.g. the order was cancelled): tell staff, once."""
        embed = alert_embed(
            "Crypto Pay: payment not applied",
            "A Crypto Pay payment arrived but its order could not take it. Nothing was delivered; refund it by "
            "hand (`/order show` lists the payer's details).",
            fields=[("Order", order_id), ("Reason", reason[:200] or "-")],
        )
        async with self._db.transaction() as conn:
            await self._outbox.enqueue(
                conn, target=AUDIT_TARGET, embeds=[embed], dedupe_key=f"cryptopay:unapplied:{order_id}"
            )
        self._alerted()
        log.warning("cryptopay payment not applied order_id=%s reason=%s", order_id, reason)  # pragma: no mutate

    async def updates(self) -> list[Mapping[str, object]]:
        """Every stored update, oldest first (for status pages and tests)."""
        rows = await self._db.fetchall(
            "SELECT dedupe_key, invoice_id, order_id, source, verdict, reason, remote FROM cryptopay_updates "
            "ORDER BY id"
        )
        return [dict(row) for row in rows]

    async def _find(self, conn: aiosqlite.Connection, invoice: Invoice) -> StoredInvoice | None:
        """The row of this invoice; else, by ``payload``, an order whose invoice id is not known yet."""
        cursor = await conn.execute(
            f"SELECT {_COLUMNS} FROM cryptopay_invoices WHERE invoice_id = ?",  # noqa: S608
            (invoice.invoice_id,),
        )
        row = await cursor.fetchone()
        if row is None and invoice.payload is not None:
            cursor = await conn.execute(
                f"SELECT {_COLUMNS} FROM cryptopay_invoices WHERE order_id = ? AND invoice_id IS NULL",  # noqa: S608
                (invoice.payload,),
            )
            row = await cursor.fetchone()
        return None if row is None else _row(row)

    async def _alert(
        self, conn: aiosqlite.Connection, invoice: Invoice, match: Match, order_id: str | None, source: Source
    ) -> None:
        late = match.verdict is Verdict.LATE
        title = "Crypto Pay: paid after expiry" if late else "Crypto Pay payment quarantined"
        action = (
            "The money arrived after the order stopped waiting for it. Nothing was delivered: decide whether to "
            "deliver (`/order retry`) or refund it by hand (`/order refund`)."
            if late
            else "It was stored and acknowledged but NOTHING was delivered. Check the invoice in @CryptoBot and "
            "refund it by hand if it is a customer's money."
        )
        details = invoice.payer_details()
        fields = [
            ("Reason", match.reason or "-"),  # pragma: no mutate (a late or quarantined match has a reason)
            ("Order", order_id or "none"),
            ("Invoice", f"{invoice.invoice_id} · {invoice.amount} {invoice.fiat or invoice.asset or '?'}"),
            ("Paid with", f"{details.get('paid_amount', '?')} {details.get('paid_asset', '?')}"),
            ("Seen by", source),
        ]
        embed = alert_embed(title, action, fields=fields)
        await self._outbox.enqueue(
            conn, target=AUDIT_TARGET, embeds=[embed], dedupe_key=f"cryptopay:invoice:{invoice.invoice_id}"
        )


def _excerpt(body: str) -> str:
    text = body.replace("```", "'''")
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "…"
