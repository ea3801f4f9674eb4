"""INTERACTION_CREATE payloads (slash commands with options / sub-commands, autocomplete, button and
select clicks) and :class:`InteractionRecord`, which collects what the bot answered to one interaction."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .limits import FLAG_EPHEMERAL, FLAG_LOADING
from .state import FakeChannel, FakeGuild, FakeMember, FakeRole, FakeUser

if TYPE_CHECKING:
    from .server import FakeDiscord

# Interaction types
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
APPLICATION_COMMAND_AUTOCOMPLETE = 4
MODAL_SUBMIT = 5

# Callback (response) types
CHANNEL_MESSAGE_WITH_SOURCE = 4
DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9

# Application command option types
SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
USER = 6
CHANNEL = 7
ROLE = 8
MENTIONABLE = 9
ATTACHMENT = 11


@dataclass(eq=False)
class InteractionRecord:
    """Everything the bot did with one interaction token.

    ``response`` is the first callback (``{"type": int, "data": dict}``), ``followups`` the follow-up
    messages (live dicts, updated by later edits), ``edits`` the bodies of ``PATCH .../@original``,
    ``errors`` every refused request for this token (late response, double acknowledge, limits).
    """

    id: int
    token: str
    type: int
    payload: dict[str, Any]
    dispatched_at: float
    _fake: FakeDiscord = field(repr=False)
    response: dict[str, Any] | None = None
    responded_at: float | None = None
    original_message_id: int | None = None
    followups: list[dict[str, Any]] = field(default_factory=list)
    edits: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    original_deleted: bool = False

    @property
    def responded(self) -> bool:
        return self.response is not None

    @property
    def response_type(self) -> int | None:
        return None if self.response is None else int(self.response["type"])

    @property
    def deferred(self) -> bool:
        return self.response_type in (DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE, DEFERRED_UPDATE_MESSAGE)

    @property
    def ephemeral(self) -> bool:
        if self.response is None:
            return False
        return bool(int((self.response.get("data") or {}).get("flags") or 0) & FLAG_EPHEMERAL)

    @property
    def user_id(self) -> int:
        user = (self.payload.get("member") or {}).get("user") or self.payload.get("user") or {}
        return int(user["id"])

    @property
    def channel_id(self) -> int:
        return int(self.payload["channel_id"])

    def original_message(self) -> dict[str, Any] | None:
        """The current original response message (or the clicked message for component interactions)."""
        if self.original_message_id is None or self.original_deleted:
            return None
        return self._fake.state_message(self.original_message_id)

    def final_message(self) -> dict[str, Any] | None:
        """Latest visible ``content``/``embeds``/``components``/``flags`` of the original response."""
        message = self.original_message()
        if message is None:
            return None
        return {
            "id": message["id"],
            "content": message.get("content", ""),
            "embeds": message.get("embeds", []),
            "components": message.get("components", []),
            "flags": message.get("flags", 0),
            "loading": bool(int(message.get("flags") or 0) & FLAG_LOADING),
        }

    def all_text(self) -> str:
        """Content, embed titles/descriptions/fields of the original response and every follow-up."""
        parts: list[str] = []
        messages = [m for m in [self.original_message(), *self.followups] if m is not None]
        for m in messages:
            parts.append(m.get("content") or "")
            for e in m.get("embeds") or []:
                parts += [e.get("title") or "", e.get("description") or ""]
                parts += [f"{f.get('name')}: {f.get('value')}" for f in e.get("fields") or []]
        return "\n".join(p for p in parts if p)

    async def wait_response(self, timeout: float = 5.0) -> InteractionRecord:
        """Wait for the first callback (raises ``TimeoutError``)."""
        await self._fake.wait_for(lambda: self.response is not None, timeout=timeout)
        return self

    async def wait_until(self, predicate: Callable[[InteractionRecord], object], timeout: float = 5.0) -> None:
        await self._fake.wait_for(lambda: predicate(self), timeout=timeout)

    async def wait_followups(self, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        await self._fake.wait_for(lambda: len(self.followups) >= count, timeout=timeout)
        return self.followups

    async def wait_edits(self, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        await self._fake.wait_for(lambda: len(self.edits) >= count, timeout=timeout)
        return self.edits


def new_token() -> str:
    return "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)


def member_payload(guild: FakeGuild, member: FakeMember) -> dict[str, Any]:
    data = member.to_payload()
    data["permissions"] = str(guild.permissions_of(member))
    return data


def _option_value(option_type: int, value: Any, resolved: dict[str, dict[str, Any]], guild: FakeGuild) -> Any:
    """Convert a Python value into the option's wire value, filling ``resolved`` for entity options."""
    if option_type in (USER, MENTIONABLE) and isinstance(value, FakeMember | FakeUser):
        user = value.user if isinstance(value, FakeMember) else value
        resolved.setdefault("users", {})[str(user.id)] = user.to_payload()
        member = guild.member(user.id)
        if member is not None:
            partial = member_payload(guild, member)
            partial.pop("user")
            resolved.setdefault("members", {})[str(user.id)] = partial
        return str(user.id)
    if option_type in (ROLE, MENTIONABLE) and isinstance(value, FakeRole):
        resolved.setdefault("roles", {})[str(value.id)] = value.to_payload()
        return str(value.id)
    if option_type == CHANNEL and isinstance(value, FakeChannel):
        ch = value.to_payload()
        ch["permissions"] = str((1 << 51) - 1)
        resolved.setdefault("channels", {})[str(value.id)] = ch
        return str(value.id)
    if option_type == ATTACHMENT and isinstance(value, dict):  # from FakeDiscord.upload()
        resolved.setdefault("attachments", {})[str(value["id"])] = value
        return str(value["id"])
    if option_type in (USER, ROLE, CHANNEL, MENTIONABLE) and isinstance(value, int):
        return str(value)
    return value


def build_options(
    declared: list[dict[str, Any]],
    values: dict[str, Any],
    guild: FakeGuild,
    resolved: dict[str, dict[str, Any]],
    *,
    focused: str | None = None,
) -> list[dict[str, Any]]:
    """Options as Discord sends them, typed from the command's registered option declarations."""
    by_name = {o["name"]: o for o in declared}
    result: list[dict[str, Any]] = []
    for name, value in values.items():
        decl = by_name.get(name)
        if decl is None:
            raise KeyError(f"option {name!r} is not declared; declared: {sorted(by_name)}")
        kind = int(decl["type"])
        entry: dict[str, Any] = {"name": name, "type": kind, "value": _option_value(kind, value, resolved, guild)}
        if focused == name:
            entry["focused"] = True
        result.append(entry)
    missing = [o["name"] for o in declared if o.get("required") and o["name"] not in values and focused is None]
    if missing:
        raise KeyError(f"required options missing: {missing}")
    return result


def build_command_data(
    command: dict[str, Any],
    guild: FakeGuild,
    *,
    options: dict[str, Any] | None,
    subcommand: str | None,
    focused: str | None = None,
) -> dict[str, Any]:
    """``data`` of an APPLICATION_COMMAND / AUTOCOMPLETE interaction for a registered command.

    ``subcommand`` is ``"sub"`` or ``"group sub"``.
    """
    resolved: dict[str, dict[str, Any]] = {}
    declared: list[dict[str, Any]] = command.get("options") or []
    path = subcommand.split() if subcommand else []
    chain: list[dict[str, Any]] = []
    for part in path:
        decl = next((o for o in declared if o["name"] == part and o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)), None)
        if decl is None:
            raise KeyError(f"sub-command {part!r} not found in {command['name']!r}")
        chain.append(decl)
        declared = decl.get("options") or []
    leaf = build_options(declared, options or {}, guild, resolved, focused=focused)
    for decl in reversed(chain):
        leaf = [{"name": decl["name"], "type": decl["type"], "options": leaf}]
    data: dict[str, Any] = {
        "id": str(command["id"]),
        "name": command["name"],
        "type": int(command.get("type", 1)),
        "options": leaf,
    }
    if command.get("guild_id"):
        data["guild_id"] = str(command["guild_id"])
    if resolved:
        data["resolved"] = resolved
    return data


def build_interaction(
    *,
    interaction_id: int,
    token: str,
    interaction_type: int,
    application_id: int,
    data: dict[str, Any],
    guild: FakeGuild | None,
    channel: FakeChannel,
    member: FakeMember | None = None,
    user: FakeUser | None = None,
    bot_member: FakeMember | None = None,
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A complete INTERACTION_CREATE ``d`` payload (guild interaction when ``guild`` is given, else DM)."""
    channel_payload = channel.to_payload()
    payload: dict[str, Any] = {
        "id": str(interaction_id),
        "application_id": str(application_id),
        "type": interaction_type,
        "data": data,
        "channel_id": str(channel.id),
        "channel": channel_payload,
        "token": token,
        "version": 1,
        "locale": "en-US",
        "entitlements": [],
        "attachment_size_limit": 10 * 1024 * 1024,
    }
    if guild is not None:
        assert member is not None, "guild interactions need a member"
        channel_payload["permissions"] = str(guild.permissions_of(member))
        payload.update(
            guild_id=str(guild.id),
            guild={"id": str(guild.id), "locale": "en-US", "features": []},
            guild_locale="en-US",
            member=member_payload(guild, member),
            app_permissions=str(guild.permissions_of(bot_member) if bot_member else 0),
            authorizing_integration_owners={"0": str(guild.id)},
            context=0,
        )
    else:
        assert user is not None, "DM interactions need a user"
        payload.update(user=user.to_payload(), authorizing_integration_owners={"0": "0"}, context=1)
    if message is not None:
        payload["message"] = message
    return payload


def find_component(message: dict[str, Any], custom_id: str) -> dict[str, Any] | None:
    def walk(components: list[dict[str, Any]]) -> dict[str, Any] | None:
        for c in components:
            if c.get("custom_id") == custom_id:
                return c
            for key in ("components",):
                found = walk(c.get(key) or [])
                if found is not None:
                    return found
            accessory = c.get("accessory")
            if isinstance(accessory, dict) and accessory.get("custom_id") == custom_id:
                return accessory
        return None

    return walk(message.get("components") or [])
