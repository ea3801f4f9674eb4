"""What a staff member has spent today, for the daily limit, with the orders they confirmed counted.

The spending journal counts ``/gift``, ``/give``, ``/transfer`` and order deliveries (journaled in the name of
the staff member who confirmed the payment). An order confirmed a moment ago is not journaled yet: its
delivery starts in the background. :class:`OrderSpending` adds those, so two confirmations in a row cannot
both slip under the limit, and never counts an order twice.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from bot.market.journal import SpendingJournal
from bot.orders.repository import iso
from bot.storage import Database


class OrderSpending:
    """The daily-limit source for staff: what the journal counts (``/gift``, ``/transfer``, delivered orders)
    plus orders they confirmed whose delivery is not journaled yet (paid, or fulfilling before the journal
    row exists), so two confirmations in a row cannot both slip under the limit."""

    def __init__(self, db: Database, journal: SpendingJournal) -> None:
        self._db = db
        self._journal = journal

    async def spent_since(self, requested_by: int, since: datetime) -> Decimal:
        spent = await self._journal.spent_since(requested_by, since)
        # no mutants in the SQL: its keywords' case is no behaviour (the states' case is; those were killed)
        rows = await self._db.fetchall(
            "SELECT nle_cost FROM orders WHERE paid_by = ? AND updated_at >= ? "  # pragma: no mutate
            "AND (state = 'paid' OR (state = 'fulfilling' AND NOT EXISTS "  # pragma: no mutate
            "(SELECT 1 FROM operations AS o WHERE o.request_id = orders.request_id)))",  # pragma: no mutate
            (requested_by, iso(since)),
        )
        return sum((Decimal(str(r[0])) for r in rows), spent)
