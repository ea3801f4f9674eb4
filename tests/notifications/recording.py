"""A recording :class:`DiscordSink` for dispatcher tests that do not need HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.guild_config import ChannelKind
from bot.notifications.discord_sink import DeliveryError


@dataclass
class Sent:
    channel_id: int
    content: str | None
    embeds: list[dict[str, Any]]
    nonce: str
    message_id: int


@dataclass
class RecordingSink:
    """Posts succeed unless a failure is queued; nonces are deduplicated like Discord does."""

    sent: list[Sent] = field(default_factory=list)
    failures: list[DeliveryError] = field(default_factory=list)
    dm_failures: list[DeliveryError] = field(default_factory=list)
    roles: list[tuple[int, int, int]] = field(default_factory=list)
    role_failures: list[DeliveryError] = field(default_factory=list)
    by_nonce: dict[str, int] = field(default_factory=dict)
    next_id: int = 1000
    cards: dict[int, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = field(default_factory=dict)
    card_posts: list[tuple[int, str, int]] = field(default_factory=list)  # (channel, nonce, message id)
    card_edits: list[tuple[int, int]] = field(default_factory=list)  # (channel, message id)
    card_failures: list[DeliveryError] = field(default_factory=list)

    async def send_message(
        self, channel_id: int, *, content: str | None, embeds: list[dict[str, Any]], nonce: str
    ) -> int:
        if self.failures:
            raise self.failures.pop(0)
        if nonce in self.by_nonce:
            return self.by_nonce[nonce]
        self.next_id += 1
        self.by_nonce[nonce] = self.next_id
        self.sent.append(Sent(channel_id, content, embeds, nonce, self.next_id))
        return self.next_id

    async def open_dm(self, user_id: int) -> int:
        if self.dm_failures:
            raise self.dm_failures.pop(0)
        return 900_000 + user_id

    async def add_role(self, guild_id: int, user_id: int, role_id: int, *, reason: str) -> None:
        if self.role_failures:
            raise self.role_failures.pop(0)
        self.roles.append((guild_id, user_id, role_id))

    async def post_card(
        self, channel_id: int, *, embeds: list[dict[str, Any]], components: list[dict[str, Any]], nonce: str
    ) -> int:
        if self.card_failures:
            raise self.card_failures.pop(0)
        if nonce in self.by_nonce:
            return self.by_nonce[nonce]
        self.next_id += 1
        self.by_nonce[nonce] = self.next_id
        self.cards[self.next_id] = (embeds, components)
        self.card_posts.append((channel_id, nonce, self.next_id))
        return self.next_id

    async def edit_card(
        self, channel_id: int, message_id: int, *, embeds: list[dict[str, Any]], components: list[dict[str, Any]]
    ) -> None:
        if self.card_failures:
            raise self.card_failures.pop(0)
        if message_id not in self.cards:
            raise DeliveryError("refused", status=404, code=10008, text="Unknown Message")
        self.cards[message_id] = (embeds, components)
        self.card_edits.append((channel_id, message_id))

    def to(self, channel_id: int) -> list[Sent]:
        return [s for s in self.sent if s.channel_id == channel_id]


@dataclass
class Channels:
    """A :class:`ChannelResolver` backed by a dict."""

    ids: dict[ChannelKind, int | None] = field(default_factory=dict)

    async def channel_id(self, kind: ChannelKind) -> int | None:
        return self.ids.get(kind)


def retry_error() -> DeliveryError:
    return DeliveryError("retry", status=503, code=0, text="unavailable")


def blocked_error(code: int = 50013) -> DeliveryError:
    return DeliveryError("blocked", status=403, code=code, text="Missing Permissions")


def refused_error() -> DeliveryError:
    return DeliveryError("refused", status=400, code=50035, text="Invalid Form Body")
