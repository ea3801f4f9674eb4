"""Whether a connection's writes are failing, and why: for ``/healthz`` and for a quiet log.

A write can fail for a reason of its own (a constraint: that one write is refused, the next is not) or because
the database cannot take writes at all: the disk is full, an I/O error, the file became read-only, another
process held the lock past the busy timeout. Then every write fails until the operator acts, and the bot keeps
answering what it can (a webhook gets ``503``, so Neverlose sends it again later; a notification waits in the
outbox). :class:`WriteHealth` tells the two apart (:func:`database_fault`) and keeps the latest fault:

- ``/healthz`` reports it (:attr:`WriteHealth.problem`) until a write succeeds, or :data:`FAILING_FOR` seconds
  after the last failed one (a bot that has nothing to write cannot see the fault end; so a quiet bot turns
  healthy again a minute after its last failure, and a busy one as soon as a write succeeds);
- the log gets the first failure of a run of them with its traceback and each later one as a single line with
  the run's count (:meth:`WriteHealth.failed`), then one line when writes succeed again (:meth:`succeeded`):
  a full disk under a burst of webhooks is then a few lines, not a traceback per event.

Used from one thread per instance (the batch writer's thread, or the event loop for the main connection); the
event loop reads :attr:`problem` of the writer's, which is one attribute read.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

FAILING_FOR = 60.0
"""Seconds after the last failed write during which :attr:`WriteHealth.problem` still reports it."""

RETRY_AFTER = "60"
"""``Retry-After`` (seconds) of the pages a person sees while the database cannot take writes."""


def database_fault(exc: BaseException) -> str | None:
    """``Type: SQLite's message`` when ``exc`` says the database cannot take writes (any ``sqlite3.Error`` but a
    constraint violation, which refuses one write only); ``None`` for anything else. SQLite's messages name the
    fault or a table and column (``database or disk is full``), never a value written."""
    if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.IntegrityError):
        return f"{type(exc).__name__}: {exc}"[:200]
    return None


class WriteHealth:
    """The latest database fault of one connection's writes (see the module docstring)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._fault: str | None = None
        self._at = 0.0
        self.failures = 0
        """Writes failed by a database fault since the last one that succeeded."""

    def failed(self, exc: BaseException) -> int:
        """Note a failed write; how many failed in a row so far (0: ``exc`` is not a database fault)."""
        fault = database_fault(exc)
        if fault is None:
            return 0
        self._fault, self._at = fault, self._clock()
        self.failures += 1
        return self.failures

    def succeeded(self) -> int:
        """Note a write that succeeded; how many had failed in a row before it."""
        failures, self.failures, self._fault = self.failures, 0, None
        return failures

    @property
    def problem(self) -> str | None:
        """The latest fault while it is recent (see the module docstring), else ``None``."""
        fault = self._fault
        if fault is None or self._clock() - self._at > FAILING_FOR:
            return None
        return fault
