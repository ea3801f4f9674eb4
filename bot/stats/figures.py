"""The figures of ``/stats``: exact Decimal sums over orders, the spending journal and webhook events.

Sources and what counts (see docs/stats.md):

- **Orders** count when their payment was confirmed (the first transition to ``paid``, from
  ``awaiting_payment`` or ``expired``) inside the period. Revenue is ``amount`` in the order's ``currency``;
  orders refunded since are left out of revenue and counted under ``refunded``.
- **Spending** is every ``succeeded`` journal operation with an NLE amount, at its creation time. Operations
  whose request id starts with ``ord-`` deliver orders: that is the shop's spending; the rest is staff
  spending, per ``requested_by``.
- **Webhooks**: purchases of the reseller's market items and NLE transfers received, at reception time.

Rows are read with the timestamps as stored (``YYYY-MM-DDTHH:MM:SS.ffffffZ``, UTC), compared as text against
the period's UTC bounds, and put on local days in ``TIMEZONE``.
"""

from __future__ import annotations

import asyncio
import enum
from collections import defaultdict
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from bot.stats.lanes import Fetch, read_lanes
from bot.stats.periods import Period, local_midnight
from bot.stats.sums import aggregate, stored_aggregate, stored_total, total
from bot.storage import Database
from bot.storage.timestamps import format_timestamp

ZERO = Decimal(0)
T = TypeVar("T")
SHOP = "shop"
"""Key of the shop's own spending and of orders confirmed by a payment provider (no staff member)."""
SYSTEM = "system"
"""Key of journal operations with no requesting staff member that are not order deliveries."""
ORDER_REQUEST_PREFIX = "ord-"
TOP_BUYERS = 5
INDEXED_DAYS = 7


class Dimension(enum.StrEnum):
    DAY = "day"
    PRODUCT = "product"
    METHOD = "method"
    STAFF = "staff"
    CURRENCY = "currency"


def add_money(target: dict[str, Decimal], currency: str, amount: Decimal) -> None:
    target[currency] = target.get(currency, ZERO) + amount


def sorted_money(values: Mapping[str, Decimal]) -> dict[str, Decimal]:
    return {key: values[key] for key in sorted(values)}


@dataclass(frozen=True, slots=True)
class Totals:
    orders: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)
    """Currency → revenue of the paid, not refunded orders."""
    refunded: int = 0
    spent_shop: Decimal = ZERO
    """NLE spent delivering orders."""
    spent_staff: dict[str, Decimal] = field(default_factory=dict)
    """Staff member's Discord id (or ``system``) → NLE spent by their commands."""
    purchases: int = 0
    purchases_nle: Decimal = ZERO
    transfers: int = 0
    transfers_nle: Decimal = ZERO

    @property
    def spent_by_staff(self) -> Decimal:
        return sum(self.spent_staff.values(), ZERO)

    @property
    def spent(self) -> Decimal:
        return self.spent_shop + self.spent_by_staff


@dataclass(frozen=True, slots=True)
class BreakdownRow:
    key: str
    """A local date (``2026-03-01``), product key, payment method, staff id / ``shop`` / ``system``, currency."""
    orders: int
    revenue: dict[str, Decimal]
    spent: Decimal
    """NLE spent: all spending (day), the member's spending (staff), what delivering these orders cost (others)."""


@dataclass(frozen=True, slots=True)
class Buyer:
    login: str
    orders: int
    revenue: dict[str, Decimal]


@dataclass(frozen=True, slots=True)
class Figures:
    period: Period
    by: Dimension
    totals: Totals
    previous: Totals
    rows: list[BreakdownRow]
    buyers: list[Buyer]

    @property
    def currencies(self) -> list[str]:
        found: set[str] = set()
        for row in self.rows:
            found.update(row.revenue)
        return sorted(found)


def _slot(column: str, hourly: bool) -> str:
    """SQL: the UTC hour (``2026-03-28T10``) or, when the zone has offsets that are not whole hours in the
    period, the 15-minute slot (``2026-03-28T10:`` + quarter) of a stored timestamp. Every UTC offset is a
    multiple of 15 minutes, so a slot never straddles a local midnight."""
    if hourly:
        return f"substr({column}, 1, 13)"
    return f"substr({column}, 1, 14) || (CAST(substr({column}, 15, 2) AS INTEGER) / 15)"


def _hourly(period: Period) -> bool:
    """Every local midnight of the period falls on a whole UTC hour (true for most zones, DST or not)."""
    days = [*period.each_day(), period.last + timedelta(days=1)]
    return all(local_midnight(day, period.zone).minute == 0 for day in days)


def _scan(period: Period) -> str:
    """Index hint for the order history: a long period reads most rows, and a plain scan (in the order the rows
    were written, so the orders it joins are read in about the same order) is several times faster than the
    time index, whose rows then join the orders in random order; a short period uses the index (migration
    0012). The journal and webhook queries read covering indexes and need no hint."""
    return " NOT INDEXED" if period.days > INDEXED_DAYS else ""


class _DayOf:
    """Local day of a slot (see :func:`_slot`), memoised."""

    def __init__(self, period: Period) -> None:
        self._zone = period.zone
        self._cache: dict[str, str] = {}

    def __call__(self, slot: str) -> str:
        day = self._cache.get(slot)
        if day is None:
            quarter = int(slot[14:]) if len(slot) > 13 else 0
            moment = datetime.fromisoformat(slot[:13] + ":00+00:00") + timedelta(minutes=15 * quarter)
            day = moment.astimezone(self._zone).date().isoformat()
            self._cache[slot] = day
        return day


@dataclass
class _Acc:
    orders: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)
    spent: Decimal = ZERO


# The orders are joined through their covering index (migration 0013): the planner would otherwise take the
# primary key's index and read each wide order row for a few columns (about 30 % of this query's CPU). The index
# leaves out the orders awaiting payment (migration 0015: no entry to write per checkout); an order with a paid
# transition never is in that state again (bot/orders/models.py), and SQLite uses a partial index only for a query
# that names its condition, hence the last term.
_PAID = (
    " FROM order_transitions t{hint} JOIN orders o INDEXED BY orders_stats ON o.id = t.order_id"
    " WHERE t.to_state = 'paid' AND t.from_state IN ('awaiting_payment', 'expired') AND t.at >= ? AND t.at < ?"
    " AND o.state <> 'awaiting_payment'"
)
_ORDER_KEYS = {
    Dimension.DAY: "{slot}",
    Dimension.PRODUCT: "o.product_key",
    Dimension.METHOD: "COALESCE(o.method, 'none')",
    Dimension.CURRENCY: "COALESCE(o.currency, '?')",
    Dimension.STAFF: f"COALESCE(CAST(o.paid_by AS TEXT), '{SHOP}')",
}
_SPENT = (
    " FROM operations op{join} WHERE op.created_at >= ? AND op.created_at < ? AND op.status = 'succeeded'"
    " AND op.amount_nle IS NOT NULL"
)
_IS_ORDER = f"(op.request_id GLOB '{ORDER_REQUEST_PREFIX}*')"
_SPEND_KEYS = {
    Dimension.DAY: "{slot}",
    Dimension.PRODUCT: "o.product_key",
    Dimension.METHOD: "CASE WHEN o.id IS NOT NULL THEN COALESCE(o.method, 'none') END",
    Dimension.CURRENCY: "CASE WHEN o.id IS NOT NULL THEN COALESCE(o.currency, '?') END",
    Dimension.STAFF: "NULL",
}
_ORDER_JOIN = f" LEFT JOIN orders o ON {_IS_ORDER} AND o.request_id = op.request_id"


class StatsReader:
    """Reads the figures of a period from the database: grouped and summed in SQL (exactly, see
    :mod:`bot.stats.sums`), so the work in Python grows with the number of groups, not of rows."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.slow_queries = 0
        """Queries that needed the text path's exact sum (an amount without stored units, see
        :mod:`bot.stats.sums`)."""

    async def _grouped(self, fetch: Fetch, sql: str, column: str, keys: int, period: Period) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` (``{agg}`` = the aggregate columns of ``column``, parameters the period's UTC range) as
        ``(*keys, count, Decimal)``."""
        return await self._grouped_once(
            fetch, sql, column, keys, (format_timestamp(period.start), format_timestamp(period.end))
        )

    async def _grouped_once(
        self, fetch: Fetch, sql: str, column: str, keys: int, params: tuple[str, ...]
    ) -> list[tuple[Any, ...]]:
        rows = await fetch(sql.format(agg=stored_aggregate(column)), params)
        result: list[tuple[Any, ...]] = []
        for row in rows:
            amount = stored_total(row[keys + 1], row[keys + 2], row[keys + 3])
            if amount is None:
                break
            result.append((*row[:keys], int(row[keys]), amount))
        else:
            return result
        self.slow_queries += 1
        rows = await fetch(sql.format(agg=aggregate(column)), params)
        return [(*r[:keys], int(r[keys]), total(r[keys + 1], r[keys + 2], r[keys + 3])) for r in rows]

    async def _orders(self, fetch: Fetch, period: Period, by: Dimension) -> list[tuple[str, str, bool, int, Decimal]]:
        """(key, currency, refunded, orders, revenue) per group of the orders paid in ``period``."""
        rows = await self._grouped(
            fetch,
            f"SELECT {_ORDER_KEYS[by].format(slot=_slot('t.at', _hourly(period)))},"
            f" COALESCE(o.currency, '?'), o.state = 'refunded', {{agg}}{_PAID.format(hint=_scan(period))}"
            " GROUP BY 1, 2, 3",
            "o.amount",
            3,
            period,
        )
        day_of = _DayOf(period)
        return [
            (day_of(str(r[0])) if by is Dimension.DAY else str(r[0]), str(r[1]), bool(r[2]), r[3], r[4]) for r in rows
        ]

    async def _spending(
        self, fetch: Fetch, period: Period, by: Dimension
    ) -> list[tuple[str | None, str | None, Decimal]]:
        """(breakdown key or None, staff key or None for the shop, NLE) per group of succeeded operations."""
        join = _ORDER_JOIN if by in (Dimension.PRODUCT, Dimension.METHOD, Dimension.CURRENCY) else ""
        staff = f"CASE WHEN {_IS_ORDER} THEN NULL ELSE COALESCE(CAST(op.requested_by AS TEXT), '{SYSTEM}') END"
        rows = await self._grouped(
            fetch,
            f"SELECT {_SPEND_KEYS[by].format(slot=_slot('op.created_at', _hourly(period)))}, {staff}, {{agg}}"
            f"{_SPENT.format(join=join)} GROUP BY 1, 2",
            "op.amount_nle",
            2,
            period,
        )
        day_of = _DayOf(period)
        result: list[tuple[str | None, str | None, Decimal]] = []
        for key, member, _, amount in rows:
            if by is Dimension.DAY:
                result.append((day_of(str(key)), member, amount))
            elif by is Dimension.STAFF:
                result.append((SHOP if member is None else str(member), member, amount))
            else:
                result.append((None if key is None else str(key), member, amount))
        return result

    async def _webhooks(self, fetch: Fetch, period: Period) -> dict[str, tuple[int, Decimal]]:
        rows = await self._grouped(
            fetch,
            "SELECT kind, {agg} FROM webhook_events WHERE received_at >= ? AND received_at < ? GROUP BY kind",
            "amount",
            1,
            period,
        )
        return {str(kind): (count, amount) for kind, count, amount in rows}

    async def _buyers(self, fetch: Fetch, period: Period) -> list[Buyer]:
        """The top buyers: ranked by their number of orders (counted per login, letter case merged here, which is
        cheaper than lower() per row in SQL), then the revenue of the few chosen logins only."""
        sql = f"SELECT o.login, COUNT(*){_PAID.format(hint=_scan(period))} AND o.state != 'refunded' GROUP BY 1"
        orders: dict[str, int] = defaultdict(int)
        logins: dict[str, list[str]] = defaultdict(list)
        for login, count in await fetch(sql, (format_timestamp(period.start), format_timestamp(period.end))):
            folded = login.casefold()
            orders[folded] += int(count)
            logins[folded].append(login)
        ranked = sorted(orders, key=lambda k: (-orders[k], k))[:TOP_BUYERS]
        if not ranked:
            return []
        chosen = sorted(login for key in ranked for login in logins[key])
        # From the chosen logins' orders (the login index; NOCASE equality implies equal casefold, so it adds no
        # other buyer) to their history, instead of joining every order of the period again.
        rows = await self._grouped_once(
            fetch,
            f"SELECT o.login, COALESCE(o.currency, '?'), {{agg}} FROM orders o"  # noqa: S608
            " JOIN order_transitions t ON t.order_id = o.id"
            f" WHERE o.login COLLATE NOCASE IN ({', '.join('?' * len(chosen))}) AND o.state != 'refunded'"
            " AND t.to_state = 'paid' AND t.from_state IN ('awaiting_payment', 'expired') AND t.at >= ? AND t.at < ?"
            " GROUP BY 1, 2",
            "o.amount",
            2,
            (*chosen, format_timestamp(period.start), format_timestamp(period.end)),
        )
        revenue: dict[str, dict[str, Decimal]] = defaultdict(dict)
        for login, currency, _, amount in rows:
            add_money(revenue[login.casefold()], currency, amount)
        return [Buyer(min(logins[k]), orders[k], sorted_money(revenue[k])) for k in ranked]

    async def _period_totals(self, fetch: Fetch, period: Period) -> Totals:
        by = Dimension.STAFF
        async with asyncio.TaskGroup() as group:
            orders = group.create_task(self._orders(fetch, period, by))
            spends = group.create_task(self._spending(fetch, period, by))
            events = group.create_task(self._webhooks(fetch, period))
        return _totals(orders.result(), spends.result(), events.result())

    async def totals(self, period: Period) -> Totals:
        async with read_lanes(self._db) as fetch:
            return await self._period_totals(fetch, period)

    async def figures(self, period: Period, by: Dimension) -> Figures:
        """The figures of ``period``: its queries run side by side on read-only connections (see
        :mod:`bot.stats.lanes`), the longest first."""
        figures, _ = await self._read(period, by, None)
        return figures

    async def figures_and_chart(
        self, period: Period, by: Dimension, draw: Callable[[Figures], Coroutine[Any, Any, T]]
    ) -> tuple[Figures, T]:
        """The figures and ``draw`` of them, started as soon as the breakdown is known, while the top buyers,
        the webhook figures and the previous period are still being read. ``draw`` gets the period, the
        breakdown and its rows; it must not use the totals, the previous period or the buyers (empty there)."""
        figures, drawing = await self._read(period, by, draw)
        assert drawing is not None  # noqa: S101 (a draw was given)
        return figures, drawing.result()

    async def _read(
        self, period: Period, by: Dimension, draw: Callable[[Figures], Coroutine[Any, Any, T]] | None
    ) -> tuple[Figures, asyncio.Task[T] | None]:
        drawing: asyncio.Task[T] | None = None
        async with read_lanes(self._db) as fetch, asyncio.TaskGroup() as group:
            orders = group.create_task(self._orders(fetch, period, by))
            spends = group.create_task(self._spending(fetch, period, by))
            buyers = group.create_task(self._buyers(fetch, period))
            events = group.create_task(self._webhooks(fetch, period))
            previous = group.create_task(self._period_totals(fetch, period.previous()))
            if draw is not None:
                await asyncio.wait([orders, spends])
                rows = _breakdown(period, by, orders.result(), spends.result())
                drawing = group.create_task(draw(Figures(period, by, Totals(), Totals(), rows, [])))
        figures = Figures(
            period=period,
            by=by,
            totals=_totals(orders.result(), spends.result(), events.result()),
            previous=previous.result(),
            rows=_breakdown(period, by, orders.result(), spends.result()),
            buyers=buyers.result(),
        )
        return figures, drawing


def _totals(
    orders: list[tuple[str, str, bool, int, Decimal]],
    spends: list[tuple[str | None, str | None, Decimal]],
    events: Mapping[str, tuple[int, Decimal]],
) -> Totals:
    revenue: dict[str, Decimal] = {}
    counted = refunded = 0
    for _, currency, was_refunded, count, amount in orders:
        if was_refunded:
            refunded += count
            continue
        counted += count
        add_money(revenue, currency, amount)
    shop = ZERO
    staff: dict[str, Decimal] = {}
    for _, member, amount in spends:
        if member is None:
            shop += amount
        else:
            add_money(staff, member, amount)
    purchases = events.get("purchase", (0, ZERO))
    transfers = events.get("transfer", (0, ZERO))
    return Totals(
        orders=counted,
        revenue=sorted_money(revenue),
        refunded=refunded,
        spent_shop=shop,
        spent_staff=sorted_money(staff),
        purchases=purchases[0],
        purchases_nle=purchases[1],
        transfers=transfers[0],
        transfers_nle=transfers[1],
    )


def _breakdown(
    period: Period,
    by: Dimension,
    orders: list[tuple[str, str, bool, int, Decimal]],
    spends: list[tuple[str | None, str | None, Decimal]],
) -> list[BreakdownRow]:
    acc: dict[str, _Acc] = defaultdict(_Acc)
    if by is Dimension.DAY:
        for day in period.each_day():
            acc[day.isoformat()]  # every day of the period, even an empty one
    for key, currency, was_refunded, count, amount in orders:
        if was_refunded:
            continue
        entry = acc[key]
        entry.orders += count
        add_money(entry.revenue, currency, amount)
    for spend_key, _, amount in spends:
        if spend_key is not None:  # staff spending has no product/method/currency of an order
            acc[spend_key].spent += amount
    ordered = sorted(acc) if by is Dimension.DAY else sorted(acc, key=lambda k: (-acc[k].orders, -acc[k].spent, k))
    return [BreakdownRow(k, acc[k].orders, sorted_money(acc[k].revenue), acc[k].spent) for k in ordered]


def change(current: Decimal | int, previous: Decimal | int) -> str:
    """``+12.5 %`` / ``-3 %`` / ``new`` / ``±0 %`` against the previous period."""
    now, before = Decimal(current), Decimal(previous)
    if before == 0:
        return "±0 %" if now == 0 else "new"
    percent = ((now - before) * 100 / before).quantize(Decimal("0.1"))
    if percent == 0:
        return "±0 %"
    text = f"{percent.normalize():f}"
    return f"+{text} %" if percent > 0 else f"{text} %"
