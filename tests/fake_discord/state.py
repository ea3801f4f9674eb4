"""In-memory world of the fake Discord: users, one guild (channels, roles, members), messages, DM channels,
application commands, recorded REST calls and limit violations.

Objects here are plain dataclasses with ``to_payload()`` methods producing Discord API v10 JSON.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

DISCORD_EPOCH_MS = 1420070400000

# Permission bits (https://discord.com/developers/docs/topics/permissions)
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
MANAGE_MESSAGES = 1 << 13
MANAGE_ROLES = 1 << 28
ALL_PERMISSIONS = (1 << 51) - 1
DEFAULT_EVERYONE_PERMISSIONS = (
    (1 << 6)  # add reactions
    | (1 << 10)  # view channel
    | (1 << 11)  # send messages
    | (1 << 14)  # embed links
    | (1 << 15)  # attach files
    | (1 << 16)  # read message history
    | (1 << 31)  # use application commands
)

# Channel types
GUILD_TEXT = 0
DM = 1


class SnowflakeFactory:
    """Monotonic, valid Discord snowflakes (``created_at`` resolves to 'now')."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def __call__(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (next(self._counter) & 0x3FFFFF)


def iso_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


@dataclass
class FakeUser:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False

    def to_payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass
class FakeRole:
    id: int
    name: str
    permissions: int = 0
    position: int = 0
    managed: bool = False

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": False,
            "flags": 0,
        }


@dataclass
class FakeChannel:
    id: int
    name: str
    type: int = GUILD_TEXT
    guild_id: int | None = None
    position: int = 0
    recipient: FakeUser | None = None  # DM channels only

    def to_payload(self) -> dict[str, Any]:
        if self.type == DM:
            return {
                "id": str(self.id),
                "type": DM,
                "last_message_id": None,
                "flags": 0,
                "recipients": [self.recipient.to_payload()] if self.recipient else [],
            }
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [],
            "parent_id": None,
            "topic": None,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }


@dataclass
class FakeMember:
    user: FakeUser
    roles: list[int] = field(default_factory=list)  # role ids, never @everyone
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)

    @property
    def id(self) -> int:
        return self.user.id

    def to_payload(self, *, with_user: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.to_payload()
        return data


@dataclass
class FakeGuild:
    """The seeded guild. ``channels``/``members`` are keyed by short name, ``roles`` by role name."""

    id: int
    name: str
    owner_id: int
    channels: dict[str, FakeChannel] = field(default_factory=dict)
    roles: dict[str, FakeRole] = field(default_factory=dict)
    members: dict[str, FakeMember] = field(default_factory=dict)
    bot_member: FakeMember | None = None

    @property
    def everyone(self) -> FakeRole:
        return self.roles["@everyone"]

    def all_members(self) -> list[FakeMember]:
        found = list(self.members.values())
        if self.bot_member is not None:
            found.append(self.bot_member)
        return found

    def member(self, user_id: int) -> FakeMember | None:
        return next((m for m in self.all_members() if m.id == user_id), None)

    def role(self, role_id: int) -> FakeRole | None:
        return next((r for r in self.roles.values() if r.id == role_id), None)

    def channel(self, channel_id: int) -> FakeChannel | None:
        return next((c for c in self.channels.values() if c.id == channel_id), None)

    def permissions_of(self, member: FakeMember) -> int:
        if member.id == self.owner_id:
            return ALL_PERMISSIONS
        value = self.everyone.permissions
        for role_id in member.roles:
            role = self.role(role_id)
            if role is not None:
                value |= role.permissions
        return ALL_PERMISSIONS if value & ADMINISTRATOR else value

    def to_payload(self) -> dict[str, Any]:
        members = self.all_members()
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "region": "deprecated",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "features": [],
            "roles": [r.to_payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "application_id": None,
            "max_members": 500000,
            "max_video_channel_users": 25,
            # GUILD_CREATE-only fields
            "joined_at": iso_now(),
            "large": False,
            "unavailable": False,
            "member_count": len(members),
            "members": [m.to_payload() for m in members],
            "channels": [c.to_payload() for c in self.channels.values()],
            "threads": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }


@dataclass
class RecordedCall:
    """One REST request the bot made. ``path`` is relative to the API base, e.g. ``/channels/1/messages``."""

    method: str
    path: str
    json: Any
    status: int
    query: dict[str, str] = field(default_factory=dict)
    response: Any = None
    at: float = field(default_factory=time.monotonic)
    """When the fake answered (``time.monotonic()``), e.g. to check that a 429's ``retry_after`` was waited."""

    def __repr__(self) -> str:
        return f"<RecordedCall {self.method} {self.path} -> {self.status}>"


@dataclass
class Violation:
    """A request Discord would refuse: a limit, a late interaction response, ... (``kind`` says which)."""

    kind: str
    method: str
    path: str
    error: dict[str, Any]
    body: Any = None


@dataclass
class RateLimitInjection:
    route_prefix: str
    remaining: int
    retry_after: float
    method: str | None = None
    is_global: bool = False

    def matches(self, method: str, path: str) -> bool:
        return self.remaining > 0 and path.startswith(self.route_prefix) and self.method in (None, method)


def build_default_guild(new_id: SnowflakeFactory, bot_user: FakeUser) -> FakeGuild:
    """A guild with #purchases #transfers #audit #general, @Staff, and owner / staff / plain member."""
    guild_id = new_id()
    owner = FakeMember(FakeUser(new_id(), "guild_owner", "Guild Owner"))
    guild = FakeGuild(id=guild_id, name="Reseller Test Guild", owner_id=owner.id)
    guild.roles["@everyone"] = FakeRole(id=guild_id, name="@everyone", permissions=DEFAULT_EVERYONE_PERMISSIONS)
    guild.roles["Staff"] = FakeRole(id=new_id(), name="Staff", permissions=MANAGE_MESSAGES, position=1)
    for position, name in enumerate(("purchases", "transfers", "audit", "general")):
        guild.channels[name] = FakeChannel(id=new_id(), name=name, guild_id=guild_id, position=position)
    guild.members["owner"] = owner
    guild.members["staff"] = FakeMember(
        FakeUser(new_id(), "staff_member", "Staff Member"), roles=[guild.roles["Staff"].id]
    )
    guild.members["member"] = FakeMember(FakeUser(new_id(), "plain_member", "Plain Member"))
    guild.bot_member = FakeMember(bot_user)
    return guild
