"""SpendingService: quote → confirm → execute through the spending journal, audited end to end.

1. ``quote_gift`` / ``quote_give`` / ``quote_transfer`` validate the input, apply the member's cooldown,
   run the Market pre-checks in parallel and the daily limit, and return a :class:`Quote` to confirm.
   Every refusal is audited.
2. ``confirm`` is single-flight per quote: the first call consumes the quote and starts ONE task that
   records the operation in the journal (commit before spend) and runs it; concurrent or repeated calls
   await that same task and get its outcome marked ``duplicate``. A transfer above the approval threshold
   becomes a persisted :class:`~bot.staff.approvals.Approval` instead.
3. ``approve`` lets a second, different staff member start an approved transfer (atomic claim, once).
4. ``retry`` re-sends an operation of unknown outcome with its own request id (``journal.run``).

The daily limit is checked again under a per-staff lock right before the journal records the operation,
so two concurrent confirms cannot both slip under it. Success hooks run after an operation succeeded.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from bot.guild_config import ChannelKind
from bot.i18n import money, t
from bot.i18n.said import Said, nle
from bot.market.journal import Operation, OperationNotFound, OperationStatus, SpendingJournal
from bot.market.models import Plan, Product
from bot.staff import inputs
from bot.staff.approvals import Approval, ApprovalStore
from bot.staff.audit import AuditLog
from bot.staff.errors import (
    ApprovalRefused,
    ConfirmationClosed,
    NotStaff,
    OutcomeUnknown,
    PrecheckFailed,
    StaffError,
)
from bot.staff.limits import Clock, Cooldown, DailyLimit, utc_now
from bot.staff.models import AuditEntry, AuditEvent, Quote, SpendKind
from bot.staff.permissions import StaffSubject, is_staff
from bot.staff.prechecks import MarketReader, Prechecks

log = logging.getLogger(__name__)

SuccessHook = Callable[[Operation], Awaitable[None]]
DEFAULT_QUOTE_TTL = timedelta(minutes=5)
_KEEP_RESULTS = 256


class StaffConfig(Protocol):
    """The part of ``bot.guild_config.GuildConfig`` the service uses."""

    async def staff_role_ids(self) -> frozenset[int]: ...
    async def daily_limit(self) -> Decimal: ...
    async def transfer_approval_threshold(self) -> Decimal: ...
    async def channel_id(self, kind: ChannelKind) -> int | None: ...


class OutcomeStatus:
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"
    AWAITING_APPROVAL = "awaiting approval"


_AUDIT_EVENTS = {OutcomeStatus.SUCCEEDED: AuditEvent.SUCCEEDED, OutcomeStatus.FAILED: AuditEvent.FAILED}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened after a confirmation, an approval or a retry."""

    status: str
    text: str
    operation: Operation | None = None
    approval: Approval | None = None
    duplicate: bool = False
    said: Callable[[str], str] | None = None  # ``text`` in a reader's language (``text`` is the audited English)

    def text_in(self, locale: str) -> str:
        return self.text if self.said is None else self.said(locale)

    @property
    def request_id(self) -> str | None:
        return None if self.operation is None else self.operation.request_id


class SpendingService:
    def __init__(
        self,
        *,
        market: MarketReader,
        journal: SpendingJournal,
        audit: AuditLog,
        approvals: ApprovalStore,
        config: StaffConfig,
        cooldown: Cooldown,
        quote_ttl: timedelta = DEFAULT_QUOTE_TTL,
        clock: Clock = utc_now,
    ) -> None:
        self._prechecks = Prechecks(market)
        self._journal = journal
        self.audit = audit
        self.approvals = approvals
        self._config = config
        self._cooldown = cooldown
        self._limit = DailyLimit(journal, config, clock=clock)
        self._quote_ttl = quote_ttl
        self._clock = clock
        self._quotes: dict[str, tuple[Quote, datetime]] = {}
        self._inflight: OrderedDict[str, asyncio.Task[Outcome]] = OrderedDict()
        self._staff_locks: dict[int, asyncio.Lock] = {}
        self._hooks: list[SuccessHook] = []

    @property
    def prechecks(self) -> Prechecks:
        return self._prechecks

    @property
    def daily_limit(self) -> DailyLimit:
        return self._limit

    def add_success_hook(self, hook: SuccessHook) -> None:
        """``hook(operation)`` runs after a spending operation succeeded (its errors are logged)."""
        self._hooks.append(hook)

    # ------------------------------------------------------------------ refusals
    async def record_refusal(
        self, kind: SpendKind, *, staff_id: int, guild_id: int | None, reason: str, username: str | None = None
    ) -> None:
        """Audit a refused spending command (permission, cooldown, validation, pre-check, limit)."""
        await self.audit.record(
            AuditEntry(
                action=kind.value,
                event=AuditEvent.REFUSED,
                staff_id=staff_id,
                guild_id=guild_id,
                username=username,
                result=reason,
            )
        )

    # ------------------------------------------------------------------ quotes
    async def quote_gift(
        self, *, staff_id: int, guild_id: int | None, username: str, product: Product | str, days: int
    ) -> Quote:
        async def build() -> Quote:
            name = inputs.username(username)
            chosen = product if isinstance(product, Product) else inputs.product(product)
            plan = inputs.plan(days)
            self._cooldown.hit(staff_id)
            check = await self._prechecks.gift(name, chosen, plan)
            quote = Quote(
                id=_new_id(),
                kind=SpendKind.GIFT,
                staff_id=staff_id,
                guild_id=guild_id,
                username=name,
                amount_nle=check.price.nle,
                product=chosen,
                plan=plan,
                amount_rub=check.price.rub,
                balance=check.balance,
            )
            await self._limit.check(staff_id, quote.amount_nle)
            return quote

        return await self._quote(SpendKind.GIFT, staff_id, guild_id, username, build)

    async def quote_give(self, *, staff_id: int, guild_id: int | None, username: str, code: str) -> Quote:
        async def build() -> Quote:
            name = inputs.username(username)
            item = inputs.item_code(code)
            self._cooldown.hit(staff_id)
            await self._prechecks.give(name)
            return Quote(
                id=_new_id(),
                kind=SpendKind.GIVE,
                staff_id=staff_id,
                guild_id=guild_id,
                username=name,
                amount_nle=Decimal("0.00"),
                item_code=item,
            )

        return await self._quote(SpendKind.GIVE, staff_id, guild_id, username, build)

    async def quote_transfer(
        self, *, staff_id: int, guild_id: int | None, username: str, amount: str | int | float | Decimal
    ) -> Quote:
        async def build() -> Quote:
            name = inputs.username(username)
            value = inputs.amount(amount)
            self._cooldown.hit(staff_id)
            needs_approval = value > await self._config.transfer_approval_threshold()
            if needs_approval and await self._config.channel_id(ChannelKind.AUDIT) is None:
                threshold = await self._config.transfer_approval_threshold()
                raise PrecheckFailed.said_as(Said("staff.refusal.no_audit_channel", {"threshold": nle(threshold)}))
            await self._limit.check(staff_id, value)
            balance = await self._prechecks.transfer(name, value)
            return Quote(
                id=_new_id(),
                kind=SpendKind.TRANSFER,
                staff_id=staff_id,
                guild_id=guild_id,
                username=name,
                amount_nle=value,
                balance=balance,
                needs_approval=needs_approval,
            )

        return await self._quote(SpendKind.TRANSFER, staff_id, guild_id, username, build)

    async def _quote(
        self,
        kind: SpendKind,
        staff_id: int,
        guild_id: int | None,
        username: str,
        build: Callable[[], Awaitable[Quote]],
    ) -> Quote:
        try:
            quote = await build()
        except StaffError as exc:
            await self.record_refusal(
                kind, staff_id=staff_id, guild_id=guild_id, reason=exc.message, username=username[:64]
            )
            raise
        self._quotes[quote.id] = (quote, self._clock())
        self._forget_stale_quotes()
        log.info(
            "quote ready id=%s kind=%s staff=%s username=%s amount=%s",
            quote.id,
            kind.value,
            staff_id,
            quote.username,
            quote.amount_nle,
        )
        return quote

    def cancel(self, quote_id: str) -> bool:
        """Drop an unconfirmed quote (Cancel button or timeout); False when it was already used."""
        return self._quotes.pop(quote_id, None) is not None

    def _forget_stale_quotes(self) -> None:
        oldest = self._clock() - self._quote_ttl
        for quote_id in [q for q, (_, at) in self._quotes.items() if at < oldest]:
            del self._quotes[quote_id]

    # ------------------------------------------------------------------ confirm (single-flight)
    async def confirm(self, quote_id: str, *, staff_id: int) -> Outcome:
        """Run the quoted operation once; concurrent or repeated confirms share the first one's outcome."""
        running = self._inflight.get(quote_id)
        if running is not None:
            log.info("confirm repeated quote=%s staff=%s", quote_id, staff_id)
            return replace(await asyncio.shield(running), duplicate=True)
        stored = self._quotes.get(quote_id)
        if stored is None:
            raise ConfirmationClosed.said_as(Said("staff.closed.expired_or_cancelled"))
        quote, created = stored
        if quote.staff_id != staff_id:
            raise ConfirmationClosed.said_as(Said("staff.closed.not_yours"))
        del self._quotes[quote_id]
        if self._clock() - created > self._quote_ttl:
            raise ConfirmationClosed.said_as(Said("staff.closed.expired"))
        task = asyncio.ensure_future(self._execute(quote))
        self._inflight[quote_id] = task
        while len(self._inflight) > _KEEP_RESULTS:
            self._inflight.popitem(last=False)
        return await asyncio.shield(task)

    def _lock(self, staff_id: int) -> asyncio.Lock:
        return self._staff_locks.setdefault(staff_id, asyncio.Lock())

    async def _execute(self, quote: Quote) -> Outcome:
        if quote.needs_approval:
            return await self._request_approval(quote)
        op = await self._record(quote, requested_by=quote.staff_id)
        return await self._run(op, quote, actor=quote.staff_id)

    async def _record(self, quote: Quote, *, requested_by: int, note: str = "") -> Operation:
        """Check the daily limit and commit the operation to the journal (under the requester's lock)."""
        async with self._lock(requested_by):
            try:
                await self._limit.check(requested_by, quote.amount_nle)
            except StaffError as exc:
                await self.record_refusal(
                    quote.kind,
                    staff_id=requested_by,
                    guild_id=quote.guild_id,
                    reason=exc.message,
                    username=quote.username,
                )
                raise
            op = await self._journal.create(
                quote.kind.method,
                quote.params,
                requested_by=requested_by,
                # a free item's price is not known to the API client; it is not counted against the limit
                amount_nle=None if quote.kind is SpendKind.GIVE else quote.amount_nle,
                guild_id=quote.guild_id,
            )
        await self._audit(quote, AuditEvent.REQUESTED, op, staff_id=requested_by, result=note)
        return op

    async def _run(self, op: Operation, quote: Quote | None, *, actor: int) -> Outcome:
        op = await self._journal.run(op)  # records the outcome; never raises for Market failures
        outcome = self._outcome(op)
        event = _AUDIT_EVENTS.get(outcome.status, AuditEvent.UNKNOWN)
        await self._audit(quote, event, op, staff_id=actor, result=outcome.text)
        log.info(
            "operation finished id=%s request_id=%s method=%s status=%s",
            op.id,
            op.request_id,
            op.method,
            outcome.status,
        )
        if outcome.status == OutcomeStatus.SUCCEEDED:
            await self._run_hooks(op)
        return outcome

    async def record_redriven(
        self, operations: Sequence[Operation], *, how: str = "re-sent after a restart"
    ) -> list[Outcome]:
        """Audit the outcomes of operations the journal sent again by itself (at start-up, left open by a crash
        or kill; or by the periodic re-check of unknown ones: ``how`` says which), and run the success hooks,
        so staff see them in the audit channel and ``/audit`` like any other outcome."""
        outcomes: list[Outcome] = []
        for op in operations:
            outcome = self._outcome(op)
            event = _AUDIT_EVENTS.get(outcome.status, AuditEvent.UNKNOWN)
            result = f"{how}: {outcome.text}"
            await self._audit(None, event, op, staff_id=op.requested_by or 0, result=result)
            if outcome.status == OutcomeStatus.SUCCEEDED:
                await self._run_hooks(op)
            outcomes.append(outcome)
        return outcomes

    @staticmethod
    def _outcome(op: Operation) -> Outcome:
        if op.status is OperationStatus.SUCCEEDED:
            done = Said(
                "staff.outcome.done", {"detail": lambda locale: _detail_in(op, locale), "username": op.username}
            )

            def succeeded(locale: str) -> str:
                retried = " " + t(locale, "staff.outcome.confirmed_on_retry") if op.confirmed_on_retry else ""
                return done(locale) + retried

            return Outcome(OutcomeStatus.SUCCEEDED, succeeded("en"), op, said=succeeded)
        if op.status is OperationStatus.FAILED:
            refused = Said("staff.outcome.refused", {"reason": op.error or Said("staff.outcome.no_reason")})
            return Outcome(OutcomeStatus.FAILED, refused(), op, said=refused)
        unknown = OutcomeUnknown(op.request_id)
        return Outcome(OutcomeStatus.UNKNOWN, unknown.message, op, said=unknown.said)

    async def _run_hooks(self, op: Operation) -> None:
        for hook in self._hooks:
            try:
                await hook(op)
            except Exception:
                log.exception("success hook failed operation=%s hook=%r", op.id, hook)

    async def _audit(
        self, quote: Quote | None, event: AuditEvent, op: Operation, *, staff_id: int, result: str = ""
    ) -> None:
        kind = quote.kind if quote is not None else _kind_of(op.method)
        await self.audit.record(
            AuditEntry(
                action=kind.value,
                event=event,
                staff_id=staff_id,
                guild_id=op.guild_id,
                username=op.username,
                item_code=quote.item_code if quote is not None else op.params.get("code"),
                detail=quote.detail if quote is not None else _detail_of(op),
                amount_nle=None if kind is SpendKind.GIVE else op.amount_nle,
                request_id=op.request_id,
                operation_id=op.id,
                result=result,
            )
        )

    # ------------------------------------------------------------------ two-person approval
    async def _request_approval(self, quote: Quote) -> Outcome:
        async with self._lock(quote.staff_id):
            await self._limit.check(quote.staff_id, quote.amount_nle)
            approval = await self.approvals.create(
                requested_by=quote.staff_id, guild_id=quote.guild_id, username=quote.username, amount=quote.amount_nle
            )
        await self.audit.record(
            AuditEntry(
                action=SpendKind.TRANSFER.value,
                event=AuditEvent.APPROVAL_REQUESTED,
                staff_id=quote.staff_id,
                guild_id=quote.guild_id,
                username=quote.username,
                detail=f"{quote.detail}, approval #{approval.id}",
                amount_nle=quote.amount_nle,
                result=f"waiting for a second staff member until {approval.expires_at:%Y-%m-%d %H:%M} UTC",
            )
        )
        said = Said("staff.outcome.awaiting_approval", {"id": approval.id, "time": f"{approval.expires_at:%H:%M}"})
        return Outcome(OutcomeStatus.AWAITING_APPROVAL, said(), approval=approval, said=said)

    async def approve(self, approval_id: int, approver: StaffSubject) -> Outcome:
        """A second staff member approves: atomic claim (once), then the transfer runs for the requester.

        A double click by the same approver shares the running attempt; anyone else racing for the same
        approval is refused by the atomic claim.
        """
        key = f"approval:{approval_id}:{approver.user_id}"
        running = self._inflight.get(key)
        if running is not None and not running.done():
            return replace(await asyncio.shield(running), duplicate=True)
        task = asyncio.ensure_future(self._approve(approval_id, approver))
        self._inflight[key] = task
        task.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(task)

    async def _approve(self, approval_id: int, approver: StaffSubject) -> Outcome:
        approval = await self._decide(approval_id, approver, self.approvals.claim)
        return await self._execute_approved(approval, approver.user_id)

    async def deny(self, approval_id: int, decider: StaffSubject) -> Approval:
        """A staff member (the requester too: withdrawing it) denies a pending approval; nothing is sent.

        Atomic like :meth:`approve`: whoever decides first wins, the other is refused with who decided.
        """
        approval = await self._decide(approval_id, decider, self.approvals.deny)
        await self.audit.record(
            _closed_approval_entry(
                approval, AuditEvent.APPROVAL_DENIED, staff_id=decider.user_id, result="denied; nothing was sent"
            )
        )
        return approval

    async def _decide(
        self, approval_id: int, decider: StaffSubject, decide: Callable[[int, int], Awaitable[Approval]]
    ) -> Approval:
        """Check the decider is staff, then ``decide`` atomically; a refusal (either) is audited and raised."""
        try:
            if not await is_staff(decider, self._config):
                raise NotStaff()
            return await decide(approval_id, decider.user_id)
        except (ApprovalRefused, NotStaff) as exc:
            await self.audit.record(
                AuditEntry(
                    action=SpendKind.TRANSFER.value,
                    event=AuditEvent.APPROVAL_REFUSED,
                    staff_id=decider.user_id,
                    detail=f"approval #{approval_id}",
                    result=exc.message,
                )
            )
            raise

    async def _execute_approved(self, approval: Approval, approver_id: int) -> Outcome:
        quote = Quote(
            id=f"approval-{approval.id}",
            kind=SpendKind.TRANSFER,
            staff_id=approval.requested_by,
            guild_id=approval.guild_id,
            username=approval.username,
            amount_nle=approval.amount,
        )
        await self.audit.record(
            AuditEntry(
                action=SpendKind.TRANSFER.value,
                event=AuditEvent.APPROVED,
                staff_id=approver_id,
                guild_id=approval.guild_id,
                username=approval.username,
                detail=f"{quote.detail}, approval #{approval.id}, requested by <@{approval.requested_by}>",
                amount_nle=approval.amount,
            )
        )
        op = await self._record(quote, requested_by=approval.requested_by, note=f"approved by <@{approver_id}>")
        await self.approvals.set_operation(approval.id, op.id)
        outcome = await self._run(op, quote, actor=approval.requested_by)
        return replace(outcome, approval=await self.approvals.get(approval.id))

    async def expire_approvals(self) -> list[Approval]:
        """Mark overdue approvals expired and audit each (nothing was sent for them)."""
        expired = await self.approvals.expire_due()
        for approval in expired:
            entry = _closed_approval_entry(
                approval,
                AuditEvent.APPROVAL_EXPIRED,
                staff_id=approval.requested_by,
                result="expired without a second approval; nothing was sent",
            )
            await self.audit.record(entry)
        return expired

    # ------------------------------------------------------------------ unknown outcomes
    async def unresolved(self) -> list[Operation]:
        """Operations whose outcome is still unknown (or pending), oldest first."""
        return await self._journal.list_unresolved()

    async def retry(self, operation_id: int, *, staff_id: int) -> Outcome:
        """Re-send an unresolved operation with its own request id (safe: never spends twice)."""
        key = f"op:{operation_id}"
        running = self._inflight.get(key)
        if running is not None and not running.done():
            return replace(await asyncio.shield(running), duplicate=True)
        try:
            op = await self._journal.get(operation_id)
        except OperationNotFound:
            raise ConfirmationClosed.said_as(Said("staff.closed.no_operation", {"id": operation_id})) from None
        if op.resolved:
            return replace(self._outcome(op), duplicate=True)
        await self.audit.record(
            AuditEntry(
                action=_kind_of(op.method).value,
                event=AuditEvent.RETRIED,
                staff_id=staff_id,
                guild_id=op.guild_id,
                username=op.username,
                detail=_detail_of(op),
                request_id=op.request_id,
                operation_id=op.id,
                result=f"re-sent by <@{staff_id}> with the same request id",
            )
        )
        task = asyncio.ensure_future(self._run(op, None, actor=op.requested_by or staff_id))
        self._inflight[key] = task
        return await asyncio.shield(task)


def _new_id() -> str:
    return secrets.token_urlsafe(9)


def _kind_of(method: str) -> SpendKind:
    for kind in SpendKind:
        if kind.method == method:
            return kind
    raise ValueError(f"not a spending method: {method}")


def _detail_of(op: Operation) -> str:
    kind = _kind_of(op.method)
    if kind is SpendKind.GIFT:
        product = Product(op.params["product"])
        return f"{product.label}, {Plan(int(op.params['cnt'])).days} days"
    if kind is SpendKind.GIVE:
        return f"item {op.params.get('code')}"
    return f"{Decimal(str(op.params.get('amount', op.amount_nle))):.2f} NLE"


def _detail_in(op: Operation, locale: str) -> str:
    """:func:`_detail_of` in ``locale``."""
    kind = _kind_of(op.method)
    if kind is SpendKind.GIFT:
        product = Product(op.params["product"])
        return t(locale, "staff.detail.gift", product=product.label, days=Plan(int(op.params["cnt"])).days)
    if kind is SpendKind.GIVE:
        return t(locale, "staff.detail.give", code=op.params.get("code"))
    return money(Decimal(str(op.params.get("amount", op.amount_nle))), "NLE", locale)


def _closed_approval_entry(approval: Approval, event: AuditEvent, *, staff_id: int, result: str) -> AuditEntry:
    """The audit entry of an approval that ended without sending anything (denied, expired)."""
    return AuditEntry(
        action=SpendKind.TRANSFER.value,
        event=event,
        staff_id=staff_id,
        guild_id=approval.guild_id,
        username=approval.username,
        detail=f"{approval.amount:.2f} NLE, approval #{approval.id}, requested by <@{approval.requested_by}>",
        amount_nle=approval.amount,
        result=result,
    )
