"""What a staff member has spent today, for the daily limit, with the orders they confirmed counted.

The spending journal counts ``/gift``, ``/give``, ``/transfer`` and order deliveries (journaled in the name of
the staff member who confirmed the payment). An order confirmed a moment ago is not journaled yet: its
delivery starts in the background. :class:`OrderSpending` adds those, so two confirmations in a row cannot
both slip under the limit, and never counts an order twice.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from decimal import Decimal

from bot.market.journal import SPENT_SQL, spent_params, spent_total
from bot.storage import Database
from bot.storage.timestamps import format_timestamp


class OrderSpending:
    """The daily-limit source for staff: what the journal counts (``/gift``, ``/transfer``, delivered orders)
    plus orders they confirmed whose delivery is not journaled yet (paid, or fulfilling before the journal
    row exists), so two confirmations in a row cannot both slip under the limit."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def spent_since(self, requested_by: int, since: datetime) -> Decimal:
        # Both reads in ONE transaction: read one after the other, a delivery journaled in between (its order
        # already ``fulfilling``) would be in neither, and a confirmation could slip over the limit.
        return await self._db.run_in_transaction(lambda conn: _spent_on(conn, requested_by, since))


def _spent_on(conn: sqlite3.Connection, requested_by: int, since: datetime) -> Decimal:
    spent = spent_total(conn.execute(SPENT_SQL, spent_params(requested_by, since)).fetchall())
    # no mutants in the SQL: its keywords' case is no behaviour (the states' case is; those were killed)
    rows = conn.execute(
        "SELECT nle_cost FROM orders WHERE paid_by = ? AND updated_at >= ? "  # pragma: no mutate
        "AND (state = 'paid' OR (state = 'fulfilling' AND NOT EXISTS "  # pragma: no mutate
        "(SELECT 1 FROM operations AS o WHERE o.request_id = orders.request_id)))",  # pragma: no mutate
        (requested_by, format_timestamp(since)),
    ).fetchall()
    return sum((Decimal(str(r[0])) for r in rows), spent)
