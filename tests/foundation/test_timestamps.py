"""The stored time text (``bot.storage.timestamps``): UTC, six decimals, ``Z``; aware times only; the text of
SQLite's column defaults (three decimals) read too; text order is time order.

Expected texts are computed here from the moment's fields (or written out), never by the function under test."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.storage.timestamps import format_timestamp, parse_timestamp

BERLIN = ZoneInfo("Europe/Berlin")
ZONES = [
    UTC,
    BERLIN,
    ZoneInfo("America/New_York"),
    ZoneInfo("Asia/Kolkata"),  # +05:30
    ZoneInfo("Australia/Lord_Howe"),  # a 30-minute daylight saving shift
    ZoneInfo("Pacific/Chatham"),  # +12:45 / +13:45
    timezone(timedelta(hours=-9, minutes=-30)),
    timezone(timedelta(0)),  # UTC, but not the ``UTC`` object
]
AWARE = st.datetimes(
    min_value=datetime(1970, 1, 1),
    max_value=datetime(2100, 12, 31, 23, 59, 59, 999999),
    timezones=st.sampled_from(ZONES),
)


def expected_text(moment: datetime) -> str:
    """The stored text of an aware ``moment``, from its UTC fields."""
    offset = moment.utcoffset()
    assert offset is not None
    u = moment.replace(tzinfo=None) - offset
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}Z"


@pytest.fixture
def host_not_on_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone is UTC+9 (a host not on UTC)."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 12, 7, 12, 0, tzinfo=UTC), "2026-12-07T12:00:00.000000Z"),
        (datetime(2026, 12, 7, 14, 5, 6, 7, tzinfo=timezone(timedelta(hours=2))), "2026-12-07T12:05:06.000007Z"),
        (datetime(2026, 12, 7, 13, 0, tzinfo=timezone(timedelta(hours=1))), "2026-12-07T12:00:00.000000Z"),
        (datetime(2026, 12, 7, 12, 0, 1, 5, tzinfo=UTC), "2026-12-07T12:00:01.000005Z"),
        (datetime(2027, 1, 1, 0, 59, 59, 999999, tzinfo=timezone(timedelta(hours=1))), "2026-12-31T23:59:59.999999Z"),
        (datetime(1970, 1, 1, tzinfo=UTC), "1970-01-01T00:00:00.000000Z"),
        (datetime(1970, 1, 1, 1, 0, tzinfo=BERLIN), "1970-01-01T00:00:00.000000Z"),
        (datetime(2100, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "2100-12-31T23:59:59.999999Z"),
        (datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC), "0999-01-02T03:04:05.000006Z"),  # four year digits
        # Berlin's daylight saving edges in 2026: 02:30 exists twice on 25 October (fold picks which), not at all
        # on 29 March (taken with the offset before the gap, as zoneinfo does)
        (datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN), "2026-10-25T00:30:00.000000Z"),
        (datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=BERLIN), "2026-10-25T01:30:00.000000Z"),
        (datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=BERLIN), "2026-03-29T00:59:59.999999Z"),
        (datetime(2026, 3, 29, 3, 0, tzinfo=BERLIN), "2026-03-29T01:00:00.000000Z"),
    ],
)
def test_the_text_is_the_utc_moment_with_six_decimals_and_a_z(moment: datetime, text: str) -> None:
    assert format_timestamp(moment) == text
    back = parse_timestamp(text)
    assert back.tzinfo is UTC
    assert back == moment.astimezone(UTC)  # (UTC against UTC: a zone's fold or gap time compares by its fields)
    assert back.isoformat(timespec="microseconds") == text[:-1] + "+00:00"


@settings(max_examples=500, deadline=None)
@given(moment=AWARE)
@example(moment=datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=BERLIN))
@example(moment=datetime(2026, 3, 29, 2, 30, tzinfo=BERLIN))  # in the spring gap
@example(moment=datetime(1970, 1, 1, tzinfo=UTC))
@example(moment=datetime(2100, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
def test_every_aware_moment_reads_back_and_the_text_is_todays(moment: datetime) -> None:
    """Byte-identical to what the six former copies wrote for an aware time: the ``strftime`` ones' expression
    and the text from the UTC fields; read back as the same instant, in ``UTC``."""
    text = format_timestamp(moment)
    assert text == expected_text(moment)
    assert text == moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    back = parse_timestamp(text)
    assert back.tzinfo is UTC
    assert back == moment.astimezone(UTC)  # (UTC against UTC: a zone's fold or gap time compares by its fields)


@settings(max_examples=500, deadline=None)
@given(a=AWARE, b=AWARE)
def test_text_order_is_time_order(a: datetime, b: datetime) -> None:
    x, y = format_timestamp(a), format_timestamp(b)
    assert (x < y) == (a.astimezone(UTC) < b.astimezone(UTC))
    assert (x == y) == (a.astimezone(UTC) == b.astimezone(UTC))


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^timestamps must be timezone-aware$"):
        format_timestamp(datetime(2026, 12, 7, 12, 0))
    with pytest.raises(ValueError, match=r"^not an aware timestamp: '2026-12-07T12:05:06'$"):
        parse_timestamp("2026-12-07T12:05:06")
    with pytest.raises(ValueError, match=r"^not an aware timestamp: '2026-12-07T12:05:06.123456'$"):
        parse_timestamp("2026-12-07T12:05:06.123456")
    with pytest.raises(ValueError, match=r"^Invalid isoformat string: 'yesterday'$"):
        parse_timestamp("yesterday")


def test_a_text_with_an_offset_is_read_as_its_utc_moment() -> None:
    shifted = parse_timestamp("2026-12-07T14:05:06+02:00")
    assert shifted == datetime(2026, 12, 7, 12, 5, 6, tzinfo=UTC)
    assert (shifted.hour, shifted.tzinfo) == (12, UTC)
    assert parse_timestamp("2026-12-07T02:35:06.5-09:30").isoformat() == "2026-12-07T12:05:06.500000+00:00"


def test_the_text_of_sqlites_column_defaults_is_read() -> None:
    """``strftime('%Y-%m-%dT%H:%M:%fZ', ...)`` (the migrations' defaults, the outbox's ``finished_at``) writes
    three decimals."""
    with sqlite3.connect(":memory:") as conn:
        fixed, now = conn.execute(
            "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', '2026-12-07 12:05:06.789'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
        ).fetchone()
    conn.close()
    assert fixed == "2026-12-07T12:05:06.789Z"
    assert parse_timestamp(fixed) == datetime(2026, 12, 7, 12, 5, 6, 789000, tzinfo=UTC)
    assert parse_timestamp(fixed).tzinfo is UTC
    assert parse_timestamp("1970-01-01T00:00:00.000Z") == datetime(1970, 1, 1, tzinfo=UTC)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", now)
    read = parse_timestamp(now)
    assert (read.tzinfo, read.microsecond % 1000) == (UTC, 0)
    assert read.isoformat(timespec="milliseconds") == now[:-1] + "+00:00"


@pytest.mark.usefixtures("host_not_on_utc")
def test_the_host_zone_plays_no_part() -> None:
    assert time.localtime(0).tm_hour == 9  # the fixture took effect
    assert format_timestamp(datetime(2026, 12, 7, 12, 0, tzinfo=UTC)) == "2026-12-07T12:00:00.000000Z"
    assert format_timestamp(datetime(2026, 12, 7, 13, 0, tzinfo=timezone(timedelta(hours=1)))) == (
        "2026-12-07T12:00:00.000000Z"
    )
    assert parse_timestamp("2026-12-07T12:00:00.000000Z").hour == 12
    assert parse_timestamp("2026-12-07T14:00:00+02:00").hour == 12
