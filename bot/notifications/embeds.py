"""Pure functions that build Discord embed dicts, and Discord's embed limits.

Limits (Discord API): title 256, description 4096, 25 fields, field name 256, field value 1024, footer text
2048, author name 256, at most 10 embeds per message, and at most 6000 characters over all the embeds of one
message (titles, descriptions, field names and values, footer texts and author names).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from bot.i18n import DEFAULT_LOCALE, t

Embed = dict[str, Any]

MAX_EMBEDS_PER_MESSAGE = 10
MAX_TOTAL_CHARS = 6000
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_AUTHOR = 256
MAX_CONTENT = 2000

ITEM_URL = "https://neverlose.cc/market/item?id={code}"

COLOR_PURCHASE = 0x2ECC71
COLOR_TRANSFER = 0x3498DB
COLOR_ALERT = 0xE67E22
COLOR_PROBLEM = 0xE74C3C

FOOTER = {"text": "Neverlose market webhook"}


def item_url(code: str) -> str:
    return ITEM_URL.format(code=code)


def format_nle(amount: Decimal) -> str:
    """``0.9`` → ``0.9 NLE``; ``1`` → ``1 NLE``; never scientific notation."""
    text = format(amount.normalize(), "f")
    return f"{text} NLE"


@lru_cache(maxsize=64)
def _second_fields(second: int, unix: int) -> tuple[str, str]:
    return datetime.fromtimestamp(second, UTC).isoformat(), f"<t:{unix}:F>"


def _timestamp_fields(received_at: datetime) -> tuple[str, str]:
    """(ISO 8601 in UTC to the second, Discord's ``<t:…:F>``) of ``received_at``. Cached by the second: the
    events of a burst share their seconds, and an aware ``isoformat`` costs about 4 us (most of an embed's)."""
    stamp = received_at.timestamp()
    return _second_fields(math.floor(stamp), int(stamp))


def truncate(text: str, limit: int) -> str:
    """``text`` cut to Discord's ``limit`` for that part of an embed, ending in ``…`` when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def echoed(text: str, limit: int = 40) -> str:
    """A person's text to show back inside a code span (`` `{text}` ``): a backtick of theirs would close the
    span and let the rest render as markdown, a line break would start a new line of the message; both are
    replaced, and the text is cut to ``limit``."""
    return truncate(text.replace("`", "'").replace("\r", " ").replace("\n", " "), limit)


@dataclass(frozen=True, slots=True)
class _EventTexts:
    """The fixed texts of an event announcement in one language (titles, field names, footer)."""

    purchase_title: str
    purchase_text: str
    """The description's template (placeholders by name, filled as :func:`bot.i18n.t` fills them)."""
    transfer_title: str
    transfer_text: str
    buyer: str
    sender: str
    item: str
    amount: str
    unique_id: str
    received: str
    footer: str


@lru_cache(maxsize=8)
def _event_texts(locale: str) -> _EventTexts:
    """Looked up once per language: an announcement is rendered for every event delivered (a backlog of
    thousands), and nine catalog look-ups per embed were most of its rendering cost.
    The catalogs are package data, read once per process (:func:`bot.i18n.catalogs`), so these never
    change; a description is its template filled with ``str.format``, as :func:`~bot.i18n.t` fills it."""
    return _EventTexts(
        purchase_title=t(locale, "notify.purchase.title"),
        purchase_text=t(locale, "notify.purchase.text"),
        transfer_title=t(locale, "notify.transfer.title"),
        transfer_text=t(locale, "notify.transfer.text"),
        buyer=t(locale, "notify.field.buyer"),
        sender=t(locale, "notify.field.sender"),
        item=t(locale, "notify.field.item"),
        amount=t(locale, "notify.field.amount"),
        unique_id=t(locale, "notify.field.unique_id"),
        received=t(locale, "notify.field.received"),
        footer=t(locale, "notify.footer"),
    )


def purchase_embed(
    *,
    username: str,
    item_id: str,
    amount: Decimal,
    unique_id: int,
    received_at: datetime,
    locale: str = DEFAULT_LOCALE,
) -> Embed:
    """One market purchase: buyer, item (with its link), amount, unique_id and when we received it."""
    times = _timestamp_fields(received_at)
    return _purchase(_event_texts(locale), username, item_id, format_nle(amount), unique_id, times)


def _purchase(
    texts: _EventTexts, username: str, item_id: str, nle: str, unique_id: int, times: tuple[str, str]
) -> Embed:
    iso, discord_time = times
    link = item_url(item_id)
    return {
        "title": texts.purchase_title,
        "url": link,
        "description": texts.purchase_text.format(username=username, item=item_id, link=link, amount=nle),
        "color": COLOR_PURCHASE,
        "fields": [
            {"name": texts.buyer, "value": f"`{username}`", "inline": True},
            {"name": texts.item, "value": f"[{item_id}]({link})", "inline": True},
            {"name": texts.amount, "value": nle, "inline": True},
            {"name": texts.unique_id, "value": str(unique_id), "inline": True},
            {"name": texts.received, "value": discord_time, "inline": True},
        ],
        "footer": {"text": texts.footer},
        "timestamp": iso,
    }


def transfer_embed(
    *, username: str, amount: Decimal, unique_id: int, received_at: datetime, locale: str = DEFAULT_LOCALE
) -> Embed:
    """One NLE transfer to the reseller's account: sender, amount, unique_id and when we received it."""
    return _transfer(_event_texts(locale), username, format_nle(amount), unique_id, _timestamp_fields(received_at))


def _transfer(texts: _EventTexts, username: str, nle: str, unique_id: int, times: tuple[str, str]) -> Embed:
    iso, discord_time = times
    return {
        "title": texts.transfer_title,
        "description": texts.transfer_text.format(username=username, amount=nle),
        "color": COLOR_TRANSFER,
        "fields": [
            {"name": texts.sender, "value": f"`{username}`", "inline": True},
            {"name": texts.amount, "value": nle, "inline": True},
            {"name": texts.unique_id, "value": str(unique_id), "inline": True},
            {"name": texts.received, "value": discord_time, "inline": True},
        ],
        "footer": {"text": texts.footer},
        "timestamp": iso,
    }


def event_embed(
    kind: str,
    *,
    username: str,
    item_id: str | None,
    amount: Decimal,
    unique_id: int,
    received_at: datetime,
    locale: str = DEFAULT_LOCALE,
) -> Embed:
    """The announcement of a stored webhook event: a purchase (with its item) or a transfer."""
    if kind == "purchase" and item_id is not None:
        return purchase_embed(
            username=username,
            item_id=item_id,
            amount=amount,
            unique_id=unique_id,
            received_at=received_at,
            locale=locale,
        )
    return transfer_embed(username=username, amount=amount, unique_id=unique_id, received_at=received_at, locale=locale)


@lru_cache(maxsize=1024)
def _stored_amount_text(amount: str) -> str:
    return format_nle(Decimal(amount))


@lru_cache(maxsize=64)
def _stored_second_fields(second: str) -> tuple[str, str]:
    return _timestamp_fields(datetime.fromisoformat(second + "Z"))


def _stored_time_fields(received_at: str) -> tuple[str, str]:
    """:func:`_timestamp_fields` of a stored ``received_at`` text. The store's own form
    (``YYYY-MM-DDTHH:MM:SS.ffffffZ``, :func:`bot.storage.timestamps.format_timestamp`) from 1970 on is cached by
    its second (both texts depend only on the second there); any other text is parsed in full."""
    if len(received_at) == 27 and received_at[19] == "." and received_at[26] == "Z" and received_at >= "1970":
        return _stored_second_fields(received_at[:19])
    return _timestamp_fields(datetime.fromisoformat(received_at))


def stored_event_embed(
    kind: str,
    *,
    username: str,
    item_id: str | None,
    amount: str,
    unique_id: int,
    received_at: str,
    locale: str = DEFAULT_LOCALE,
) -> Embed:
    """:func:`event_embed` of an event as its row stores it: ``amount`` and ``received_at`` as their texts. The
    texts made from them are cached by those texts (a shop's amounts are its prices; a burst's events share
    their seconds): rendering a backlog does not parse a ``Decimal`` and a ``datetime`` per row."""
    texts = _event_texts(locale)
    nle = _stored_amount_text(amount)
    times = _stored_time_fields(received_at)
    if kind == "purchase" and item_id is not None:
        return _purchase(texts, username, item_id, nle, unique_id, times)
    return _transfer(texts, username, nle, unique_id, times)


def alert_embed(title: str, description: str, *, problem: bool = True, fields: Sequence[tuple[str, str]] = ()) -> Embed:
    """An audit-channel alert (bounded to Discord's limits)."""
    embed: Embed = {
        "title": truncate(title, MAX_TITLE),
        "description": truncate(description, MAX_DESCRIPTION),
        "color": COLOR_PROBLEM if problem else COLOR_ALERT,
    }
    if fields:
        embed["fields"] = [
            {"name": truncate(name, MAX_FIELD_NAME), "value": truncate(value, MAX_FIELD_VALUE), "inline": False}
            for name, value in list(fields)[:MAX_FIELDS]
        ]
    return embed


def embed_chars(embed: Embed) -> int:
    """Characters that count toward the 6000 per-message total."""
    total = len(str(embed.get("title", ""))) + len(str(embed.get("description", "")))
    for item in embed.get("fields", ()) or ():
        total += len(str(item.get("name", ""))) + len(str(item.get("value", "")))
    footer = embed.get("footer")
    if isinstance(footer, dict):
        total += len(str(footer.get("text", "")))
    author = embed.get("author")
    if isinstance(author, dict):
        total += len(str(author.get("name", "")))
    return total


def check_embed(embed: Embed) -> None:
    """Raise ``ValueError`` when ``embed`` breaks one of Discord's limits."""
    if not isinstance(embed, dict):
        raise ValueError("an embed must be a dict")
    limits = (("title", MAX_TITLE), ("description", MAX_DESCRIPTION))
    for key, limit in limits:
        if len(str(embed.get(key, ""))) > limit:
            raise ValueError(f"embed {key} longer than {limit}")
    fields = embed.get("fields", []) or []
    if len(fields) > MAX_FIELDS:
        raise ValueError(f"more than {MAX_FIELDS} embed fields")
    for item in fields:
        if not str(item.get("name", "")) or not str(item.get("value", "")):
            raise ValueError("embed field name and value must not be empty")
        if len(str(item["name"])) > MAX_FIELD_NAME:
            raise ValueError(f"embed field name longer than {MAX_FIELD_NAME}")
        if len(str(item["value"])) > MAX_FIELD_VALUE:
            raise ValueError(f"embed field value longer than {MAX_FIELD_VALUE}")
    footer = embed.get("footer")
    if isinstance(footer, dict) and len(str(footer.get("text", ""))) > MAX_FOOTER:
        raise ValueError(f"embed footer longer than {MAX_FOOTER}")
    author = embed.get("author")
    if isinstance(author, dict) and len(str(author.get("name", ""))) > MAX_AUTHOR:
        raise ValueError(f"embed author name longer than {MAX_AUTHOR}")


def check_message(embeds: Sequence[Embed], content: str | None = None) -> None:
    """Raise ``ValueError`` unless ``embeds`` (and ``content``) fit in one Discord message."""
    if len(embeds) > MAX_EMBEDS_PER_MESSAGE:
        raise ValueError(f"more than {MAX_EMBEDS_PER_MESSAGE} embeds in one message")
    if content is not None and len(content) > MAX_CONTENT:
        raise ValueError(f"content longer than {MAX_CONTENT}")
    for embed in embeds:
        check_embed(embed)
    if sum(embed_chars(e) for e in embeds) > MAX_TOTAL_CHARS:
        raise ValueError(f"embeds longer than {MAX_TOTAL_CHARS} characters in total")
