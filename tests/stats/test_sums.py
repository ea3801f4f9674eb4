"""Exact SQL sums of decimal text (bot/stats/sums.py) against Python's Decimal, on a real SQLite file."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import aiosqlite
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.stats.sums import aggregate, fast_aggregate, fast_total, total, well_formed


async def _sum(conn: aiosqlite.Connection, values: list[str | None]) -> tuple[int, D]:
    await conn.execute("DELETE FROM t")
    await conn.executemany("INSERT INTO t (a) VALUES (?)", [(v,) for v in values])
    async with conn.execute(f"SELECT {aggregate('a')} FROM t") as cur:  # noqa: S608
        row = await cur.fetchone()
    assert row is not None
    return int(row[0]), total(row[1], row[2], row[3])


@pytest.fixture
async def conn(tmp_path: Path) -> aiosqlite.Connection:
    db = await aiosqlite.connect(tmp_path / "sums.sqlite3")
    await db.execute("CREATE TABLE t (a TEXT)")
    yield db  # type: ignore[misc]
    await db.close()


@pytest.mark.parametrize(
    ("values", "count", "expected"),
    [
        (["10.50", "2.00"], 2, "12.50"),
        (["5", "7"], 2, "12"),
        (["0.1", "0.2"], 2, "0.3"),
        (["1.5", "0.25"], 2, "1.75"),
        (["0.00000001", "9999999999.99999999"], 2, "10000000000.00000000"),
        (["1.123456789", "1"], 2, "2.123456789"),  # 9 places: summed in Python
        (["1E+2", "0.5"], 2, "100.5"),
        (["-1.50", "2"], 2, "0.50"),
        (["12345678901", "1"], 2, "12345678902"),  # 11 integer digits: Python
        ([None, "3.30"], 2, "3.30"),
        ([None], 1, "0"),
        ([], 0, "0"),
    ],
)
async def test_sums(conn: aiosqlite.Connection, values: list[str | None], count: int, expected: str) -> None:
    rows, amount = await _sum(conn, values)
    assert rows == count
    assert str(amount) == expected  # the value and its decimal places


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("1", 1),
        ("1.5", 1),
        ("1234567890", 1),
        ("12345678901", 0),
        ("1234567890.12345678", 1),
        ("1.123456789", 0),
        ("1.", 0),
        (".5", 0),
        ("1.2.3", 0),
        ("-1", 0),
        ("1E+2", 0),
        ("", 0),
    ],
)
async def test_well_formed(conn: aiosqlite.Connection, text: str, ok: int) -> None:
    async with conn.execute(f"SELECT {well_formed('?1')}", (text,)) as cur:
        row = await cur.fetchone()
    assert row is not None
    assert row[0] == ok


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.decimals(min_value=0, max_value=D("99999999"), places=2, allow_nan=False, allow_infinity=False),
        max_size=20,
    )
)
def test_any_money_sums_like_python(values: list[D]) -> None:
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a TEXT)")
    conn.executemany("INSERT INTO t (a) VALUES (?)", [(str(v),) for v in values])
    row = conn.execute(f"SELECT {aggregate('a')} FROM t").fetchone()  # noqa: S608
    conn.close()
    expected = sum(values, D(0))
    got = total(row[1], row[2], row[3])
    assert got == expected
    if values:
        assert str(got) == str(expected)


async def _fast(conn: aiosqlite.Connection, values: list[str | None]) -> D | None:
    await conn.execute("DELETE FROM t")
    await conn.executemany("INSERT INTO t (a) VALUES (?)", [(v,) for v in values])
    async with conn.execute(f"SELECT {fast_aggregate('a')} FROM t") as cur:  # noqa: S608
        row = await cur.fetchone()
    assert row is not None
    return fast_total(row[1], row[2], row[3], row[4])


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["10.50", "2.00"], "12.50"),
        (["0.1", "0.2"], "0.3"),
        (["5", "7"], "12"),
        (["999999.99999999", "0.00000001"], "1000000.00000000"),
        ([None, "3.30"], "3.30"),
        ([], "0"),
        (["1000000"], None),  # too large to prove exact in floating point
        (["1.123456789"], None),  # more than 8 places
        (["-1.50"], None),  # not plain digits
        (["1E+2"], None),
        (["1.2.3"], None),
    ],
)
async def test_fast_path_is_exact_or_declines(
    conn: aiosqlite.Connection, values: list[str | None], expected: str | None
) -> None:
    got = await _fast(conn, values)
    assert (None if got is None else str(got)) == expected
