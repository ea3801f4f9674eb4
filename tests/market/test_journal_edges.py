"""The spending journal at its edges: what it records, how long it waits, what it refuses, how it locks.

Real SQLite files and the project's Market simulator; each test names the behaviour a wrong journal would
break (found by mutation testing, docs/testing.md).
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from bot.market.client import MarketClient
from bot.market.errors import MarketValidationError
from bot.market.journal import Operation, OperationNotFound, OperationStatus, SpendingJournal
from bot.market.request_ids import RequestIdFactory
from bot.market.retry import RetryPolicy
from bot.market.simulator.state import SimulatorState
from bot.storage import Database

TRANSFER = ("transfer-money", {"username": "a49", "amount": "1"})
GIFT = ("gift-product", {"username": "darth", "product": "csgo", "cnt": 0})
PRICE = Decimal("17.10")
START = Decimal("1000.00")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def gift(journal: SpendingJournal, *, amount_nle: Decimal | None = PRICE, requested_by: int = 42) -> Operation:
    return await journal.execute(GIFT[0], GIFT[1], requested_by=requested_by, amount_nle=amount_nle)


# ---------------------------------------------------------------------- waiting between attempts


async def test_retries_wait_as_long_as_the_market_asks(
    market_journal: SpendingJournal, market_state: SimulatorState, market_sleeps: list[float]
) -> None:
    market_state.faults.rate_limit_next("gift-product", times=2, retry_after="3")
    op = await gift(market_journal)
    assert op.status is OperationStatus.SUCCEEDED
    assert op.attempts == 3
    assert market_sleeps == [3.0, 3.0]  # Retry-After, not the policy's own 0.001 and 0.002
    assert market_state.balance == START - PRICE


async def test_retries_without_retry_after_back_off_exponentially(
    market_journal: SpendingJournal, market_state: SimulatorState, market_sleeps: list[float]
) -> None:
    market_state.faults.fail_next("gift-product", times=3, status=503)
    op = await gift(market_journal)
    assert (op.status, op.attempts) == (OperationStatus.SUCCEEDED, 4)
    assert market_sleeps == [0.001, 0.002, 0.004]


async def test_a_malformed_answer_is_retried_after_the_policy_delay(
    market_journal: SpendingJournal, market_state: SimulatorState, market_sleeps: list[float]
) -> None:
    market_state.faults.malformed_next("gift-product")
    op = await gift(market_journal)
    assert (op.status, op.attempts) == (OperationStatus.SUCCEEDED, 2)
    assert market_sleeps == [0.001]


async def test_the_last_attempt_is_not_followed_by_a_wait(
    market_journal: SpendingJournal, market_state: SimulatorState, market_sleeps: list[float]
) -> None:
    market_state.faults.fail_next("gift-product", times=4, status=503)
    op = await gift(market_journal)
    assert (op.status, op.attempts) == (OperationStatus.UNKNOWN, 4)
    assert op.error == "gift-product: server error (HTTP 503)"
    assert market_sleeps == [0.001, 0.002, 0.004]


async def test_run_caps_the_attempts_of_that_run(
    market_journal: SpendingJournal, market_state: SimulatorState, market_sleeps: list[float]
) -> None:
    market_state.faults.fail_next("gift-product", times=10, status=503)
    op = await market_journal.create(GIFT[0], GIFT[1], requested_by=1, amount_nle=PRICE)
    once = await market_journal.run(op, attempts=1)
    assert (once.status, once.attempts) == (OperationStatus.UNKNOWN, 1)
    assert market_sleeps == []
    twice = await market_journal.run(op.id, attempts=2)
    assert (twice.status, twice.attempts) == (OperationStatus.UNKNOWN, 3)
    assert len(market_state.requests_for("gift-product")) == 3


# ---------------------------------------------------------------------- what is recorded


async def test_the_last_problem_is_recorded_while_retrying(
    market_db: Database, market_client: MarketClient, market_ids: RequestIdFactory, market_state: SimulatorState
) -> None:
    """Staff read ``error`` in /operations while an operation is still being retried (or after a crash)."""
    seen: list[tuple[OperationStatus, int, str | None]] = []
    journal: SpendingJournal

    async def look(_seconds: float) -> None:
        [op] = await journal.list_unresolved()
        seen.append((op.status, op.attempts, op.error))

    retry = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.004, jitter=0.0, sleep=look)
    journal = SpendingJournal(market_db, market_client, id_factory=market_ids, retry=retry)
    market_state.faults.fail_next("gift-product", times=1, status=502)
    market_state.faults.rate_limit_next("gift-product", times=1, retry_after=None)
    op = await gift(journal)
    assert seen == [
        (OperationStatus.PENDING, 1, "gift-product: server error (HTTP 502)"),
        (OperationStatus.PENDING, 2, "gift-product: rate limited (HTTP 429)"),
    ]
    assert (op.status, op.attempts, op.error) == (OperationStatus.SUCCEEDED, 3, None)


async def test_a_refusal_before_sending_is_a_failure_with_its_reason(
    market_journal: SpendingJournal, market_db: Database, market_state: SimulatorState
) -> None:
    # A row the current rules refuse (written by an older version, or edited by hand): nothing is sent.
    op = await market_journal.create(GIFT[0], GIFT[1], requested_by=1, amount_nle=PRICE)
    await market_db.execute(
        "UPDATE operations SET params = ? WHERE id = ?",
        (json.dumps({"username": "dar th", "product": "csgo", "cnt": 0}), op.id),
    )
    final = await market_journal.run(op)
    assert final.status is OperationStatus.FAILED
    assert final.error == "username: must be 1-64 characters of letters, digits, '.', '_' or '-'"
    assert final.attempts == 1
    assert market_state.requests_for("gift-product") == []
    assert (await market_journal.get(op.id)).error == final.error


async def test_an_answer_carrying_numbers_is_stored(
    market_journal: SpendingJournal, market_state: SimulatorState
) -> None:
    # The client parses numbers as Decimal; the journal must store them after the Market has spent.
    market_state.faults.malformed_next(
        "gift-product", after_effect=True, body=b'{"success": true, "succ": true, "balance": 982.90, "cnt": 0}'
    )
    op = await gift(market_journal)
    assert op.status is OperationStatus.SUCCEEDED
    assert op.attempts == 1
    assert op.result is not None
    assert json.loads(op.result) == {"success": True, "succ": True, "balance": "982.90", "cnt": 0}
    assert market_state.balance == START - PRICE


async def test_timestamps_follow_the_clock(
    market_db: Database, market_client: MarketClient, market_ids: RequestIdFactory, market_retry: RetryPolicy
) -> None:
    now = [T0]
    journal = SpendingJournal(market_db, market_client, id_factory=market_ids, retry=market_retry, clock=lambda: now[0])
    op = await journal.create(GIFT[0], GIFT[1], requested_by=1, amount_nle=PRICE)
    assert (op.created_at, op.updated_at) == (T0, T0)
    now[0] = T0 + timedelta(minutes=5, microseconds=7)
    done = await journal.run(op)
    assert (done.created_at, done.updated_at) == (T0, T0 + timedelta(minutes=5, microseconds=7))


async def test_timestamps_are_stored_in_utc_whatever_the_local_zone(
    market_db: Database,
    market_client: MarketClient,
    market_ids: RequestIdFactory,
    market_retry: RetryPolicy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "JST-9")  # the host's local time is UTC+9
    time.tzset()
    try:
        at_plus_two = datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
        journal = SpendingJournal(
            market_db, market_client, id_factory=market_ids, retry=market_retry, clock=lambda: at_plus_two
        )
        op = await journal.create(GIFT[0], GIFT[1], requested_by=1, amount_nle=PRICE)
        row = await market_db.fetchone("SELECT created_at FROM operations WHERE id = ?", (op.id,))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert row is not None
    assert row["created_at"] == "2026-03-01T12:00:00.000000Z"
    assert op.created_at == T0


async def test_a_naive_clock_is_refused(
    market_db: Database, market_client: MarketClient, market_ids: RequestIdFactory, market_retry: RetryPolicy
) -> None:
    journal = SpendingJournal(
        market_db, market_client, id_factory=market_ids, retry=market_retry, clock=lambda: datetime(2026, 1, 1)
    )
    with pytest.raises(ValueError, match=r"^timestamps must be timezone-aware$"):
        await journal.create(GIFT[0], GIFT[1], requested_by=1, amount_nle=PRICE)


async def test_an_unknown_operation_id_is_not_found(market_journal: SpendingJournal) -> None:
    with pytest.raises(OperationNotFound, match="no operation 99"):
        await market_journal.get(99)
    with pytest.raises(OperationNotFound):
        await market_journal.run(99)
    assert await market_journal.get_by_request_id("nope") is None


# ---------------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    "amount",
    [
        Decimal("-0.01"),
        Decimal("-1"),
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
        1.5,
        2,
        "17.10",
        True,
    ],
    ids=repr,
)
async def test_create_refuses_amounts_that_are_not_non_negative_decimals(
    market_journal: SpendingJournal, market_state: SimulatorState, amount: object
) -> None:
    with pytest.raises(MarketValidationError) as refused:
        await market_journal.create(GIFT[0], GIFT[1], requested_by=1, amount_nle=amount)  # type: ignore[arg-type]
    assert (refused.value.field, refused.value.message) == ("amount_nle", "must be a non-negative Decimal")
    assert await market_journal.list_recent() == []
    assert len(market_state.request_log) == 0


@pytest.mark.parametrize(
    ("amount", "stored"),
    [
        (Decimal("0"), "0.00"),  # a free gift (a zero-price item) is journaled and counts as nothing spent
        (Decimal("0.00"), "0.00"),
        (Decimal("0.5"), "0.50"),
        (Decimal("17.1"), "17.10"),
        (Decimal("17.105"), "17.10"),  # two places, half to even
        (Decimal("17.115"), "17.12"),
        (Decimal("3"), "3.00"),
    ],
)
async def test_create_stores_the_amount_with_two_places(
    market_journal: SpendingJournal, market_db: Database, amount: Decimal, stored: str
) -> None:
    op = await market_journal.create(GIFT[0], GIFT[1], requested_by=5, amount_nle=amount)
    assert str(op.amount_nle) == stored
    row = await market_db.fetchone("SELECT amount_nle FROM operations WHERE id = ?", (op.id,))
    assert row is not None
    assert row["amount_nle"] == stored
    assert await market_journal.spent_since(5, op.created_at) == Decimal(stored)


async def test_an_operation_without_an_amount_spends_nothing(
    market_journal: SpendingJournal, market_db: Database
) -> None:
    op = await gift(market_journal, amount_nle=None, requested_by=8)
    assert op.status is OperationStatus.SUCCEEDED
    assert op.amount_nle is None
    row = await market_db.fetchone("SELECT amount_nle FROM operations WHERE id = ?", (op.id,))
    assert row is not None
    assert row["amount_nle"] is None
    assert await market_journal.spent_since(8, op.created_at) == Decimal("0.00")


async def test_a_transfer_defaults_its_amount_and_an_explicit_one_wins(market_journal: SpendingJournal) -> None:
    defaulted = await market_journal.create(
        "transfer-money", {"username": "a49", "amount": "2.5"}, requested_by=1, amount_nle=None
    )
    assert str(defaulted.amount_nle) == "2.50"
    explicit = await market_journal.create(
        "transfer-money", {"username": "a49", "amount": "2.5"}, requested_by=1, amount_nle=Decimal("3")
    )
    assert str(explicit.amount_nle) == "3.00"


async def test_spent_since_counts_what_may_have_been_spent(
    market_db: Database, market_client: MarketClient, market_ids: RequestIdFactory, market_state: SimulatorState
) -> None:
    now = [T0]
    journal = SpendingJournal(
        market_db, market_client, id_factory=market_ids, retry=RetryPolicy.immediate(1), clock=lambda: now[0]
    )
    pending = await journal.create(GIFT[0], GIFT[1], requested_by=3, amount_nle=Decimal("1.01"))
    succeeded = await gift(journal, amount_nle=Decimal("2.02"), requested_by=3)
    market_state.faults.fail_next("gift-product", status=503)
    unknown = await gift(journal, amount_nle=Decimal("4.04"), requested_by=3)
    failed = await journal.execute(
        "gift-product", {"username": "ghost", "product": "csgo", "cnt": 0}, requested_by=3, amount_nle=Decimal("8")
    )
    other = await gift(journal, amount_nle=Decimal("16"), requested_by=4)
    assert [o.status for o in (pending, succeeded, unknown, failed, other)] == [
        OperationStatus.PENDING,
        OperationStatus.SUCCEEDED,
        OperationStatus.UNKNOWN,
        OperationStatus.FAILED,
        OperationStatus.SUCCEEDED,
    ]
    assert await journal.spent_since(3, T0) == Decimal("7.07")
    assert await journal.spent_since(3, T0 + timedelta(microseconds=1)) == Decimal("0.00")
    assert await journal.spent_since(4, T0) == Decimal("16.00")


# ---------------------------------------------------------------------- reading


async def test_list_recent_limit_and_case_insensitive_recipient(
    market_db: Database, market_client: MarketClient, market_ids: RequestIdFactory, market_retry: RetryPolicy
) -> None:
    now = [T0]
    journal = SpendingJournal(market_db, market_client, id_factory=market_ids, retry=market_retry, clock=lambda: now[0])
    first = await journal.create("transfer-money", {"username": "A49", "amount": "1"}, requested_by=1, amount_nle=None)
    second = await journal.create("transfer-money", {"username": "a49", "amount": "1"}, requested_by=2, amount_nle=None)
    now[0] += timedelta(seconds=1)
    third = await journal.create(GIFT[0], GIFT[1], requested_by=1, amount_nle=PRICE)
    assert [o.id for o in await journal.list_recent()] == [third.id, second.id, first.id]
    assert [o.id for o in await journal.list_recent(limit=2)] == [third.id, second.id]
    assert await journal.list_recent(limit=0) == []
    assert await journal.list_recent(limit=-3) == []
    assert [o.id for o in await journal.list_recent(username=" A49 ")] == [second.id, first.id]
    assert [o.id for o in await journal.list_recent(requested_by=1, username="darth")] == [third.id]
    assert [o.id for o in await journal.list_recent(requested_by=2, since=T0)] == [second.id]
    assert await journal.list_recent(requested_by=2, since=T0 + timedelta(seconds=1)) == []
    assert [o.id for o in await journal.list_unresolved()] == [first.id, second.id, third.id]
    assert third.username == "darth"


# ---------------------------------------------------------------------- recovery and re-checks


async def test_redrive_sends_pending_and_unknown_oldest_first_and_skips_resolved(
    market_journal: SpendingJournal, market_state: SimulatorState, market_sleeps: list[float]
) -> None:
    done = await gift(market_journal)
    first = await market_journal.create(GIFT[0], GIFT[1], requested_by=1, amount_nle=PRICE)
    market_state.faults.fail_next("gift-product", times=4, status=503)
    unknown = await gift(market_journal)
    third = await market_journal.create(*TRANSFER, requested_by=1, amount_nle=None)
    assert unknown.status is OperationStatus.UNKNOWN
    redriven = await market_journal.redrive_pending()
    assert [(o.id, o.status) for o in redriven] == [
        (first.id, OperationStatus.SUCCEEDED),
        (unknown.id, OperationStatus.SUCCEEDED),
        (third.id, OperationStatus.SUCCEEDED),
    ]
    sent = [str(e.body["id"]) for e in list(market_state.request_log)[5:] if e.body is not None]
    assert sent == [first.request_id, unknown.request_id, third.request_id]
    assert (await market_journal.get(done.id)).attempts == 1
    assert not market_journal.recovering


async def test_recheck_sends_only_quiet_unknown_operations_once_each(
    market_db: Database, market_client: MarketClient, market_ids: RequestIdFactory, market_state: SimulatorState
) -> None:
    now = [T0]
    journal = SpendingJournal(
        market_db, market_client, id_factory=market_ids, retry=RetryPolicy.immediate(1), clock=lambda: now[0]
    )
    market_state.faults.fail_next("gift-product", times=3, status=503)
    old = await gift(journal)
    now[0] += timedelta(minutes=1)
    newer = await gift(journal)
    now[0] += timedelta(minutes=1)
    pending = await journal.create(GIFT[0], GIFT[1], requested_by=1, amount_nle=PRICE)
    assert (old.status, newer.status) == (OperationStatus.UNKNOWN, OperationStatus.UNKNOWN)
    # quiet for 2 minutes: only the oldest; it fails again (one attempt) and stays unknown
    again = await journal.recheck_unknown(quiet_for=timedelta(minutes=2))
    assert [(o.id, o.status, o.attempts) for o in again] == [(old.id, OperationStatus.UNKNOWN, 2)]
    # exactly one minute of quiet counts as quiet (newer was last touched at T0+1min)
    now[0] = T0 + timedelta(minutes=2)
    later = await journal.recheck_unknown(quiet_for=timedelta(minutes=1))
    assert [(o.id, o.status, o.attempts) for o in later] == [(newer.id, OperationStatus.SUCCEEDED, 2)]
    now[0] += timedelta(hours=1)
    assert [o.id for o in await journal.recheck_unknown(quiet_for=timedelta(0), limit=1)] == [old.id]
    assert (await journal.get(pending.id)).status is OperationStatus.PENDING


# ---------------------------------------------------------------------- locking


async def test_operations_do_not_wait_for_each_other(
    market_journal: SpendingJournal, market_state: SimulatorState
) -> None:
    slow = await market_journal.create(GIFT[0], GIFT[1], requested_by=1, amount_nle=PRICE)
    fast = await market_journal.create(*TRANSFER, requested_by=1, amount_nle=None)
    market_state.faults.delay_next("gift-product", seconds=5.0)
    slow_run = asyncio.create_task(market_journal.run(slow))
    while not market_state.requests_for("gift-product"):
        await asyncio.sleep(0.001)
    done = await asyncio.wait_for(market_journal.run(fast), timeout=2.0)
    assert done.status is OperationStatus.SUCCEEDED
    assert not slow_run.done()
    market_state.faults.clear()
    slow_run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow_run


async def test_a_resolved_operation_keeps_no_lock(
    market_journal: SpendingJournal, market_state: SimulatorState
) -> None:
    op = await gift(market_journal)
    market_state.faults.fail_next("gift-product", times=4, status=503)
    unknown = await gift(market_journal)
    # one lock per unresolved operation only: memory does not grow with every operation ever run
    assert list(market_journal._locks) == [unknown.id]
    await market_journal.run(unknown)
    await market_journal.run(op)  # already resolved: returned as it is
    with pytest.raises(OperationNotFound):
        await market_journal.run(op.id + 100)
    # two runs of a missing operation at once: both told it is missing
    missing = await asyncio.gather(*(market_journal.run(op.id + 101) for _ in range(2)), return_exceptions=True)
    assert [type(e) for e in missing] == [OperationNotFound, OperationNotFound]
    assert market_journal._locks == {}


# ---------------------------------------------------------------------- defaults and arguments


@pytest.mark.parametrize("attempts", [0, -1])
async def test_run_refuses_fewer_than_one_attempt(
    market_journal: SpendingJournal, market_state: SimulatorState, attempts: int
) -> None:
    op = await market_journal.create(GIFT[0], GIFT[1], requested_by=1, amount_nle=PRICE)
    with pytest.raises(ValueError, match=r"^attempts must be at least 1$"):
        await market_journal.run(op, attempts=attempts)
    assert len(market_state.request_log) == 0
    assert (await market_journal.get(op.id)).attempts == 0


async def test_execute_records_requester_guild_and_canonical_params(market_journal: SpendingJournal) -> None:
    op = await market_journal.execute(
        "gift-product",
        {"username": "darth", "product": "csgo", "cnt": 1},
        requested_by=9,
        amount_nle=PRICE,
        guild_id=77,
    )
    assert (op.status, op.requested_by, op.guild_id) == (OperationStatus.SUCCEEDED, 9, 77)
    assert list(op.params.items()) == [("cnt", 1), ("product", "csgo"), ("username", "darth")]  # stored sorted


def test_the_default_retry_policy(
    market_db: Database, market_client: MarketClient, market_ids: RequestIdFactory
) -> None:
    journal = SpendingJournal(market_db, market_client, id_factory=market_ids)
    assert (journal.retry.attempts, journal.retry.base_delay, journal.retry.max_delay) == (5, 1.0, 30.0)


async def test_recheck_takes_at_most_twenty_by_default(
    market_db: Database, market_client: MarketClient, market_ids: RequestIdFactory, market_state: SimulatorState
) -> None:
    journal = SpendingJournal(market_db, market_client, id_factory=market_ids, retry=RetryPolicy.immediate(1))
    market_state.faults.fail_next("gift-product", times=21, status=503)
    unknown = [await gift(journal) for _ in range(21)]
    assert {o.status for o in unknown} == {OperationStatus.UNKNOWN}
    rechecked = await journal.recheck_unknown(quiet_for=timedelta(0))
    assert [o.id for o in rechecked] == [o.id for o in unknown[:20]]
