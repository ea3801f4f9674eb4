"""A transaction that ends badly leaves the connection usable: a refused COMMIT is rolled back, and a transaction
SQLite already rolled back itself does not hide its error behind a failed second ROLLBACK.

Both failures are SQLite's own: a deferred foreign key makes ``COMMIT`` fail and leaves the transaction open; a
trigger's ``RAISE(ROLLBACK, ...)`` ends the transaction inside the statement."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.storage import Database
from bot.storage.database import check_sqlite_version

SCHEMA = (
    "CREATE TABLE parent (id INTEGER PRIMARY KEY)",
    "CREATE TABLE child (id INTEGER PRIMARY KEY,"
    " parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)",
    "CREATE TABLE guarded (id INTEGER PRIMARY KEY)",
    "CREATE TRIGGER guarded_no_13 BEFORE INSERT ON guarded WHEN NEW.id = 13"
    " BEGIN SELECT RAISE(ROLLBACK, 'no thirteen'); END",
)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "db.sqlite3")
    for statement in SCHEMA:
        await database.conn.execute(statement)
    await database.conn.commit()
    try:
        yield database
    finally:
        await database.close()


async def _count(db: Database, table: str) -> int:
    return int((await db.fetchall(f"SELECT COUNT(*) FROM {table}"))[0][0])  # noqa: S608 - the tests' own names


async def test_a_refused_commit_is_rolled_back_and_the_next_transaction_works(db: Database) -> None:
    async def orphan() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO parent (id) VALUES (1)")
            await conn.execute("INSERT INTO child (id, parent_id) VALUES (1, 99)")  # checked at COMMIT

    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        await orphan()
    assert not db.conn.in_transaction
    assert await _count(db, "parent") == 0  # the whole transaction undone, not half kept
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO parent (id) VALUES (2)")
    assert await _count(db, "parent") == 1


async def test_a_transaction_sqlite_rolled_back_itself_raises_its_own_error(db: Database) -> None:
    async def thirteen() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO guarded (id) VALUES (12)")
            await conn.execute("INSERT INTO guarded (id) VALUES (13)")  # its trigger rolls everything back

    with pytest.raises(sqlite3.IntegrityError, match="no thirteen"):
        await thirteen()
    assert not db.conn.in_transaction
    assert await _count(db, "guarded") == 0
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO guarded (id) VALUES (14)")
    assert await _count(db, "guarded") == 1


def _orphan(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO parent (id) VALUES (1)")
    conn.execute("INSERT INTO child (id, parent_id) VALUES (1, 99)")


def _thirteen(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO guarded (id) VALUES (12)")
    conn.execute("INSERT INTO guarded (id) VALUES (13)")


@pytest.mark.parametrize(
    ("fn", "error", "table"),
    [(_orphan, "FOREIGN KEY", "parent"), (_thirteen, "no thirteen", "guarded")],
    ids=["refused-commit", "rolled-back-by-sqlite"],
)
async def test_run_in_transaction_ends_the_same_way(
    db: Database, fn: Callable[[sqlite3.Connection], None], error: str, table: str
) -> None:
    with pytest.raises(sqlite3.IntegrityError, match=error):
        await db.run_in_transaction(fn)
    assert not db.conn.in_transaction
    assert await _count(db, table) == 0
    await db.run_in_transaction(lambda conn: conn.execute("INSERT INTO parent (id) VALUES (5)"))
    assert await _count(db, "parent") == 1


def test_an_old_sqlite_is_refused_in_plain_words() -> None:
    with pytest.raises(sqlite3.NotSupportedError) as refused:
        check_sqlite_version((3, 31, 1))
    assert str(refused.value) == (
        "SQLite 3.37.0 or newer is needed; this Python uses SQLite 3.31.1. Use the Docker image, or a Python built "
        "with a newer SQLite (Debian 12, Ubuntu 22.04 and newer have one)."
    )
    check_sqlite_version((3, 37, 0))
    check_sqlite_version(sqlite3.sqlite_version_info)  # this machine's


async def test_opening_checks_the_version_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.storage.database.check_sqlite_version", lambda: check_sqlite_version((3, 36, 9)))
    with pytest.raises(sqlite3.NotSupportedError, match=r"^SQLite 3\.37\.0 or newer is needed; .* 3\.36\.9\."):
        await Database.open(tmp_path / "db.sqlite3")
    assert not (tmp_path / "db.sqlite3").exists()  # nothing created


async def test_a_path_that_cannot_be_created_is_an_sqlite_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(sqlite3.OperationalError) as refused:
        await Database.open(tmp_path / "a-file" / "bot.sqlite3")
    assert str(refused.value) == f"unable to open database file: File exists: {tmp_path / 'a-file'}"


async def test_a_run_of_write_faults_is_logged_once_reported_and_ended_by_a_success(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Writes on a database that may not grow (``max_page_count``, SQLite's own "database or disk is full"),
    through each way of writing: the first fault is logged (its callers log theirs), /healthz's
    :attr:`~bot.storage.write_health.WriteHealth.problem` has it, a refused constraint is not a fault, and the
    first write that succeeds ends the run with one line."""
    pages = await db.fetchone("PRAGMA page_count")
    assert pages is not None
    await db.execute(f"PRAGMA max_page_count = {int(pages[0])}")
    big = "x" * 5000

    def insert_big(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO guarded (id) VALUES (?)", (len(big),))
        conn.execute("CREATE TABLE more_pages (x TEXT)")
        conn.execute("INSERT INTO more_pages VALUES (?)", (big,))

    with pytest.raises(sqlite3.OperationalError, match="full"):
        await db.run_in_transaction(insert_big)
    assert db.health.problem == "OperationalError: database or disk is full"
    said = ["database writes failing error=OperationalError fault='database or disk is full'"]
    assert [r.getMessage() for r in caplog.records if r.name == "bot.storage.database"] == said  # at once
    with pytest.raises(sqlite3.OperationalError, match="full"):
        await db.execute("CREATE TABLE other_pages (x TEXT)")
    with pytest.raises(sqlite3.OperationalError, match="full"):
        async with db.transaction() as conn:
            await conn.execute("CREATE TABLE third_pages (x TEXT)")
    assert db.health.failures == 3
    with pytest.raises(sqlite3.IntegrityError):
        await db.execute("INSERT INTO child (id, parent_id) VALUES (?, ?)", (1, 404))  # a deferred key, refused
    assert db.health.failures == 3  # not a fault of the database
    assert [r.getMessage() for r in caplog.records if r.name == "bot.storage.database"] == said  # only once

    await db.execute("PRAGMA max_page_count = 1000000")
    assert db.health.problem is None
    assert [r.getMessage() for r in caplog.records if "writes again" in r.getMessage()] == [
        "database writes again after failures=3"
    ]
    assert await _count(db, "guarded") == 0  # the failed transaction left nothing
