"""Named outbox targets: the addresses that many modules write to (``bot.notifications.outbox`` parses them)."""

from __future__ import annotations

from typing import Final

AUDIT_TARGET: Final = "channel:audit"
"""The audit channel (``/setup notifications kind:audit``): alerts and the staff's audited actions."""
