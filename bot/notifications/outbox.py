"""The notifications outbox: durable rows of "post this there", filled in the transaction that decided them.

Targets (strings, stored as given):

- ``channel:purchase`` / ``channel:transfer`` / ``channel:audit`` — resolved through ``GuildConfig`` when
  delivered, so ``/setup notifications`` applies to what is already waiting;
- ``channel:<id>`` — an explicit channel; ``dm:<user_id>`` — a direct message;
- ``role:<guild_id>:<user_id>:<role_id>`` — grant a role (no embeds);
- ``card:<kind>:<key>`` — a *card*: ONE message in the channel of ``<kind>`` (e.g. ``card:orders:<order id>``),
  posted by its first row and EDITED by every later row of the same target (see :mod:`bot.notifications.cards`).

A webhook event's announcement is a row that references the stored event (``event_id``, queued by
:func:`queue_event_announcements` in the transaction that stores the event) and is rendered when it is read
for delivery (:func:`~bot.notifications.embeds.stored_event_embed`): the event row never changes, so every attempt
renders the same message, and the busy ingest path writes a small row and renders nothing.

Exactly-once: before a message is sent its rows are *claimed* with a nonce derived from the first row's id
(``nlo-<id>``; ids are AUTOINCREMENT so never reused), in a committed transaction (the dispatcher claims all
the messages it planned for a target in one pass together: :meth:`Outbox.claim_many`). The message is sent
with that nonce and ``enforce_nonce``; once Discord answers, the rows are marked sent with the message id (the
dispatcher records these marks in the background, many messages per commit: :mod:`bot.notifications.marks`).
After a crash between the two, the same rows are sent again with the same nonce, and Discord answers with the
message it already created instead of posting it twice.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import aiosqlite

from bot.guild_config import ChannelKind
from bot.i18n import DEFAULT_LOCALE
from bot.notifications.alerts import localize_alert
from bot.notifications.cards import (
    Component,
    card_dedupe_key,
    card_key_range,
    card_target,
    check_card,
    encode_components,
)
from bot.notifications.embeds import Embed, check_message, stored_event_embed
from bot.notifications.targets import AUDIT_TARGET
from bot.storage import Database
from bot.storage.multirow import chunked, row_marks

log = logging.getLogger(__name__)

NONCE_PREFIX = "nlo-"
MAX_NONCE_LENGTH = 25

_CHANNEL_KINDS = {kind.value: kind for kind in ChannelKind}
_SNOWFLAKE = r"[1-9][0-9]{0,19}"
_CHANNEL_ID = re.compile(rf"channel:({_SNOWFLAKE})")
_DM = re.compile(rf"dm:({_SNOWFLAKE})")
_ROLE = re.compile(rf"role:({_SNOWFLAKE}):({_SNOWFLAKE}):({_SNOWFLAKE})")
_CARD = re.compile(r"card:([a-z]+):([A-Za-z0-9_-]{1,64})")


@dataclass(frozen=True, slots=True)
class ChannelKindTarget:
    """``channel:purchase|transfer|audit``: resolved through the guild configuration at delivery time."""

    channel_kind: ChannelKind


@dataclass(frozen=True, slots=True)
class ChannelTarget:
    channel_id: int


@dataclass(frozen=True, slots=True)
class DmTarget:
    user_id: int


@dataclass(frozen=True, slots=True)
class RoleTarget:
    guild_id: int
    user_id: int
    role_id: int


@dataclass(frozen=True, slots=True)
class CardTarget:
    """``card:<kind>:<key>``: one message per key in the channel of ``channel_kind``, edited as it changes."""

    channel_kind: ChannelKind
    key: str


Target = ChannelKindTarget | ChannelTarget | DmTarget | RoleTarget | CardTarget


def parse_target(text: str) -> Target:
    """Parse a target string; ``ValueError`` when it is not one of the documented forms."""
    name = text.removeprefix("channel:")
    if name != text and name in _CHANNEL_KINDS:
        return ChannelKindTarget(_CHANNEL_KINDS[name])
    if match := _CHANNEL_ID.fullmatch(text):
        return ChannelTarget(int(match.group(1)))
    if match := _DM.fullmatch(text):
        return DmTarget(int(match.group(1)))
    if match := _ROLE.fullmatch(text):
        guild_id, user_id, role_id = (int(x) for x in match.groups())
        return RoleTarget(guild_id, user_id, role_id)
    if (match := _CARD.fullmatch(text)) and match.group(1) in _CHANNEL_KINDS:
        return CardTarget(_CHANNEL_KINDS[match.group(1)], match.group(2))
    raise ValueError(f"unknown notification target {text[:40]!r}")


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One row for :meth:`Outbox.enqueue_many`."""

    target: str
    embeds: list[Embed]
    dedupe_key: str
    content: str | None = None


class PreparedRow(NamedTuple):
    """An outbox row validated and JSON-encoded by :func:`prepare_row`, ready for the INSERT."""

    dedupe_key: str
    target: str
    content: str | None
    embeds: str


def prepare_row(target: str, embeds: Sequence[Embed], content: str | None, dedupe_key: str) -> PreparedRow:
    """Validate a row and encode its embeds (pure: no SQL). ``ValueError`` for an unknown target or a message
    Discord would refuse (limits). The one check shared by the async and the synchronous inserts."""
    parsed = parse_target(target)
    if isinstance(parsed, RoleTarget):
        if embeds or content:
            raise ValueError("a role grant carries no message")
    elif isinstance(parsed, CardTarget):
        check_card(embeds, content)
    else:
        if not embeds and not content:
            raise ValueError("a message needs content or embeds")
        check_message(embeds, content)
    if not dedupe_key:
        raise ValueError("dedupe_key must not be empty")
    return PreparedRow(dedupe_key, target, content, json.dumps(list(embeds), separators=(",", ":"), ensure_ascii=False))


def card_row(
    kind: ChannelKind, key: str, *, version: str, embeds: list[Embed], components: Sequence[Component]
) -> OutboxMessage:
    """The outbox row showing a card (see :mod:`bot.notifications.cards`) as of ``version``."""
    target = card_target(kind.value, key)
    return OutboxMessage(
        target=target,
        embeds=embeds,
        dedupe_key=card_dedupe_key(target, version),
        content=encode_components(components),
    )


def prepare_rows(messages: Sequence[OutboxMessage]) -> list[PreparedRow]:
    return [prepare_row(m.target, m.embeds, m.content, m.dedupe_key) for m in messages]


_INSERT = "INSERT OR IGNORE INTO notification_outbox (dedupe_key, target, content, embeds) VALUES "


def _insert_statements(rows: Sequence[PreparedRow]) -> Iterator[tuple[str, list[object]]]:
    """Multi-row ``INSERT OR IGNORE`` statements (with their parameters) adding ``rows``."""
    for chunk in chunked(rows):
        yield _INSERT + row_marks("(?, ?, ?, ?)", len(chunk)), [value for row in chunk for value in row]


def insert_rows_sync(conn: sqlite3.Connection, rows: Sequence[PreparedRow]) -> int:
    """Add prepared rows inside the caller's transaction on a synchronous connection; rows added (a row whose
    dedupe key already exists is skipped)."""
    return sum(conn.execute(sql, params).rowcount for sql, params in _insert_statements(rows))


async def insert_rows(conn: aiosqlite.Connection, rows: Sequence[PreparedRow]) -> int:
    """:func:`insert_rows_sync` on an aiosqlite connection."""
    added = 0
    for sql, params in _insert_statements(rows):
        cursor = await conn.execute(sql, params)
        added += cursor.rowcount
    return added


_QUEUE_ANNOUNCEMENT = "INSERT OR IGNORE INTO notification_outbox (dedupe_key, target, embeds, event_id) VALUES "
_ANNOUNCEMENT_ROW = "(?, ?, '[]', (SELECT id FROM webhook_events WHERE kind = ? AND unique_id = ?))"
"""VALUES with a scalar subquery: measured ~13 us per row cheaper than the INSERT … SELECT form."""


def queue_event_announcements(conn: sqlite3.Connection, events: Sequence[tuple[str, int]]) -> int:
    """Queue the announcement of stored webhook events, given as (kind, unique_id), in their kind's channel
    (``channel:<kind>``, dedupe key ``webhook:<kind>:<unique_id>``), inside the caller's transaction on a
    synchronous connection; rows added. Rendered at delivery (see the module docstring).

    Multi-row statements rather than ``executemany`` (see :mod:`bot.storage.multirow`)."""
    added = 0
    for chunk in chunked(events):
        params: list[object] = []
        for kind, unique_id in chunk:
            params.extend((f"webhook:{kind}:{unique_id}", f"channel:{kind}", kind, unique_id))
        added += conn.execute(_QUEUE_ANNOUNCEMENT + row_marks(_ANNOUNCEMENT_ROW, len(chunk)), params).rowcount
    return added


EVENT_ANNOUNCEMENT_ON_INSERT = (
    "INSERT OR IGNORE INTO notification_outbox (dedupe_key, target, embeds, event_id) "
    "VALUES ('webhook:' || NEW.kind || ':' || NEW.unique_id, 'channel:' || NEW.kind, '[]', NEW.id)"
)
""":func:`queue_event_announcements` of one stored event, as a statement over the inserted row ``NEW``: run by a
trigger for each event the webhook store's ingest path inserts (see
:meth:`~bot.webhooks.store.WebhookStore.add_events_hook`), the same row the function queues."""


def nonce_for(first_row_id: int) -> str:
    return f"{NONCE_PREFIX}{first_row_id}"


@dataclass(slots=True)
class OutboxRow:
    """A pending row as the dispatcher reads it (never changed once read). Not ``frozen``: one is built per row
    delivered, and a frozen dataclass is built several times slower (2.8 against 0.6 us for these seven fields);
    with its list of embeds it was never hashable either."""

    id: int
    dedupe_key: str
    target: str
    content: str | None
    embeds: list[Embed]
    nonce: str | None
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    pending: int
    sent: int
    undeliverable: int


def _row(row: aiosqlite.Row, locale: str = DEFAULT_LOCALE) -> OutboxRow:
    """An outbox row from a :data:`_PENDING` row. Its columns are read by position, in the SELECT's order: a
    ``sqlite3.Row`` looks a name up by comparing it with every column name (about 8 us per row here)."""
    row_id, dedupe_key, target, content, embeds_json, nonce, attempts = (
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        row[6],
    )
    event_kind, unique_id, username, amount, item_id, received_at = row[7], row[8], row[9], row[10], row[11], row[12]
    embeds: Any
    if event_kind is None:
        embeds = json.loads(str(embeds_json))
        if locale != DEFAULT_LOCALE and target == AUDIT_TARGET:  # the money modules' English alerts
            embeds = [localize_alert(embed, locale) for embed in embeds]
    else:  # a webhook event's announcement (its own embeds column is empty): rendered now, from the event row
        embeds = [
            stored_event_embed(
                str(event_kind),
                username=str(username),
                item_id=None if item_id is None else str(item_id),
                amount=str(amount),
                unique_id=int(unique_id),
                received_at=str(received_at),
                locale=locale,
            )
        ]
    return OutboxRow(
        id=int(row_id),
        dedupe_key=str(dedupe_key),
        target=str(target),
        content=None if content is None else str(content),
        embeds=list(embeds),
        nonce=None if nonce is None else str(nonce),
        attempts=int(attempts),
    )


_PENDING = (  # the order :func:`_row` reads the columns in
    "SELECT o.id, o.dedupe_key, o.target, o.content, o.embeds, o.nonce, o.attempts, e.kind AS event_kind, "
    "e.unique_id, e.username, e.amount, e.item_id, e.received_at "
    "FROM notification_outbox AS o LEFT JOIN webhook_events AS e ON e.id = o.event_id"
)


_CLAIM = "UPDATE notification_outbox SET nonce = claim.column2 FROM (VALUES "
_CLAIM_WHERE = (
    ") AS claim WHERE notification_outbox.id = claim.column1 AND notification_outbox.state = 'pending' "
    "AND notification_outbox.nonce IS NULL"
)
"""One statement binds many (row id, nonce) pairs (``UPDATE … FROM``, SQLite 3.33+): an ``executemany`` costs a
statement step per row, each one handing the GIL to the event loop and taking it back on the database thread."""


def _placeholders(count: int) -> str:
    return ",".join("?" * count)


class Outbox:
    """Repository over ``notification_outbox``; see the module docstring for the delivery protocol."""

    def __init__(self, db: Database, *, locale: Callable[[], str] = lambda: DEFAULT_LOCALE) -> None:
        self._db = db
        self._locale = locale  # the channels' language: announcements are rendered at delivery

    def channel_locale(self) -> str:
        """The channels' language now (BOT_LOCALE, else the server's, else English)."""
        return self._locale()

    async def enqueue(
        self,
        conn: aiosqlite.Connection,
        *,
        target: str,
        embeds: list[Embed],
        content: str | None = None,
        dedupe_key: str,
    ) -> bool:
        """Add a row inside the caller's open transaction; ``False`` when ``dedupe_key`` already exists.

        Raises ``ValueError`` for an unknown target or a message Discord would refuse (limits).
        """
        return await insert_rows(conn, [prepare_row(target, embeds, content, dedupe_key)]) == 1

    async def enqueue_many(self, conn: aiosqlite.Connection, messages: Sequence[OutboxMessage]) -> int:
        """:meth:`enqueue` for many rows in few statements (inside the caller's transaction); rows added."""
        return await insert_rows(conn, prepare_rows(messages))

    @staticmethod
    def enqueue_sync(conn: sqlite3.Connection, messages: Sequence[OutboxMessage]) -> int:
        """:meth:`enqueue_many` on a synchronous connection: for the webhook fan-out, which runs on the batch
        writer's thread inside the transaction that stores the events. Rows added."""
        return insert_rows_sync(conn, prepare_rows(messages))

    async def enqueue_now(
        self, *, target: str, embeds: list[Embed], content: str | None = None, dedupe_key: str
    ) -> bool:
        """:meth:`enqueue` in a transaction of its own."""
        async with self._db.transaction() as conn:
            return await self.enqueue(conn, target=target, embeds=embeds, content=content, dedupe_key=dedupe_key)

    # ----------------------------------------------------------------- delivery side
    async def pending(
        self, *, limit: int = 2000, exclude: Sequence[str] = (), target: str | None = None
    ) -> list[OutboxRow]:
        """Pending rows, oldest first (claimed ones included, with their nonce); without the rows of the
        ``exclude`` targets (those that wait, so they never hide the rows behind them), or only ``target``'s."""
        where = "o.state = 'pending'"
        params: list[object] = []
        if target is not None:
            where += " AND o.target = ?"
            params.append(target)
        if exclude:
            where += f" AND o.target NOT IN ({_placeholders(len(exclude))})"
            params.extend(exclude)
        sql = f"{_PENDING} WHERE {where} ORDER BY o.id LIMIT ?"
        rows = await self._db.fetchall(sql, (*params, limit))
        locale = self._locale()
        return [_row(r, locale) for r in rows]

    async def pending_count(self) -> int:
        """How many rows are pending (read through the partial index of pending rows, not the whole table)."""
        row = await self._db.fetchone("SELECT count(*) FROM notification_outbox WHERE state = 'pending'")
        return 0 if row is None else int(row[0])

    async def claim(self, row_ids: Sequence[int]) -> str:
        """Bind unclaimed pending rows into one message; returns its nonce (committed before sending)."""
        nonce = nonce_for(min(row_ids))
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                f"UPDATE notification_outbox SET nonce = ? WHERE id IN ({_placeholders(len(row_ids))}) "  # noqa: S608
                "AND state = 'pending' AND nonce IS NULL",
                (nonce, *row_ids),
            )
            if cursor.rowcount != len(row_ids):
                raise RuntimeError("outbox rows were claimed concurrently")
        return nonce

    async def claim_many(self, messages: Sequence[Sequence[int]]) -> list[str]:
        """:meth:`claim` for several messages (lists of row ids) in ONE transaction; their nonces, in order."""
        nonces = [nonce_for(min(row_ids)) for row_ids in messages]
        pairs = [(row_id, nonce) for nonce, row_ids in zip(nonces, messages, strict=True) for row_id in row_ids]
        claimed = 0
        async with self._db.transaction() as conn:
            for chunk in chunked(pairs):  # many rows per statement, not one statement step per row
                cursor = await conn.execute(
                    _CLAIM + row_marks("(?, ?)", len(chunk)) + _CLAIM_WHERE, [part for pair in chunk for part in pair]
                )
                claimed += cursor.rowcount
            if claimed != len(pairs):
                raise RuntimeError("outbox rows were claimed concurrently")
        return nonces

    async def split(self, nonce: str) -> None:
        """Give every row of a refused multi-row message a message of its own (nonce from its own id)."""
        await self._db.execute(
            "UPDATE notification_outbox SET nonce = ? || id WHERE nonce = ? AND state = 'pending'",
            (NONCE_PREFIX, nonce),
        )

    async def mark_sent(self, nonce: str, message_id: int | None) -> int:
        return await self._db.execute(
            "UPDATE notification_outbox SET state = 'sent', message_id = ?, attempts = attempts + 1, "
            "last_error = NULL, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
            "WHERE nonce = ? AND state = 'pending'",
            (message_id, nonce),
        )

    async def mark_sent_many(self, marks: Sequence[tuple[str, int | None]]) -> int:
        """:meth:`mark_sent` for several messages, given as (nonce, message id), in ONE transaction (one commit
        for all); rows marked."""
        async with self._db.transaction() as conn:
            cursor = await conn.executemany(
                "UPDATE notification_outbox SET state = 'sent', message_id = ?, attempts = attempts + 1, "
                "last_error = NULL, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
                "WHERE nonce = ? AND state = 'pending'",
                [(message_id, nonce) for nonce, message_id in marks],
            )
            return cursor.rowcount

    async def mark_undeliverable(self, nonce: str, error: str) -> int:
        return await self._db.execute(
            "UPDATE notification_outbox SET state = 'undeliverable', attempts = attempts + 1, last_error = ?, "
            "finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE nonce = ? AND state = 'pending'",
            (error[:500], nonce),
        )

    async def note_failure(self, nonce: str, error: str) -> None:
        await self._db.execute(
            "UPDATE notification_outbox SET attempts = attempts + 1, last_error = ? "
            "WHERE nonce = ? AND state = 'pending'",
            (error[:500], nonce),
        )

    async def counts(self) -> OutboxCounts:
        rows = await self._db.fetchall("SELECT state, count(*) FROM notification_outbox GROUP BY state")
        by_state = {str(r[0]): int(r[1]) for r in rows}
        return OutboxCounts(
            pending=by_state.get("pending", 0),
            sent=by_state.get("sent", 0),
            undeliverable=by_state.get("undeliverable", 0),
        )

    # ----------------------------------------------------------------- cards (bot.notifications.cards)
    async def card_message_id(self, target: str) -> int | None:
        """The message of a card: that of its newest delivered row (looked up through the dedupe-key index)."""
        low, high = card_key_range(target)
        row = await self._db.fetchone(
            "SELECT message_id FROM notification_outbox WHERE dedupe_key >= ? AND dedupe_key < ? "
            "AND state = 'sent' AND message_id IS NOT NULL ORDER BY id DESC LIMIT 1",
            (low, high),
        )
        return None if row is None else int(row[0])

    async def finish_card(self, target: str, up_to_id: int, message_id: int) -> int:
        """Mark the card's pending rows up to ``up_to_id`` sent as ``message_id`` (the newest shown, the older
        ones superseded by it); rows marked."""
        return await self._db.execute(
            "UPDATE notification_outbox SET state = 'sent', message_id = ?, attempts = attempts + 1, "
            "last_error = NULL, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
            "WHERE target = ? AND id <= ? AND state = 'pending'",
            (message_id, target, up_to_id),
        )

    async def drop_card(self, target: str, up_to_id: int, error: str) -> int:
        """Mark the card's pending rows up to ``up_to_id`` undeliverable (Discord refuses them for good)."""
        return await self._db.execute(
            "UPDATE notification_outbox SET state = 'undeliverable', attempts = attempts + 1, last_error = ?, "
            "finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE target = ? AND id <= ? AND state = 'pending'",
            (error[:500], target, up_to_id),
        )

    async def message_ids(self, dedupe_key: str) -> int | None:
        row = await self._db.fetchone("SELECT message_id FROM notification_outbox WHERE dedupe_key = ?", (dedupe_key,))
        return None if row is None or row[0] is None else int(row[0])
