"""CSV export: one file per kind, the period's rows, UTC timestamps and Decimal text as stored."""

from __future__ import annotations

import csv
import io

from bot.stats.export import OPERATION_COLUMNS, ORDER_COLUMNS, WEBHOOK_COLUMNS, export_period
from tests.stats.conftest import Seeded


def rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


async def test_export_contents(seeded: Seeded) -> None:
    orders, operations, events = await export_period(seeded.db, seeded.period)
    assert [orders.name, operations.name, events.name] == [
        "orders-2026-03-27_2026-03-30.csv",
        "operations-2026-03-27_2026-03-30.csv",
        "webhook-events-2026-03-27_2026-03-30.csv",
    ]
    assert [orders.kind, operations.kind, events.kind] == ["orders", "operations", "webhook events"]
    assert orders.data.decode().splitlines()[0] == ",".join(ORDER_COLUMNS)
    assert operations.data.decode().splitlines()[0] == ",".join(OPERATION_COLUMNS)
    assert events.data.decode().splitlines()[0] == ",".join(WEBHOOK_COLUMNS)
    order_rows = rows(orders.data)
    # Orders by creation time (5 minutes before payment): O3 (26 Mar 23:25 UTC = 27 Mar local) ... O4 (30 Mar
    # 21:55 UTC = 23:55 local); O5 was created on 26 March local (previous period).
    assert [(r["id"], r["state"], r["amount"], r["currency"], r["nle_cost"]) for r in order_rows] == [
        ("O3", "refunded", "9.99", "EUR", "40.00"),
        ("O6", "awaiting_payment", "", "", "17.10"),
        ("O1", "delivered", "10.50", "USD", "17.10"),
        ("O2", "delivered", "12.25", "USDT", "20.00"),
        ("O4", "paid", "10.50", "USD", "17.10"),
    ]
    assert order_rows[0]["created_at"] == "2026-03-26T23:25:00.000000Z"
    assert order_rows[3]["paid_by"] == ""
    assert "email" not in order_rows[0]
    assert "form_token" not in order_rows[0]
    assert orders.rows == 5
    op_rows = rows(operations.data)
    assert [(r["request_id"][:6], r["amount_nle"], r["status"], r["requested_by"]) for r in op_rows] == [
        (op_rows[0]["request_id"][:6], "1.05", "succeeded", "1002"),
        ("ord-O1", "17.10", "succeeded", "1001"),
        (op_rows[2]["request_id"][:6], "2.00", "succeeded", ""),
        (op_rows[3]["request_id"][:6], "3.30", "succeeded", "1001"),
        (op_rows[4]["request_id"][:6], "9.00", "failed", "1001"),
        ("ord-O2", "20.00", "succeeded", ""),
    ]
    assert op_rows[1]["created_at"] == "2026-03-28T10:05:00.000000Z"
    event_rows = rows(events.data)
    assert [(r["kind"], r["amount"], r["received_at"]) for r in event_rows] == [
        ("purchase", "7.77", "2026-03-28T15:00:00.000000Z"),
        ("transfer", "4.44", "2026-03-30T21:59:59.000000Z"),
    ]
    assert event_rows[0]["item_id"] == "E3yugw"
    assert event_rows[1]["item_id"] == ""


async def test_export_neutralises_spreadsheet_formulas(seeded: Seeded) -> None:
    # A webhook username is the sender's text: a spreadsheet must not run it (as in the audit export).
    await seeded.db.execute(
        "INSERT INTO webhook_events (kind, unique_id, username, amount, received_at, body)"
        " VALUES ('transfer', 99, '=HYPERLINK(\"http://x\")', '1.00', '2026-03-29T12:00:00.000000Z', '{}')"
    )
    _, _, events = await export_period(seeded.db, seeded.period)
    event_rows = rows(events.data)
    assert [(r["username"], r["amount"]) for r in event_rows if r["unique_id"] == "99"] == [
        ('\'=HYPERLINK("http://x")', "1.00")
    ]
    assert all(not r["username"].startswith("'") for r in event_rows if r["unique_id"] != "99")
