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

import enum
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from bot.stats.periods import Period
from bot.storage import Database

ZERO = Decimal(0)
SHOP = "shop"
"""Key of the shop's own spending and of orders confirmed by a payment provider (no staff member)."""
SYSTEM = "system"
"""Key of journal operations with no requesting staff member that are not order deliveries."""
ORDER_REQUEST_PREFIX = "ord-"
TOP_BUYERS = 5
_CHUNK = 500


class Dimension(enum.StrEnum):
    DAY = "day"
    PRODUCT = "product"
    METHOD = "method"
    STAFF = "staff"
    CURRENCY = "currency"


def stamp(moment: datetime) -> str:
    """The stored timestamp format, for text comparison."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_stamp(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


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


class _DayOf:
    """Local day of a stored UTC timestamp, memoised per 15-minute slot (every UTC offset is a multiple of 15
    minutes, so a slot never straddles local midnight)."""

    def __init__(self, period: Period) -> None:
        self._zone = period.zone
        self._cache: dict[str, date] = {}

    def __call__(self, text: str) -> date:
        slot = text[:14] + str(int(text[14:16]) // 15)
        day = self._cache.get(slot)
        if day is None:
            day = parse_stamp(text).astimezone(self._zone).date()
            self._cache[slot] = day
        return day


@dataclass
class _Acc:
    orders: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)
    spent: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class _OrderRow:
    day: date
    product: str
    method: str
    currency: str
    amount: Decimal
    paid_by: int | None
    login: str
    refunded: bool


@dataclass(frozen=True, slots=True)
class _Spend:
    day: date
    amount: Decimal
    staff: str | None
    """Staff id / ``system``; ``None`` for an order delivery."""
    order_id: str | None


def _order_id(request_id: str) -> str | None:
    if not request_id.startswith(ORDER_REQUEST_PREFIX):
        return None
    order_id, _, attempt = request_id[len(ORDER_REQUEST_PREFIX) :].rpartition("-")
    return order_id if order_id and attempt.isdigit() else None


class StatsReader:
    """Reads the figures of a period from the database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def _orders(self, period: Period, day_of: _DayOf) -> list[_OrderRow]:
        rows = await self._db.fetchall(
            "SELECT t.at, o.product_key, o.method, o.currency, o.amount, o.paid_by, o.login, o.state"
            " FROM order_transitions t JOIN orders o ON o.id = t.order_id"
            " WHERE t.to_state = 'paid' AND t.from_state IN ('awaiting_payment', 'expired')"
            " AND t.at >= ? AND t.at < ? ORDER BY t.at",
            (stamp(period.start), stamp(period.end)),
        )
        return [
            _OrderRow(
                day=day_of(row[0]),
                product=str(row[1]),
                method=str(row[2] or "none"),
                currency=str(row[3] or "?"),
                amount=Decimal(row[4]) if row[4] is not None else ZERO,
                paid_by=row[5],
                login=str(row[6]),
                refunded=row[7] == "refunded",
            )
            for row in rows
        ]

    async def _spending(self, period: Period, day_of: _DayOf) -> list[_Spend]:
        rows = await self._db.fetchall(
            "SELECT created_at, request_id, requested_by, amount_nle FROM operations"
            " WHERE created_at >= ? AND created_at < ? AND status = 'succeeded' AND amount_nle IS NOT NULL",
            (stamp(period.start), stamp(period.end)),
        )
        spends: list[_Spend] = []
        for created_at, request_id, requested_by, amount in rows:
            order_id = _order_id(str(request_id))
            staff = None if order_id is not None else (SYSTEM if requested_by is None else str(requested_by))
            spends.append(_Spend(day_of(created_at), Decimal(amount), staff, order_id))
        return spends

    async def _webhooks(self, period: Period) -> list[tuple[str, Decimal]]:
        rows = await self._db.fetchall(
            "SELECT kind, amount FROM webhook_events WHERE received_at >= ? AND received_at < ?",
            (stamp(period.start), stamp(period.end)),
        )
        return [(str(kind), Decimal(amount)) for kind, amount in rows]

    async def _order_keys(self, order_ids: Iterable[str]) -> dict[str, tuple[str, str, str]]:
        """Order id → (product key, method, currency) of the delivered orders."""
        ids = sorted(set(order_ids))
        found: dict[str, tuple[str, str, str]] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ", ".join("?" for _ in chunk)
            rows = await self._db.fetchall(
                f"SELECT id, product_key, method, currency FROM orders WHERE id IN ({marks})",  # noqa: S608
                chunk,
            )
            for row in rows:
                found[str(row[0])] = (str(row[1]), str(row[2] or "none"), str(row[3] or "?"))
        return found

    async def totals(self, period: Period) -> Totals:
        day_of = _DayOf(period)
        return _totals(
            await self._orders(period, day_of), await self._spending(period, day_of), await self._webhooks(period)
        )

    async def figures(self, period: Period, by: Dimension) -> Figures:
        day_of = _DayOf(period)
        orders = await self._orders(period, day_of)
        spends = await self._spending(period, day_of)
        totals = _totals(orders, spends, await self._webhooks(period))
        keys: dict[str, tuple[str, str, str]] = {}
        if by in (Dimension.PRODUCT, Dimension.METHOD, Dimension.CURRENCY):
            keys = await self._order_keys(s.order_id for s in spends if s.order_id is not None)
        rows = _breakdown(period, by, orders, spends, keys)
        return Figures(
            period=period,
            by=by,
            totals=totals,
            previous=await self.totals(period.previous()),
            rows=rows,
            buyers=_buyers(orders),
        )


def _totals(orders: list[_OrderRow], spends: list[_Spend], events: list[tuple[str, Decimal]]) -> Totals:
    revenue: dict[str, Decimal] = {}
    counted = refunded = 0
    for order in orders:
        if order.refunded:
            refunded += 1
            continue
        counted += 1
        add_money(revenue, order.currency, order.amount)
    shop = ZERO
    staff: dict[str, Decimal] = {}
    for spend in spends:
        if spend.staff is None:
            shop += spend.amount
        else:
            add_money(staff, spend.staff, spend.amount)
    purchases = [amount for kind, amount in events if kind == "purchase"]
    transfers = [amount for kind, amount in events if kind == "transfer"]
    return Totals(
        orders=counted,
        revenue=sorted_money(revenue),
        refunded=refunded,
        spent_shop=shop,
        spent_staff=sorted_money(staff),
        purchases=len(purchases),
        purchases_nle=sum(purchases, ZERO),
        transfers=len(transfers),
        transfers_nle=sum(transfers, ZERO),
    )


def _order_key(by: Dimension, order: _OrderRow) -> str:
    if by is Dimension.DAY:
        return order.day.isoformat()
    if by is Dimension.PRODUCT:
        return order.product
    if by is Dimension.METHOD:
        return order.method
    if by is Dimension.CURRENCY:
        return order.currency
    return SHOP if order.paid_by is None else str(order.paid_by)


def _spend_key(by: Dimension, spend: _Spend, keys: Mapping[str, tuple[str, str, str]]) -> str | None:
    if by is Dimension.DAY:
        return spend.day.isoformat()
    if by is Dimension.STAFF:
        return SHOP if spend.staff is None else spend.staff
    if spend.order_id is None or spend.order_id not in keys:
        return None  # staff spending has no product/method/currency of an order
    product, method, currency = keys[spend.order_id]
    return {Dimension.PRODUCT: product, Dimension.METHOD: method}.get(by, currency)


def _breakdown(
    period: Period,
    by: Dimension,
    orders: list[_OrderRow],
    spends: list[_Spend],
    keys: Mapping[str, tuple[str, str, str]],
) -> list[BreakdownRow]:
    acc: dict[str, _Acc] = defaultdict(_Acc)
    if by is Dimension.DAY:
        for day in period.each_day():
            acc[day.isoformat()]  # every day of the period, even an empty one
    for order in orders:
        if order.refunded:
            continue
        entry = acc[_order_key(by, order)]
        entry.orders += 1
        add_money(entry.revenue, order.currency, order.amount)
    for spend in spends:
        key = _spend_key(by, spend, keys)
        if key is not None:
            acc[key].spent += spend.amount
    ordered = sorted(acc) if by is Dimension.DAY else sorted(acc, key=lambda k: (-acc[k].orders, -acc[k].spent, k))
    return [BreakdownRow(k, acc[k].orders, sorted_money(acc[k].revenue), acc[k].spent) for k in ordered]


def _buyers(orders: list[_OrderRow]) -> list[Buyer]:
    acc: dict[str, _Acc] = defaultdict(_Acc)
    names: dict[str, str] = {}
    for order in orders:
        if order.refunded:
            continue
        folded = order.login.casefold()
        names.setdefault(folded, order.login)
        entry = acc[folded]
        entry.orders += 1
        add_money(entry.revenue, order.currency, order.amount)
    ranked = sorted(acc, key=lambda k: (-acc[k].orders, k))[:TOP_BUYERS]
    return [Buyer(names[k], acc[k].orders, sorted_money(acc[k].revenue)) for k in ranked]


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
