"""Periods of ``/stats``: local calendar days in ``TIMEZONE`` turned into half-open UTC ranges.

A period is a run of whole local days ``[first, last]``. Its UTC range starts at local midnight of ``first``
and ends at local midnight after ``last``, so a day with a DST change lasts 23 or 25 hours and no moment is
counted twice or lost. The previous period is the same number of days just before.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.i18n.said import Said
from bot.notifications.embeds import echoed

MAX_DAYS = 366
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2999, 12, 31)
"""The dates a period may use: at the ends of the calendar (years 1 and 9999) its UTC bounds, or the previous
period's, do not exist."""


class PeriodChoice(enum.StrEnum):
    TODAY = "today"
    DAYS_7 = "7d"
    DAYS_30 = "30d"
    THIS_MONTH = "month"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    PeriodChoice.TODAY: "today",
    PeriodChoice.DAYS_7: "last 7 days",
    PeriodChoice.DAYS_30: "last 30 days",
    PeriodChoice.THIS_MONTH: "this month",
}


class PeriodError(ValueError):
    """A period that cannot be used; ``said(locale)`` says why in the reader's language, ``str()`` in English."""

    def __init__(self, said: Said) -> None:
        self.said = said
        super().__init__(said())


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC moment local ``day`` starts in ``zone`` (the first existing moment of that day)."""
    naive = datetime.combine(day, time(0))
    moment = naive.replace(tzinfo=zone)
    # A midnight that does not exist (DST jump at 00:00) is folded forward by the round trip through UTC.
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Period:
    first: date
    last: date
    zone: ZoneInfo

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise PeriodError(Said("stats.period_error.end_before_start"))
        if self.days > MAX_DAYS:
            raise PeriodError(Said("stats.period_error.too_long", {"max": MAX_DAYS}))

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start(self) -> datetime:
        """Inclusive UTC start."""
        return local_midnight(self.first, self.zone)

    @property
    def end(self) -> datetime:
        """Exclusive UTC end."""
        return local_midnight(self.last + timedelta(days=1), self.zone)

    def previous(self) -> Period:
        """The period of the same number of days that ends the day before this one starts."""
        last = self.first - timedelta(days=1)
        return Period(last - timedelta(days=self.days - 1), last, self.zone)

    def each_day(self) -> Iterator[date]:
        day = self.first
        while day <= self.last:
            yield day
            day += timedelta(days=1)

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    @property
    def label(self) -> str:
        if self.first == self.last:
            return self.first.isoformat()
        return f"{self.first.isoformat()} to {self.last.isoformat()}"


def today(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date()


def period_for(choice: PeriodChoice, now: datetime, zone: ZoneInfo) -> Period:
    """The named period that contains ``now`` (its last day is today in ``zone``)."""
    day = today(now, zone)
    if choice is PeriodChoice.TODAY:
        return Period(day, day, zone)
    if choice is PeriodChoice.DAYS_7:
        return Period(day - timedelta(days=6), day, zone)
    if choice is PeriodChoice.DAYS_30:
        return Period(day - timedelta(days=29), day, zone)
    return Period(day.replace(day=1), day, zone)


def parse_date(text: str) -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError(Said("stats.period_error.not_a_date", {"text": echoed(text.strip(), 20)})) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        bounds = {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()}
        raise PeriodError(Said("stats.period_error.out_of_range", {"text": echoed(text.strip(), 20), **bounds}))
    return day


def custom_period(start: str | None, end: str | None, now: datetime, zone: ZoneInfo) -> Period:
    """``from``/``to`` dates (``YYYY-MM-DD``, both inclusive). A missing ``to`` is today; ``from`` is required."""
    if start is None:
        raise PeriodError(Said("stats.period_error.from_required"))
    first = parse_date(start)
    last = parse_date(end) if end is not None else today(now, zone)
    return Period(first, last, zone)


def week_of(day: date, zone: ZoneInfo) -> Period:
    """Monday to Sunday of the ISO week of ``day``."""
    monday = day - timedelta(days=day.weekday())
    return Period(monday, monday + timedelta(days=6), zone)


def iso_week(day: date) -> str:
    """``2026-W49``."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
