"""Configuration set from Discord (``/setup …``), stored in SQLite and overriding the ``.env`` defaults."""

from __future__ import annotations

import json
from decimal import Decimal
from enum import StrEnum

import aiosqlite

from bot.settings import Settings
from bot.storage import Database


class ChannelKind(StrEnum):
    PURCHASE = "purchase"
    TRANSFER = "transfer"
    AUDIT = "audit"
    ORDERS = "orders"
    DIGEST = "digest"


class EveryoneCannotBeStaff(ValueError):
    """The server's ``@everyone`` role (its id is the server's own) as a staff role: every member could spend."""


class GuildConfig:
    """Small repository over the ``guild_config`` key/value table with typed accessors and env defaults."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings

    async def _get(self, key: str) -> str | None:
        row = await self._db.fetchone("SELECT value FROM guild_config WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    async def _set(self, key: str, value: str, updated_by: int | None) -> None:
        await self._db.execute(
            "INSERT INTO guild_config (key, value, updated_by) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, "
            "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            (key, value, updated_by),
        )

    # channels -------------------------------------------------------------
    async def channel_id(self, kind: ChannelKind) -> int | None:
        stored = await self._get(f"channel.{kind.value}")
        if stored is not None:
            return int(stored)
        channels = self._settings.channels
        defaults = {
            ChannelKind.PURCHASE: channels.purchase_channel_id,
            ChannelKind.TRANSFER: channels.transfer_channel_id,
            ChannelKind.AUDIT: channels.audit_channel_id,
        }
        return defaults.get(kind)

    async def set_channel(self, kind: ChannelKind, channel_id: int, *, updated_by: int | None) -> None:
        await self._set(f"channel.{kind.value}", str(channel_id), updated_by)

    # staff ----------------------------------------------------------------
    async def staff_role_ids(self) -> frozenset[int]:
        stored = await self._get("staff.role_ids")
        extra = frozenset(int(v) for v in json.loads(stored)) if stored else frozenset()
        return frozenset(self._settings.staff.staff_role_ids) | extra

    async def add_staff_role(self, role_id: int, *, guild_id: int | None, updated_by: int | None) -> None:
        """Make ``role_id`` a staff role; :class:`EveryoneCannotBeStaff` for the server's ``@everyone``."""
        if role_id == guild_id:
            raise EveryoneCannotBeStaff(role_id)
        stored = await self._get("staff.role_ids")
        roles = set(json.loads(stored)) if stored else set()
        roles.add(role_id)
        await self._set("staff.role_ids", json.dumps(sorted(roles)), updated_by)

    async def remove_staff_role(self, role_id: int, *, updated_by: int | None) -> None:
        stored = await self._get("staff.role_ids")
        roles = set(json.loads(stored)) if stored else set()
        roles.discard(role_id)
        await self._set("staff.role_ids", json.dumps(sorted(roles)), updated_by)

    async def daily_limit(self) -> Decimal:
        stored = await self._get("staff.daily_limit")
        return Decimal(stored) if stored is not None else self._settings.staff.daily_limit

    async def set_daily_limit(self, value: Decimal, *, updated_by: int | None) -> None:
        await self._set("staff.daily_limit", str(value), updated_by)

    async def transfer_approval_threshold(self) -> Decimal:
        stored = await self._get("staff.transfer_approval_threshold")
        if stored is not None:
            return Decimal(stored)
        return self._settings.staff.transfer_approval_threshold

    async def set_transfer_approval_threshold(self, value: Decimal, *, updated_by: int | None) -> None:
        await self._set("staff.transfer_approval_threshold", str(value), updated_by)

    # state of features (key/value) -------------------------------------------
    async def value(self, key: str) -> str | None:
        """A feature's own stored value (e.g. ``stats.digest_week``), ``None`` when never set."""
        return await self._get(key)

    async def set_value(self, key: str, value: str, *, updated_by: int | None = None) -> None:
        await self._set(key, value, updated_by)

    @staticmethod
    async def set_value_in(conn: aiosqlite.Connection, key: str, value: str) -> None:
        """:meth:`set_value` inside the caller's transaction (with the outbox row it decides, for example)."""
        await conn.execute(
            "INSERT INTO guild_config (key, value, updated_by) VALUES (?, ?, NULL) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_by = NULL, "
            "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            (key, value),
        )
