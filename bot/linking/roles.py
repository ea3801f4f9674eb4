"""Which Discord roles linked customers get: market item codes and products mapped to role ids.

Set with ``/setup roles``; read by the receipt hooks (on an open connection, inside their transaction).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import aiosqlite

from bot.storage import Database


class RoleKey(StrEnum):
    ITEM = "item"  # a market item code, e.g. E3yugw (purchases and give-for-free)
    PRODUCT = "product"  # a product, csgo or cs2 (gift-product)


@dataclass(frozen=True, slots=True)
class RoleMapping:
    guild_id: int
    kind: RoleKey
    key: str
    role_id: int


_COLUMNS = "guild_id, kind, key, role_id"


_FOR_KEY = f"SELECT {_COLUMNS} FROM role_mappings WHERE kind = ? AND key = ? ORDER BY guild_id, role_id"  # noqa: S608


def _mapping(row: sqlite3.Row | tuple[Any, ...]) -> RoleMapping:
    """A row of ``_COLUMNS`` from either connection kind (by position: a plain sqlite3 one gives tuples)."""
    return RoleMapping(int(row[0]), RoleKey(str(row[1])), str(row[2]), int(row[3]))


async def roles_for(conn: aiosqlite.Connection, kind: RoleKey, key: str) -> list[RoleMapping]:
    """Every mapping for ``kind``/``key`` in any guild, on an open connection (usable inside hooks)."""
    async with conn.execute(_FOR_KEY, (kind.value, key)) as cur:
        return [_mapping(row) for row in await cur.fetchall()]


def roles_for_sync(conn: sqlite3.Connection, kind: RoleKey, key: str) -> list[RoleMapping]:
    """:func:`roles_for` on a synchronous connection (the webhook fan-out runs on the batch writer)."""
    return [_mapping(row) for row in conn.execute(_FOR_KEY, (kind.value, key)).fetchall()]


class RoleMappings:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, guild_id: int, kind: RoleKey, key: str, role_id: int, *, created_by: int | None) -> bool:
        """Map ``kind``/``key`` to a role; ``False`` when that mapping already existed."""
        added = await self._db.execute(
            "INSERT OR IGNORE INTO role_mappings (guild_id, kind, key, role_id, created_by) VALUES (?, ?, ?, ?, ?)",
            (guild_id, kind.value, key, role_id, created_by),
        )
        return added > 0

    async def remove(self, guild_id: int, kind: RoleKey, key: str, role_id: int) -> bool:
        removed = await self._db.execute(
            "DELETE FROM role_mappings WHERE guild_id = ? AND kind = ? AND key = ? AND role_id = ?",
            (guild_id, kind.value, key, role_id),
        )
        return removed > 0

    async def list(self, guild_id: int) -> list[RoleMapping]:
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM role_mappings WHERE guild_id = ? ORDER BY kind, key, role_id",  # noqa: S608
            (guild_id,),
        )
        return [_mapping(row) for row in rows]
