"""Repository over ``account_links``: one Neverlose account per Discord account, and the reverse.

Linking again from the same Discord account replaces its earlier link. A Neverlose account already linked
to *another* Discord account is refused (:class:`AlreadyLinkedElsewhere`): the UNIQUE constraint on the
Neverlose id decides, inside one transaction, so two members racing for the same account cannot both win.
Only the Neverlose id (``sub``) and login are stored; access tokens never are.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from bot.linking.sessions import Clock, from_text, to_text, utc_now
from bot.storage import Database
from bot.storage.multirow import chunked, row_marks

log = logging.getLogger(__name__)

LinkHook = Callable[[aiosqlite.Connection, "Link"], Awaitable[None]]
"""Runs inside the transaction that stores a new link (SQL on ``conn`` only, e.g. an outbox row)."""

_COLUMNS = "discord_user_id, neverlose_sub, neverlose_login, linked_at"
_BY_USER = f"SELECT {_COLUMNS} FROM account_links WHERE discord_user_id = ?"  # noqa: S608
_BY_LOGIN = (
    f"SELECT {_COLUMNS} FROM account_links WHERE neverlose_login = ? COLLATE NOCASE "  # noqa: S608
    "ORDER BY linked_at DESC LIMIT 1"
)


@dataclass(frozen=True, slots=True)
class Link:
    discord_user_id: int
    neverlose_sub: str
    neverlose_login: str
    linked_at: datetime


class AlreadyLinkedElsewhere(Exception):
    """The Neverlose account is linked to a different Discord account."""


def _link(row: sqlite3.Row | tuple[Any, ...]) -> Link:
    """A row of ``_COLUMNS`` from either connection kind (by position: a plain sqlite3 one gives tuples)."""
    return Link(
        discord_user_id=int(row[0]),
        neverlose_sub=str(row[1]),
        neverlose_login=str(row[2]),
        linked_at=from_text(str(row[3])),
    )


async def find_by_login(conn: aiosqlite.Connection, login: str) -> Link | None:
    """The link for a Neverlose login (case-insensitive), on an open connection (usable inside hooks).

    Logins can change on Neverlose; should two links carry the same login, the most recently verified wins.
    """
    async with conn.execute(_BY_LOGIN, (login,)) as cur:
        row = await cur.fetchone()
    return None if row is None else _link(row)


def find_by_logins_sync(conn: sqlite3.Connection, logins: Iterable[str]) -> dict[str, Link]:
    """:func:`find_by_login` for many logins at once, on a synchronous connection, keyed by the login
    lower-cased (logins are ASCII, which is what ``NOCASE`` folds). One statement for all of them: the
    webhook fan-out runs on the batch writer, where every statement step costs a GIL hand-off."""
    wanted = sorted({login.lower() for login in logins})
    found: dict[str, Link] = {}
    for chunk in chunked(wanted):
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM account_links "  # noqa: S608 - fixed columns and placeholders
            f"WHERE neverlose_login COLLATE NOCASE IN ({row_marks('?', len(chunk))}) ORDER BY linked_at",
            chunk,
        )
        for row in rows:  # oldest first: the most recently verified link of a login wins
            link = _link(row)
            found[link.neverlose_login.lower()] = link
    return found


class LinkRepository:
    def __init__(self, db: Database, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock
        self._hooks: list[LinkHook] = []
        self._commit_listeners: list[Callable[[], None]] = []

    def add_link_hook(self, hook: LinkHook) -> None:
        self._hooks.append(hook)

    def add_commit_listener(self, listener: Callable[[], None]) -> None:
        """Called (synchronously) after a new link was committed, e.g. the dispatcher's ``wake``."""
        self._commit_listeners.append(listener)

    async def link(self, discord_user_id: int, sub: str, login: str) -> tuple[Link, Link | None]:
        """Store the link; return it and the link it replaced (``None`` when new).

        Raises :class:`AlreadyLinkedElsewhere` when another Discord account holds ``sub``; nothing changes.
        """
        now = self._clock()
        async with self._db.transaction() as conn:
            async with conn.execute(_BY_USER, (discord_user_id,)) as cur:
                old_row = await cur.fetchone()
            await conn.execute("DELETE FROM account_links WHERE discord_user_id = ?", (discord_user_id,))
            try:
                await conn.execute(
                    f"INSERT INTO account_links ({_COLUMNS}) VALUES (?, ?, ?, ?)",  # noqa: S608
                    (discord_user_id, sub, login, to_text(now)),
                )
            except sqlite3.IntegrityError:
                # the UNIQUE Neverlose id: another Discord account holds it (the transaction rolls back)
                raise AlreadyLinkedElsewhere(sub) from None
            link = Link(discord_user_id, sub, login, from_text(to_text(now)))
            for hook in self._hooks:
                await hook(conn, link)
        for listener in self._commit_listeners:
            listener()
        return link, None if old_row is None else _link(old_row)

    async def unlink(self, discord_user_id: int) -> Link | None:
        """Remove the member's link; return what was removed (``None`` when there was none)."""
        async with self._db.transaction() as conn:
            async with conn.execute(_BY_USER, (discord_user_id,)) as cur:
                row = await cur.fetchone()
            if row is None:
                return None
            await conn.execute("DELETE FROM account_links WHERE discord_user_id = ?", (discord_user_id,))
        return _link(row)

    async def get(self, discord_user_id: int) -> Link | None:
        row = await self._db.fetchone(_BY_USER, (discord_user_id,))
        return None if row is None else _link(row)

    async def get_by_login(self, login: str) -> Link | None:
        row = await self._db.fetchone(_BY_LOGIN, (login,))
        return None if row is None else _link(row)
