"""Exact SQL sums of decimal text (bot/stats/sums.py) against Python's Decimal, on a real SQLite file."""

from __future__ import annotations

import sqlite3
from decimal import Decimal as D
from pathlib import Path

import aiosqlite
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.stats.sums import (
    aggregate,
    places,
    stored_aggregate,
    stored_total,
    stored_units,
    total,
    units,
    well_formed,
)
from bot.storage.migrations import load_migrations


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


def _migrated() -> sqlite3.Connection:
    """An in-memory database with every migration (0013: the stored units and their triggers)."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript("\n".join(m.sql for m in load_migrations()))
    return conn


AMOUNT_COLUMNS = [("orders", "amount"), ("operations", "amount_nle"), ("webhook_events", "amount")]
_INSERTS = {
    "orders": "INSERT INTO orders (id, form_token, login, product_key, nle_cost, state, created_at, updated_at,"
    " expires_at, amount) VALUES (?, 'f', 'l', 'cs2-30', '1', 'awaiting_payment', 't', 't', 't', ?)",
    "operations": "INSERT INTO operations (request_id, method, params, status, created_at, updated_at, amount_nle)"
    " VALUES (?, 'transfer-money', '{}', 'pending', 't', 't', ?)",
    "webhook_events": "INSERT INTO webhook_events (kind, unique_id, username, received_at, body, amount)"
    " VALUES ('transfer', ?, 'u', 't', '{}', ?)",
}
TEXTS = ["0", "1", "10.50", "0.00000001", "1234567890", "1234567890.12345678", "9999999999.99999999",
         "12345678901", "1.123456789", "1.", ".5", "1.2.3", "-1", "1E+2", "", " 1", "1,5", "007.10"]  # fmt: skip


def _stored_matches_text_path(
    conn: sqlite3.Connection, table: str, column: str, key: object, text: str, *, last: bool = True
) -> None:
    """The stored units and places of the last row (or of the rows holding ``text``) are the text path's."""
    where = f"rowid = (SELECT max(rowid) FROM {table})" if last else f"{column} = ?1"  # noqa: S608
    sql = f"SELECT DISTINCT {column}_units, {column}_places FROM {table} WHERE {where}"  # noqa: S608
    stored = conn.execute(sql, () if last else (text,)).fetchall()
    ok = well_formed("?1")
    expected = conn.execute(  # the text path's own expressions (bot/stats/sums.py) on the same text
        f"SELECT CASE WHEN {ok} THEN {units('?1')} END, CASE WHEN {ok} THEN {places('?1')} END",
        (text,),
    ).fetchall()
    assert stored == expected, (table, key, text)


@pytest.mark.parametrize(("table", "column"), AMOUNT_COLUMNS)
def test_stored_units_are_the_text_paths_on_insert_and_on_change(table: str, column: str) -> None:
    conn = _migrated()
    for number, text in enumerate(TEXTS, start=1):
        conn.execute(_INSERTS[table], (number if table == "webhook_events" else f"k{number}", text))
        _stored_matches_text_path(conn, table, column, number, text)
    for text in reversed(TEXTS):  # the amount changed later (e.g. set with the payment method)
        conn.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = (SELECT max(rowid) FROM {table})", (text,))  # noqa: S608
        _stored_matches_text_path(conn, table, column, "update", text)
    conn.execute(f"UPDATE {table} SET {column} = NULL WHERE rowid = 1") if table != "webhook_events" else None  # noqa: S608
    if table != "webhook_events":  # webhook amounts are NOT NULL
        assert conn.execute(f"SELECT {column}_units, {column}_places FROM {table} WHERE rowid = 1").fetchone() == (  # noqa: S608
            None,
            None,
        )
    conn.close()


_SHARED: list[sqlite3.Connection] = []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="0123456789.E+-", max_size=13), max_size=12))
def test_any_text_sums_the_same_through_the_stored_units(values: list[str]) -> None:
    if not _SHARED:
        _SHARED.append(_migrated())
    conn = _SHARED[0]
    conn.execute("DELETE FROM webhook_events")
    conn.executemany(_INSERTS["webhook_events"], list(enumerate(values, start=1)))
    stored = conn.execute(f"SELECT {stored_aggregate('amount')} FROM webhook_events").fetchone()  # noqa: S608
    text = conn.execute(f"SELECT {aggregate('amount')} FROM webhook_events").fetchone()  # noqa: S608
    assert stored[0] == text[0] == len(values)
    got = stored_total(stored[1], stored[2], stored[3])
    if got is not None:  # declined: the reader takes the text path (the figure is then total(...) itself)
        assert str(got) == str(total(text[1], text[2], text[3]))  # the value and its decimal places
    for value in values:  # and every stored units/places pair is the text path's
        _stored_matches_text_path(conn, "webhook_events", "amount", value, value, last=False)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["10.50", "2.00"], "12.50"),
        (["0.1", "0.2"], "0.3"),
        (["5", "7"], "12"),
        (["999999.99999999", "0.00000001"], "1000000.00000000"),
        (["1000000", "9999999999.99999999"], "10000999999.99999999"),
        ([None, "3.30"], "3.30"),
        ([None], "0"),
        ([], "0"),
        (["1.123456789"], None),  # more than 8 places
        (["-1.50"], None),  # not plain digits
        (["1E+2"], None),
        (["1.2.3"], None),
        (["12345678901"], None),  # 11 integer digits
    ],
)
def test_stored_sum_is_exact_or_declines(values: list[str | None], expected: str | None) -> None:
    conn = _migrated()
    conn.executemany(_INSERTS["operations"], [(f"r{i}", v) for i, v in enumerate(values)])
    row = conn.execute(f"SELECT {stored_aggregate('amount_nle')} FROM operations").fetchone()  # noqa: S608
    conn.close()
    assert row[0] == len(values)
    got = stored_total(row[1], row[2], row[3])
    assert (None if got is None else str(got)) == expected


def _text_path(conn: sqlite3.Connection, text: str) -> tuple[int | None, int | None]:
    ok = well_formed("?1")
    row = conn.execute(f"SELECT CASE WHEN {ok} THEN {units('?1')} END, CASE WHEN {ok} THEN {places('?1')} END", (text,))
    return tuple(row.fetchone())  # type: ignore[return-value]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(alphabet="0123456789.E+- ", max_size=22), st.decimals(allow_nan=False).map(str)))
def test_stored_units_in_python_are_the_text_paths(text: str) -> None:
    if not _SHARED:
        _SHARED.append(_migrated())
    assert stored_units(text) == _text_path(_SHARED[0], text)


@pytest.mark.parametrize("text", [*TEXTS, "0.9", "0.90", "100", "0.0", "5.00000000"])
def test_the_text_paths_pair_inserted_leaves_the_row_alone(text: str) -> None:
    """Migration 0014: a webhook event inserted with its amount's units and places (the ingest path does) is not
    rewritten by the insert trigger (one row changed, not two), and keeps exactly the text path's pair."""
    conn = _migrated()
    before = conn.total_changes
    conn.execute(
        "INSERT INTO webhook_events (kind, unique_id, username, received_at, body, amount, amount_units, amount_places)"
        " VALUES ('transfer', 1, 'u', 't', '{}', ?, ?, ?)",
        (text, *stored_units(text)),
    )
    another_spelling = text.startswith("0") and text[1:2].isdigit()  # "007.10": well formed, not canonical
    assert conn.total_changes - before == (2 if another_spelling else 1)
    _stored_matches_text_path(conn, "webhook_events", "amount", text, text)
    conn.close()


@pytest.mark.parametrize(
    ("text", "pair"),
    [
        ("0.9", (90000001, 1)),  # a digit below the places
        ("0.9", (90000000, 2)),  # more places than the text
        ("0.90", (90000000, 1)),  # fewer
        ("1.5", (150000000, 9)),
        ("-1", (-100000000, 0)),  # not well formed: NULL
        ("1E+2", (10000000000, 0)),
        ("007.10", (710000000, 2)),  # well formed, another spelling than the canonical one
        ("12345678901", (1234567890100000000, 0)),  # 11 integer digits
        ("5", (None, 0)),
        ("5", (500000000, None)),
        ("5", (None, None)),
        ("5", (400000000, 0)),
    ],
)
def test_a_wrong_pair_inserted_is_corrected(text: str, pair: tuple[int | None, int | None]) -> None:
    """Whatever another writer inserts, the stored pair is the text path's (the trigger still runs then)."""
    conn = _migrated()
    conn.execute(
        "INSERT INTO webhook_events (kind, unique_id, username, received_at, body, amount, amount_units, amount_places)"
        " VALUES ('transfer', 1, 'u', 't', '{}', ?, ?, ?)",
        (text, *pair),
    )
    _stored_matches_text_path(conn, "webhook_events", "amount", text, text)
    conn.close()
