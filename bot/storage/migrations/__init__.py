"""Numbered SQL migrations (``0001_init.sql``, …) applied in one transaction at start-up.

The schema version is the database's own ``PRAGMA user_version``. Each feature adds its tables in a new
numbered file; a file is never edited once released.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources

import aiosqlite

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


class MigrationError(RuntimeError):
    """The migration files or the database's version are inconsistent."""


def load_migrations() -> list[Migration]:
    """Every packaged migration, in order; the numbers must run 1, 2, 3… without gaps."""
    found: list[Migration] = []
    for entry in resources.files(__package__).iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(f"migration numbers must be consecutive; expected {expected:04d}")
    return found


async def apply_migrations(conn: aiosqlite.Connection, migrations: list[Migration]) -> int:
    """Bring the database up to the newest migration in ONE transaction; return the version."""
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    current = int(row[0]) if row else 0
    newest = migrations[-1].version if migrations else 0
    if current > newest:
        raise MigrationError(
            f"database schema version {current} is newer than this bot knows ({newest}); upgrade the bot"
        )
    pending = [m for m in migrations if m.version > current]
    if not pending:
        return current
    script = "\n".join(m.sql for m in pending)
    try:
        await conn.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {newest};\nCOMMIT;")
    except BaseException:
        if conn.in_transaction:
            await conn.execute("ROLLBACK")
        raise
    for m in pending:
        log.info("migration applied version=%d name=%s", m.version, m.name)
    return newest
