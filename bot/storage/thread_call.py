"""Many statements for one round trip: a function run on the aiosqlite connection's own thread.

Each ``await conn.execute(...)`` is a round trip to the connection's thread: the event loop queues the call,
that thread wakes up and takes the GIL, and the result comes back through the loop's self-pipe. Measured on
the 2-core machine, one such trip costs about 0.1 ms of CPU, far more than a small statement itself (a few
microseconds). :func:`on_connection_thread` runs a plain function ``fn(conn)`` with the ``sqlite3``
connection behind an aiosqlite one, on that connection's thread, so a write of several statements costs one
trip. The function must be quick and touch only the connection it is given; it runs inside whatever
transaction the caller has open (the caller holds :class:`~bot.storage.Database`'s lock), and what it raises is
raised to the caller.

aiosqlite has no public call for this: it is what its own methods do (``Connection._execute`` queues a
function for its thread, ``Connection._conn`` is the connection that thread uses); the tests pin it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import aiosqlite

T = TypeVar("T")


async def on_connection_thread(conn: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """``fn(c)``, ``c`` being the ``sqlite3`` connection behind ``conn``, run on ``conn``'s thread: ONE round
    trip whatever ``fn`` executes. ``ValueError`` when ``conn`` is closed."""
    queue_call = cast(Callable[..., Awaitable[Any]], conn._execute)  # aiosqlite leaves it untyped
    result: T = await queue_call(fn, conn._conn)
    return result
