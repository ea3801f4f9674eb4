"""CSV export of a period: orders, journal operations and webhook events, one file per kind.

Rows are those of the period as ``/stats`` counts them by their own time (orders by creation, operations by
creation, webhook events by reception). Timestamps are the stored UTC text (``…Z``), money the stored
Decimal text, unchanged; text that a spreadsheet would take for a formula (``=…``, ``@…``) gets a leading
``'`` as in the audit export. No secrets: order e-mails, tokens and form tokens are not exported.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from bot.staff.audit import spreadsheet_cell
from bot.stats.periods import Period
from bot.storage import Database
from bot.storage.timestamps import format_timestamp

ORDER_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "state",
    "login",
    "product_key",
    "nle",
    "currency",
    "method",
    "amount",
    "nle_cost",
    "paid_by",
    "request_id",
    "discord_user_id",
)
OPERATION_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "request_id",
    "method",
    "username",
    "requested_by",
    "amount_nle",
    "status",
    "attempts",
    "error",
)
WEBHOOK_COLUMNS = ("id", "received_at", "kind", "unique_id", "username", "amount", "item_id")


@dataclass(frozen=True, slots=True)
class CsvFile:
    kind: str
    """``orders``, ``operations`` or ``webhook events``."""
    name: str
    data: bytes
    rows: int


def _csv(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else spreadsheet_cell(v) if isinstance(v, str) else v for v in row])
    return buffer.getvalue().encode("utf-8")


async def _select(
    db: Database, table: str, columns: Sequence[str], time_column: str, period: Period
) -> list[Sequence[object]]:
    rows = await db.fetchall(
        f"SELECT {', '.join(columns)} FROM {table} WHERE {time_column} >= ? AND {time_column} < ?"  # noqa: S608
        f" ORDER BY {time_column}, id",
        (format_timestamp(period.start), format_timestamp(period.end)),
    )
    return [tuple(row) for row in rows]


async def export_period(db: Database, period: Period) -> list[CsvFile]:
    """The three CSV files of ``period`` (named ``<kind>-<first>-<last>.csv``)."""
    suffix = f"{period.first.isoformat()}_{period.last.isoformat()}"
    files = []
    for kind, table, columns, time_column in (
        ("orders", "orders", ORDER_COLUMNS, "created_at"),
        ("operations", "operations", OPERATION_COLUMNS, "created_at"),
        ("webhook-events", "webhook_events", WEBHOOK_COLUMNS, "received_at"),
    ):
        rows = await _select(db, table, columns, time_column, period)
        files.append(CsvFile(kind.replace("-", " "), f"{kind}-{suffix}.csv", _csv(columns, rows), len(rows)))
    return files
