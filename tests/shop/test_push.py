"""The price push schedule with an injectable clock: start, debounce, refresh, backoff, alerts, recovery."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.market.errors import MarketError, MarketUnavailable
from bot.shop.push import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    DEBOUNCE,
    MAX_CHANGE_DELAY,
    PRICES_TTL,
    PricePusher,
    PushOutcome,
    backoff,
)
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
from tests.shop.conftest import Alerts, Clock

REFRESH = timedelta(hours=1)
LIVE = "Neverlose checkout prices are live again"
AT_RISK = "Neverlose checkout prices at risk"


class Market:
    """What the pusher sends to; fails while ``failing`` holds exceptions."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.failing: list[Exception] = []
        self.text: str | None = '{"cs2-30":{"EUR":"1"}}'

    async def build(self) -> str | None:
        return self.text

    async def send(self, text: str) -> None:
        if self.failing:
            raise self.failing.pop(0)
        self.sent.append(text)


@pytest.fixture
def market() -> Market:
    return Market()


@pytest.fixture
def pusher(market: Market, shop_state: ShopState, alerts: Alerts, clock: Clock) -> PricePusher:
    return PricePusher(
        build=market.build, send=market.send, state=shop_state, alerts=alerts, refresh=REFRESH, clock=clock
    )


def test_defaults_and_backoff() -> None:
    assert timedelta(seconds=3) == DEBOUNCE
    assert timedelta(seconds=10) == MAX_CHANGE_DELAY
    assert timedelta(hours=24) == PRICES_TTL
    assert [backoff(n) for n in range(7)] == [
        timedelta(0),
        timedelta(seconds=10),
        timedelta(seconds=20),
        timedelta(seconds=40),
        timedelta(seconds=80),
        timedelta(seconds=160),
        timedelta(seconds=300),
    ]
    assert backoff(100) == BACKOFF_CAP == timedelta(minutes=5)
    assert timedelta(seconds=10) == BACKOFF_BASE
    assert backoff(3, base=timedelta(seconds=1), cap=timedelta(seconds=3)) == timedelta(seconds=3)
    assert backoff(2, base=timedelta(seconds=1), cap=timedelta(seconds=3)) == timedelta(seconds=2)


async def test_pushes_at_start_then_every_refresh(
    pusher: PricePusher, market: Market, clock: Clock, shop_state: ShopState, alerts: Alerts
) -> None:
    assert pusher.next_push_at() is None  # at start
    start = clock.now
    wait = await pusher.tick()
    assert market.sent == ['{"cs2-30":{"EUR":"1"}}']
    assert pusher.last_outcome is PushOutcome.PUSHED
    assert wait == 300  # the loop looks at the alerts at least every 5 minutes
    assert pusher.next_push_at() == start + REFRESH
    assert await shop_state.get(LAST_SUCCESS_AT) == to_iso(start)
    assert await shop_state.get(LAST_ATTEMPT_AT) == to_iso(start)
    assert await shop_state.get(EXPIRES_AT) == to_iso(start + timedelta(hours=24))
    assert await shop_state.get(LAST_PUSHED) == '{"cs2-30":{"EUR":"1"}}'
    assert pusher.expires_at == start + timedelta(hours=24)
    clock.advance(minutes=59, seconds=59)
    await pusher.tick()
    assert len(market.sent) == 1  # not yet due
    clock.advance(seconds=1)
    await pusher.tick()
    assert len(market.sent) == 2  # exactly one refresh interval later
    assert pusher.next_push_at() == start + 2 * REFRESH
    assert alerts.posted == []


async def test_wait_is_the_time_to_the_next_push(pusher: PricePusher, clock: Clock) -> None:
    pusher.max_wait = timedelta(hours=5)
    assert await pusher.tick() == 3600
    clock.advance(minutes=20)
    assert await pusher.tick() == 2400
    pusher.changed()
    assert await pusher.tick() == 3  # the debounce
    clock.advance(hours=2)
    assert await pusher.tick() == 3600
    clock.advance(hours=3)
    pusher._next_refresh = clock.now - timedelta(hours=1)  # overdue: never a negative wait
    pusher.failures = 0
    assert await pusher.tick() == 3600


async def test_change_is_debounced_and_pushed_within_10_s(pusher: PricePusher, market: Market, clock: Clock) -> None:
    await pusher.tick()
    market.sent.clear()
    first = clock.now
    pusher.changed()
    assert pusher.next_push_at() == first + DEBOUNCE
    clock.advance(seconds=2)
    pusher.changed()  # a burst: the push moves on ...
    assert pusher.next_push_at() == clock.now + DEBOUNCE
    await pusher.tick()
    assert market.sent == []
    for _ in range(3):
        clock.advance(seconds=2)
        pusher.changed()
        await pusher.tick()
    assert market.sent == []
    assert pusher.next_push_at() == first + MAX_CHANGE_DELAY  # ... but never later than 10 s after the first
    clock.advance(seconds=2)
    assert clock.now == first + MAX_CHANGE_DELAY
    pusher.changed()
    await pusher.tick()
    assert len(market.sent) == 1  # one push for the whole burst
    assert pusher.next_push_at() == clock.now + REFRESH  # refresh counts from this push
    clock.advance(seconds=3)
    await pusher.tick()
    assert len(market.sent) == 1


async def test_single_change_waits_the_debounce(pusher: PricePusher, market: Market, clock: Clock) -> None:
    await pusher.tick()
    pusher.changed()
    clock.advance(seconds=2.999)
    await pusher.tick()
    assert len(market.sent) == 1
    clock.advance(seconds=0.001)
    await pusher.tick()
    assert len(market.sent) == 2


async def test_failures_back_off_and_alert_once_then_recover(
    pusher: PricePusher, market: Market, clock: Clock, shop_state: ShopState, alerts: Alerts
) -> None:
    await pusher.tick()
    start = clock.now
    clock.advance(hours=1)
    market.failing = [MarketUnavailable("set-reseller-prices: timed out", method="set-reseller-prices")] * 30
    await pusher.tick()
    assert pusher.last_outcome is PushOutcome.FAILED
    assert pusher.failures == 1
    assert pusher.next_push_at() == clock.now + timedelta(seconds=10)
    assert await shop_state.get(LAST_ERROR) == "Neverlose unreachable: set-reseller-prices: timed out"
    assert await shop_state.get(LAST_ERROR_AT) == to_iso(clock.now)
    assert await shop_state.get(LAST_SUCCESS_AT) == to_iso(start)  # the last success stays
    waits = []
    for _ in range(7):
        due = pusher.next_push_at()
        assert due is not None
        waits.append(round((due - clock.now).total_seconds()))
        clock.now = due
        await pusher.tick()
    assert waits == [10, 20, 40, 80, 160, 300, 300]  # doubling, capped at 5 minutes
    assert alerts.posted == []  # 1 h 10 min since the last success: not yet 2 × refresh
    while clock.now - start <= 2 * REFRESH:
        due = pusher.next_push_at()
        assert due is not None
        clock.now = due
        await pusher.tick()
    assert alerts.titles == [AT_RISK]
    _title, text, problem = alerts.posted[0]
    assert problem is True
    assert "more than twice the refresh interval" in text
    assert f"last success: {to_iso(start)}" in text
    assert "attempt(s) failed; the next one is at" in text
    assert await shop_state.get(ALERT_ACTIVE) == "true"
    for _ in range(5):  # still failing: no second alert
        clock.advance(minutes=5)
        await pusher.tick()
    assert alerts.titles == [AT_RISK]
    market.failing = []
    clock.advance(minutes=5)
    await pusher.tick()
    assert pusher.last_outcome is PushOutcome.PUSHED
    assert pusher.failures == 0
    assert alerts.titles == [AT_RISK, LIVE]
    assert alerts.posted[1][2] is False
    assert f"pushed at {to_iso(clock.now)}" in alerts.posted[1][1]
    assert f"expire at {to_iso(clock.now + PRICES_TTL)}" in alerts.posted[1][1]
    assert await shop_state.get(ALERT_ACTIVE) is None
    assert await shop_state.get(LAST_ERROR) is None
    assert await shop_state.get(LAST_ERROR_AT) is None
    await pusher.tick()
    assert alerts.titles == [AT_RISK, LIVE]


async def test_stale_threshold_is_exactly_twice_the_refresh(
    pusher: PricePusher, market: Market, clock: Clock, alerts: Alerts
) -> None:
    market.failing = [MarketError("Invalid integration_id", method="set-reseller-prices")] * 1000
    start = clock.now
    await pusher.tick()
    clock.now = start + 2 * REFRESH
    await pusher.check_alerts()
    assert alerts.posted == []
    clock.now = start + 2 * REFRESH + timedelta(seconds=1)
    await pusher.check_alerts()
    assert alerts.titles == [AT_RISK]
    assert "last success: never" in alerts.posted[0][1]


async def test_expiry_alert_with_a_12_hour_refresh(
    market: Market, shop_state: ShopState, alerts: Alerts, clock: Clock
) -> None:
    pusher = PricePusher(
        build=market.build,
        send=market.send,
        state=shop_state,
        alerts=alerts,
        refresh=timedelta(hours=12),
        clock=clock,
    )
    await pusher.tick()
    pushed = clock.now
    market.failing = [MarketError("busy", method="set-reseller-prices")] * 1000
    clock.now = pushed + timedelta(hours=22)  # the prices expire in exactly 2 hours: not yet
    await pusher.tick()
    assert alerts.posted == []
    clock.now = pushed + timedelta(hours=22, seconds=1)
    await pusher.tick()
    assert alerts.titles == [AT_RISK]
    assert f"expire at {to_iso(pushed + PRICES_TTL)}, in less than 2 hours" in alerts.posted[0][1]
    assert await shop_state.get(LAST_ERROR) == "Neverlose refused: busy"
    clock.now = pushed + timedelta(hours=25)
    await pusher.tick()
    assert alerts.titles == [AT_RISK]  # one alert per episode
    assert "expired at" in (pusher.problem(clock.now) or "")
    assert "not listed on Neverlose's checkout" in (pusher.problem(clock.now) or "")
    market.failing = []
    clock.advance(minutes=5)
    await pusher.tick()
    assert alerts.titles == [AT_RISK, LIVE]


async def test_empty_table_pushes_nothing_and_never_alerts(
    pusher: PricePusher, market: Market, clock: Clock, alerts: Alerts, shop_state: ShopState
) -> None:
    market.text = None
    await pusher.tick()
    assert market.sent == []
    assert pusher.last_outcome is PushOutcome.NOTHING
    assert pusher.next_push_at() == clock.now + REFRESH
    assert await shop_state.get(LAST_ATTEMPT_AT) == to_iso(clock.now)
    clock.advance(hours=30)
    await pusher.tick()
    assert alerts.posted == []
    assert pusher.problem(clock.now) is None


async def test_nothing_to_push_ends_an_alert_quietly(
    pusher: PricePusher, market: Market, clock: Clock, alerts: Alerts, shop_state: ShopState
) -> None:
    market.failing = [MarketError("x", method="m")] * 1000
    await pusher.tick()
    clock.advance(hours=3)
    await pusher.tick()
    assert alerts.titles == [AT_RISK]
    market.text = None  # the operator emptied the table
    pusher.changed()
    clock.advance(seconds=3)
    await pusher.tick()
    assert alerts.titles == [AT_RISK]  # no "live again": nothing is live
    assert pusher.alert_active is False
    assert await shop_state.get(ALERT_ACTIVE) is None


async def test_alert_state_survives_a_restart(
    market: Market, shop_state: ShopState, alerts: Alerts, clock: Clock
) -> None:
    def make() -> PricePusher:
        return PricePusher(
            build=market.build, send=market.send, state=shop_state, alerts=alerts, refresh=REFRESH, clock=clock
        )

    first = make()
    await first.tick()
    market.failing = [MarketError("x", method="m")] * 1000
    clock.advance(hours=3)
    await first.tick()
    assert alerts.titles == [AT_RISK]
    second = make()  # restart while failing: the stored alert is not repeated
    clock.advance(minutes=1)
    await second.tick()
    assert second.last_success == first.last_success
    assert second.expires_at == first.expires_at
    assert alerts.titles == [AT_RISK]
    market.failing = []
    clock.advance(minutes=5)
    await second.tick()
    assert alerts.titles == [AT_RISK, LIVE]


async def test_alert_failure_and_build_failure_do_not_stop_the_schedule(
    pusher: PricePusher,
    market: Market,
    clock: Clock,
    alerts: Alerts,
    shop_state: ShopState,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken_build() -> str | None:
        raise RuntimeError("database is locked")

    async def broken_alerts(title: str, description: str, *, problem: bool) -> None:
        raise RuntimeError("outbox down")

    pusher._build = broken_build
    pusher._alerts = broken_alerts
    await pusher.tick()
    assert pusher.last_outcome is PushOutcome.FAILED
    assert await shop_state.get(LAST_ERROR) == "RuntimeError: database is locked"
    clock.advance(hours=3)
    await pusher.tick()
    assert pusher.alert_active is True  # the alert could not be queued, but it is not retried every tick
    assert "could not queue shop prices alert" in [r.getMessage() for r in caplog.records]


async def test_stored_state_is_read_once(pusher: PricePusher, shop_state: ShopState, clock: Clock) -> None:
    await pusher.tick()
    await shop_state.set(ALERT_ACTIVE, "true")  # changed behind its back: the pusher keeps its own view
    await shop_state.set(LAST_SUCCESS_AT, "2020-01-01T00:00:00Z")
    clock.advance(minutes=1)
    await pusher.tick()
    assert pusher.alert_active is False
    assert pusher.last_success == clock.now - timedelta(minutes=1)


async def test_long_error_text_is_cut(pusher: PricePusher, market: Market, shop_state: ShopState) -> None:
    market.failing = [MarketError("x" * 1000, method="m")]
    await pusher.tick()
    text = await shop_state.get(LAST_ERROR)
    assert text is not None
    assert len(text) == 300
    assert text.startswith("Neverlose refused: xxx")


async def test_run_loop_wakes_on_change_and_stops_on_close(
    market: Market, shop_state: ShopState, alerts: Alerts
) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.Event().wait()  # sleeps "forever": only a change or close wakes the loop

    pusher = PricePusher(
        build=market.build,
        send=market.send,
        state=shop_state,
        alerts=alerts,
        refresh=REFRESH,
        sleep=sleep,
        debounce=timedelta(0),
    )
    task = asyncio.create_task(pusher.run())
    for _ in range(200):
        if slept:
            break
        await asyncio.sleep(0.01)
    assert len(market.sent) == 1  # at start
    assert slept == [300.0]
    pusher.changed()
    for _ in range(200):
        if len(slept) == 2:
            break
        await asyncio.sleep(0.01)
    assert len(market.sent) == 2  # the change woke the loop at once
    await pusher.close()
    await asyncio.wait_for(task, timeout=2)
    assert task.done()
    assert task.exception() is None


async def test_a_failure_at_start_is_retried_after_the_base_backoff(
    pusher: PricePusher, market: Market, clock: Clock
) -> None:
    market.failing = [MarketError("x", method="m")]
    await pusher.tick()
    assert pusher.failures == 1
    assert pusher.next_push_at() == clock.now + timedelta(seconds=10)
    clock.advance(seconds=10)
    await pusher.tick()
    assert market.sent == ['{"cs2-30":{"EUR":"1"}}']


async def test_a_failure_after_nothing_to_push_backs_off_from_the_start(
    pusher: PricePusher, market: Market, clock: Clock
) -> None:
    market.text = None
    await pusher.tick()
    market.text = '{"x":1}'
    market.failing = [MarketError("x", method="m")]
    pusher.changed()
    clock.advance(seconds=3)
    await pusher.tick()
    assert pusher.failures == 1
    assert pusher.next_push_at() == clock.now + timedelta(seconds=10)


async def test_custom_backoff_and_short_waits(
    market: Market, shop_state: ShopState, alerts: Alerts, clock: Clock
) -> None:
    pusher = PricePusher(
        build=market.build,
        send=market.send,
        state=shop_state,
        alerts=alerts,
        refresh=REFRESH,
        clock=clock,
        backoff_base=timedelta(seconds=1),
        backoff_cap=timedelta(seconds=3),
    )
    market.failing = [MarketError("x", method="m")] * 5
    waits = []
    for _ in range(4):
        waits.append(await pusher.tick())
        due = pusher.next_push_at()
        assert due is not None
        clock.now = due
    assert waits == [1.0, 2.0, 3.0, 3.0]
    clock.now -= timedelta(seconds=0.5)
    assert await pusher.tick() == 0.5  # no push due yet: half a second to go


async def test_log_lines(pusher: PricePusher, market: Market, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="bot.shop.push")
    await pusher.tick()
    start = clock.now
    market.failing = [MarketError("nope", method="m")] * 100
    clock.advance(hours=1)
    await pusher.tick()
    clock.advance(hours=2)
    await pusher.tick()
    market.failing = []
    market.text = None
    pusher.changed()
    clock.advance(seconds=3)
    await pusher.tick()
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "bot.shop.push"]
    assert lines == [
        ("INFO", f"shop prices pushed bytes=22 expires_at={to_iso(start + PRICES_TTL)}"),
        ("WARNING", "shop prices push failed attempt=1 retry_in_s=10 error=Neverlose refused: nope"),
        ("WARNING", "shop prices push failed attempt=2 retry_in_s=20 error=Neverlose refused: nope"),
        ("WARNING", f"shop prices alert title='{AT_RISK}'"),
        ("INFO", "shop prices not pushed reason=nothing_to_push"),
    ]


async def test_recovery_log_and_message(
    pusher: PricePusher, market: Market, clock: Clock, alerts: Alerts, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="bot.shop.push")
    await pusher.tick()
    market.failing = [MarketError("nope", method="m")] * 2
    clock.advance(hours=2, seconds=1)
    await pusher.tick()
    assert alerts.titles == [AT_RISK]
    assert alerts.posted[0][1] == (
        f"No price push has succeeded for more than twice the refresh interval (last success: "
        f"{to_iso(clock.now - timedelta(hours=2, seconds=1))}). 1 attempt(s) failed; the next one is at "
        f"{to_iso(clock.now + timedelta(seconds=10))}. See `/shop status`."
    )
    clock.advance(seconds=10)
    await pusher.tick()
    clock.advance(seconds=20)
    await pusher.tick()
    assert alerts.posted[1] == (
        LIVE,
        f"The prices were pushed at {to_iso(clock.now)}; they expire at {to_iso(clock.now + PRICES_TTL)} "
        "unless renewed.",
        False,
    )
    assert ("INFO", "shop prices recovered") in [(r.levelname, r.getMessage()) for r in caplog.records]


async def test_problem_text_without_failures(pusher: PricePusher, clock: Clock) -> None:
    await pusher.tick()
    assert pusher.problem(clock.now + timedelta(hours=2, seconds=1)) == (
        f"No price push has succeeded for more than twice the refresh interval (last success: {to_iso(clock.now)}). "
        "See `/shop status`."
    )
    expiry = clock.now + PRICES_TTL
    assert pusher.problem(expiry - timedelta(hours=1)) == (
        f"The prices pushed to Neverlose expire at {to_iso(expiry)}, in less than 2 hours, and no push has "
        f"succeeded since {to_iso(clock.now)}. See `/shop status`."
    )
    assert pusher.problem(expiry) == (
        f"The prices pushed to Neverlose expired at {to_iso(expiry)}: the bot is not listed on Neverlose's "
        f"checkout until a push succeeds. Last success: {to_iso(clock.now)}. See `/shop status`."
    )


async def test_nothing_after_an_earlier_success_ends_an_alert_without_live_again(
    pusher: PricePusher, market: Market, clock: Clock, alerts: Alerts
) -> None:
    await pusher.tick()
    market.failing = [MarketError("x", method="m")] * 1000
    clock.advance(hours=2, seconds=1)
    await pusher.tick()
    assert alerts.titles == [AT_RISK]
    market.text = None
    pusher.changed()
    clock.advance(seconds=3)
    await pusher.tick()
    assert pusher.last_outcome is PushOutcome.NOTHING
    assert alerts.titles == [AT_RISK]
    assert pusher.alert_active is False


async def test_a_database_failure_while_recording_a_failure_is_survived(
    market: Market, shop_db: object, alerts: Alerts, clock: Clock
) -> None:
    class BrokenState(ShopState):
        async def set_many(self, values: dict[str, str | None]) -> None:
            raise RuntimeError("disk full")

    pusher = PricePusher(
        build=market.build,
        send=market.send,
        state=BrokenState(shop_db),  # type: ignore[arg-type]
        alerts=alerts,
        refresh=REFRESH,
        clock=clock,
    )
    market.failing = [MarketError("x", method="m")]
    assert await pusher.push() is PushOutcome.FAILED
    assert pusher.failures == 1


async def test_the_loop_survives_a_crashing_tick(
    market: Market, shop_state: ShopState, alerts: Alerts, caplog: pytest.LogCaptureFixture
) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.Event().wait()

    pusher = PricePusher(
        build=market.build, send=market.send, state=shop_state, alerts=alerts, refresh=REFRESH, sleep=sleep
    )

    async def crash() -> float:
        raise RuntimeError("boom")

    pusher.tick = crash  # type: ignore[method-assign]
    task = asyncio.create_task(pusher.run())
    for _ in range(200):
        if slept:
            break
        await asyncio.sleep(0.01)
    assert slept == [300.0]  # waits the backoff cap, then tries again
    assert "shop price pusher tick failed" in [r.getMessage() for r in caplog.records]
    await pusher.close()
    await asyncio.wait_for(task, timeout=2)


async def test_outbox_alert_colour_and_dedupe_key(shop_db: object) -> None:
    from bot.notifications.embeds import alert_embed
    from bot.notifications.outbox import Outbox
    from bot.shop.push import OutboxAlerts

    outbox = Outbox(shop_db)  # type: ignore[arg-type]
    alerts = OutboxAlerts(outbox)
    await alerts("t1", "d1", problem=True)
    await alerts("t2", "d2", problem=False)
    rows = await outbox.pending()
    assert [r.embeds[0]["color"] for r in rows] == [  # type: ignore[index]
        alert_embed("t1", "d1", problem=True)["color"],
        alert_embed("t2", "d2", problem=False)["color"],
    ]
    assert rows[0].embeds[0]["color"] != rows[1].embeds[0]["color"]  # type: ignore[index]
    import re

    assert all(re.fullmatch(r"shop:prices:[0-9a-f]{12}", r.dedupe_key) for r in rows)
