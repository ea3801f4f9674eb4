"""The spending journal: commit before send, same id on retries, the fault matrix, crash recovery."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from bot.market.client import MarketClient
from bot.market.errors import MarketValidationError
from bot.market.journal import CONFIRMED_ON_RETRY, Operation, OperationStatus, SpendingJournal
from bot.market.models import Plan, Product
from bot.market.request_ids import RequestIdFactory
from bot.market.retry import RetryPolicy
from bot.market.simulator.state import SimulatorState
from bot.storage import Database

GIFT = ("gift-product", {"username": "darth", "product": Product.CSGO, "plan": Plan.DAYS_30})
PRICE = Decimal("17.10")
START = Decimal("1000.00")


async def gift(journal: SpendingJournal, requested_by: int = 42) -> Operation:
    return await journal.execute(GIFT[0], GIFT[1], requested_by=requested_by, amount_nle=PRICE)


def sent_ids(state: SimulatorState, method: str = "gift-product") -> list[str]:
    return [str(e.body["id"]) for e in state.requests_for(method) if e.body is not None]


async def test_create_commits_pending_row_before_any_request(
    market_journal: SpendingJournal, market_db: Database, market_state: SimulatorState
) -> None:
    op = await market_journal.create(GIFT[0], GIFT[1], requested_by=42, amount_nle=PRICE, guild_id=7)
    assert op.status is OperationStatus.PENDING
    assert op.attempts == 0
    assert op.params == {"username": "darth", "product": "csgo", "cnt": 0}
    assert (op.requested_by, op.guild_id, op.amount_nle, op.username) == (42, 7, PRICE, "darth")
    assert len(market_state.request_log) == 0
    # Visible through a second connection: it is committed, not just in this connection's transaction.
    other = await Database.open(market_db.path)
    try:
        row = await other.fetchone("SELECT status, request_id FROM operations WHERE id = ?", (op.id,))
    finally:
        await other.close()
    assert row is not None
    assert (row["status"], row["request_id"]) == ("pending", op.request_id)


async def test_success_records_answer(market_journal: SpendingJournal, market_state: SimulatorState) -> None:
    op = await gift(market_journal)
    assert op.status is OperationStatus.SUCCEEDED
    assert op.attempts == 1
    assert not op.confirmed_on_retry
    assert op.result is not None
    assert '"success": true' in op.result
    assert market_state.balance == START - PRICE
    assert sent_ids(market_state) == [op.request_id]


async def test_transfer_amount_defaults_to_amount_nle(
    market_journal: SpendingJournal, market_state: SimulatorState
) -> None:
    op = await market_journal.execute(
        "transfer-money", {"username": "a49", "amount": Decimal("2.5")}, requested_by=1, amount_nle=None
    )
    assert op.status is OperationStatus.SUCCEEDED
    assert op.amount_nle == Decimal("2.50")
    assert op.params["amount"] == "2.50"
    assert market_state.balance == Decimal("997.50")


async def test_give_for_free(market_journal: SpendingJournal, market_state: SimulatorState) -> None:
    op = await market_journal.execute(
        "give-for-free", {"username": "a49", "code": "E3yugw"}, requested_by=1, amount_nle=Decimal("0.9")
    )
    assert op.status is OperationStatus.SUCCEEDED
    assert market_state.balance == Decimal("999.10")


async def test_api_refusal_is_failed_with_exact_text(
    market_journal: SpendingJournal, market_state: SimulatorState
) -> None:
    op = await market_journal.execute(
        "gift-product", {"username": "ghost", "product": "csgo", "cnt": 0}, requested_by=1, amount_nle=PRICE
    )
    assert op.status is OperationStatus.FAILED
    assert op.error == "User doesn't exist"
    assert op.attempts == 1
    assert market_state.balance == START


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("gift-product", {"username": "darth", "product": "dota", "cnt": 0}),
        ("gift-product", {"username": "darth", "product": "csgo"}),
        ("gift-product", {"username": "darth", "product": "csgo", "cnt": 0, "extra": 1}),
        ("transfer-money", {"username": "a49", "amount": 1.5}),
        ("transfer-money", {"username": "a49", "amount": Decimal("0.001")}),
        ("give-for-free", {"username": "a b", "code": "E3yugw"}),
        ("get-balance", {}),
    ],
)
async def test_invalid_operations_are_never_journaled(
    market_journal: SpendingJournal, market_state: SimulatorState, method: str, params: dict[str, object]
) -> None:
    with pytest.raises(MarketValidationError):
        await market_journal.create(method, params, requested_by=1, amount_nle=None)
    assert await market_journal.list_recent() == []
    assert len(market_state.request_log) == 0


async def test_invalid_id_on_first_attempt_is_a_failure(
    market_journal: SpendingJournal, market_client: MarketClient, market_state: SimulatorState
) -> None:
    op = await market_journal.create(GIFT[0], GIFT[1], requested_by=1, amount_nle=PRICE)
    # Something else already used this id (e.g. a restored backup): the first attempt answers Invalid id.
    await market_client.transfer_money("a49", Decimal("1.00"), request_id=op.request_id)
    final = await market_journal.run(op)
    assert final.status is OperationStatus.FAILED
    assert final.error == "Invalid id."
    assert not final.confirmed_on_retry


# ---------------------------------------------------------------------- the fault matrix


@pytest.mark.parametrize(
    ("inject", "requests"),
    [
        pytest.param(lambda f: f.fail_next("gift-product", times=2, status=503), 3, id="503-before-effect"),
        pytest.param(lambda f: f.fail_next("gift-product", status=500, after_effect=True), 2, id="500-after-effect"),
        pytest.param(lambda f: f.rate_limit_next("gift-product", times=2), 3, id="429"),
        pytest.param(lambda f: f.drop_next("gift-product", after_effect=False), 2, id="dropped-before-effect"),
        pytest.param(lambda f: f.drop_next("gift-product", after_effect=True), 2, id="response-lost-after-effect"),
        pytest.param(lambda f: f.malformed_next("gift-product", after_effect=True), 2, id="malformed-after-effect"),
        pytest.param(lambda f: f.malformed_next("gift-product"), 2, id="malformed-before-effect"),
        pytest.param(lambda f: f.delay_next("gift-product", seconds=0.01), 1, id="latency"),
    ],
)
async def test_fault_matrix_debits_exactly_once(
    market_journal: SpendingJournal,
    market_state: SimulatorState,
    inject,
    requests: int,  # type: ignore[no-untyped-def]
) -> None:
    inject(market_state.faults)
    op = await gift(market_journal)
    assert op.status is OperationStatus.SUCCEEDED
    assert market_state.balance == START - PRICE
    assert len(market_state.effects("gift-product")) == 1
    ids = sent_ids(market_state)
    assert len(market_state.requests_for("gift-product")) == requests
    assert set(ids) <= {op.request_id}
    assert op.attempts == requests
    after_effect = any(e.effect_applied and e.fault for e in market_state.requests_for("gift-product"))
    assert op.confirmed_on_retry is after_effect
    if after_effect:
        assert op.result == CONFIRMED_ON_RETRY


async def test_retries_exhausted_is_unknown_and_safe_to_run_again(
    market_journal: SpendingJournal, market_state: SimulatorState, market_sleeps: list[float]
) -> None:
    market_state.faults.fail_next("gift-product", times=4, status=503, after_effect=True)
    op = await gift(market_journal)
    assert op.status is OperationStatus.UNKNOWN
    assert op.attempts == 4
    assert op.error is not None
    assert "503" in op.error
    assert len(market_sleeps) == 3
    assert market_state.balance == START - PRICE  # the first attempt went through
    assert [o.id for o in await market_journal.list_unresolved()] == [op.id]
    assert await market_journal.spent_since(42, op.created_at) == PRICE  # unknown counts as spent

    again = await market_journal.run(op.id)
    assert again.status is OperationStatus.SUCCEEDED
    assert again.confirmed_on_retry
    assert again.attempts == 5
    assert market_state.balance == START - PRICE
    assert await market_journal.list_unresolved() == []


async def test_unknown_after_503_without_effect_then_run_performs_it(
    market_journal: SpendingJournal, market_state: SimulatorState
) -> None:
    market_state.faults.fail_next("gift-product", times=4, status=503)
    op = await gift(market_journal)
    assert op.status is OperationStatus.UNKNOWN
    assert market_state.balance == START
    again = await market_journal.run(op)
    assert again.status is OperationStatus.SUCCEEDED
    assert not again.confirmed_on_retry
    assert market_state.balance == START - PRICE


async def test_concurrent_runs_send_once(market_journal: SpendingJournal, market_state: SimulatorState) -> None:
    market_state.faults.delay_next("gift-product", seconds=0.05)
    op = await market_journal.create(GIFT[0], GIFT[1], requested_by=1, amount_nle=PRICE)
    results = await asyncio.gather(*(market_journal.run(op.id) for _ in range(5)))
    assert {r.status for r in results} == {OperationStatus.SUCCEEDED}
    assert len(market_state.requests_for("gift-product")) == 1
    assert market_state.balance == START - PRICE


async def test_running_a_resolved_operation_sends_nothing(
    market_journal: SpendingJournal, market_state: SimulatorState
) -> None:
    op = await gift(market_journal)
    again = await market_journal.run(op)
    assert again == op
    assert len(market_state.requests_for("gift-product")) == 1


# ---------------------------------------------------------------------- crash recovery


async def reopen(
    path: Path, session: aiohttp.ClientSession, client: MarketClient, retry: RetryPolicy
) -> tuple[Database, SpendingJournal]:
    db = await Database.open(path)
    ids = await RequestIdFactory.load(db)
    return db, SpendingJournal(db, client, id_factory=ids, retry=retry)


async def test_kill_between_commit_and_send_is_redriven_once(
    market_db: Database,
    market_client: MarketClient,
    market_session: aiohttp.ClientSession,
    market_retry: RetryPolicy,
    market_state: SimulatorState,
    tmp_path: Path,
) -> None:
    path = tmp_path / "crash.sqlite3"
    db1, journal1 = await reopen(path, market_session, market_client, market_retry)
    op = await journal1.create(GIFT[0], GIFT[1], requested_by=1, amount_nle=PRICE)
    await db1.close()  # the process dies here: committed, never sent

    db2, journal2 = await reopen(path, market_session, market_client, market_retry)
    try:
        redriven = await journal2.redrive_pending()
        assert [r.id for r in redriven] == [op.id]
        assert redriven[0].status is OperationStatus.SUCCEEDED
        assert not redriven[0].confirmed_on_retry
        assert redriven[0].request_id == op.request_id
        assert await journal2.redrive_pending() == []
    finally:
        await db2.close()
    assert market_state.balance == START - PRICE
    assert sent_ids(market_state) == [op.request_id]


async def test_kill_after_effect_before_answer_recorded(
    market_client: MarketClient,
    market_session: aiohttp.ClientSession,
    market_retry: RetryPolicy,
    market_state: SimulatorState,
    tmp_path: Path,
) -> None:
    path = tmp_path / "crash.sqlite3"
    db1, journal1 = await reopen(path, market_session, market_client, market_retry)
    op = await journal1.create(GIFT[0], GIFT[1], requested_by=1, amount_nle=PRICE)
    # The server applies the effect, then the answer is slow; the process is killed while waiting.
    market_state.faults.delay_next("gift-product", seconds=60.0, after_effect=True)
    task = asyncio.create_task(journal1.run(op))
    while not market_state.effects("gift-product"):
        await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await db1.close()
    assert market_state.balance == START - PRICE

    db2, journal2 = await reopen(path, market_session, market_client, market_retry)
    try:
        pending = await journal2.list_unresolved()
        assert [(p.id, p.status, p.attempts) for p in pending] == [(op.id, OperationStatus.PENDING, 1)]
        [final] = await journal2.redrive_pending()
    finally:
        await db2.close()
    assert final.status is OperationStatus.SUCCEEDED
    assert final.confirmed_on_retry
    assert final.attempts == 2
    assert market_state.balance == START - PRICE


# ---------------------------------------------------------------------- reading


async def test_list_recent_filters_and_spent_since(
    market_db: Database, market_client: MarketClient, market_ids: RequestIdFactory, market_retry: RetryPolicy
) -> None:
    now = [datetime(2025, 1, 1, 12, 0, tzinfo=UTC)]
    journal = SpendingJournal(market_db, market_client, id_factory=market_ids, retry=market_retry, clock=lambda: now[0])
    a = await journal.execute(GIFT[0], GIFT[1], requested_by=1, amount_nle=PRICE)
    now[0] += timedelta(hours=1)
    b = await journal.execute("transfer-money", {"username": "A49", "amount": "3"}, requested_by=2, amount_nle=None)
    now[0] += timedelta(hours=1)
    c = await journal.execute(
        "gift-product", {"username": "ghost", "product": "csgo", "cnt": 1}, requested_by=1, amount_nle=Decimal("44.1")
    )
    assert c.status is OperationStatus.FAILED
    assert [o.id for o in await journal.list_recent()] == [c.id, b.id, a.id]
    assert [o.id for o in await journal.list_recent(limit=1)] == [c.id]
    assert [o.id for o in await journal.list_recent(requested_by=1)] == [c.id, a.id]
    assert [o.id for o in await journal.list_recent(username="a49")] == [b.id]
    assert [o.id for o in await journal.list_recent(since=b.created_at)] == [c.id, b.id]
    start = datetime(2025, 1, 1, tzinfo=UTC)
    assert await journal.spent_since(1, start) == PRICE  # the failed one is not counted
    assert await journal.spent_since(2, start) == Decimal("3.00")
    assert await journal.spent_since(1, a.created_at + timedelta(seconds=1)) == Decimal("0.00")
    assert await journal.get_by_request_id(b.request_id) == b


async def test_request_ids_unique_and_valid(market_db: Database, tmp_path: Path) -> None:
    f1 = await RequestIdFactory.load(market_db)
    f2 = await RequestIdFactory.load(market_db)
    other_db = await Database.open(tmp_path / "other.sqlite3")
    try:
        f3 = await RequestIdFactory.load(other_db)
    finally:
        await other_db.close()
    ids = [f.next() for f in (f1, f2, f3) for _ in range(100)]
    assert len(set(ids)) == len(ids)
    assert f1.prefix == f2.prefix != f3.prefix
    assert f2.epoch == f1.epoch + 1
    import re

    assert all(re.fullmatch(r"[A-Za-z0-9._-]{1,80}", i) for i in ids)


async def test_migration_applies_on_top_of_0001(tmp_path: Path) -> None:
    from bot.storage.migrations import apply_migrations, load_migrations

    migrations = load_migrations()
    assert [m.name for m in migrations[:2]] == ["init", "operations"]
    import aiosqlite

    async with aiosqlite.connect(tmp_path / "up.sqlite3") as conn:
        assert await apply_migrations(conn, migrations[:1]) == 1
        assert await apply_migrations(conn, migrations[:2]) == 2
        async with conn.execute("SELECT count(*) FROM operations") as cur:
            assert (await cur.fetchone()) == (0,)


async def test_unknown_operations_are_redriven_at_start_up(
    market_journal: SpendingJournal, market_state: SimulatorState
) -> None:
    market_state.faults.fail_next("gift-product", times=4, status=503, after_effect=True)
    op = await gift(market_journal)
    assert op.status is OperationStatus.UNKNOWN
    redriven = await market_journal.redrive_pending()
    assert [(r.id, r.status, r.confirmed_on_retry) for r in redriven] == [(op.id, OperationStatus.SUCCEEDED, True)]
    assert market_state.balance == START - PRICE


async def test_new_work_waits_for_start_up_recovery(
    market_journal: SpendingJournal, market_state: SimulatorState
) -> None:
    leftover = await market_journal.create(GIFT[0], GIFT[1], requested_by=1, amount_nle=PRICE)
    market_state.faults.delay_next("gift-product", seconds=0.2)
    market_journal.begin_recovery()
    assert market_journal.recovering
    recovery = asyncio.create_task(market_journal.redrive_pending())
    newcomer = asyncio.create_task(gift(market_journal, requested_by=2))
    done = await recovery
    assert [op.id for op in done] == [leftover.id]
    fresh = await newcomer
    assert fresh.status is OperationStatus.SUCCEEDED
    assert not market_journal.recovering
    # the leftover operation was sent before the new one was even created
    assert sent_ids(market_state) == [leftover.request_id, fresh.request_id]
    assert fresh.id > leftover.id
