"""The thin adapter between the dispatcher and Discord, and the typed failures it reports.

:class:`DiscordHttpSink` calls Discord through discord.py's ``HTTPClient.request`` so discord.py's per-route and
global rate limiting (and its 429 handling) applies to everything the outbox posts. Every message carries the
outbox nonce with ``enforce_nonce: true``: Discord answers a repeated nonce (within its dedupe window) with the
message it already created. The dispatcher depends only on the :class:`DiscordSink` protocol.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any, Literal, Protocol

import aiohttp
import discord
from discord.http import Route

from bot.i18n.catalog import DEFAULT_LOCALE, t
from bot.notifications.embeds import Embed

log = logging.getLogger(__name__)

# Discord JSON error codes we act upon.
UNKNOWN_CHANNEL = 10003
UNKNOWN_GUILD = 10004
UNKNOWN_MESSAGE = 10008
UNKNOWN_MEMBER = 10007
UNKNOWN_ROLE = 10011
UNKNOWN_USER = 10013
MISSING_ACCESS = 50001
CANNOT_SEND_TO_USER = 50007
MISSING_PERMISSIONS = 50013

Disposition = Literal["retry", "blocked", "refused"]


class DeliveryError(Exception):
    """Discord did not take the request.

    ``disposition``: ``retry`` (network, 5xx, 429 past discord.py's own handling, 401: try again later),
    ``blocked`` (403, unknown channel/user/member/role, closed DMs: the destination refuses us), ``refused``
    (any other 4xx: this payload will never be accepted). ``retry_after``: the seconds Discord asked us to
    wait (a 429), the least the dispatcher backs off.
    """

    def __init__(
        self,
        disposition: Disposition,
        *,
        status: int | None,
        code: int | None,
        text: str,
        retry_after: float | None = None,
    ) -> None:
        self.disposition = disposition
        self.status = status
        self.code = code
        self.text = text
        self.retry_after = retry_after
        super().__init__(f"{disposition} status={status} code={code} {text}")

    @property
    def describe(self) -> str:
        """For the outbox and the log (English)."""
        return self.describe_in(DEFAULT_LOCALE)

    def describe_in(self, locale: str) -> str:
        """For staff, in ``locale``; Discord's own text stays as Discord wrote it."""
        return t(locale, "notify.discord_error", status=self.status, code=self.code, text=self.text)[:300]


class DiscordSink(Protocol):
    async def send_message(self, channel_id: int, *, content: str | None, embeds: list[Embed], nonce: str) -> int:
        """Post a message; return its id (the existing one when the nonce was already used)."""
        ...

    async def open_dm(self, user_id: int) -> int:
        """The DM channel id with ``user_id``."""
        ...

    async def add_role(self, guild_id: int, user_id: int, role_id: int, *, reason: str) -> None: ...

    async def post_card(
        self, channel_id: int, *, embeds: list[Embed], components: list[dict[str, Any]], nonce: str
    ) -> int:
        """Post a card (a message with components); return its id (the existing one for a used nonce)."""
        ...

    async def edit_card(
        self, channel_id: int, message_id: int, *, embeds: list[Embed], components: list[dict[str, Any]]
    ) -> None:
        """Replace a card's embeds and components."""
        ...


_BLOCKED_CODES = frozenset(
    {
        UNKNOWN_CHANNEL,
        UNKNOWN_GUILD,
        UNKNOWN_MEMBER,
        UNKNOWN_ROLE,
        UNKNOWN_USER,
        MISSING_ACCESS,
        CANNOT_SEND_TO_USER,
        MISSING_PERMISSIONS,
    }
)


def classify_http_error(status: int, code: int, text: str, *, retry_after: float | None = None) -> DeliveryError:
    if status >= 500 or status in (401, 408, 429):
        return DeliveryError("retry", status=status, code=code, text=text, retry_after=retry_after)
    if status == 403 or code in _BLOCKED_CODES:
        return DeliveryError("blocked", status=status, code=code, text=text)
    return DeliveryError("refused", status=status, code=code, text=text)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """A 429's wait in seconds (``X-RateLimit-Reset-After``, else ``Retry-After``), ``None`` if unreadable.

    Read only after discord.py gave up on a route still answering 429 (it sleeps ``retry_after`` itself first).
    """
    for name in ("X-RateLimit-Reset-After", "Retry-After"):
        try:
            value = float(headers.get(name, ""))
        except ValueError:
            continue
        if math.isfinite(value) and value >= 0:
            return value
    return None


class DiscordHttpSink:
    """:class:`DiscordSink` over discord.py's ``HTTPClient`` (``bot.http``)."""

    def __init__(self, http: discord.http.HTTPClient) -> None:
        self._http = http

    async def _call(self, route: Route, **kwargs: Any) -> Any:
        try:
            return await self._http.request(route, **kwargs)
        except discord.RateLimited as exc:
            limited = exc.retry_after
            raise DeliveryError("retry", status=429, code=None, text="rate limited", retry_after=limited) from exc
        except discord.HTTPException as exc:
            wait = _retry_after(exc.response.headers) if exc.status == 429 else None
            raise classify_http_error(exc.status, exc.code, exc.text[:200], retry_after=wait) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise DeliveryError("retry", status=None, code=None, text=type(exc).__name__) from exc

    async def send_message(self, channel_id: int, *, content: str | None, embeds: list[Embed], nonce: str) -> int:
        payload: dict[str, Any] = {
            "embeds": embeds,
            "nonce": nonce,
            "enforce_nonce": True,
            "allowed_mentions": {"parse": []},
        }
        if content:
            payload["content"] = content
        return await self._post(channel_id, payload)

    async def _post(self, channel_id: int, payload: dict[str, Any]) -> int:
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
        data = await self._call(route, json=payload)
        try:
            return int(data["id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DeliveryError("retry", status=200, code=None, text="answer without message id") from exc

    async def post_card(
        self, channel_id: int, *, embeds: list[Embed], components: list[dict[str, Any]], nonce: str
    ) -> int:
        payload: dict[str, Any] = {
            "embeds": embeds,
            "components": components,
            "nonce": nonce,
            "enforce_nonce": True,
            "allowed_mentions": {"parse": []},
        }
        return await self._post(channel_id, payload)

    async def edit_card(
        self, channel_id: int, message_id: int, *, embeds: list[Embed], components: list[dict[str, Any]]
    ) -> None:
        route = Route(
            "PATCH", "/channels/{channel_id}/messages/{message_id}", channel_id=channel_id, message_id=message_id
        )
        await self._call(route, json={"embeds": embeds, "components": components, "allowed_mentions": {"parse": []}})

    async def open_dm(self, user_id: int) -> int:
        data = await self._call(Route("POST", "/users/@me/channels"), json={"recipient_id": str(user_id)})
        try:
            return int(data["id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DeliveryError("retry", status=200, code=None, text="answer without channel id") from exc

    async def add_role(self, guild_id: int, user_id: int, role_id: int, *, reason: str) -> None:
        route = Route(
            "PUT",
            "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
            guild_id=guild_id,
            user_id=user_id,
            role_id=role_id,
        )
        await self._call(route, reason=reason)
