"""The periodic re-check of unknown operations: confirmed with the same id, one attempt a pass, never twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest

from bot.market.journal import CONFIRMED_ON_RETRY, Operation, OperationStatus, SpendingJournal
from bot.market.models import Plan, Product
from bot.market.recheck import recheck_forever, recheck_once
from bot.market.simulator.state import SimulatorState

PRICE = Decimal("17.10")
START = Decimal("1000.00")
NOW = timedelta(0)


async def unknown_gift(journal: SpendingJournal, state: SimulatorState, *, went_through: bool) -> Operation:
    """A gift whose every answer was a 503 (the retry policy's 4 attempts): its outcome is unknown."""
    state.faults.fail_next("gift-product", times=4, status=503, after_effect=went_through)
    op = await journal.execute(
        "gift-product",
        {"username": "darth", "product": Product.CSGO, "plan": Plan.DAYS_30},
        requested_by=42,
        amount_nle=PRICE,
    )
    assert op.status is OperationStatus.UNKNOWN
    return op


class Reports:
    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    async def __call__(self, resolved: list[Operation]) -> None:
        self.calls.append([op.id for op in resolved])


async def test_an_operation_that_went_through_is_confirmed_and_reported_never_sent_twice(
    market_journal: SpendingJournal, market_state: SimulatorState
) -> None:
    op = await unknown_gift(market_journal, market_state, went_through=True)
    reports = Reports()
    resolved = await recheck_once(market_journal, quiet_for=NOW, on_resolved=reports)
    assert [(r.id, r.status, r.confirmed_on_retry, r.result) for r in resolved] == [
        (op.id, OperationStatus.SUCCEEDED, True, CONFIRMED_ON_RETRY)
    ]
    assert reports.calls == [[op.id]]
    assert market_state.balance == START - PRICE  # spent once
    sent = {str(e.body["id"]) for e in market_state.requests_for("gift-product") if e.body is not None}
    assert sent == {op.request_id}  # every attempt, the re-check's included, with the operation's own id
    assert await recheck_once(market_journal, quiet_for=NOW, on_resolved=reports) == []  # nothing left
    assert reports.calls == [[op.id]]


async def test_one_attempt_a_pass_only_for_quiet_unknown_operations(
    market_journal: SpendingJournal, market_state: SimulatorState, market_sleeps: list[float]
) -> None:
    op = await unknown_gift(market_journal, market_state, went_through=False)
    leftover = await market_journal.create(
        "transfer-money", {"username": "a49", "amount": Decimal("1")}, requested_by=1, amount_nle=None
    )  # pending: being sent right now by whoever created it, not the re-check's business
    reports = Reports()
    assert await recheck_once(market_journal, quiet_for=timedelta(hours=1), on_resolved=reports) == []
    assert (await market_journal.get(op.id)).attempts == 4  # touched a moment ago: not yet

    sleeps_before = list(market_sleeps)
    market_state.faults.fail_next("gift-product", times=1, status=503)  # Neverlose is still down
    assert await recheck_once(market_journal, quiet_for=NOW, on_resolved=reports) == []
    still = await market_journal.get(op.id)
    assert (still.status, still.attempts) == (OperationStatus.UNKNOWN, 5)  # one attempt, no retry loop
    assert market_sleeps == sleeps_before
    assert reports.calls == []

    resolved = await recheck_once(market_journal, quiet_for=NOW, on_resolved=reports)  # Neverlose is back
    assert [(r.id, r.status, r.confirmed_on_retry) for r in resolved] == [(op.id, OperationStatus.SUCCEEDED, False)]
    assert market_state.balance == START - PRICE
    assert (await market_journal.get(leftover.id)).status is OperationStatus.PENDING
    assert market_state.requests_for("transfer-money") == []


async def test_the_loop_outlives_a_failing_report(
    market_journal: SpendingJournal, market_state: SimulatorState, caplog: pytest.LogCaptureFixture
) -> None:
    first = await unknown_gift(market_journal, market_state, went_through=True)
    reported: list[list[int]] = []
    second_resolved = asyncio.Event()

    async def report(resolved: list[Operation]) -> None:
        reported.append([op.id for op in resolved])
        if len(reported) == 1:
            raise RuntimeError("the audit channel is gone")
        second_resolved.set()

    task = asyncio.create_task(recheck_forever(market_journal, interval=timedelta(milliseconds=20), on_resolved=report))
    try:
        while not reported:
            await asyncio.sleep(0.01)
        second = await unknown_gift(market_journal, market_state, went_through=False)
        await asyncio.wait_for(second_resolved.wait(), timeout=10)
    finally:
        task.cancel()
    assert reported == [[first.id], [second.id]]
    assert "reporting the resolved operations failed" in caplog.text
    assert market_state.balance == START - 2 * PRICE
