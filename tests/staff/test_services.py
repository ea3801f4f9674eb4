"""The staff core services against the real journal, database and Market simulator (no Discord)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from bot.guild_config import ChannelKind, EveryoneCannotBeStaff
from bot.market.client import MarketClient
from bot.market.journal import Operation, OperationStatus
from bot.market.models import Product
from bot.market.recheck import recheck_once
from bot.market.simulator.runner import RunningSimulator
from bot.staff import inputs
from bot.staff.approvals import ApprovalStatus
from bot.staff.audit import AuditLog, AuditQuery, paginate, to_csv
from bot.staff.errors import (
    ApprovalRefused,
    ConfirmationClosed,
    CooldownActive,
    DailyLimitExceeded,
    InvalidInput,
    NotStaff,
    PrecheckFailed,
)
from bot.staff.limits import Cooldown
from bot.staff.models import AuditEntry, AuditEvent, SpendKind
from bot.staff.permissions import StaffSubject, is_staff, is_staff_subject
from bot.staff.prechecks import Prechecks
from bot.staff.spending import OutcomeStatus
from tests.staff.conftest import ALICE, AUDIT_CHANNEL, BOB, MALLORY, STAFF_ROLE, Clock, Services

GUILD = 42


async def _events(services: Services) -> list[AuditEvent]:
    return [r.entry.event for r in reversed(await services.audit.query(AuditQuery()))]


# ---------------------------------------------------------------- permissions
async def test_staff_rule(services: Services) -> None:
    assert is_staff_subject(StaffSubject(1, frozenset({5}), manage_guild=True), [])
    assert not is_staff_subject(StaffSubject(1, frozenset({5}), manage_guild=False), [6])
    assert await is_staff(ALICE, services.config)  # role from STAFF_ROLE_IDS
    assert not await is_staff(MALLORY, services.config)
    await services.config.add_staff_role(777, guild_id=100, updated_by=1)  # /setup staff-role
    assert await is_staff(StaffSubject(9, frozenset({777}), manage_guild=False), services.config)
    with pytest.raises(EveryoneCannotBeStaff):  # @everyone's id is the server's: every member would be staff
        await services.config.add_staff_role(100, guild_id=100, updated_by=1)
    assert not await is_staff(StaffSubject(9, frozenset({100}), manage_guild=False), services.config)


# ---------------------------------------------------------------- inputs
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12.5", "12.50"),
        ("12,50", "12.50"),
        (" 3 NLE", "3.00"),
        (12, "12.00"),
        (12.5, "12.50"),
        (Decimal("0.01"), "0.01"),
    ],
)
def test_amount_parsing(raw: str | int | float | Decimal, expected: str) -> None:
    assert inputs.amount(raw) == Decimal(expected)


@pytest.mark.parametrize("raw", ["0", "-1", "1.234", "abc", "1e9", "NaN", "Infinity", "", True, 0.001, "1,000.5"])
def test_amount_refusals(raw: object) -> None:
    with pytest.raises(InvalidInput):
        inputs.amount(raw)  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", ["", "a b", "x" * 65, "name;drop", "`evil`"])
def test_username_refusals(raw: str) -> None:
    with pytest.raises(InvalidInput, match="not a valid Neverlose username"):
        inputs.username(raw)


def test_item_code_and_plan_refusals() -> None:
    with pytest.raises(InvalidInput, match="not a valid item code"):
        inputs.item_code("bad code!")
    with pytest.raises(InvalidInput, match="no 45-day plan"):
        inputs.plan(45)


# ---------------------------------------------------------------- pre-checks
async def test_gift_prechecks_each_failure(services: Services, market_sim: RunningSimulator) -> None:
    checks = services.spending.prechecks
    with pytest.raises(PrecheckFailed, match="`ghost` does not exist on Neverlose"):
        await checks.gift("ghost", Product.CS2, inputs.plan(30))
    with pytest.raises(PrecheckFailed, match="`newbie` is not invited to CS2; ask Neverlose staff to invite them"):
        await checks.gift("newbie", Product.CS2, inputs.plan(30))
    market_sim.state.balance = Decimal("12.40")
    with pytest.raises(PrecheckFailed, match=r"Balance 12\.40 NLE, price 17\.10 NLE"):
        await checks.gift("darth", Product.CS2, inputs.plan(30))
    with pytest.raises(PrecheckFailed) as both:
        await checks.gift("newbie", Product.CS2, inputs.plan(30))
    assert "not invited" in both.value.message
    assert "Balance 12.40 NLE" in both.value.message
    market_sim.state.balance = Decimal("17.10")
    ok = await checks.gift("newbie", Product.CSGO, inputs.plan(30))  # CS:GO is public
    assert ok.price.nle == Decimal("17.10")


async def test_prechecks_run_in_parallel(market_client: MarketClient) -> None:
    """All four gift pre-checks are in flight at the same time (counted around the real client)."""
    inflight = 0
    peak = 0
    gate = asyncio.Event()

    def counted(call: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def wrapper(*args: Any) -> Any:
            nonlocal inflight, peak
            inflight += 1
            peak = max(peak, inflight)
            if peak == 4:
                gate.set()
            await asyncio.wait_for(gate.wait(), timeout=5)  # only returns once all four have started
            try:
                return await call(*args)
            finally:
                inflight -= 1

        return wrapper

    reader = SimpleNamespace(
        get_balance=counted(market_client.get_balance),
        get_prices=counted(market_client.get_prices),
        is_user_exists=counted(market_client.is_user_exists),
        is_user_invited=counted(market_client.is_user_invited),
    )
    check = await Prechecks(reader).gift("darth", Product.CS2, inputs.plan(90))  # type: ignore[arg-type]
    assert peak == 4
    assert check.price.nle == Decimal("44.10")


# ---------------------------------------------------------------- confirm / single-flight
async def test_gift_confirm_runs_once(services: Services, market_sim: RunningSimulator) -> None:
    quote = await services.spending.quote_gift(
        staff_id=ALICE.user_id, guild_id=GUILD, username="darth", product=Product.CS2, days=30
    )
    assert quote.amount_nle == Decimal("17.10")
    assert quote.balance_after == Decimal("982.90")
    first, second = await asyncio.gather(
        services.spending.confirm(quote.id, staff_id=ALICE.user_id),
        services.spending.confirm(quote.id, staff_id=ALICE.user_id),
    )
    assert first.status == second.status == OutcomeStatus.SUCCEEDED
    assert [first.duplicate, second.duplicate].count(True) == 1
    assert first.request_id == second.request_id
    third = await services.spending.confirm(quote.id, staff_id=ALICE.user_id)  # a late double-click
    assert third.duplicate
    assert len(market_sim.state.effects("gift-product")) == 1
    assert market_sim.state.balance == Decimal("982.90")
    events = await _events(services)
    assert events == [AuditEvent.REQUESTED, AuditEvent.SUCCEEDED]


async def test_confirm_refusals(services: Services, market_sim: RunningSimulator) -> None:
    quote = await services.spending.quote_give(staff_id=ALICE.user_id, guild_id=GUILD, username="a49", code="E3yugw")
    with pytest.raises(ConfirmationClosed, match="Only the staff member who asked"):
        await services.spending.confirm(quote.id, staff_id=BOB.user_id)
    assert services.spending.cancel(quote.id)
    with pytest.raises(ConfirmationClosed, match="expired or was cancelled"):
        await services.spending.confirm(quote.id, staff_id=ALICE.user_id)
    assert market_sim.state.effects() == []


async def test_stale_quote_expires(services: Services, clock: Clock, market_sim: RunningSimulator) -> None:
    quote = await services.spending.quote_give(staff_id=ALICE.user_id, guild_id=GUILD, username="a49", code="E3yugw")
    clock.advance(minutes=6)
    with pytest.raises(ConfirmationClosed, match="expired"):
        await services.spending.confirm(quote.id, staff_id=ALICE.user_id)
    assert market_sim.state.effects() == []


async def test_market_refusal_shows_api_text(services: Services, market_sim: RunningSimulator) -> None:
    market_sim.state.user("a49").items.add("E3yugw")  # type: ignore[union-attr]
    quote = await services.spending.quote_give(staff_id=ALICE.user_id, guild_id=GUILD, username="a49", code="E3yugw")
    outcome = await services.spending.confirm(quote.id, staff_id=ALICE.user_id)
    assert outcome.status == OutcomeStatus.FAILED
    assert outcome.text == "Neverlose refused: This user already has this item"


async def test_unknown_outcome_then_safe_retry(services: Services, market_sim: RunningSimulator) -> None:
    quote = await services.spending.quote_transfer(staff_id=ALICE.user_id, guild_id=GUILD, username="a49", amount="5")
    market_sim.state.faults.drop_next("transfer-money", times=4)  # applied once, every answer lost
    outcome = await services.spending.confirm(quote.id, staff_id=ALICE.user_id)
    assert outcome.status == OutcomeStatus.UNKNOWN
    assert "recorded and will be re-checked" in outcome.text
    assert outcome.request_id is not None
    assert outcome.request_id in outcome.text
    pending = await services.spending.unresolved()
    assert [op.id for op in pending] == [outcome.operation.id]  # type: ignore[union-attr]
    retried = await services.spending.retry(pending[0].id, staff_id=BOB.user_id)
    assert retried.status == OutcomeStatus.SUCCEEDED
    assert retried.request_id == outcome.request_id
    assert "nothing was spent twice" in retried.text
    assert market_sim.state.user("a49").balance == Decimal("30.00")  # type: ignore[union-attr]
    assert await services.spending.unresolved() == []
    again = await services.spending.retry(pending[0].id, staff_id=BOB.user_id)
    assert again.duplicate
    assert again.status == OutcomeStatus.SUCCEEDED


async def test_unknown_outcome_resolved_by_the_periodic_recheck_is_audited(
    services: Services, market_sim: RunningSimulator
) -> None:
    quote = await services.spending.quote_transfer(staff_id=ALICE.user_id, guild_id=GUILD, username="a49", amount="5")
    market_sim.state.faults.drop_next("transfer-money", times=4)  # applied once, every answer lost
    outcome = await services.spending.confirm(quote.id, staff_id=ALICE.user_id)
    assert outcome.status == OutcomeStatus.UNKNOWN

    async def audited(resolved: list[Operation]) -> None:  # as bot/core.py wires it
        await services.spending.record_redriven(resolved, how="re-checked automatically")

    resolved = await recheck_once(services.journal, quiet_for=timedelta(0), on_resolved=audited)
    assert [op.id for op in resolved] == [outcome.operation.id]  # type: ignore[union-attr]
    latest = (await services.audit.query(AuditQuery()))[0].entry
    assert latest.result.startswith("re-checked automatically: Done:")
    assert "nothing was spent twice" in latest.result
    assert market_sim.state.user("a49").balance == Decimal("30.00")  # type: ignore[union-attr]
    assert await services.spending.unresolved() == []


# ---------------------------------------------------------------- limits
async def test_daily_limit_counts_unknown_and_pending(services: Services, market_sim: RunningSimulator) -> None:
    market_sim.state.faults.fail_next("transfer-money", times=4)
    quote = await services.spending.quote_transfer(staff_id=ALICE.user_id, guild_id=GUILD, username="a49", amount="100")
    unknown = await services.spending.confirm(quote.id, staff_id=ALICE.user_id)
    assert unknown.status == OutcomeStatus.UNKNOWN
    quote = await services.spending.quote_transfer(staff_id=ALICE.user_id, guild_id=GUILD, username="a49", amount="90")
    ok = await services.spending.confirm(quote.id, staff_id=ALICE.user_id)
    assert ok.status == OutcomeStatus.SUCCEEDED
    with pytest.raises(DailyLimitExceeded, match=r"used 190\.00 of 200\.00 NLE"):
        await services.spending.quote_gift(
            staff_id=ALICE.user_id, guild_id=GUILD, username="darth", product="cs2", days=30
        )
    # another staff member has their own limit
    await services.spending.quote_gift(staff_id=BOB.user_id, guild_id=GUILD, username="darth", product="cs2", days=30)
    assert AuditEvent.REFUSED in await _events(services)


async def test_daily_limit_rechecked_at_confirm(services: Services, market_sim: RunningSimulator) -> None:
    quotes = [
        await services.spending.quote_transfer(staff_id=ALICE.user_id, guild_id=GUILD, username="a49", amount="80")
        for _ in range(3)
    ]
    results = await asyncio.gather(
        *(services.spending.confirm(q.id, staff_id=ALICE.user_id) for q in quotes), return_exceptions=True
    )
    assert sum(1 for r in results if isinstance(r, DailyLimitExceeded)) == 1
    assert len(market_sim.state.effects("transfer-money")) == 2


def test_cooldown() -> None:
    now = [100.0]
    cooldown = Cooldown(5, clock=lambda: now[0])
    cooldown.hit(1)
    cooldown.hit(2)
    with pytest.raises(CooldownActive, match="in 5 s"):
        cooldown.hit(1)
    now[0] += 5
    cooldown.hit(1)


async def test_cooldown_refusal_is_audited(services: Services) -> None:
    services.cooldown.seconds = 60
    await services.spending.quote_give(staff_id=ALICE.user_id, guild_id=GUILD, username="a49", code="E3yugw")
    with pytest.raises(CooldownActive):
        await services.spending.quote_give(staff_id=ALICE.user_id, guild_id=GUILD, username="a49", code="E3yugw")
    assert await _events(services) == [AuditEvent.REFUSED]


# ---------------------------------------------------------------- approvals
async def _awaiting(services: Services, amount: str = "150") -> int:
    quote = await services.spending.quote_transfer(
        staff_id=ALICE.user_id, guild_id=GUILD, username="a49", amount=amount
    )
    assert quote.needs_approval
    outcome = await services.spending.confirm(quote.id, staff_id=ALICE.user_id)
    assert outcome.status == OutcomeStatus.AWAITING_APPROVAL
    assert outcome.approval is not None
    return outcome.approval.id


async def test_two_person_approval(services: Services, market_sim: RunningSimulator) -> None:
    approval_id = await _awaiting(services)
    assert market_sim.state.effects() == []
    with pytest.raises(ApprovalRefused, match="cannot approve your own transfer"):
        await services.spending.approve(approval_id, ALICE)
    with pytest.raises(NotStaff):
        await services.spending.approve(approval_id, MALLORY)
    first, second = await asyncio.gather(
        services.spending.approve(approval_id, BOB), services.spending.approve(approval_id, BOB)
    )
    results = [first, second]
    assert all(r.status == OutcomeStatus.SUCCEEDED for r in results)
    assert len(market_sim.state.effects("transfer-money")) == 1
    assert first.approval is not None
    assert first.approval.status is ApprovalStatus.APPROVED
    op = first.operation
    assert op is not None
    assert op.requested_by == ALICE.user_id
    with pytest.raises(ApprovalRefused, match="already approved"):
        await services.spending.approve(approval_id, StaffSubject(1009, frozenset({STAFF_ROLE}), manage_guild=False))
    events = await _events(services)
    assert events.count(AuditEvent.APPROVAL_REFUSED) == 3
    assert events[-3:] == [AuditEvent.REQUESTED, AuditEvent.SUCCEEDED, AuditEvent.APPROVAL_REFUSED]


async def test_denied_approval_sends_nothing_and_cannot_be_approved_later(
    services: Services, clock: Clock, market_sim: RunningSimulator
) -> None:
    approval_id = await _awaiting(services)
    with pytest.raises(NotStaff):
        await services.spending.deny(approval_id, MALLORY)
    denied = await services.spending.deny(approval_id, BOB)
    assert (denied.status, denied.decided_by) == (ApprovalStatus.DENIED, BOB.user_id)
    with pytest.raises(ApprovalRefused, match=f"already denied by <@{BOB.user_id}>"):
        await services.spending.approve(approval_id, BOB)
    with pytest.raises(ApprovalRefused, match="already denied"):
        await services.spending.deny(approval_id, BOB)
    assert market_sim.state.effects() == []
    entries = [r.entry for r in reversed(await services.audit.query(AuditQuery()))]
    assert [e.event for e in entries[-4:]] == [
        AuditEvent.APPROVAL_REFUSED,  # Mallory is not staff
        AuditEvent.APPROVAL_DENIED,
        AuditEvent.APPROVAL_REFUSED,  # approve after the denial
        AuditEvent.APPROVAL_REFUSED,  # a second denial
    ]
    denial = entries[-3]
    assert (denial.staff_id, denial.amount_nle) == (BOB.user_id, Decimal(150))
    assert denial.result == "denied; nothing was sent"

    withdrawn = await services.spending.deny(await _awaiting(services, "120"), ALICE)  # the requester withdraws
    assert withdrawn.status is ApprovalStatus.DENIED
    late = await _awaiting(services, "130")
    clock.advance(minutes=31)
    with pytest.raises(ApprovalRefused, match="expired"):
        await services.spending.deny(late, BOB)
    assert market_sim.state.effects() == []


async def test_approval_expiry(services: Services, clock: Clock, market_sim: RunningSimulator) -> None:
    approval_id = await _awaiting(services)
    clock.advance(minutes=31)
    with pytest.raises(ApprovalRefused, match="expired"):
        await services.spending.approve(approval_id, BOB)
    approval = await services.approvals.get(approval_id)
    assert approval is not None
    assert approval.status is ApprovalStatus.EXPIRED
    other = await _awaiting(services, "120")
    clock.advance(minutes=31)
    expired = await services.spending.expire_approvals()
    assert [a.id for a in expired] == [other]
    assert market_sim.state.effects() == []


async def test_approval_needs_audit_channel(services: Services) -> None:
    await services.config.set_channel(ChannelKind.AUDIT, AUDIT_CHANNEL, updated_by=1)
    services.spending._config = _NoAuditChannel(services.config)  # type: ignore[assignment]
    with pytest.raises(PrecheckFailed, match="no audit channel is configured"):
        await services.spending.quote_transfer(staff_id=ALICE.user_id, guild_id=GUILD, username="a49", amount="150")


class _NoAuditChannel:
    def __init__(self, inner: object) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    async def channel_id(self, kind: ChannelKind) -> int | None:
        return None


# ---------------------------------------------------------------- audit, hooks
async def test_audit_outbox_csv_and_pages(services: Services, market_sim: RunningSimulator) -> None:
    seen: list[Operation] = []

    async def hook(op: Operation) -> None:
        seen.append(op)

    async def broken(op: Operation) -> None:
        raise RuntimeError("hook bug")

    services.spending.add_success_hook(broken)
    services.spending.add_success_hook(hook)
    quote = await services.spending.quote_gift(
        staff_id=ALICE.user_id, guild_id=GUILD, username="darth", product=Product.CS2, days=90
    )
    outcome = await services.spending.confirm(quote.id, staff_id=ALICE.user_id)
    assert [op.status for op in seen] == [OperationStatus.SUCCEEDED]

    rows = await services.outbox.pending()
    assert [row.target for row in rows] == ["channel:audit", "channel:audit"]
    posted = json.loads(rows[-1].embeds) if isinstance(rows[-1].embeds, str) else rows[-1].embeds
    fields = {f["name"]: f["value"] for f in posted[0]["fields"]}
    assert fields["Staff"] == f"<@{ALICE.user_id}>"
    assert fields["For"] == "`darth`"
    assert fields["Price"] == "44.10 NLE"
    assert fields["Request id"] == f"`{outcome.request_id}`"
    assert fields["What"] == "CS2, 90 days"

    for _ in range(12):
        await services.spending.record_refusal(
            SpendKind.GIFT, staff_id=BOB.user_id, guild_id=GUILD, reason="=HYPERLINK(x)", username="darth"
        )
    everything = await services.audit.query(AuditQuery())
    assert len(everything) == 14
    only_alice = await services.audit.query(AuditQuery(staff_id=ALICE.user_id))
    assert {r.entry.staff_id for r in only_alice} == {ALICE.user_id}
    assert len(await services.audit.query(AuditQuery(username="DARTH"))) == 14
    page = paginate(everything, 1, per_page=10)
    assert (page.number, page.count, len(page.records)) == (1, 2, 4)
    assert paginate(everything, 9, per_page=10).number == 1
    parsed = list(csv.DictReader(io.StringIO(to_csv(everything).decode("utf-8-sig"))))
    assert len(parsed) == 14
    assert parsed[0]["result"] == "'=HYPERLINK(x)"
    assert parsed[-1]["request_id"] == outcome.request_id
    assert await services.audit.recent_usernames("da") == ["darth"]


async def test_audit_without_channel_posts_nothing(services: Services) -> None:
    audit = AuditLog(services.db, outbox=services.outbox, audit_channel=_none)
    await audit.record(_entry())
    assert await services.outbox.pending() == []
    assert len(await audit.query(AuditQuery())) == 1


async def _none() -> int | None:
    return None


def _entry() -> AuditEntry:
    return AuditEntry(action="gift", event=AuditEvent.REFUSED, staff_id=1, result="no")
