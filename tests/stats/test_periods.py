"""Periods in a non-UTC time zone, including both DST changes, and their parsing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.stats.periods import (
    MAX_DAYS,
    Period,
    PeriodChoice,
    PeriodError,
    custom_period,
    iso_week,
    local_midnight,
    period_for,
    week_of,
)

BERLIN = ZoneInfo("Europe/Berlin")


def test_spring_forward_day_lasts_23_hours() -> None:
    day = Period(date(2026, 3, 29), date(2026, 3, 29), BERLIN)
    assert day.start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert day.end == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    assert day.end - day.start == timedelta(hours=23)


def test_fall_back_day_lasts_25_hours() -> None:
    day = Period(date(2026, 10, 25), date(2026, 10, 25), BERLIN)
    assert day.start == datetime(2026, 10, 24, 22, 0, tzinfo=UTC)
    assert day.end == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)


def test_edges_are_half_open() -> None:
    period = Period(date(2026, 3, 27), date(2026, 3, 30), BERLIN)
    assert period.contains(period.start)
    assert not period.contains(period.start - timedelta(microseconds=1))
    assert period.contains(period.end - timedelta(microseconds=1))
    assert not period.contains(period.end)
    assert period.days == 4
    assert list(period.each_day()) == [date(2026, 3, d) for d in (27, 28, 29, 30)]
    assert period.local_day(datetime(2026, 3, 29, 22, 30, tzinfo=UTC)) == date(2026, 3, 30)
    assert period.label == "2026-03-27 to 2026-03-30"


def test_previous_period_has_the_same_length() -> None:
    period = Period(date(2026, 3, 27), date(2026, 3, 30), BERLIN)
    assert period.previous() == Period(date(2026, 3, 23), date(2026, 3, 26), BERLIN)
    assert Period(date(2026, 3, 1), date(2026, 3, 1), BERLIN).previous().first == date(2026, 2, 28)


def test_midnight_that_does_not_exist() -> None:
    # America/Santiago springs forward at 00:00 → 01:00 (2026-09-06): the day starts at 01:00 local.
    zone = ZoneInfo("America/Santiago")
    start = local_midnight(date(2026, 9, 6), zone)
    assert start.astimezone(zone).hour == 1
    assert start == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("choice", "first", "last"),
    [
        (PeriodChoice.TODAY, date(2026, 3, 30), date(2026, 3, 30)),
        (PeriodChoice.DAYS_7, date(2026, 3, 24), date(2026, 3, 30)),
        (PeriodChoice.DAYS_30, date(2026, 3, 1), date(2026, 3, 30)),
        (PeriodChoice.THIS_MONTH, date(2026, 3, 1), date(2026, 3, 30)),
    ],
)
def test_named_periods_use_the_local_date(choice: PeriodChoice, first: date, last: date) -> None:
    now = datetime(2026, 3, 29, 22, 30, tzinfo=UTC)  # already 2026-03-30 in Berlin
    assert period_for(choice, now, BERLIN) == Period(first, last, BERLIN)
    assert period_for(PeriodChoice.TODAY, now, ZoneInfo("UTC")).first == date(2026, 3, 29)


def test_custom_periods() -> None:
    now = datetime(2026, 3, 29, 22, 30, tzinfo=UTC)
    assert custom_period("2026-03-01", "2026-03-05", now, BERLIN) == Period(date(2026, 3, 1), date(2026, 3, 5), BERLIN)
    assert custom_period(" 2026-03-01 ", None, now, BERLIN).last == date(2026, 3, 30)
    with pytest.raises(PeriodError, match="give a `from` date"):
        custom_period(None, "2026-03-05", now, BERLIN)
    with pytest.raises(PeriodError, match="`yesterday` is not a date; use YYYY-MM-DD"):
        custom_period("yesterday", None, now, BERLIN)
    with pytest.raises(PeriodError, match=r"^`2026' \*\*x'` is not a date; use YYYY-MM-DD"):
        custom_period("2026`\n**x`", None, now, BERLIN)
    assert custom_period("2000-01-01", "2000-01-02", now, BERLIN).previous().first == date(1999, 12, 30)
    assert custom_period("2999-12-31", "2999-12-31", now, BERLIN).end == datetime(2999, 12, 31, 23, tzinfo=UTC)
    for outside in ("1999-12-31", "3000-01-01", "0001-01-01", "9999-12-31"):
        with pytest.raises(
            PeriodError, match=f"^`{outside}` is out of range; use a date from 2000-01-01 to 2999-12-31$"
        ):
            custom_period(outside, None, now, BERLIN)
    with pytest.raises(PeriodError, match="the end date is before the start date"):
        custom_period("2026-03-05", "2026-03-04", now, BERLIN)
    with pytest.raises(PeriodError, match=f"at most {MAX_DAYS} days"):
        custom_period("2024-01-01", "2025-01-01", now, BERLIN)
    assert custom_period("2025-01-01", "2026-01-01", now, BERLIN).days == MAX_DAYS


def test_weeks() -> None:
    assert week_of(date(2026, 3, 29), BERLIN) == Period(date(2026, 3, 23), date(2026, 3, 29), BERLIN)
    assert week_of(date(2026, 3, 23), BERLIN).first == date(2026, 3, 23)
    assert iso_week(date(2026, 3, 23)) == "2026-W13"
    assert iso_week(date(2027, 1, 1)) == "2026-W53"
