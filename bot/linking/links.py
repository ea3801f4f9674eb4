"""Repository over ``account_links``: one Neverlose account per Discord account, and the reverse.

A link's identity is the Neverlose user id (``sub`` / ``cc.neverlose.user_id``): a login can change, a user
id does not. The login is kept beside it and follows what Neverlose last reported: when a sign-in reports a
new login for a linked user id, the link takes it (lookups by login use the current one) and the rename
hooks run in the same transaction (the audit channel notes it). Links made before user ids were stored
(``neverlose_user_id`` NULL) keep working by Discord id and login and gain the user id the next time
Neverlose confirms that account.

Linking again from the same Discord account replaces its earlier link. A Neverlose account already linked
to *another* Discord account is refused (:class:`AlreadyLinkedElsewhere`): the UNIQUE constraints on the
Neverlose id decide, inside one transaction, so two members racing for the same account cannot both win.
Only the Neverlose ids, login and registration date are stored; tokens never are.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import aiosqlite

from bot.linking.sessions import Clock, utc_now
from bot.storage import Database
from bot.storage.multirow import chunked, row_marks
from bot.storage.timestamps import format_timestamp, parse_timestamp

log = logging.getLogger(__name__)

LinkHook = Callable[[aiosqlite.Connection, "Link"], Awaitable[None]]
"""Runs inside the transaction that stores a new link (SQL on ``conn`` only, e.g. an outbox row)."""

RenameHook = Callable[[aiosqlite.Connection, "Rename"], Awaitable[None]]
"""Runs inside the transaction that records a new login for a linked user id."""

_COLUMNS = (
    "discord_user_id, neverlose_sub, neverlose_login, linked_at, neverlose_user_id, neverlose_reg_date, login_seen_at"
)
_SEEN = "COALESCE(login_seen_at, linked_at)"
_BY_USER = f"SELECT {_COLUMNS} FROM account_links WHERE discord_user_id = ?"  # noqa: S608
_BY_ACCOUNT = (
    f"SELECT {_COLUMNS} FROM account_links WHERE neverlose_user_id = ? OR neverlose_sub = ? "  # noqa: S608
    "ORDER BY neverlose_user_id IS NULL LIMIT 1"
)
_BY_LOGIN = (
    f"SELECT {_COLUMNS} FROM account_links WHERE neverlose_login = ? COLLATE NOCASE "  # noqa: S608
    f"ORDER BY {_SEEN} DESC LIMIT 1"
)


@dataclass(frozen=True, slots=True)
class Link:
    discord_user_id: int
    neverlose_sub: str
    neverlose_login: str
    linked_at: datetime
    neverlose_user_id: int | None = None  # None: linked before user ids were stored, not confirmed since
    neverlose_reg_date: date | None = None


@dataclass(frozen=True, slots=True)
class Rename:
    """Neverlose reported a new login for a linked account: ``link`` carries the new one."""

    link: Link
    old_login: str
    seen_at: datetime


class AlreadyLinkedElsewhere(Exception):
    """The Neverlose account is linked to a different Discord account."""


def _link(row: sqlite3.Row | tuple[Any, ...]) -> Link:
    """A row of ``_COLUMNS`` from either connection kind (by position: a plain sqlite3 one gives tuples)."""
    return Link(
        discord_user_id=int(row[0]),
        neverlose_sub=str(row[1]),
        neverlose_login=str(row[2]),
        linked_at=parse_timestamp(str(row[3])),
        neverlose_user_id=None if row[4] is None else int(row[4]),
        neverlose_reg_date=None if row[5] is None else date.fromisoformat(str(row[5])),
    )


def user_id_of(sub: str) -> int | None:
    """The Neverlose user id a ``sub`` stands for (a numeric string), else ``None``."""
    return int(sub) if sub.isascii() and sub.isdigit() and 0 < len(sub) <= 18 else None


async def find_by_login(conn: aiosqlite.Connection, login: str) -> Link | None:
    """The link for a Neverlose login (case-insensitive), on an open connection (usable inside hooks).

    Logins can change on Neverlose; should two links carry the same login (one of them renamed since, not yet
    confirmed again), the one whose login Neverlose confirmed most recently wins.
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
            f"WHERE neverlose_login COLLATE NOCASE IN ({row_marks('?', len(chunk))}) ORDER BY {_SEEN}",
            chunk,
        )
        for row in rows:  # oldest first: the most recently confirmed link of a login wins
            link = _link(row)
            found[link.neverlose_login.lower()] = link
    return found


class LinkRepository:
    def __init__(self, db: Database, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock
        self._hooks: list[LinkHook] = []
        self._rename_hooks: list[RenameHook] = []
        self._commit_listeners: list[Callable[[], None]] = []

    def add_link_hook(self, hook: LinkHook) -> None:
        self._hooks.append(hook)

    def add_rename_hook(self, hook: RenameHook) -> None:
        self._rename_hooks.append(hook)

    def add_commit_listener(self, listener: Callable[[], None]) -> None:
        """Called (synchronously) after a new link was committed, e.g. the dispatcher's ``wake``."""
        self._commit_listeners.append(listener)

    async def link(
        self, discord_user_id: int, sub: str, login: str, *, reg_date: date | None = None
    ) -> tuple[Link, Link | None]:
        """Store the link Neverlose just confirmed; return it and the link it replaced (``None`` when new).

        Raises :class:`AlreadyLinkedElsewhere` when another Discord account holds the account; that link
        still takes what Neverlose just confirmed (user id, current login, registration date).
        """
        now = self._clock()
        user_id = user_id_of(sub)
        linked_elsewhere = False
        async with self._db.transaction() as conn:
            async with conn.execute(_BY_USER, (discord_user_id,)) as cur:
                old_row = await cur.fetchone()
            async with conn.execute(_BY_ACCOUNT, (user_id, sub)) as cur:
                holder_row = await cur.fetchone()
            holder = None if holder_row is None else _link(holder_row)
            if holder is not None and holder.discord_user_id != discord_user_id:
                await self._confirm(conn, holder, user_id, login, reg_date, now)
                linked_elsewhere = True
            else:
                link = await self._replace(conn, discord_user_id, sub, login, user_id, reg_date, now)
                if holder is not None and holder.neverlose_login != login:
                    await self._renamed(conn, Rename(link, holder.neverlose_login, link.linked_at))
                for hook in self._hooks:
                    await hook(conn, link)
        for listener in self._commit_listeners:  # also after a refusal: a rename note may be queued
            listener()
        if linked_elsewhere:
            raise AlreadyLinkedElsewhere(sub)
        return link, None if old_row is None else _link(old_row)

    @staticmethod
    async def _replace(
        conn: aiosqlite.Connection,
        discord_user_id: int,
        sub: str,
        login: str,
        user_id: int | None,
        reg_date: date | None,
        now: datetime,
    ) -> Link:
        await conn.execute("DELETE FROM account_links WHERE discord_user_id = ?", (discord_user_id,))
        at = format_timestamp(now)
        try:
            await conn.execute(
                f"INSERT INTO account_links ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                (discord_user_id, sub, login, at, user_id, None if reg_date is None else reg_date.isoformat(), at),
            )
        except sqlite3.IntegrityError:
            # a UNIQUE Neverlose id: another Discord account took it meanwhile (the transaction rolls back)
            raise AlreadyLinkedElsewhere(sub) from None
        return Link(discord_user_id, sub, login, parse_timestamp(at), user_id, reg_date)

    async def _confirm(
        self,
        conn: aiosqlite.Connection,
        holder: Link,
        user_id: int | None,
        login: str,
        reg_date: date | None,
        now: datetime,
    ) -> None:
        """Neverlose confirmed the account of ``holder`` (a sign-in by another Discord account): follow it."""
        await conn.execute(
            "UPDATE account_links SET neverlose_user_id = COALESCE(?, neverlose_user_id), neverlose_login = ?, "
            "neverlose_reg_date = COALESCE(?, neverlose_reg_date), login_seen_at = ? WHERE discord_user_id = ?",
            (
                user_id,
                login,
                None if reg_date is None else reg_date.isoformat(),
                format_timestamp(now),
                holder.discord_user_id,
            ),
        )
        if holder.neverlose_login != login:
            updated = Link(
                holder.discord_user_id,
                holder.neverlose_sub,
                login,
                holder.linked_at,
                user_id if user_id is not None else holder.neverlose_user_id,
                reg_date if reg_date is not None else holder.neverlose_reg_date,
            )
            await self._renamed(conn, Rename(updated, holder.neverlose_login, parse_timestamp(format_timestamp(now))))

    async def _renamed(self, conn: aiosqlite.Connection, rename: Rename) -> None:
        log.info(
            "link login changed user=%d neverlose_user_id=%s old_login=%s new_login=%s",
            rename.link.discord_user_id,
            rename.link.neverlose_user_id if rename.link.neverlose_user_id is not None else "-",
            rename.old_login,
            rename.link.neverlose_login,
        )
        for hook in self._rename_hooks:
            await hook(conn, rename)

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
