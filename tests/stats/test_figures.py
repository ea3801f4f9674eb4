"""Every figure of /stats, exactly, over a database seeded through the real repositories."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from decimal import Decimal as D

import pytest

import bot.stats.figures as figures_module
from bot.market.journal import OperationStatus
from bot.stats.figures import (
    SHOP,
    SYSTEM,
    BreakdownRow,
    Buyer,
    Dimension,
    StatsReader,
    Totals,
    change,
)
from tests.stats.conftest import Seeded


async def test_totals_and_previous_period(seeded: Seeded) -> None:
    reader = StatsReader(seeded.db)
    figures = await reader.figures(seeded.period, Dimension.DAY)
    assert reader.slow_queries == 0  # plain amounts: every query's fast sum was accepted
    assert figures.totals == Totals(
        orders=2,
        revenue={"USD": D("10.50"), "USDT": D("12.25")},
        refunded=1,
        spent_shop=D("37.10"),
        spent_staff={"1001": D("3.30"), "1002": D("1.05"), SYSTEM: D("2.00")},
        purchases=1,
        purchases_nle=D("7.77"),
        transfers=1,
        transfers_nle=D("4.44"),
    )
    assert figures.totals.spent == D("43.45")
    assert figures.totals.spent_by_staff == D("6.35")
    assert figures.previous == Totals(
        orders=1,
        revenue={"USD": D("5.00")},
        spent_staff={"1001": D("10.00")},
        purchases=1,
        purchases_nle=D("2.50"),
    )
    assert figures.buyers == [
        Buyer("Alice", 2, {"USD": D("10.50"), "USDT": D("12.25")}),
    ]


async def test_by_day_in_local_days_across_dst(seeded: Seeded) -> None:
    figures = await StatsReader(seeded.db).figures(seeded.period, Dimension.DAY)
    assert figures.rows == [
        BreakdownRow("2026-03-27", 0, {}, D("1.05")),
        BreakdownRow("2026-03-28", 1, {"USD": D("10.50")}, D("19.10")),
        BreakdownRow("2026-03-29", 0, {}, D("3.30")),
        BreakdownRow("2026-03-30", 1, {"USDT": D("12.25")}, D("20.00")),
    ]
    assert figures.currencies == ["USD", "USDT"]


@pytest.mark.parametrize(
    ("by", "rows"),
    [
        (
            Dimension.STAFF,
            [
                BreakdownRow(SHOP, 1, {"USDT": D("12.25")}, D("37.10")),
                BreakdownRow("1001", 1, {"USD": D("10.50")}, D("3.30")),
                BreakdownRow(SYSTEM, 0, {}, D("2.00")),
                BreakdownRow("1002", 0, {}, D("1.05")),
            ],
        ),
        (
            Dimension.PRODUCT,
            [
                BreakdownRow("marketplace", 1, {"USDT": D("12.25")}, D("20.00")),
                BreakdownRow("cs2-30", 1, {"USD": D("10.50")}, D("17.10")),
            ],
        ),
        (
            Dimension.METHOD,
            [
                BreakdownRow("cryptopay", 1, {"USDT": D("12.25")}, D("20.00")),
                BreakdownRow("manual", 1, {"USD": D("10.50")}, D("17.10")),
            ],
        ),
        (
            Dimension.CURRENCY,
            [
                BreakdownRow("USDT", 1, {"USDT": D("12.25")}, D("20.00")),
                BreakdownRow("USD", 1, {"USD": D("10.50")}, D("17.10")),
            ],
        ),
    ],
)
async def test_breakdowns(seeded: Seeded, by: Dimension, rows: list[BreakdownRow]) -> None:
    figures = await StatsReader(seeded.db).figures(seeded.period, by)
    assert figures.rows == rows
    assert figures.by is by


async def test_empty_database(market_db: object) -> None:
    from bot.stats.periods import Period
    from tests.stats.conftest import BERLIN, PERIOD_DAYS

    figures = await StatsReader(market_db).figures(Period(*PERIOD_DAYS, BERLIN), Dimension.PRODUCT)  # type: ignore[arg-type]
    assert figures.totals == Totals()
    assert figures.rows == []
    assert figures.buyers == []


@pytest.mark.parametrize(
    ("now", "before", "text"),
    [
        (D("0"), D("0"), "±0 %"),
        (D("5"), D("0"), "new"),
        (D("15"), D("10"), "+50 %"),
        (D("5"), D("10"), "-50 %"),
        (D("10"), D("10"), "±0 %"),
        (D("10.01"), D("10"), "+0.1 %"),
        (D("10.004"), D("10"), "±0 %"),
        (3, 2, "+50 %"),
        (D("1"), D("3"), "-66.7 %"),
    ],
)
def test_change(now: D, before: D, text: str) -> None:
    assert change(now, before) == text


async def test_amounts_the_fast_sum_cannot_prove_take_the_exact_path(seeded: Seeded) -> None:
    # A webhook transfer of 1.123456789 NLE (9 places) in the period: the same figures, exactly.
    await seeded.db.execute(
        "INSERT INTO webhook_events (kind, unique_id, username, amount, received_at, body)"
        " VALUES ('transfer', 99, 'x', '1.123456789', '2026-03-28T12:00:00.000000Z', '{}')"
    )
    reader = StatsReader(seeded.db)
    figures = await reader.figures(seeded.period, Dimension.DAY)
    assert reader.slow_queries == 1
    assert figures.totals.transfers == 2
    assert figures.totals.transfers_nle == D("5.563456789")
    assert figures.totals.revenue == {"USD": D("10.50"), "USDT": D("12.25")}


async def test_half_hour_zone_uses_quarter_hour_slots(seeded: Seeded) -> None:
    from datetime import date
    from zoneinfo import ZoneInfo

    from bot.stats.periods import Period
    from tests.stats.conftest import spend, utc

    # Asia/Kolkata is UTC+5:30: 18:29 UTC is 23:59 local, 18:30 UTC is the next local midnight.
    assert await spend(seeded, utc(2026, 3, 28, 18, 29), "0.01", 1001) is OperationStatus.SUCCEEDED
    assert await spend(seeded, utc(2026, 3, 28, 18, 30), "0.02", 1001) is OperationStatus.SUCCEEDED
    period = Period(date(2026, 3, 27), date(2026, 3, 30), ZoneInfo("Asia/Kolkata"))
    figures = await StatsReader(seeded.db).figures(period, Dimension.DAY)
    assert [(r.key, r.spent) for r in figures.rows] == [
        ("2026-03-27", D("1.05")),
        ("2026-03-28", D("19.11")),
        ("2026-03-29", D("3.32")),
        ("2026-03-30", D("20.00")),
    ]


async def test_long_periods_scan_the_tables(seeded: Seeded) -> None:
    from datetime import date

    from bot.stats.periods import Period
    from tests.stats.conftest import BERLIN

    long = Period(date(2026, 3, 25), date(2026, 4, 30), BERLIN)  # nothing was recorded after 31 March
    short = Period(date(2026, 3, 25), date(2026, 3, 31), BERLIN)
    reader = StatsReader(seeded.db)
    assert (await reader.figures(long, Dimension.STAFF)).totals == (await reader.figures(short, Dimension.STAFF)).totals


async def test_top_buyers_are_the_five_with_most_orders_with_only_their_revenue(seeded: Seeded) -> None:
    from tests.stats.conftest import add_order, utc

    # In the period already: Alice and alice (2 orders). Zed buys 3 times under three spellings; five more
    # buyers once each, so the fifth place is decided by the login among equals.
    paid = utc(2026, 3, 28, 12, 0)
    for number, (login, currency, amount) in enumerate(
        [("zed", "USD", "1.10"), ("Zed", "EUR", "2.20"), ("ZED", "USD", "3.30"), ("frank", "USD", "9.00"),
         ("dave", "EUR", "4.00"), ("erin", "USD", "5.00"), ("bob", "USDT", "6.00"), ("carol", "USD", "7.00")]
    ):  # fmt: skip
        await add_order(
            seeded, f"B{number}", paid_at=paid, login=login, product="cs2-30", method="manual",
            currency=currency, amount=amount, nle_cost="17.10", paid_by=None,
        )  # fmt: skip
    buyers = (await StatsReader(seeded.db).figures(seeded.period, Dimension.PRODUCT)).buyers
    assert buyers == [
        Buyer("ZED", 3, {"EUR": D("2.20"), "USD": D("4.40")}),
        Buyer("Alice", 2, {"USD": D("10.50"), "USDT": D("12.25")}),
        Buyer("bob", 1, {"USDT": D("6.00")}),  # bob's refunded order (O3) counts nowhere
        Buyer("carol", 1, {"USD": D("7.00")}),  # carol's order paid after the period (O4) is left out
        Buyer("dave", 1, {"EUR": D("4.00")}),
    ]


async def test_period_queries_use_the_stats_indexes(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    """Migration 0012: no temporary index built per query, the journal and webhooks read from covering indexes,
    and a short period finds its paid orders through the history's time index."""
    from datetime import date

    import bot.stats.lanes
    from bot.stats.periods import Period
    from tests.stats.conftest import BERLIN

    executed: list[tuple[str, tuple[object, ...]]] = []
    fetchall = bot.stats.lanes._fetchall

    def recording(conn: sqlite3.Connection, sql: str, params: Sequence[object]) -> list[object]:
        executed.append((sql, tuple(params)))
        return fetchall(conn, sql, params)

    monkeypatch.setattr(bot.stats.lanes, "_fetchall", recording)
    reader = StatsReader(seeded.db)
    for by in Dimension:
        await reader.figures(Period(date(2026, 3, 28), date(2026, 3, 28), BERLIN), by)
    await reader.figures(Period(date(2026, 3, 1), date(2026, 3, 30), BERLIN), Dimension.PRODUCT)
    plans = {
        sql: " | ".join(str(r[3]) for r in await seeded.db.fetchall(f"EXPLAIN QUERY PLAN {sql}", p))
        for sql, p in executed
    }
    assert len(plans) > 10
    for sql, plan in plans.items():
        assert "AUTOMATIC" not in plan, (sql, plan)
        if "FROM operations" in sql:
            assert "COVERING INDEX operations_by_created" in plan, (sql, plan)
        if "FROM webhook_events" in sql:
            assert "COVERING INDEX webhook_events_received" in plan, (sql, plan)
        if "FROM order_transitions t JOIN" in sql:
            assert "INDEX order_transitions_paid" in plan, (sql, plan)
        if "JOIN orders o INDEXED BY orders_stats" in sql:  # migration 0013: never the wide order rows
            assert "COVERING INDEX orders_stats" in plan, (sql, plan)
        if "LEFT JOIN orders o" in sql:
            assert "COVERING INDEX orders_by_request" in plan, (sql, plan)
    assert any("order_transitions t NOT INDEXED" in sql for sql in plans)  # the 30-day period scans the history


def test_no_order_returns_to_awaiting_payment() -> None:
    """The paid orders' queries read orders_stats, which leaves out the orders awaiting payment (migration 0015):
    that loses no paid order only while no transition leads back into that state."""
    from bot.orders.models import TRANSITIONS, OrderState

    assert all(OrderState.AWAITING_PAYMENT not in targets for targets in TRANSITIONS.values())
    assert "o.state <> 'awaiting_payment'" in figures_module._PAID


async def test_an_in_memory_database_is_read_on_its_own_connection() -> None:
    from pathlib import Path

    from bot.stats.periods import Period
    from bot.storage import Database
    from tests.stats.conftest import BERLIN, PERIOD_DAYS

    db = await Database.open(Path(":memory:"))  # a second connection could not see it
    try:
        await db.execute(
            "INSERT INTO webhook_events (kind, unique_id, username, amount, received_at, body)"
            " VALUES ('transfer', 1, 'x', '2.50', '2026-03-28T12:00:00.000000Z', '{}')"
        )
        figures = await StatsReader(db).figures(Period(*PERIOD_DAYS, BERLIN), Dimension.DAY)
    finally:
        await db.close()
    assert (figures.totals.transfers, figures.totals.transfers_nle) == (1, D("2.50"))


async def test_a_failing_query_ends_the_answer_and_the_lanes_stay_usable(seeded: Seeded) -> None:
    from bot.stats.lanes import read_lanes

    slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) SELECT count(*) FROM c"

    async def answer() -> None:
        async with read_lanes(seeded.db) as fetch, asyncio.TaskGroup() as group:
            group.create_task(fetch(slow, ()))
            group.create_task(fetch("SELECT no_such_column FROM orders", ()))

    with pytest.raises(ExceptionGroup) as raised:
        await answer()
    assert raised.group_contains(sqlite3.OperationalError)
    async with read_lanes(seeded.db, lanes=1) as fetch:  # one connection: queries take turns on it
        results = await asyncio.gather(fetch(slow, ()), fetch("SELECT count(*) FROM orders", ()))
    assert [list(rows) for rows in results] == [[(300000,)], [(6,)]]
    figures = await StatsReader(seeded.db).figures(seeded.period, Dimension.DAY)
    assert figures.totals.orders == 2


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "UTC"])
async def test_stored_units_give_the_figures_of_the_raw_rows(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch, zone: str
) -> None:
    """Migration 0013's stored units against the text path over the raw rows: every figure of every breakdown,
    in the tests' DST week and with TIMEZONE changed, after an amount changed and an order was refunded."""
    from zoneinfo import ZoneInfo

    import bot.stats.figures
    from bot.stats.periods import Period
    from tests.stats.conftest import PERIOD_DAYS

    await seeded.db.execute("UPDATE orders SET amount = '11.75' WHERE id = 'O1'")  # written after the payment
    await seeded.db.execute("UPDATE orders SET state = 'refunded' WHERE id = 'O2'")
    await seeded.db.execute("UPDATE operations SET amount_nle = '0.00000007' WHERE id = 2")
    period = Period(*PERIOD_DAYS, ZoneInfo(zone))
    reader = StatsReader(seeded.db)
    stored = [await reader.figures(period, by) for by in Dimension]
    assert reader.slow_queries == 0
    monkeypatch.setattr(bot.stats.figures, "stored_total", lambda *_: None)  # every group from the text
    raw = StatsReader(seeded.db)
    from_text = [await raw.figures(period, by) for by in Dimension]
    assert raw.slow_queries > 0
    assert repr(from_text) == repr(stored)  # the same values with the same decimal places (Decimal('12.50'))
    assert from_text == stored
