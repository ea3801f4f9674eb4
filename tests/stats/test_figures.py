"""Every figure of /stats, exactly, over a database seeded through the real repositories."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

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
