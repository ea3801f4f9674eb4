"""The ``orders`` and ``order_transitions`` tables (migration 0009): guarded moves, history, look-ups.

Every change of an order happens in ONE SQLite transaction (shared with the other changes waiting at that
moment, each in its own savepoint: :mod:`bot.orders.group_commit`) that (1) moves the row with
``UPDATE ... WHERE id = ? AND state = ?`` (so of two racing actors exactly one wins), (2) appends the history
entry and (3) awaits the registered hooks with the same connection, so whatever a hook writes (an outbox row)
commits or rolls back with the change. A history entry whose ``from_state`` equals its ``to_state`` is an
*event* that did not move the state (method chosen, payment claimed, pre-check result).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import aiosqlite

from bot.orders.group_commit import GroupCommit
from bot.orders.models import IllegalTransition, Order, OrderNotFound, OrderState, Transition, is_legal
from bot.shop.catalog import PaymentMethod
from bot.storage import Database
from bot.storage.multirow import chunked, row_marks
from bot.storage.thread_call import on_connection_thread
from bot.storage.timestamps import format_timestamp, parse_timestamp

log = logging.getLogger(__name__)

TransitionHook = Callable[[aiosqlite.Connection, Order, Transition], Awaitable[None]]
"""Awaited inside the transaction of every change: ``hook(conn, order_after, transition)``.

Write with ``conn`` only (never through ``Database``: its lock is held); raising rolls the change back.
"""

_UPDATABLE = frozenset(
    {
        "currency",
        "method",
        "amount",
        "nle_cost",
        "check_status",
        "check_reason",
        "payment_reference",
        "payment_claimed_at",
        "claim_reference",
        "paid_by",
        "fulfil_attempt",
        "request_id",
        "auto_retry",
        "last_error",
    }
)


def _column(value: object) -> object:
    # Most values are plain text, whole numbers or None, stored as they are. Exact types: an enum member (a str)
    # and a bool (an int) are converted below. (pragma: a value this lets through reads the same below)
    if value is None or type(value) is str or type(value) is int:  # pragma: no mutate
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, PaymentMethod):
        return value.value
    if isinstance(value, bool):
        return int(value)
    return value


def _opt_decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _opt_time(text: str | None) -> datetime | None:
    return None if text is None else parse_timestamp(text)


_INSERT_TRANSITIONS = (
    "INSERT INTO order_transitions (order_id, seq, from_state, to_state, at, actor, note)"  # pragma: no mutate
    " VALUES "  # pragma: no mutate
)


_NEW_ORDER_DEFAULTS: dict[str, object] = {
    "token_hash": None,
    "email": None,
    "nle": None,
    "currency": None,
    "method": None,
    "amount": None,
    "check_status": "pending",
    "check_reason": None,
    "payment_reference": None,
    "payment_claimed_at": None,
    "claim_reference": None,
    "paid_by": None,
    "fulfil_attempt": 0,
    "request_id": None,
    "auto_retry": 0,
    "last_error": None,
    "discord_user_id": None,
}
"""What ``orders`` (migration 0009) stores in the columns an insert may leave out (a test compares it with the
schema's defaults)."""


@dataclass(frozen=True, slots=True)
class _NewOrder:
    """An order to insert: its column values, the time and the actor of its creation entry."""

    values: dict[str, object]
    now: datetime
    actor: str


def order_from_row(row: aiosqlite.Row | Mapping[str, Any]) -> Order:
    return Order(
        id=row["id"],
        login=row["login"],
        email=row["email"],
        product_key=row["product_key"],
        nle=_opt_decimal(row["nle"]),
        currency=row["currency"],
        method=PaymentMethod(row["method"]) if row["method"] else None,
        amount=_opt_decimal(row["amount"]),
        nle_cost=Decimal(row["nle_cost"]),
        state=OrderState(row["state"]),
        check_status=row["check_status"],
        check_reason=row["check_reason"],
        payment_reference=row["payment_reference"],
        payment_claimed_at=_opt_time(row["payment_claimed_at"]),
        claim_reference=row["claim_reference"],
        paid_by=row["paid_by"],
        fulfil_attempt=int(row["fulfil_attempt"]),
        request_id=row["request_id"],
        auto_retry=bool(row["auto_retry"]),
        last_error=row["last_error"],
        discord_user_id=row["discord_user_id"],
        created_at=parse_timestamp(row["created_at"]),
        updated_at=parse_timestamp(row["updated_at"]),
        expires_at=parse_timestamp(row["expires_at"]),
        form_token=row["form_token"],
        seq=int(row["seq"]),
    )


def _transition_from_row(row: aiosqlite.Row) -> Transition:
    return Transition(
        order_id=row["order_id"],
        seq=int(row["seq"]),
        from_state=OrderState(row["from_state"]) if row["from_state"] else None,
        to_state=OrderState(row["to_state"]),
        at=parse_timestamp(row["at"]),
        actor=row["actor"],
        note=row["note"],
    )


class OrderRepository:
    """SQL for orders; the service decides, this stores. Hooks are shared with the service."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock
        self.hooks: list[TransitionHook] = []
        self.change_hooks: list[TransitionHook] = []
        """Hooks awaited like ``hooks`` but not for a new order (they have nothing to do for one)."""
        self._writes = GroupCommit(db)

    # ------------------------------------------------------------------ writing
    async def insert(self, fields: Mapping[str, object], *, actor: str) -> tuple[Order, bool]:
        """Insert a new order (``state`` awaiting_payment) with its creation entry, or find the one with the same
        ``token_hash``. Returns (order, created).

        The inserts waiting at the same moment are written together (:meth:`_insert_many`, through
        :meth:`GroupCommit.run_many`): a burst of checkouts costs a few statements, not a few per order. With no
        hook to await for a new order (:attr:`hooks`), the write is :func:`_write_new_orders` alone,
        queued with :meth:`GroupCommit.run_many_on_thread`: a burst of nothing but new orders is then ONE round
        trip to the connection's thread, its transaction included."""
        now = self._clock()
        values = {key: _column(value) for key, value in fields.items()}
        stamp = format_timestamp(now)
        values.update(state=OrderState.AWAITING_PAYMENT.value, seq=1, created_at=stamp, updated_at=stamp)
        item = _NewOrder(values, now, actor)
        if not self.hooks:
            return await self._writes.run_many_on_thread(_new_orders_results, item)
        return await self._writes.run_many(self._insert_many, item)

    async def _insert_many(self, conn: aiosqlite.Connection, items: Sequence[_NewOrder]) -> list[tuple[Order, bool]]:
        """Insert ``items`` and their creation entries in ONE call on the connection's thread
        (:func:`_write_new_orders`), then await the hooks of each new order in turn. One (order, created) per
        item, in order."""
        results, created = await on_connection_thread(conn, lambda c: _write_new_orders(c, items))
        for order, transition in created:
            for hook in self.hooks:
                await hook(conn, order, transition)
        return results

    async def move(
        self,
        order_id: str,
        to_state: OrderState,
        *,
        actor: str,
        note: str | None = None,
        expect: OrderState | Sequence[OrderState] | None = None,
        sets: Mapping[str, object] | None = None,
        also: Callable[[aiosqlite.Connection, Order], Awaitable[None]] | None = None,
        unless: Callable[[Order], bool] | None = None,
    ) -> Order:
        """Move the order to ``to_state`` if that is legal from its state (and its state is in ``expect``, when
        given); store ``sets`` with it. :class:`IllegalTransition` otherwise, nothing written.

        ``to_state`` equal to the current state records an event (allowed only when ``expect`` names it).
        ``also(conn, order_after)`` is awaited in the same transaction, before the hooks. ``unless(order)``,
        true for the order as the writer reads it, writes nothing and returns that order (an event already
        recorded by a request that came first).
        """
        expected = (expect,) if isinstance(expect, OrderState) else tuple(expect or ())
        changes = dict(sets or {})
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        now = self._clock()

        async def op(conn: aiosqlite.Connection) -> tuple[Order, OrderState | None]:
            current = await self._read(conn, order_id)
            if unless is not None and unless(current):
                return current, None
            event = to_state is current.state
            allowed = (current.state in expected) if event else is_legal(current.state, to_state)
            if not allowed or (expected and current.state not in expected):
                raise IllegalTransition(order_id, current.state, to_state)
            assignments = ["state = ?", "seq = seq + 1", "updated_at = ?"]  # pragma: no mutate
            params: list[object] = [to_state.value, format_timestamp(now)]
            for name, value in changes.items():
                assignments.append(f"{name} = ?")  # pragma: no mutate
                params.append(_column(value))
            rows = list(
                await conn.execute_fetchall(
                    f"UPDATE orders SET {', '.join(assignments)} WHERE id = ? AND state = ? AND seq = ?"  # noqa: S608  # pragma: no mutate
                    " RETURNING *",  # pragma: no mutate
                    (*params, order_id, current.state.value, current.seq),
                )
            )
            if len(rows) != 1:  # pragma: no cover - one writer at a time makes this unreachable
                raise IllegalTransition(order_id, current.state, to_state)  # pragma: no mutate
            order = order_from_row(rows[0])
            transition = Transition(order_id, current.seq + 1, current.state, to_state, now, actor, note)
            await self._append(conn, transition)
            if also is not None:
                await also(conn, order)
            for hook in (*self.hooks, *self.change_hooks):
                await hook(conn, order, transition)
            return order, current.state

        order, previous = await self._writes.run(op)
        if previous is None:  # ``unless`` held: nothing was written
            return order
        # pragma below: the log line's wording and arguments change only the log line
        event = previous is to_state  # pragma: no mutate
        # pragma: no mutate start
        log.info(
            "order %s order_id=%s from=%s to=%s actor=%s",
            "event" if event else "transition",
            order_id,
            previous,
            to_state,
            actor,
        )
        # pragma: no mutate end
        return order

    @staticmethod
    async def _append(conn: aiosqlite.Connection, t: Transition) -> None:
        await OrderRepository._append_many(conn, [t])

    @staticmethod
    async def _append_many(conn: aiosqlite.Connection, transitions: Sequence[Transition]) -> None:
        """The history entries ``transitions``, in multi-row statements."""
        for sql, params in _transition_statements(transitions):
            await conn.execute(sql, params)

    @staticmethod
    async def _read(conn: aiosqlite.Connection, order_id: str) -> Order:
        rows = list(await conn.execute_fetchall("SELECT * FROM orders WHERE id = ?", (order_id,)))  # pragma: no mutate
        if not rows:
            raise OrderNotFound(order_id)
        return order_from_row(rows[0])

    # ------------------------------------------------------------------ reading
    async def get(self, order_id: str) -> Order:
        row = await self._db.fetchone("SELECT * FROM orders WHERE id = ?", (order_id,))  # pragma: no mutate
        if row is None:
            raise OrderNotFound(order_id)
        return order_from_row(row)

    async def history(self, order_id: str) -> list[Transition]:
        rows = await self._db.fetchall(
            "SELECT * FROM order_transitions WHERE order_id = ? ORDER BY seq",  # pragma: no mutate
            (order_id,),
        )
        return [_transition_from_row(row) for row in rows]

    async def find(
        self,
        *,
        state: OrderState | Sequence[OrderState] | None = None,
        login: str | None = None,
        since: datetime | None = None,
        discord_user_id: int | None = None,
        check_status: str | None = None,
        expires_before: datetime | None = None,
        limit: int = 25,
        offset: int = 0,
    ) -> list[Order]:
        clauses: list[str] = []
        values: list[object] = []
        if state is not None:
            states = (state,) if isinstance(state, OrderState) else tuple(state)
            clauses.append(f"state IN ({', '.join('?' for _ in states)})")  # pragma: no mutate
            values.extend(s.value for s in states)
        if login is not None:
            clauses.append("login = ? COLLATE NOCASE")  # pragma: no mutate
            values.append(login.strip())
        if since is not None:
            clauses.append("created_at >= ?")  # pragma: no mutate
            values.append(format_timestamp(since))
        if discord_user_id is not None:
            clauses.append("discord_user_id = ?")  # pragma: no mutate
            values.append(discord_user_id)
        if check_status is not None:
            clauses.append("check_status = ?")  # pragma: no mutate
            values.append(check_status)
        if expires_before is not None:
            clauses.append("expires_at <= ?")  # pragma: no mutate
            values.append(format_timestamp(expires_before))
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""  # pragma: no mutate
        sql = f"SELECT * FROM orders{where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?"  # noqa: S608  # pragma: no mutate
        rows = await self._db.fetchall(sql, (*values, max(0, limit), max(0, offset)))
        return [order_from_row(row) for row in rows]

    async def ids(
        self,
        *states: OrderState,
        check_status: str | None = None,
        check_reasons: Sequence[str] = (),
        expires_before: datetime | None = None,
        auto_retry: bool | None = None,
    ) -> list[str]:
        """Every order id in one of ``states`` matching the filters, oldest first (no limit: for the background
        passes, which must miss none)."""
        clauses = [f"state IN ({', '.join('?' for _ in states)})"]  # pragma: no mutate
        values: list[object] = [s.value for s in states]
        if check_status is not None:
            clauses.append("check_status = ?")  # pragma: no mutate
            values.append(check_status)
        if check_reasons:
            clauses.append(f"check_reason IN ({', '.join('?' for _ in check_reasons)})")  # pragma: no mutate
            values.extend(check_reasons)
        if expires_before is not None:
            clauses.append("expires_at <= ?")  # pragma: no mutate
            values.append(format_timestamp(expires_before))
        if auto_retry is not None:
            clauses.append("auto_retry = ?")  # pragma: no mutate
            values.append(int(auto_retry))
        sql = f"SELECT id FROM orders WHERE {' AND '.join(clauses)} ORDER BY created_at, id"  # noqa: S608  # pragma: no mutate
        rows = await self._db.fetchall(sql, values)
        # pragma below: sqlite3.Row's keys are case-insensitive (row["ID"] reads the same)
        return [str(row["id"]) for row in rows]  # pragma: no mutate


def _transition_statements(transitions: Sequence[Transition]) -> list[tuple[str, list[object]]]:
    """The multi-row ``INSERT`` statements (and their parameters) that store the history entries ``transitions``."""
    return [
        (
            _INSERT_TRANSITIONS + row_marks("(?, ?, ?, ?, ?, ?, ?)", len(chunk)),  # pragma: no mutate
            [
                value
                for t in chunk
                for value in (
                    t.order_id,
                    t.seq,
                    t.from_state.value if t.from_state else None,
                    t.to_state.value,
                    format_timestamp(t.at),
                    t.actor,
                    t.note,
                )
            ],
        )
        for chunk in chunked(transitions)
    ]


def _new_orders_results(conn: sqlite3.Connection, items: Sequence[_NewOrder]) -> list[tuple[Order, bool]]:
    """:func:`_write_new_orders` without the hooks' part: one (order, created) per item, in order."""
    return _write_new_orders(conn, items)[0]


def _write_new_orders(
    conn: sqlite3.Connection, items: Sequence[_NewOrder]
) -> tuple[list[tuple[Order, bool]], list[tuple[Order, Transition]]]:
    """On the connection's thread, inside the open transaction: insert ``items`` (one multi-row statement per
    column set), find the order of each token already stored (or twice in ``items``: it inserts nothing), and
    store the creation entries of the new ones. Returns one (order, created) per item, in order, and the new
    orders with their creation entries (for the hooks).

    The statement returns nothing: a new order is made from the values it was given (:func:`_inserted_order`),
    and when the statement inserted fewer rows than it was given (a token already stored), one look-up finds
    which of its orders it did insert. ``RETURNING`` would hand each row back in a step of its own, each step
    letting go of the GIL and taking it back from the busy event loop."""
    inserted: dict[str, Order] = {}
    by_columns: dict[tuple[str, ...], list[_NewOrder]] = {}
    for item in items:
        by_columns.setdefault(tuple(item.values), []).append(item)
    for columns, group in by_columns.items():
        for chunk in chunked(group):
            row = f"({', '.join('?' for _ in columns)})"  # pragma: no mutate
            count = conn.execute(
                f"INSERT INTO orders ({', '.join(columns)}) VALUES {row_marks(row, len(chunk))}"  # noqa: S608  # pragma: no mutate
                " ON CONFLICT (token_hash) DO NOTHING",  # pragma: no mutate
                [value for item in chunk for value in item.values.values()],
            ).rowcount
            stored = chunk if count == len(chunk) else _inserted_of(conn, chunk)
            inserted.update((str(item.values["id"]), _inserted_order(item.values)) for item in stored)
    missing = [str(item.values["token_hash"]) for item in items if item.values["id"] not in inserted]
    existing: dict[str, Order] = {}
    for hashes in chunked(missing):
        rows = conn.execute(
            f"SELECT * FROM orders WHERE token_hash IN ({', '.join('?' for _ in hashes)})",  # noqa: S608  # pragma: no mutate
            hashes,
        ).fetchall()
        # pragma below: sqlite3.Row's keys are case-insensitive
        existing.update((str(row["token_hash"]), order_from_row(row)) for row in rows)  # pragma: no mutate
    results: list[tuple[Order, bool]] = []
    created: list[tuple[Order, Transition]] = []
    for item in items:
        new = inserted.get(str(item.values["id"]))
        if new is None:
            results.append((existing[str(item.values["token_hash"])], False))
            continue
        transition = Transition(new.id, 1, None, OrderState.AWAITING_PAYMENT, item.now, item.actor, None)
        created.append((new, transition))
        results.append((new, True))
    for sql, params in _transition_statements([transition for _, transition in created]):
        conn.execute(sql, params)
    return results, created


def _inserted_of(conn: sqlite3.Connection, chunk: Sequence[_NewOrder]) -> list[_NewOrder]:
    """The items of ``chunk`` whose row its ``INSERT`` stored (the others' token was stored already): their ids
    are new, so an id found in the table is one this statement inserted."""
    ids = [item.values["id"] for item in chunk]
    rows = conn.execute(
        f"SELECT id FROM orders WHERE id IN ({', '.join('?' for _ in ids)})",  # noqa: S608  # pragma: no mutate
        ids,
    ).fetchall()
    stored = {row[0] for row in rows}
    return [item for item in chunk if item.values["id"] in stored]


def _inserted_order(values: Mapping[str, object]) -> Order:
    """The order a row inserted with ``values`` holds: those values, and the table's defaults for the columns
    they leave out (:data:`_NEW_ORDER_DEFAULTS`)."""
    return order_from_row({**_NEW_ORDER_DEFAULTS, **values})
