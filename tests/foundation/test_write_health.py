"""A run of database faults: told apart from a refused write, reported while recent, ended by a success."""

from __future__ import annotations

import sqlite3

import pytest

from bot.storage.write_health import FAILING_FOR, WriteHealth, database_fault

FULL = sqlite3.OperationalError("database or disk is full")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("exc", "fault"),
    [
        (FULL, "OperationalError: database or disk is full"),
        (sqlite3.DatabaseError("file is not a database"), "DatabaseError: file is not a database"),
        (sqlite3.IntegrityError("UNIQUE constraint failed: t.x"), None),  # this write only: not a fault
        (ValueError("bad job"), None),
        (TimeoutError(), None),
    ],
)
def test_a_fault_is_an_error_of_sqlite_but_a_constraint(exc: BaseException, fault: str | None) -> None:
    assert database_fault(exc) == fault


def test_a_long_message_is_cut() -> None:
    fault = database_fault(sqlite3.OperationalError("x" * 500))
    assert fault is not None
    assert len(fault) == 200
    assert fault.startswith("OperationalError: xxx")


def test_a_run_of_faults_is_counted_reported_and_ended_by_a_success() -> None:
    clock = Clock()
    health = WriteHealth(clock=clock)
    assert health.problem is None
    assert health.failed(sqlite3.IntegrityError("UNIQUE constraint failed")) == 0  # a refused write only
    assert health.problem is None
    assert health.failed(FULL) == 1
    assert health.failed(sqlite3.IntegrityError("UNIQUE constraint failed")) == 0  # does not end the run...
    assert health.failed(FULL) == 2  # ...nor reset its count
    assert health.problem == "OperationalError: database or disk is full"
    assert health.succeeded() == 2
    assert (health.problem, health.failures) == (None, 0)
    assert health.succeeded() == 0


def test_the_fault_is_reported_until_a_minute_after_the_last_failure() -> None:
    clock = Clock()
    health = WriteHealth(clock=clock)
    health.failed(FULL)
    clock.now += FAILING_FOR - 1
    health.failed(sqlite3.OperationalError("disk I/O error"))  # the latest fault, and its time
    clock.now += FAILING_FOR
    assert health.problem == "OperationalError: disk I/O error"
    clock.now += 0.5
    assert health.problem is None  # nothing written for a minute: no evidence left
    assert health.failures == 2  # the run is over only when a write succeeds
    assert health.succeeded() == 2
