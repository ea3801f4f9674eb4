"""Keeps the reseller's prices live on Neverlose's checkout: ``set-reseller-prices`` on a schedule.

When it pushes:

* at start (the first :meth:`PricePusher.tick`);
* after a change (:meth:`PricePusher.changed`), debounced: ``debounce`` after the last change of a burst,
  but never later than ``max_delay`` (10 s) after the first one, so a burst makes one push;
* every ``refresh`` (``RESELLER_PRICES_REFRESH``) after the last attempt that did not fail;
* after a failure, again after a capped exponential backoff (``backoff_base`` doubling up to ``backoff_cap``).

Nothing is pushed while there is nothing to push (an empty table or no enabled payment method). The
pusher runs as one background task and never blocks anything else; the clock and the sleep are injectable,
so the schedule is tested without waiting.

Alerts (to the audit channel, through the notification outbox): one when the last success is older than
twice the refresh interval or the pushed prices expire in less than 2 hours, and one "prices are live
again" when that is over. The alert state is stored, so a restart does not repeat an alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from bot.market.errors import MarketError, MarketUnavailable
from bot.notifications.embeds import alert_embed
from bot.notifications.outbox import Outbox
from bot.notifications.targets import AUDIT_TARGET
from bot.shop.state import (
    ALERT_ACTIVE,
    EXPIRES_AT,
    LAST_ATTEMPT_AT,
    LAST_ERROR,
    LAST_ERROR_AT,
    LAST_PUSHED,
    LAST_SUCCESS_AT,
    ShopState,
    to_iso,
)
from bot.staff.limits import Clock, utc_now

log = logging.getLogger(__name__)

PRICES_TTL = timedelta(hours=24)
"""Neverlose forgets pushed prices 24 hours after the push."""
EXPIRY_WARNING = timedelta(hours=2)
DEBOUNCE = timedelta(seconds=3)
MAX_CHANGE_DELAY = timedelta(seconds=10)
BACKOFF_BASE = timedelta(seconds=10)
BACKOFF_CAP = timedelta(minutes=5)
MAX_WAIT = timedelta(minutes=5)
"""The loop looks at the alerts at least this often, even when no push is due."""
MAX_ERROR_TEXT = 300

Sleep = Callable[[float], Awaitable[None]]
Build = Callable[[], Awaitable[str | None]]
"""The prices JSON text to push now, or ``None`` when there is nothing to push."""
Send = Callable[[str], Awaitable[None]]


class AlertSink(Protocol):
    async def __call__(self, title: str, description: str, *, problem: bool) -> None: ...


class PushOutcome(enum.StrEnum):
    PUSHED = "pushed"
    NOTHING = "nothing to push"
    FAILED = "failed"


def backoff(failures: int, *, base: timedelta = BACKOFF_BASE, cap: timedelta = BACKOFF_CAP) -> timedelta:
    """Wait after the ``failures``-th failure in a row: base, 2×base, 4×base … at most ``cap``."""
    if failures < 1:
        return timedelta(0)
    grown: timedelta = base * (2 ** min(failures - 1, 30))
    return min(cap, grown)


class OutboxAlerts:
    """Posts pusher alerts to the audit channel through the notification outbox."""

    def __init__(self, outbox: Outbox, wake: Callable[[], None] | None = None) -> None:
        self._outbox = outbox
        self._wake = wake

    async def __call__(self, title: str, description: str, *, problem: bool) -> None:
        await self._outbox.enqueue_now(
            target=AUDIT_TARGET,
            embeds=[alert_embed(title, description, problem=problem)],
            dedupe_key=f"shop:prices:{secrets.token_hex(6)}",
        )
        if self._wake is not None:
            self._wake()


class PricePusher:
    """The schedule, the push and the alerts. :meth:`run` forever, or drive :meth:`tick` in tests."""

    def __init__(
        self,
        *,
        build: Build,
        send: Send,
        state: ShopState,
        alerts: AlertSink,
        refresh: timedelta,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
        debounce: timedelta = DEBOUNCE,
        max_change_delay: timedelta = MAX_CHANGE_DELAY,
        backoff_base: timedelta = BACKOFF_BASE,
        backoff_cap: timedelta = BACKOFF_CAP,
        max_wait: timedelta = MAX_WAIT,
    ) -> None:
        self._build = build
        self._send = send
        self._state = state
        self._alerts = alerts
        self.refresh = refresh
        self._clock = clock
        self._sleep = sleep
        self.debounce = debounce
        self.max_change_delay = max_change_delay
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_wait = max_wait
        self._loaded = False
        self._started_at: datetime | None = None
        self._first_change: datetime | None = None
        self._change_due: datetime | None = None
        self._next_refresh: datetime | None = None  # None: push at once (start)
        self._retry_at: datetime | None = None
        self.failures = 0
        self.last_outcome: PushOutcome | None = None
        self.last_success: datetime | None = None
        self.expires_at: datetime | None = None
        self.alert_active = False
        self._wake = asyncio.Event()
        self._closed = False

    # ----------------------------------------------------------------- schedule
    def changed(self) -> None:
        """The table or the enabled methods changed: push within ``max_change_delay`` (bursts make one push)."""
        now = self._clock()
        if self._first_change is None:
            self._first_change = now
        self._change_due = min(now + self.debounce, self._first_change + self.max_change_delay)
        self._wake.set()

    def next_push_at(self) -> datetime | None:
        """When the next push is due; ``None`` before the first tick (it pushes at start)."""
        scheduled = self._retry_at if self.failures else self._next_refresh
        if scheduled is None:
            return None
        return scheduled if self._change_due is None else min(scheduled, self._change_due)

    def _due(self, now: datetime) -> bool:
        moment = self.next_push_at()
        return moment is None or moment <= now  # None: nothing was attempted yet (start)

    async def tick(self) -> float:
        """Push when due, then look at the alerts; returns the seconds until something is due again."""
        await self._load()
        now = self._clock()
        if self._started_at is None:
            self._started_at = now
        if self._due(now):
            await self.push()
        await self.check_alerts()
        due = self.next_push_at()
        wait = self.max_wait.total_seconds()
        if due is not None:
            wait = min(wait, (due - self._clock()).total_seconds())
        return max(0.0, wait)

    async def run(self) -> None:
        """Tick forever (a background task); a change wakes it early. Never raises."""
        while not self._closed:
            self._wake.clear()
            try:
                delay = await self.tick()
            except Exception:
                log.exception("shop price pusher tick failed")
                delay = self.backoff_cap.total_seconds()
            await self._wait(delay)  # returns at once after close() or a change

    async def _wait(self, seconds: float) -> None:
        if self._wake.is_set():
            return
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waker):
                task.cancel()
            for task in (sleeper, waker):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def close(self) -> None:
        self._closed = True
        self._wake.set()

    # ----------------------------------------------------------------- the push
    async def push(self) -> PushOutcome:
        """Push now (whatever the schedule says) and reschedule from the outcome."""
        now = self._clock()
        self._first_change = self._change_due = None  # a change from here on schedules another push
        try:
            text = await self._build()
            if text is None:
                outcome = await self._nothing(now)
            else:
                await self._send(text)
                outcome = await self._succeeded(now, text)
        except Exception as exc:
            outcome = await self._failed(now, exc)
        self.last_outcome = outcome
        return outcome

    async def _nothing(self, now: datetime) -> PushOutcome:
        self.failures = 0
        self._next_refresh = now + self.refresh
        await self._state.set_many({LAST_ATTEMPT_AT: to_iso(now), LAST_ERROR: None, LAST_ERROR_AT: None})
        log.info("shop prices not pushed reason=nothing_to_push")
        return PushOutcome.NOTHING

    async def _succeeded(self, now: datetime, text: str) -> PushOutcome:
        self.failures = 0
        self._next_refresh = now + self.refresh
        self.last_success = now
        self.expires_at = now + PRICES_TTL
        await self._state.set_many(
            {
                LAST_ATTEMPT_AT: to_iso(now),
                LAST_SUCCESS_AT: to_iso(now),
                EXPIRES_AT: to_iso(self.expires_at),
                LAST_PUSHED: text,
                LAST_ERROR: None,
                LAST_ERROR_AT: None,
            }
        )
        log.info("shop prices pushed bytes=%d expires_at=%s", len(text.encode()), to_iso(self.expires_at))
        return PushOutcome.PUSHED

    async def _failed(self, now: datetime, exc: Exception) -> PushOutcome:
        self.failures += 1
        wait = backoff(self.failures, base=self.backoff_base, cap=self.backoff_cap)
        self._retry_at = now + wait
        text = _error_text(exc)
        log.warning(
            "shop prices push failed attempt=%d retry_in_s=%d error=%s",
            self.failures,
            int(wait.total_seconds()),
            text,
        )
        with contextlib.suppress(Exception):  # the database may be the problem; the schedule goes on
            await self._state.set_many({LAST_ATTEMPT_AT: to_iso(now), LAST_ERROR: text, LAST_ERROR_AT: to_iso(now)})
        return PushOutcome.FAILED

    # ----------------------------------------------------------------- alerts
    async def check_alerts(self) -> None:
        """One alert when prices go stale or are about to expire; one message when they are live again."""
        now = self._clock()
        problem = self.problem(now)
        if problem is not None and not self.alert_active:
            await self._alert("Neverlose checkout prices at risk", problem, problem=True)
            self.alert_active = True
            await self._state.set(ALERT_ACTIVE, "true")
        elif problem is None and self.alert_active and self.last_outcome is not PushOutcome.FAILED:
            if self.last_outcome is PushOutcome.PUSHED and self.last_success is not None:
                expires = self.last_success + PRICES_TTL
                await self._alert(
                    "Neverlose checkout prices are live again",
                    f"The prices were pushed at {to_iso(self.last_success)}; they expire at {to_iso(expires)} "
                    "unless renewed.",
                    problem=False,
                )
            self.alert_active = False
            await self._state.delete(ALERT_ACTIVE)

    def problem(self, now: datetime) -> str | None:
        """Why the prices on Neverlose are at risk, or ``None`` (also ``None`` when there is nothing to push)."""
        if self.last_outcome is PushOutcome.NOTHING or self._started_at is None:
            return None
        baseline = self.last_success or self._started_at
        last = "never" if self.last_success is None else to_iso(self.last_success)
        if self.expires_at is not None and self.expires_at - now < EXPIRY_WARNING:
            if self.expires_at <= now:
                return (
                    f"The prices pushed to Neverlose expired at {to_iso(self.expires_at)}: the bot is not listed on "
                    f"Neverlose's checkout until a push succeeds. Last success: {last}. {self._retry_note()}"
                )
            return (
                f"The prices pushed to Neverlose expire at {to_iso(self.expires_at)}, in less than 2 hours, and "
                f"no push has succeeded since {last}. {self._retry_note()}"
            )
        if now - baseline > 2 * self.refresh:
            return (
                f"No price push has succeeded for more than twice the refresh interval (last success: {last}). "
                f"{self._retry_note()}"
            )
        return None

    def _retry_note(self) -> str:
        retry = self._retry_at if self.failures else None
        if retry is not None:
            return f"{self.failures} attempt(s) failed; the next one is at {to_iso(retry)}. See `/shop status`."
        return "See `/shop status`."

    async def _alert(self, title: str, description: str, *, problem: bool) -> None:
        if problem:
            log.warning("shop prices alert title=%r", title)
        else:
            log.info("shop prices recovered")
        try:
            await self._alerts(title, description, problem=problem)
        except Exception:
            log.exception("could not queue shop prices alert")

    async def _load(self) -> None:
        if self._loaded:
            return
        self.last_success = await self._state.get_time(LAST_SUCCESS_AT)
        self.expires_at = await self._state.get_time(EXPIRES_AT)
        self.alert_active = await self._state.get_bool(ALERT_ACTIVE) is True
        self._loaded = True


def _error_text(exc: Exception) -> str:
    if isinstance(exc, MarketError):
        text = f"Neverlose refused: {exc.text}"
    elif isinstance(exc, MarketUnavailable):
        text = f"Neverlose unreachable: {exc}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text[:MAX_ERROR_TEXT]
