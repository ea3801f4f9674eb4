"""The shop's small key/value state (``shop_state``, migration 0008): visibility, pushes, alerts, methods."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.storage import Database

MANUAL_INSTRUCTIONS = "manual.instructions"
VISIBILITY_PUBLIC = "visibility.public"
VISIBILITY_SET_AT = "visibility.set_at"
LAST_SUCCESS_AT = "push.last_success_at"
LAST_PUSHED = "push.last_pushed"
EXPIRES_AT = "push.expires_at"
LAST_ATTEMPT_AT = "push.last_attempt_at"
LAST_ERROR = "push.last_error"
LAST_ERROR_AT = "push.last_error_at"
ALERT_ACTIVE = "alert.active"

_UPSERT = (
    "INSERT INTO shop_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
    "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
)


def to_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class ShopState:
    """Repository over ``shop_state``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, key: str) -> str | None:
        row = await self._db.fetchone("SELECT value FROM shop_state WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    async def set(self, key: str, value: str) -> None:
        await self._db.execute(_UPSERT, (key, value))

    async def set_many(self, values: dict[str, str | None]) -> None:
        """Set (or, for ``None``, delete) several keys in one transaction."""
        async with self._db.transaction() as conn:
            for key, value in values.items():
                if value is None:
                    await conn.execute("DELETE FROM shop_state WHERE key = ?", (key,))
                else:
                    await conn.execute(_UPSERT, (key, value))

    async def delete(self, key: str) -> None:
        await self._db.execute("DELETE FROM shop_state WHERE key = ?", (key,))

    async def get_time(self, key: str) -> datetime | None:
        text = await self.get(key)
        return None if text is None else from_iso(text)

    async def get_bool(self, key: str) -> bool | None:
        text = await self.get(key)
        return None if text is None else text == "true"
