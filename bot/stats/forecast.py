"""Balance forecast: how many days the Market balance lasts at the last 7 days' rate of spending.

Spending is every ``succeeded`` journal operation with an NLE amount in the 7 days before now: staff
commands and order deliveries alike (an order is delivered through the journal, request id ``ord-…``, so
fulfilled orders are counted once, there). Days left = balance / (spent / 7); no spending means no end.

The balance is read through :class:`BalanceCache` (at most once per ``max_age``, concurrent readers share
one read), never per event. :class:`BalanceWatch` queues ONE audit alert through the outbox when the forecast
falls under ``LOW_BALANCE_DAYS`` or a paid order waits for balance, and one when that is over; the state
(``ok``/``low``) lives in ``guild_config`` (key ``stats.balance_alert``) and changes in the same transaction
as the alert row, so a restart neither repeats nor loses one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from bot.guild_config import GuildConfig
from bot.i18n import DEFAULT_LOCALE, t
from bot.market.errors import MarketFailure
from bot.notifications.embeds import alert_embed
from bot.notifications.outbox import Outbox
from bot.notifications.targets import AUDIT_TARGET
from bot.stats.figures import ZERO
from bot.storage import Database
from bot.storage.timestamps import format_timestamp

log = logging.getLogger(__name__)

WINDOW = timedelta(days=7)
BALANCE_MAX_AGE = timedelta(minutes=5)
WATCH_INTERVAL = timedelta(minutes=5)
ALERT_KEY = "stats.balance_alert"
LOW = "low"
OK = "ok"


class BalanceCache:
    """The Market balance, read at most once per ``max_age``."""

    def __init__(
        self,
        read: Callable[[], Awaitable[Decimal]],
        *,
        max_age: timedelta = BALANCE_MAX_AGE,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._read = read
        self.max_age = max_age
        self._clock = clock or (lambda: datetime.now(UTC))
        self._value: Decimal | None = None
        self._at: datetime | None = None
        self._lock = asyncio.Lock()
        self.reads = 0

    def remember(self, balance: Decimal) -> None:
        """A balance read elsewhere (``/balance``) refreshes the cache."""
        self._value, self._at = balance, self._clock()

    async def get(self) -> Decimal:
        """The cached balance, or a fresh read when it is older than ``max_age``. Market errors propagate."""
        async with self._lock:
            now = self._clock()
            if self._value is None or self._at is None or now - self._at >= self.max_age:
                value = await self._read()
                self.reads += 1
                self._value, self._at = value, now
            return self._value


@dataclass(frozen=True, slots=True)
class Forecast:
    balance: Decimal
    spent_7d: Decimal
    waiting_orders: int
    """Paid orders refused for the balance, waiting to be retried."""

    @property
    def per_day(self) -> Decimal:
        return self.spent_7d / 7

    @property
    def days_left(self) -> Decimal | None:
        """Whole-and-tenths days the balance lasts (rounded down); ``None`` when nothing was spent."""
        if self.spent_7d <= 0:
            return None
        return (self.balance * 7 / self.spent_7d).quantize(Decimal("0.1"), rounding=ROUND_DOWN)

    def low(self, threshold: Decimal) -> bool:
        days = self.days_left
        return self.waiting_orders > 0 or (days is not None and days < threshold)

    def text(self, locale: str = DEFAULT_LOCALE) -> str:
        """One line for ``/balance`` and ``/stats`` in ``locale`` (figures as computed, not reformatted)."""
        days = self.days_left
        rate = self.per_day.quantize(Decimal("0.01"))
        line = t(locale, "forecast.none") if days is None else t(locale, "forecast.days", days=days, rate=rate)
        if self.waiting_orders:
            line += " " + t(locale, "forecast.waiting", count=self.waiting_orders)
        return line


class Forecaster:
    def __init__(self, db: Database, balance: BalanceCache, *, clock: Callable[[], datetime] | None = None) -> None:
        self._db = db
        self.balance = balance
        self._clock = clock or (lambda: datetime.now(UTC))

    async def spent_since(self, since: datetime) -> Decimal:
        rows = await self._db.fetchall(
            "SELECT amount_nle FROM operations WHERE created_at >= ? AND status = 'succeeded'"
            " AND amount_nle IS NOT NULL",
            (format_timestamp(since),),
        )
        return sum((Decimal(row[0]) for row in rows), ZERO)

    async def waiting_orders(self) -> int:
        row = await self._db.fetchone("SELECT COUNT(*) FROM orders WHERE state = 'needs_attention' AND auto_retry = 1")
        return int(row[0]) if row is not None else 0

    async def forecast(self, balance: Decimal | None = None) -> Forecast:
        """The forecast at ``balance`` (read through the cache when not given)."""
        if balance is None:
            balance = await self.balance.get()
        else:
            self.balance.remember(balance)
        spent = await self.spent_since(self._clock() - WINDOW)
        return Forecast(balance, spent, await self.waiting_orders())


class BalanceWatch:
    """Queues the low-balance alert and its recovery (see the module docstring)."""

    def __init__(
        self,
        forecaster: Forecaster,
        db: Database,
        outbox: Outbox,
        config: GuildConfig,
        *,
        threshold: Decimal,
        wake: Callable[[], None] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.forecaster = forecaster
        self._db = db
        self._outbox = outbox
        self._config = config
        self.threshold = threshold
        self._wake = wake
        self._clock = clock or (lambda: datetime.now(UTC))

    async def check(self) -> Forecast | None:
        """One look: alert or recover when the state changes. ``None`` when the balance cannot be read."""
        try:
            forecast = await self.forecaster.forecast()
        except MarketFailure as exc:
            log.warning("balance forecast skipped reason=%s", type(exc).__name__)
            return None
        state = LOW if forecast.low(self.threshold) else OK
        previous = await self._config.value(ALERT_KEY) or OK
        if state == previous:
            return forecast
        when = format_timestamp(self._clock())
        locale = self._outbox.channel_locale()  # the audit channel's language
        kind = "low" if state == LOW else "recovered"
        embed = alert_embed(
            t(locale, f"forecast.alert.{kind}.title"),
            t(locale, f"forecast.alert.{kind}.text", balance=forecast.balance, forecast=forecast.text(locale)),
            problem=state == LOW,
        )
        async with self._db.transaction() as conn:
            await GuildConfig.set_value_in(conn, ALERT_KEY, state)
            await self._outbox.enqueue(
                conn, target=AUDIT_TARGET, embeds=[embed], dedupe_key=f"stats-balance-{state}:{when}"
            )
        log.warning(
            "balance alert state=%s balance=%s days_left=%s waiting_orders=%d",
            state,
            forecast.balance,
            forecast.days_left,
            forecast.waiting_orders,
        )
        if self._wake is not None:
            self._wake()
        return forecast

    async def run_forever(
        self,
        interval: timedelta = WATCH_INTERVAL,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        while True:
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("balance watch failed")
            await sleep(interval.total_seconds())
