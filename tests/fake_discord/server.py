"""The fake Discord HTTP API (v10) + Gateway on 127.0.0.1, and its test-facing API (:class:`FakeDiscord`)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import BodyPartReader, web

from . import limits
from .gateway import DIRECT_MESSAGES, GUILD_MEMBERS, GUILD_MESSAGES, Gateway
from .interactions import (
    APPLICATION_COMMAND,
    APPLICATION_COMMAND_AUTOCOMPLETE,
    CHANNEL_MESSAGE_WITH_SOURCE,
    DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
    DEFERRED_UPDATE_MESSAGE,
    MESSAGE_COMPONENT,
    MODAL,
    MODAL_SUBMIT,
    UPDATE_MESSAGE,
    InteractionRecord,
    build_command_data,
    build_interaction,
    find_component,
    new_token,
)
from .state import (
    DM,
    FakeChannel,
    FakeMember,
    FakeRole,
    FakeUser,
    RateLimitInjection,
    RecordedCall,
    SnowflakeFactory,
    Violation,
    build_default_guild,
    iso_now,
)

log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
JSON_BODY: web.RequestKey[Any] = web.RequestKey("fake_discord_json_body", object)
FILES: web.RequestKey[list[dict[str, Any]]] = web.RequestKey("fake_discord_files", list)
_MENTION = re.compile(r"<@!?(\d+)>")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UserRef = FakeMember | FakeUser | int | str
ChannelRef = FakeChannel | int | str


class DiscordError(Exception):
    """Raised by a handler to answer with Discord's error JSON."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"code": code, "message": message}
        if errors:
            self.body["errors"] = errors


def _json(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON with exactly ``Content-Type: application/json`` (discord.py's ``json_or_text`` compares it verbatim)."""
    return web.Response(body=json.dumps(data).encode(), status=status, headers=headers, content_type="application/json")


def _not_found(code: int, what: str) -> DiscordError:
    return DiscordError(404, code, f"Unknown {what}")


class FakeDiscord:
    """A fake Discord (REST v10 + Gateway) for one bot and one seeded guild. See the package docstring."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = "fake-bot-token",  # noqa: S107 - not a secret, the fake's own token
        interaction_deadline: float = limits.INTERACTION_FIRST_RESPONSE_DEADLINE,
        interaction_token_lifetime: float = limits.INTERACTION_TOKEN_LIFETIME,
        nonce_window: float = 300.0,
        heartbeat_interval_ms: int = 41250,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self.port = port
        self.token = token
        self.interaction_deadline = interaction_deadline
        self.interaction_token_lifetime = interaction_token_lifetime
        self.nonce_window = nonce_window
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.clock = clock

        self.new_id = SnowflakeFactory()
        self.bot_user = FakeUser(self.new_id(), "reseller-bot", "Reseller Bot", bot=True)
        self.application_id = self.bot_user.id
        self.guild = build_default_guild(self.new_id, self.bot_user)

        self.calls: list[RecordedCall] = []
        self.violations: list[Violation] = []
        self.unhandled: list[RecordedCall] = []
        self.internal_errors: list[str] = []  # bugs in the fake itself (answered 500)
        self.interactions: dict[int, InteractionRecord] = {}
        # Discord languages: a member's client (``interaction.locale``, by user id) and the server's
        # (``guild_locale``; Community servers choose it). Everyone is en-US unless a test says otherwise.
        self.user_locales: dict[int, str] = {}
        self.guild_locale = "en-US"
        self.gateway = Gateway(self)

        self.uploads: dict[str, bytes] = {}  # attachment id -> content (files the bot sent, files "users" upload)
        self._messages: dict[int, list[dict[str, Any]]] = {}  # channel id -> visible messages, oldest first
        self._message_index: dict[int, dict[str, Any]] = {}  # every message incl. ephemeral ones
        self._dm_channels: dict[int, FakeChannel] = {}  # user id -> DM channel
        self._closed_dms: set[int] = set()
        self._forbidden_channels: set[int] = set()
        self._commands: dict[int | None, dict[int, dict[str, Any]]] = {}  # guild id (None=global) -> id -> cmd
        self._nonces: dict[tuple[int, str], tuple[float, int]] = {}
        self._rate_limits: list[RateLimitInjection] = []
        self._held_answers: list[tuple[str, str, asyncio.Event]] = []
        self._down = False
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # ================================================================================================
    # lifecycle
    # ================================================================================================
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """What to put in ``DISCORD_API_BASE`` / ``discord.http.Route.BASE``."""
        return f"{self.base_url}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    @property
    def running(self) -> bool:
        return self._runner is not None

    @property
    def is_down(self) -> bool:
        return self._down

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=32 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/attachments/{attachment_id}/{filename}", self._get_attachment)
        r = app.router
        a = API_PREFIX
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/gateway/bot", self._get_gateway_bot),
            ("GET", "/gateway", self._get_gateway),
            ("GET", "/users/@me", self._get_me),
            ("POST", "/users/@me/channels", self._create_dm),
            ("GET", "/users/{user_id}", self._get_user),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/applications/@me", self._get_application),
            ("GET", "/applications/{app_id}/commands", self._list_commands),
            ("PUT", "/applications/{app_id}/commands", self._overwrite_commands),
            ("POST", "/applications/{app_id}/commands", self._create_command),
            ("GET", "/applications/{app_id}/commands/{command_id}", self._get_command),
            ("PATCH", "/applications/{app_id}/commands/{command_id}", self._edit_command),
            ("DELETE", "/applications/{app_id}/commands/{command_id}", self._delete_command),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self._list_commands),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self._overwrite_commands),
            ("POST", "/applications/{app_id}/guilds/{guild_id}/commands", self._create_command),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands/{command_id}", self._get_command),
            ("PATCH", "/applications/{app_id}/guilds/{guild_id}/commands/{command_id}", self._edit_command),
            ("DELETE", "/applications/{app_id}/guilds/{guild_id}/commands/{command_id}", self._delete_command),
            ("GET", "/channels/{channel_id}", self._get_channel),
            ("GET", "/channels/{channel_id}/messages", self._list_messages),
            ("POST", "/channels/{channel_id}/messages", self._create_message_route),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_message_route),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_message_route),
            ("POST", "/channels/{channel_id}/typing", self._typing),
            ("GET", "/guilds/{guild_id}", self._get_guild),
            ("GET", "/guilds/{guild_id}/channels", self._get_guild_channels),
            ("GET", "/guilds/{guild_id}/roles", self._get_guild_roles),
            ("GET", "/guilds/{guild_id}/members", self._list_members),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member),
            ("PATCH", "/guilds/{guild_id}/members/{user_id}", self._edit_member),
            ("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self._add_member_role),
            ("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self._remove_member_role),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._interaction_callback),
            ("GET", "/webhooks/{app_id}/{token}/messages/@original", self._get_original),
            ("PATCH", "/webhooks/{app_id}/{token}/messages/@original", self._edit_original),
            ("DELETE", "/webhooks/{app_id}/{token}/messages/@original", self._delete_original),
            ("POST", "/webhooks/{app_id}/{token}", self._create_followup),
            ("GET", "/webhooks/{app_id}/{token}/messages/{message_id}", self._get_followup),
            ("PATCH", "/webhooks/{app_id}/{token}/messages/{message_id}", self._edit_followup),
            ("DELETE", "/webhooks/{app_id}/{token}/messages/{message_id}", self._delete_followup),
        ]
        for method, path, handler in routes:
            r.add_route(method, a + path, handler)
        return app

    async def start(self) -> None:
        """Start serving (on ``port``; port 0 picks a free port, kept for :meth:`restart`)."""
        if self._runner is not None:
            return
        runner = web.AppRunner(self.make_app(), handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = int(runner.addresses[0][1])
        self._runner = runner
        log.debug("fake discord started api_base=%s", self.api_base)

    async def stop(self) -> None:
        """Close every gateway connection (code 1001) and stop listening. State is kept."""
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        # Stop listening first: a bot reconnects the moment its gateway socket closes, and a connection
        # accepted while the runner shuts down would never be closed (ResourceWarning). One loop turn lets
        # connections accepted just before reach the server, whose shutdown closes them.
        for site in list(runner.sites):
            await site.stop()
        await asyncio.sleep(0)
        await self.gateway.close_all(code=1001)
        await runner.cleanup()
        self.notify()
        log.debug("fake discord stopped port=%s", self.port)

    async def restart(self) -> None:
        """:meth:`stop` then :meth:`start` on the same port; sessions survive, so the bot can RESUME."""
        await self.stop()
        await self.start()

    async def set_down(self, down: bool = True) -> None:
        """Outage switch: REST answers 503, the gateway refuses upgrades and open connections are closed."""
        self._down = down
        if down:
            await self.gateway.close_all(code=1001)
        self.notify()

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ================================================================================================
    # waiting
    # ================================================================================================
    def notify(self) -> None:
        """Wake :meth:`wait_for` waiters (called after every state change)."""
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy and return its value; ``TimeoutError`` after ``timeout``.

        Re-checked after every REST call / gateway change of the fake, and every 20 ms so that predicates
        over the bot's own state work too."""
        async with asyncio.timeout(timeout):
            while True:
                value = predicate()
                if value:
                    return value
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=0.02)

    async def wait_until_ready(self, timeout: float = 10.0) -> None:
        """Wait until a bot is connected and got READY (+ GUILD_CREATE when it asked for GUILDS)."""
        await self.wait_for(lambda: bool(self.gateway.connected_sessions()), timeout=timeout)

    async def wait_for_message(
        self,
        channel: ChannelRef,
        predicate: Callable[[dict[str, Any]], Any] | None = None,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """The first visible message in ``channel`` matching ``predicate`` (any message if ``None``)."""
        channel_id = self._channel_id(channel)

        def find() -> dict[str, Any] | None:
            return next((m for m in self._messages.get(channel_id, []) if predicate is None or predicate(m)), None)

        return await self.wait_for(find, timeout=timeout)  # type: ignore[no-any-return]

    async def wait_for_dm(
        self, user: UserRef, predicate: Callable[[dict[str, Any]], Any] | None = None, timeout: float = 5.0
    ) -> dict[str, Any]:
        user_id = self._user_id(user)

        def find() -> dict[str, Any] | None:
            return next((m for m in self.dm_messages(user_id) if predicate is None or predicate(m)), None)

        return await self.wait_for(find, timeout=timeout)  # type: ignore[no-any-return]

    # ================================================================================================
    # inspection
    # ================================================================================================
    @property
    def owner(self) -> FakeMember:
        return self.guild.members["owner"]

    @property
    def staff(self) -> FakeMember:
        return self.guild.members["staff"]

    @property
    def member(self) -> FakeMember:
        return self.guild.members["member"]

    @property
    def staff_role(self) -> FakeRole:
        return self.guild.roles["Staff"]

    @property
    def channels(self) -> dict[str, FakeChannel]:
        return self.guild.channels

    @property
    def commands(self) -> list[dict[str, Any]]:
        """Every registered application command (global ones have ``guild_id`` ``None``)."""
        return [dict(c) for cmds in self._commands.values() for c in cmds.values()]

    def command(self, name: str, *, guild_id: int | bool | None = True) -> dict[str, Any] | None:
        """A registered command by name: guild command first (``guild_id=True``), else global."""
        scopes: list[int | None] = (
            [self.guild.id, None] if guild_id is True else [None if guild_id is False else guild_id]
        )
        for scope in scopes:
            for cmd in self._commands.get(scope, {}).values():
                if cmd["name"] == name:
                    return cmd
        return None

    def messages(self, channel: ChannelRef) -> list[dict[str, Any]]:
        """Visible messages of a channel (name, id or FakeChannel), oldest first."""
        return list(self._messages.get(self._channel_id(channel), []))

    def dm_channel(self, user: UserRef) -> FakeChannel | None:
        return self._dm_channels.get(self._user_id(user))

    def dm_messages(self, user: UserRef) -> list[dict[str, Any]]:
        channel = self.dm_channel(user)
        return [] if channel is None else self.messages(channel.id)

    def state_message(self, message_id: int) -> dict[str, Any] | None:
        return self._message_index.get(int(message_id))

    def calls_to(self, method: str | None = None, path_prefix: str = "") -> list[RecordedCall]:
        return [c for c in self.calls if (method is None or c.method == method) and c.path.startswith(path_prefix)]

    def assert_no_violations(self) -> None:
        assert not self.violations, "Discord limit violations:\n" + "\n".join(
            f"  {v.kind} {v.method} {v.path}: {json.dumps(v.error)}" for v in self.violations
        )

    def member_roles(self, user: UserRef) -> set[int]:
        member = self.guild.member(self._user_id(user))
        if member is None:
            raise KeyError(f"no member {user!r}")
        return set(member.roles)

    # ================================================================================================
    # driving the bot
    # ================================================================================================
    def inject_rate_limit(
        self,
        route_prefix: str,
        count: int = 1,
        retry_after: float = 0.05,
        *,
        method: str | None = None,
        is_global: bool = False,
    ) -> None:
        """Answer the next ``count`` requests whose path (relative to the API base, e.g.
        ``/channels/123/messages``) starts with ``route_prefix`` with a 429."""
        self._rate_limits.append(RateLimitInjection(route_prefix, count, retry_after, method, is_global))

    def hold_answers(self, route_suffix: str, method: str = "POST") -> asyncio.Event:
        """Handle the matching requests (path relative to the API base ending with ``route_suffix``, e.g.
        ``/messages``) at once, so their effect is visible in the fake's state, but keep the bot waiting for the
        answer until the returned event is set (a slow network between Discord and the bot)."""
        released = asyncio.Event()
        self._held_answers.append((method, route_suffix, released))
        return released

    def close_dms(self, user: UserRef, closed: bool = True) -> None:
        """Make DMs to ``user`` fail with 403 / 50007 'Cannot send messages to this user'."""
        (self._closed_dms.add if closed else self._closed_dms.discard)(self._user_id(user))

    def forbid_channel(self, channel: ChannelRef, forbidden: bool = True) -> None:
        """Make the bot's new messages in ``channel`` fail with 403 / 50013 'Missing Permissions' (as when the
        bot lost Send Messages there); ``forbidden=False`` restores the permission."""
        channel_id = self._channel_id(channel)
        (self._forbidden_channels.add if forbidden else self._forbidden_channels.discard)(channel_id)

    async def dispatch(self, event: str, data: Any, *, intent: int | None = None) -> int:
        """Send a raw gateway event to connected bots."""
        delivered = await self.gateway.dispatch(event, data, intent=intent)
        self.notify()
        return delivered

    async def add_member(
        self, key: str, username: str | None = None, *, roles: tuple[FakeRole, ...] = ()
    ) -> FakeMember:
        """Add a member to the guild (GUILD_MEMBER_ADD) and return it; ``key`` names it in ``guild.members``."""
        member = FakeMember(FakeUser(self.new_id(), username or key), roles=[r.id for r in roles])
        self.guild.members[key] = member
        await self.dispatch(
            "GUILD_MEMBER_ADD", member.to_payload() | {"guild_id": str(self.guild.id)}, intent=GUILD_MEMBERS
        )
        return member

    async def post_user_message(self, channel: ChannelRef, user: UserRef, content: str) -> dict[str, Any]:
        """A human posts ``content`` in a guild channel (MESSAGE_CREATE)."""
        ch = self._require_channel(self._channel_id(channel))
        author = self._resolve_member(user)
        return await self._create_message(ch, {"content": content}, author=author.user)

    def upload(self, filename: str, content: bytes, content_type: str = "application/json") -> dict[str, Any]:
        """Store a file as Discord's CDN would; the attachment payload (pass it as an attachment option)."""
        attachment_id = str(self.new_id())
        self.uploads[attachment_id] = content
        url = f"{self.base_url}/attachments/{attachment_id}/{filename}"
        return {
            "id": attachment_id,
            "filename": filename,
            "size": len(content),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }

    def attachment_content(self, attachment: dict[str, Any]) -> bytes:
        return self.uploads[str(attachment["id"])]

    async def _get_attachment(self, request: web.Request) -> web.Response:
        content = self.uploads.get(request.match_info["attachment_id"])
        if content is None:
            return web.Response(status=404, text="404: Not Found")
        return web.Response(body=content, content_type="application/octet-stream")

    async def invoke_command(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        user: UserRef = "member",
        subcommand: str | None = None,
        channel: ChannelRef = "general",
    ) -> InteractionRecord:
        """Dispatch a slash command as registered by the bot (guild command first, then global).

        ``options`` maps option names to values; members/users/roles/channels may be given as the fake's
        objects (they get ``resolved`` data). ``subcommand`` is ``"sub"`` or ``"group sub"``.
        """
        command = self._require_command(name)
        data = build_command_data(command, self.guild, options=options, subcommand=subcommand)
        return await self._dispatch_interaction(APPLICATION_COMMAND, data, user=user, channel=channel)

    async def autocomplete(
        self,
        name: str,
        focused: str,
        options: dict[str, Any] | None = None,
        *,
        user: UserRef = "member",
        subcommand: str | None = None,
        channel: ChannelRef = "general",
    ) -> InteractionRecord:
        """Dispatch an autocomplete for option ``focused`` (its current text in ``options[focused]``,
        default ``""``); the choices end up in ``record.response["data"]["choices"]``."""
        command = self._require_command(name)
        values = dict(options or {})
        values.setdefault(focused, "")
        data = build_command_data(command, self.guild, options=values, subcommand=subcommand, focused=focused)
        return await self._dispatch_interaction(APPLICATION_COMMAND_AUTOCOMPLETE, data, user=user, channel=channel)

    async def click_button(
        self, target: InteractionRecord | dict[str, Any] | int, custom_id: str, *, user: UserRef = "member"
    ) -> InteractionRecord:
        """Click the button ``custom_id`` on a message (dict, id, or an interaction's original response /
        follow-ups). Raises ``LookupError`` if the message has no such button, ``ValueError`` if disabled."""
        message = self._find_message_with(target, custom_id)
        component = find_component(message, custom_id)
        assert component is not None
        if component.get("disabled"):
            raise ValueError(f"button {custom_id!r} is disabled")
        data = {"custom_id": custom_id, "component_type": int(component.get("type", 2))}
        return await self._component_interaction(message, data, user)

    async def select(
        self,
        target: InteractionRecord | dict[str, Any] | int,
        custom_id: str,
        values: list[str],
        *,
        user: UserRef = "member",
    ) -> InteractionRecord:
        """Choose ``values`` in the select menu ``custom_id`` (string selects; ids for entity selects)."""
        message = self._find_message_with(target, custom_id)
        component = find_component(message, custom_id)
        assert component is not None
        if component.get("disabled"):
            raise ValueError(f"select {custom_id!r} is disabled")
        data = {"custom_id": custom_id, "component_type": int(component["type"]), "values": values}
        return await self._component_interaction(message, data, user)

    async def submit_modal(
        self, record: InteractionRecord, values: dict[str, str], *, user: UserRef | None = None
    ) -> InteractionRecord:
        """Submit the modal the bot answered ``record`` with; ``values`` maps text input custom_ids to text."""
        if record.response_type != MODAL:
            raise ValueError("the interaction was not answered with a modal")
        modal = record.response["data"] if record.response else {}

        def answer(component: dict[str, Any]) -> dict[str, Any]:
            cid = component.get("custom_id")
            out: dict[str, Any] = {"type": component["type"], "custom_id": cid}
            if "id" in component:
                out["id"] = component["id"]
            if component["type"] == 4:
                out["value"] = values.get(str(cid), "")
            else:
                out["values"] = values.get(str(cid), [])
            return out

        rows: list[dict[str, Any]] = []
        for top in modal.get("components") or []:
            if top.get("type") == 1:
                rows.append({"type": 1, "components": [answer(c) for c in top.get("components") or []]})
            elif top.get("type") == 18 and isinstance(top.get("component"), dict):
                label: dict[str, Any] = {"type": 18, "component": answer(top["component"])}
                if "id" in top:
                    label["id"] = top["id"]
                rows.append(label)
        data = {"custom_id": modal.get("custom_id"), "components": rows}
        who: UserRef = user if user is not None else record.user_id
        channel = self._require_channel(record.channel_id)
        return await self._dispatch_interaction(MODAL_SUBMIT, data, user=who, channel=channel)

    # --- interaction helpers ------------------------------------------------------------------------
    def _require_command(self, name: str) -> dict[str, Any]:
        command = self.command(name)
        if command is None:
            names = sorted({c["name"] for c in self.commands})
            raise LookupError(f"command {name!r} is not registered (registered: {names}); did the bot sync?")
        return command

    def _find_message_with(self, target: InteractionRecord | dict[str, Any] | int, custom_id: str) -> dict[str, Any]:
        candidates: list[dict[str, Any]] = []
        if isinstance(target, InteractionRecord):
            original = target.original_message()
            candidates = [m for m in [original, *reversed(target.followups)] if m is not None]
        else:
            message_id = int(target["id"]) if isinstance(target, dict) else int(target)
            current = self._message_index.get(message_id)
            if current is not None:
                candidates = [current]
        for message in candidates:
            if find_component(message, custom_id) is not None:
                return message
        raise LookupError(f"no component {custom_id!r} on {target!r}")

    async def _component_interaction(
        self, message: dict[str, Any], data: dict[str, Any], user: UserRef
    ) -> InteractionRecord:
        channel = self._require_channel(int(message["channel_id"]))
        record = await self._dispatch_interaction(
            MESSAGE_COMPONENT, data, user=user, channel=channel, message=json.loads(json.dumps(message))
        )
        record.original_message_id = int(message["id"])
        return record

    async def _dispatch_interaction(
        self,
        interaction_type: int,
        data: dict[str, Any],
        *,
        user: UserRef,
        channel: ChannelRef,
        message: dict[str, Any] | None = None,
    ) -> InteractionRecord:
        if not self.gateway.connected_sessions():
            raise RuntimeError("no bot is connected to the fake gateway (await fake.wait_until_ready() first)")
        ch = self._require_channel(self._channel_id(channel))
        interaction_id = self.new_id()
        token = new_token()
        if ch.type == DM:
            assert ch.recipient is not None
            payload = build_interaction(
                interaction_id=interaction_id, token=token, interaction_type=interaction_type,
                application_id=self.application_id, data=data, guild=None, channel=ch,
                user=ch.recipient, message=message,
            )  # fmt: skip
        else:
            payload = build_interaction(
                interaction_id=interaction_id, token=token, interaction_type=interaction_type,
                application_id=self.application_id, data=data, guild=self.guild, channel=ch,
                member=self._resolve_member(user), bot_member=self.guild.bot_member, message=message,
            )  # fmt: skip
            payload.update(guild_locale=self.guild_locale)
            payload["guild"]["locale"] = self.guild_locale
        who = ch.recipient.id if ch.type == DM and ch.recipient is not None else self._user_id(user)
        payload["locale"] = self.user_locales.get(who, "en-US")
        record = InteractionRecord(
            id=interaction_id,
            token=token,
            type=interaction_type,
            payload=payload,
            dispatched_at=self.clock(),
            _fake=self,
        )
        self.interactions[interaction_id] = record
        await self.gateway.dispatch("INTERACTION_CREATE", payload, only_one=True)
        record.dispatched_at = self.clock()
        self.notify()
        return record

    # ================================================================================================
    # id / object resolution
    # ================================================================================================
    def _channel_id(self, channel: ChannelRef) -> int:
        if isinstance(channel, FakeChannel):
            return channel.id
        if isinstance(channel, str) and not channel.isdigit():
            return self.guild.channels[channel.lstrip("#")].id
        return int(channel)

    def _user_id(self, user: UserRef) -> int:
        if isinstance(user, FakeMember | FakeUser):
            return user.id
        if isinstance(user, str) and not user.isdigit():
            return self.guild.members[user].id
        return int(user)

    def _resolve_member(self, user: UserRef) -> FakeMember:
        member = self.guild.member(self._user_id(user))
        if member is None:
            raise KeyError(f"{user!r} is not a member of the fake guild")
        return member

    def _known_user(self, user_id: int) -> FakeUser | None:
        member = self.guild.member(user_id)
        return member.user if member is not None else None

    def _require_channel(self, channel_id: int) -> FakeChannel:
        channel = self.guild.channel(channel_id)
        if channel is None:
            channel = next((c for c in self._dm_channels.values() if c.id == channel_id), None)
        if channel is None:
            raise _not_found(10003, "Channel")
        return channel

    def _check_guild(self, request: web.Request) -> None:
        if int(request.match_info["guild_id"]) != self.guild.id:
            raise _not_found(10004, "Guild")

    # ================================================================================================
    # HTTP plumbing
    # ================================================================================================
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        path = request.path[len(API_PREFIX) :]
        body: Any = None
        response: web.StreamResponse
        try:
            body = await self._read_body(request)
            if self._down:
                raise DiscordError(503, 0, "Service Unavailable")
            if not self._is_token_route(path) and request.headers.get("Authorization") != f"Bot {self.token}":
                raise DiscordError(401, 0, "401: Unauthorized")
            injected = next((rl for rl in self._rate_limits if rl.matches(request.method, path)), None)
            if injected is not None:
                injected.remaining -= 1
                response = self._rate_limited(request, injected)
            else:
                response = await handler(request)
                self._add_ratelimit_headers(request, response)
                held = [e for m, suffix, e in self._held_answers if m == request.method and path.endswith(suffix)]
                if held:
                    self.notify()  # the effect is visible to waiters; the bot still waits for its answer
                    await held[0].wait()
        except DiscordError as exc:
            response = _json(exc.body, status=exc.status)
            self._add_ratelimit_headers(request, response)
        except web.HTTPException as exc:
            if exc.status not in (404, 405):
                raise
            response = _json({"message": "404: Not Found", "code": 0}, status=404)
            self.unhandled.append(RecordedCall(request.method, path, body, 404, dict(request.query)))
            log.warning("fake discord unhandled route method=%s path=%s", request.method, path)
        except Exception as exc:  # a bug in the fake: never let discord.py silently retry it
            log.exception("fake discord internal error method=%s path=%s", request.method, path)
            self.internal_errors.append(f"{request.method} {path}: {exc!r}")
            response = _json({"message": "500: Internal Server Error", "code": 0}, status=500)
        response_json: Any = None
        if isinstance(response, web.Response) and response.content_type == "application/json" and response.body:
            response_json = json.loads(response.body)  # type: ignore[arg-type]
        self.calls.append(RecordedCall(request.method, path, body, response.status, dict(request.query), response_json))
        self.notify()
        return response

    @staticmethod
    def _is_token_route(path: str) -> bool:
        return path.startswith("/interactions/") or (path.startswith("/webhooks/") and path.count("/") >= 3)

    async def _read_body(self, request: web.Request) -> Any:
        if not request.can_read_body:
            return None
        if request.content_type.startswith("multipart/"):
            payload: dict[str, Any] = {}
            files: list[dict[str, Any]] = []
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "payload_json":
                    payload = json.loads(await part.text())
                else:
                    content = await part.read()
                    files.append(
                        {"field": part.name, "filename": part.filename, "size": len(content), "content": content}
                    )
            request[FILES] = files
            request[JSON_BODY] = payload
            return payload
        raw = await request.text()
        if not raw:
            request[JSON_BODY] = None
            return None
        try:
            request[JSON_BODY] = json.loads(raw)
        except json.JSONDecodeError:
            raise DiscordError(400, 50109, "The request body contains invalid JSON.") from None
        return request[JSON_BODY]

    def _bucket(self, request: web.Request) -> str:
        route = request.match_info.route.resource
        canonical = route.canonical if route is not None else request.path
        return hashlib.sha1(f"{request.method} {canonical}".encode(), usedforsecurity=False).hexdigest()[:16]

    def _add_ratelimit_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers.update(
            {
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "4",
                "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
                "X-RateLimit-Reset-After": "1.000",
                "X-RateLimit-Bucket": self._bucket(request),
            }
        )

    def _rate_limited(self, request: web.Request, rl: RateLimitInjection) -> web.Response:
        # Discord's documented 429 body (RatelimitedResponse: Error's code and message, retry_after, global)
        body = {
            "message": "You are being rate limited.",
            "code": 0,
            "retry_after": rl.retry_after,
            "global": rl.is_global,
        }
        headers = {
            "Retry-After": str(math.ceil(rl.retry_after)),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + rl.retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{rl.retry_after:.3f}",
            "X-RateLimit-Bucket": self._bucket(request),
            "X-RateLimit-Scope": "global" if rl.is_global else "user",
            "Via": "1.1 google",  # discord.py treats a 429 without Via as a Cloudflare ban
        }
        if rl.is_global:
            headers["X-RateLimit-Global"] = "true"
        return _json(body, status=429, headers=headers)

    def _violation(self, kind: str, request: web.Request, error: dict[str, Any], body: Any) -> None:
        path = request.path[len(API_PREFIX) :]
        self.violations.append(Violation(kind, request.method, path, error, body))
        log.warning("fake discord violation kind=%s method=%s path=%s", kind, request.method, path)

    def _refuse(self, kind: str, request: web.Request, err: limits.FormError, body: Any) -> DiscordError:
        error = err.to_json()
        self._violation(kind, request, error, body)
        return DiscordError(400, error["code"], error["message"], error.get("errors"))

    # ================================================================================================
    # REST: gateway, users, application
    # ================================================================================================
    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1}
        return _json({"url": self.gateway_url, "shards": 1, "session_start_limit": limit})

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return _json({"url": self.gateway_url})

    async def _get_me(self, request: web.Request) -> web.Response:
        return _json(self.bot_user.to_payload() | {"verified": True, "mfa_enabled": False, "locale": "en-US"})

    async def _get_user(self, request: web.Request) -> web.Response:
        user = self._known_user(int(request.match_info["user_id"]))
        if user is None:
            raise _not_found(10013, "User")
        return _json(user.to_payload())

    async def _get_application(self, request: web.Request) -> web.Response:
        return _json(
            {
                "id": str(self.application_id),
                "name": self.bot_user.username,
                "description": "",
                "summary": "",
                "icon": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": self.owner.user.to_payload(),
                "team": None,
                "verify_key": "0" * 64,
                "flags": 0,
                "bot": self.bot_user.to_payload(),
                "interactions_endpoint_url": None,
                "redirect_uris": [],
            }
        )

    # ================================================================================================
    # REST: application commands
    # ================================================================================================
    def _command_scope(self, request: web.Request) -> int | None:
        if int(request.match_info["app_id"]) != self.application_id:
            raise _not_found(10002, "Application")
        if "guild_id" in request.match_info:
            self._check_guild(request)
            return self.guild.id
        return None

    def _store_command(
        self, scope: int | None, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        command: dict[str, Any] = {
            "default_member_permissions": None,
            "nsfw": False,
            "type": 1,
            "description": "",
            "options": [],
            "name_localizations": None,
            "description_localizations": None,
        }
        command.update(body)
        command.update(
            id=existing["id"] if existing else str(self.new_id()),
            application_id=str(self.application_id),
            version=str(self.new_id()),
            guild_id=str(scope) if scope is not None else None,
        )
        if scope is None:
            command.setdefault("contexts", None)
            command.setdefault("integration_types", [0])
        self._commands.setdefault(scope, {})[int(command["id"])] = command
        return command

    def _find_command(self, scope: int | None, kind: int, name: str) -> dict[str, Any] | None:
        return next(
            (c for c in self._commands.get(scope, {}).values() if c["name"] == name and int(c.get("type", 1)) == kind),
            None,
        )

    async def _list_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        return _json(list(self._commands.get(scope, {}).values()))

    async def _overwrite_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        body = request[JSON_BODY]
        err = limits.validate_command_list(body)
        if err is not None:
            raise self._refuse("command", request, err, body)
        old = self._commands.get(scope, {})
        self._commands[scope] = {}
        stored = []
        for payload in body:
            kind = int(payload.get("type", 1) or 1)
            existing = next((c for c in old.values() if c["name"] == payload["name"] and int(c["type"]) == kind), None)
            stored.append(self._store_command(scope, payload, existing))
        return _json(stored)

    async def _create_command(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        body = request[JSON_BODY]
        err = limits.validate_command(body)
        if err is not None:
            raise self._refuse("command", request, err, body)
        existing = self._find_command(scope, int(body.get("type", 1) or 1), body["name"])
        command = self._store_command(scope, body, existing)
        return _json(command, status=200 if existing else 201)

    def _require_stored_command(self, request: web.Request) -> tuple[int | None, dict[str, Any]]:
        scope = self._command_scope(request)
        command = self._commands.get(scope, {}).get(int(request.match_info["command_id"]))
        if command is None:
            raise _not_found(10063, "application command")
        return scope, command

    async def _get_command(self, request: web.Request) -> web.Response:
        return _json(self._require_stored_command(request)[1])

    async def _edit_command(self, request: web.Request) -> web.Response:
        scope, command = self._require_stored_command(request)
        merged = {k: v for k, v in command.items() if k not in ("id", "application_id", "version", "guild_id")}
        merged.update(request[JSON_BODY] or {})
        err = limits.validate_command(merged)
        if err is not None:
            raise self._refuse("command", request, err, request[JSON_BODY])
        return _json(self._store_command(scope, merged, command))

    async def _delete_command(self, request: web.Request) -> web.Response:
        scope, command = self._require_stored_command(request)
        del self._commands[scope][int(command["id"])]
        return web.Response(status=204)

    # ================================================================================================
    # REST: channels and messages
    # ================================================================================================
    def _message_payload(
        self, channel: FakeChannel, body: dict[str, Any], *, author: FakeUser, files: list[dict[str, Any]]
    ) -> dict[str, Any]:
        content = str(body.get("content") or "")
        mentions = []
        for user_id in dict.fromkeys(int(m) for m in _MENTION.findall(content)):
            user = self._known_user(user_id)
            if user is not None:
                mentions.append(user.to_payload())
        embeds = (
            body.get("embeds") if body.get("embeds") is not None else ([body["embed"]] if body.get("embed") else [])
        )
        message: dict[str, Any] = {
            "id": str(self.new_id()),
            "channel_id": str(channel.id),
            "author": author.to_payload(),
            "content": content,
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": mentions,
            "mention_roles": [],
            "attachments": [self.upload(f["filename"], f.get("content", b"")) for f in files],
            "embeds": [{"type": "rich"} | e for e in embeds or []],
            "pinned": False,
            "type": 0,
            "flags": int(body.get("flags") or 0),
            "components": body.get("components") or [],
        }
        if channel.guild_id is not None:
            message["guild_id"] = str(channel.guild_id)
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
        if body.get("message_reference"):
            message["message_reference"] = body["message_reference"]
        return message

    async def _create_message(
        self,
        channel: FakeChannel,
        body: dict[str, Any],
        *,
        author: FakeUser,
        files: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
        visible: bool = True,
    ) -> dict[str, Any]:
        message = self._message_payload(channel, body, author=author, files=files or [])
        message.update(extra or {})
        self._message_index[int(message["id"])] = message
        if visible:
            self._messages.setdefault(channel.id, []).append(message)
            await self._dispatch_message_event("MESSAGE_CREATE", channel, message)
        self.notify()
        return message

    async def _dispatch_message_event(self, event: str, channel: FakeChannel, message: dict[str, Any]) -> None:
        data = dict(message)
        if channel.type == DM:
            intent = DIRECT_MESSAGES
        else:
            intent = GUILD_MESSAGES
            author = self.guild.member(int(message["author"]["id"]))
            if author is not None and event == "MESSAGE_CREATE":
                data["member"] = author.to_payload(with_user=False)
        await self.gateway.dispatch(event, data, intent=intent)

    def _apply_edit(self, message: dict[str, Any], body: dict[str, Any], files: list[dict[str, Any]]) -> None:
        if "content" in body:
            message["content"] = body["content"] or ""
        if "embeds" in body:
            message["embeds"] = [{"type": "rich"} | e for e in body["embeds"] or []]
        if "components" in body:
            message["components"] = body["components"] or []
        if "attachments" in body:
            kept = {str(a.get("id")) for a in body["attachments"] or []}
            message["attachments"] = [a for a in message["attachments"] if a["id"] in kept]
        for f in files:
            message["attachments"].append(self.upload(f["filename"], f.get("content", b"")))
        flags = int(message.get("flags") or 0) & ~limits.FLAG_LOADING
        if "flags" in body and body["flags"] is not None:
            flags |= int(body["flags"]) & (1 << 2)  # SUPPRESS_EMBEDS is the only editable flag
        message["flags"] = flags
        message["edited_timestamp"] = iso_now()

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel = self._require_channel(int(request.match_info["channel_id"]))
        return _json(channel.to_payload())

    def _require_message(self, request: web.Request) -> tuple[FakeChannel, dict[str, Any]]:
        channel = self._require_channel(int(request.match_info["channel_id"]))
        message = self._message_index.get(int(request.match_info["message_id"]))
        if (
            message is None
            or int(message["channel_id"]) != channel.id
            or message not in self._messages.get(channel.id, [])
        ):
            raise _not_found(10008, "Message")
        return channel, message

    async def _list_messages(self, request: web.Request) -> web.Response:
        channel = self._require_channel(int(request.match_info["channel_id"]))
        found = list(reversed(self._messages.get(channel.id, [])))  # newest first, like Discord
        if "before" in request.query:
            found = [m for m in found if int(m["id"]) < int(request.query["before"])]
        if "after" in request.query:
            found = [m for m in found if int(m["id"]) > int(request.query["after"])]
        limit = min(int(request.query.get("limit", 50)), 100)
        return _json(found[:limit])

    async def _get_message(self, request: web.Request) -> web.Response:
        return _json(self._require_message(request)[1])

    async def _create_message_route(self, request: web.Request) -> web.Response:
        channel = self._require_channel(int(request.match_info["channel_id"]))
        body = request[JSON_BODY] or {}
        files = request.get(FILES, [])
        err = limits.validate_message(body, has_files=bool(files))
        if err is not None:
            if err.code != limits.INVALID_FORM_BODY:
                self._violation("message", request, err.to_json(), body)
                raise DiscordError(400, err.code, err.message)
            raise self._refuse("message", request, err, body)
        if channel.type == DM and channel.recipient is not None and channel.recipient.id in self._closed_dms:
            raise DiscordError(403, 50007, "Cannot send messages to this user")
        if channel.id in self._forbidden_channels:
            raise DiscordError(403, 50013, "Missing Permissions")
        nonce = body.get("nonce")
        now = self.clock()
        if nonce is not None and body.get("enforce_nonce"):
            key = (self.bot_user.id, str(nonce))
            seen = self._nonces.get(key)
            if seen is not None and now - seen[0] <= self.nonce_window and int(seen[1]) in self._message_index:
                log.debug("fake discord nonce dedupe nonce=%s message_id=%s", nonce, seen[1])
                return _json(self._message_index[seen[1]])
        message = await self._create_message(channel, body, author=self.bot_user, files=files)
        if nonce is not None and body.get("enforce_nonce"):
            self._nonces[(self.bot_user.id, str(nonce))] = (now, int(message["id"]))
        return _json(message)

    async def _edit_message_route(self, request: web.Request) -> web.Response:
        channel, message = self._require_message(request)
        body = request[JSON_BODY] or {}
        err = limits.validate_message(body, partial=True)
        if err is not None:
            raise self._refuse("message", request, err, body)
        if int(message["author"]["id"]) != self.bot_user.id:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        self._apply_edit(message, body, request.get(FILES, []))
        await self._dispatch_message_event("MESSAGE_UPDATE", channel, message)
        return _json(message)

    async def _delete_message_route(self, request: web.Request) -> web.Response:
        channel, message = self._require_message(request)
        await self._delete_visible(channel, message)
        return web.Response(status=204)

    async def _delete_visible(self, channel: FakeChannel, message: dict[str, Any]) -> None:
        visible = self._messages.get(channel.id, [])
        if message in visible:
            visible.remove(message)
            data: dict[str, Any] = {"id": message["id"], "channel_id": message["channel_id"]}
            if "guild_id" in message:
                data["guild_id"] = message["guild_id"]
            intent = DIRECT_MESSAGES if channel.type == DM else GUILD_MESSAGES
            await self.gateway.dispatch("MESSAGE_DELETE", data, intent=intent)

    async def _typing(self, request: web.Request) -> web.Response:
        self._require_channel(int(request.match_info["channel_id"]))
        return web.Response(status=204)

    async def _create_dm(self, request: web.Request) -> web.Response:
        body = request[JSON_BODY] or {}
        user_id = int(body.get("recipient_id") or 0)
        user = self._known_user(user_id)
        if user is None:
            raise DiscordError(
                400,
                50035,
                "Invalid Form Body",
                {"recipient_id": {"_errors": [{"code": "USER_UNKNOWN", "message": "Unknown user"}]}},
            )
        channel = self._dm_channels.get(user_id)
        if channel is None:
            channel = FakeChannel(id=self.new_id(), name=f"dm-{user.username}", type=DM, recipient=user)
            self._dm_channels[user_id] = channel
        return _json(channel.to_payload())

    # ================================================================================================
    # REST: guild, members, roles
    # ================================================================================================
    async def _get_guild(self, request: web.Request) -> web.Response:
        self._check_guild(request)
        payload = self.guild.to_payload()
        for key in (
            "members",
            "channels",
            "threads",
            "presences",
            "voice_states",
            "joined_at",
            "large",
            "member_count",
        ):
            payload.pop(key, None)
        payload["approximate_member_count"] = len(self.guild.all_members())
        return _json(payload)

    async def _get_guild_channels(self, request: web.Request) -> web.Response:
        self._check_guild(request)
        return _json([c.to_payload() for c in self.guild.channels.values()])

    async def _get_guild_roles(self, request: web.Request) -> web.Response:
        self._check_guild(request)
        return _json([r.to_payload() for r in self.guild.roles.values()])

    def _require_member(self, request: web.Request) -> FakeMember:
        self._check_guild(request)
        member = self.guild.member(int(request.match_info["user_id"]))
        if member is None:
            raise _not_found(10007, "Member")
        return member

    async def _list_members(self, request: web.Request) -> web.Response:
        self._check_guild(request)
        after = int(request.query.get("after", 0))
        members = sorted((m for m in self.guild.all_members() if m.id > after), key=lambda m: m.id)
        return _json([m.to_payload() for m in members[: int(request.query.get("limit", 1))]])

    async def _get_member(self, request: web.Request) -> web.Response:
        return _json(self._require_member(request).to_payload())

    async def _member_updated(self, member: FakeMember) -> None:
        await self.gateway.dispatch(
            "GUILD_MEMBER_UPDATE", member.to_payload() | {"guild_id": str(self.guild.id)}, intent=GUILD_MEMBERS
        )

    def _require_role(self, role_id: int) -> FakeRole:
        role = self.guild.role(role_id)
        if role is None or role.id == self.guild.id:
            raise _not_found(10011, "Role")
        return role

    async def _edit_member(self, request: web.Request) -> web.Response:
        member = self._require_member(request)
        body = request[JSON_BODY] or {}
        if "roles" in body:
            member.roles = [self._require_role(int(r)).id for r in body["roles"] or []]
        if "nick" in body:
            member.nick = body["nick"]
        await self._member_updated(member)
        return _json(member.to_payload())

    async def _add_member_role(self, request: web.Request) -> web.Response:
        member = self._require_member(request)
        role = self._require_role(int(request.match_info["role_id"]))
        if role.id not in member.roles:
            member.roles.append(role.id)
            await self._member_updated(member)
        return web.Response(status=204)

    async def _remove_member_role(self, request: web.Request) -> web.Response:
        member = self._require_member(request)
        role = self._require_role(int(request.match_info["role_id"]))
        if role.id in member.roles:
            member.roles.remove(role.id)
            await self._member_updated(member)
        return web.Response(status=204)

    # ================================================================================================
    # REST: interactions (callback, original response, follow-ups)
    # ================================================================================================
    def _record_for(self, request: web.Request, *, by_id: bool) -> InteractionRecord:
        token = request.match_info["token"]
        if by_id:
            record = self.interactions.get(int(request.match_info["interaction_id"]))
            if record is None or record.token != token:
                raise DiscordError(404, limits.UNKNOWN_INTERACTION, "Unknown interaction")
            return record
        if int(request.match_info["app_id"]) != self.application_id:
            raise _not_found(10015, "Webhook")
        record = next((r for r in self.interactions.values() if r.token == token), None)
        if record is None:
            raise _not_found(10015, "Webhook")
        if self.clock() - record.dispatched_at > self.interaction_token_lifetime:
            err = {"code": 50027, "message": "Invalid Webhook Token"}
            self._violation("expired_token", request, err, request.get(JSON_BODY))
            record.errors.append(err)
            raise DiscordError(401, 50027, "Invalid Webhook Token")
        if record.response is None:
            err = {"code": 10015, "message": "Unknown Webhook"}
            self._violation("not_acknowledged", request, err, request.get(JSON_BODY))
            record.errors.append(err)
            raise _not_found(10015, "Webhook")
        return record

    def _interaction_message_extra(self, record: InteractionRecord) -> dict[str, Any]:
        user = (record.payload.get("member") or {}).get("user") or record.payload.get("user")
        return {
            "type": 20 if record.type == APPLICATION_COMMAND else 0,
            "webhook_id": str(self.application_id),
            "application_id": str(self.application_id),
            "interaction_metadata": {
                "id": str(record.id),
                "type": record.type,
                "user": user,
                "authorizing_integration_owners": record.payload.get("authorizing_integration_owners", {}),
            },
        }

    async def _interaction_callback(self, request: web.Request) -> web.Response:
        record = self._record_for(request, by_id=True)
        body = request[JSON_BODY] or {}
        now = self.clock()
        if record.response is not None:
            err: dict[str, Any] = {
                "code": limits.ALREADY_ACKNOWLEDGED,
                "message": "Interaction has already been acknowledged.",
            }
            self._violation("already_acknowledged", request, err, body)
            record.errors.append(err)
            raise DiscordError(400, err["code"], err["message"])
        if now - record.dispatched_at > self.interaction_deadline:
            err = {"code": limits.UNKNOWN_INTERACTION, "message": "Unknown interaction"}
            self._violation("late_response", request, err | {"elapsed": now - record.dispatched_at}, body)
            record.errors.append(err)
            raise DiscordError(404, err["code"], err["message"])
        form = limits.validate_interaction_callback(record.type, body)
        if form is not None:
            record.errors.append(form.to_json())
            raise self._refuse("interaction_response", request, form, body)

        kind = int(body["type"])
        data: dict[str, Any] = body.get("data") or {}
        record.response = {"type": kind, "data": data}
        record.responded_at = now
        channel = self._require_channel(record.channel_id)
        message: dict[str, Any] | None = None
        if kind in (CHANNEL_MESSAGE_WITH_SOURCE, DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE):
            flags = int(data.get("flags") or 0)
            ephemeral = bool(flags & limits.FLAG_EPHEMERAL)
            content = dict(data)
            if kind == DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE:
                content = {"flags": (flags & limits.FLAG_EPHEMERAL) | limits.FLAG_LOADING}
            message = await self._create_message(
                channel,
                content,
                author=self.bot_user,
                files=request.get(FILES, []),
                extra=self._interaction_message_extra(record),
                visible=not ephemeral,
            )
            if kind == DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE:
                message["flags"] = content["flags"]
            record.original_message_id = int(message["id"])
        elif kind == UPDATE_MESSAGE and record.original_message_id is not None:
            message = self._message_index[record.original_message_id]
            self._apply_edit(message, data, request.get(FILES, []))
            if message in self._messages.get(channel.id, []):
                await self._dispatch_message_event("MESSAGE_UPDATE", channel, message)
        elif kind == DEFERRED_UPDATE_MESSAGE:
            message = None
        log.debug("fake discord interaction response id=%s type=%s", record.id, kind)
        self.notify()
        if request.query.get("with_response") not in ("1", "true", "True"):
            return web.Response(status=204)
        answer: dict[str, Any] = {"interaction": {"id": str(record.id), "type": record.type}}
        resource: dict[str, Any] = {"type": kind}
        if message is not None:
            answer["interaction"].update(
                response_message_id=message["id"],
                response_message_loading=bool(int(message.get("flags") or 0) & limits.FLAG_LOADING),
                response_message_ephemeral=bool(int(message.get("flags") or 0) & limits.FLAG_EPHEMERAL),
            )
            resource["message"] = message
        answer["resource"] = resource
        return _json(answer)

    def _original(self, record: InteractionRecord) -> dict[str, Any]:
        message = record.original_message()
        if message is None:
            raise _not_found(10008, "Message")
        return message

    async def _get_original(self, request: web.Request) -> web.Response:
        return _json(self._original(self._record_for(request, by_id=False)))

    async def _edit_original(self, request: web.Request) -> web.Response:
        record = self._record_for(request, by_id=False)
        message = self._original(record)
        body = request[JSON_BODY] or {}
        err = limits.validate_message(body, partial=True)
        if err is not None:
            record.errors.append(err.to_json())
            raise self._refuse("message", request, err, body)
        self._apply_edit(message, body, request.get(FILES, []))
        record.edits.append(body)
        channel = self._require_channel(int(message["channel_id"]))
        if message in self._messages.get(channel.id, []):
            await self._dispatch_message_event("MESSAGE_UPDATE", channel, message)
        self.notify()
        return _json(message)

    async def _delete_original(self, request: web.Request) -> web.Response:
        record = self._record_for(request, by_id=False)
        message = self._original(record)
        await self._delete_visible(self._require_channel(int(message["channel_id"])), message)
        record.original_deleted = True
        return web.Response(status=204)

    async def _create_followup(self, request: web.Request) -> web.Response:
        record = self._record_for(request, by_id=False)
        body = request[JSON_BODY] or {}
        files = request.get(FILES, [])
        err = limits.validate_message(body, has_files=bool(files))
        if err is not None:
            record.errors.append(err.to_json())
            if err.code != limits.INVALID_FORM_BODY:
                self._violation("message", request, err.to_json(), body)
                raise DiscordError(400, err.code, err.message)
            raise self._refuse("message", request, err, body)
        original = record.original_message()
        if (
            record.response_type == DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
            and original is not None
            and int(original.get("flags") or 0) & limits.FLAG_LOADING
        ):
            # Documented: the first follow-up after a deferred response edits the "thinking" message.
            self._apply_edit(original, {k: v for k, v in body.items() if k != "flags"}, files)
            message = original
            channel = self._require_channel(int(message["channel_id"]))
            if message in self._messages.get(channel.id, []):
                await self._dispatch_message_event("MESSAGE_UPDATE", channel, message)
        else:
            channel = self._require_channel(record.channel_id)
            ephemeral = bool(int(body.get("flags") or 0) & limits.FLAG_EPHEMERAL)
            message = await self._create_message(
                channel, body, author=self.bot_user, files=files,
                extra=self._interaction_message_extra(record), visible=not ephemeral,
            )  # fmt: skip
        record.followups.append(message)
        self.notify()
        if request.query.get("wait") in ("1", "true", "True"):
            return _json(message)
        return web.Response(status=204)

    def _followup(self, request: web.Request, record: InteractionRecord) -> dict[str, Any]:
        message_id = int(request.match_info["message_id"])
        message = self._message_index.get(message_id)
        if message is None or not (
            message_id == record.original_message_id or any(int(m["id"]) == message_id for m in record.followups)
        ):
            raise _not_found(10008, "Message")
        return message

    async def _get_followup(self, request: web.Request) -> web.Response:
        record = self._record_for(request, by_id=False)
        return _json(self._followup(request, record))

    async def _edit_followup(self, request: web.Request) -> web.Response:
        record = self._record_for(request, by_id=False)
        message = self._followup(request, record)
        body = request[JSON_BODY] or {}
        err = limits.validate_message(body, partial=True)
        if err is not None:
            record.errors.append(err.to_json())
            raise self._refuse("message", request, err, body)
        self._apply_edit(message, body, request.get(FILES, []))
        if int(message["id"]) == record.original_message_id:
            record.edits.append(body)
        channel = self._require_channel(int(message["channel_id"]))
        if message in self._messages.get(channel.id, []):
            await self._dispatch_message_event("MESSAGE_UPDATE", channel, message)
        return _json(message)

    async def _delete_followup(self, request: web.Request) -> web.Response:
        record = self._record_for(request, by_id=False)
        message = self._followup(request, record)
        await self._delete_visible(self._require_channel(int(message["channel_id"])), message)
        return web.Response(status=204)
