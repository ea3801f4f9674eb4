"""What staff do to orders from Discord, with the same rules as the spending commands, every step audited.

* **Confirm payment** (manual method; awaiting payment or just expired): counts the order's Market cost
  (``nle_cost``) toward the confirming staff member's daily limit (the fulfilment is journaled in their name,
  see :mod:`bot.orders.service`). Above ``TRANSFER_APPROVAL_THRESHOLD`` it needs a second staff member: the
  first confirmation is recorded as an order event (:data:`~bot.orders.discord_cards.APPROVAL_NOTE`) and the
  card shows **Approve payment**; a *different* staff member's approval then confirms the payment in the
  first one's name (their limit is checked again), as an approved ``/transfer`` runs for its requester.
* **Reject** (no money came), **cancel**, **retry** (needs attention), **refund** (recorded with a note; the
  answer shows the buyer's payment as the provider reported it, e.g. Crypto Pay's asset and amount).

Every refusal (limit, state, self-approval, unknown order) raises :class:`~bot.staff.errors.StaffError` with a
sentence for staff, after an audit entry. Confirmations of the same staff member run one at a time (their
daily limit cannot be overrun by two quick presses); actions on one order run one at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Protocol

from bot.i18n import DEFAULT_LOCALE, money, t
from bot.i18n.said import Said
from bot.locks import KeyedLocks
from bot.notifications.embeds import echoed
from bot.orders import localized
from bot.orders.discord_cards import APPROVAL_NOTE, pending_approval
from bot.orders.models import IllegalTransition, Order, OrderError, OrderNotFound, OrderState
from bot.orders.payment_details import details_lines, payer_details
from bot.orders.service import OrderService
from bot.orders.staff_spending import OrderSpending
from bot.shop.catalog import PaymentMethod
from bot.staff.audit import AuditLog
from bot.staff.errors import NotStaff, StaffError
from bot.staff.limits import Clock, DailyLimit, utc_now
from bot.staff.models import AuditEntry, AuditEvent
from bot.staff.permissions import StaffSubject, is_staff

log = logging.getLogger(__name__)

CONFIRMABLE = (OrderState.AWAITING_PAYMENT, OrderState.EXPIRED)


class StaffConfig(Protocol):
    """The part of ``GuildConfig`` the actions read."""

    async def staff_role_ids(self) -> frozenset[int]: ...
    async def daily_limit(self) -> Decimal: ...
    async def transfer_approval_threshold(self) -> Decimal: ...


class OrderRefusal(StaffError):
    """An order action refused on our side; the message says why."""


@dataclass(frozen=True, slots=True)
class ActionResult:
    order: Order
    text: str
    said: Said | None = None

    def text_in(self, locale: str) -> str:
        """The answer in the reader's language (``text`` is the English, as audited)."""
        return self.text if self.said is None else self.said(locale)


class OrderStaffActions:
    def __init__(
        self,
        orders: OrderService,
        *,
        audit: AuditLog,
        config: StaffConfig,
        spent: OrderSpending,
        clock: Clock = utc_now,
    ) -> None:
        self.orders = orders
        self.audit = audit
        self._config = config
        self.limit = DailyLimit(spent, config, clock=clock)
        self._staff_locks = KeyedLocks[int]()
        self._order_locks = KeyedLocks[str]()

    # ------------------------------------------------------------------ helpers
    async def _audit(
        self,
        action: str,
        event: AuditEvent,
        staff: StaffSubject,
        *,
        order: Order | None,
        order_id: str,
        result: str,
        guild_id: int | None = None,
    ) -> None:
        await self.audit.record(
            AuditEntry(
                action=f"order {action}",
                event=event,
                staff_id=staff.user_id,
                guild_id=guild_id,
                username=None if order is None else order.login,
                detail=f"order {order_id}" + ("" if order is None else f": {order.description}"),
                amount_nle=None if order is None else order.nle_cost,
                request_id=None if order is None else order.request_id,
                result=result,
            )
        )

    async def _refuse(
        self,
        action: str,
        staff: StaffSubject,
        order_id: str,
        text: str | Callable[[str], str],
        *,
        order: Order | None = None,
        guild_id: int | None = None,
        event: AuditEvent = AuditEvent.REFUSED,
    ) -> OrderRefusal:
        english = text if isinstance(text, str) else text(DEFAULT_LOCALE)
        await self._audit(action, event, staff, order=order, order_id=order_id, result=english, guild_id=guild_id)
        # pragma: no mutate start
        log.info("order action refused action=%s order_id=%s staff=%s", action, order_id, staff.user_id)
        # pragma: no mutate end
        return OrderRefusal(english, None if isinstance(text, str) else text)

    async def record_refusal(self, action: str, user_id: int, order_id: str, reason: str, guild_id: int | None) -> None:
        """Audit an order action refused before it reached these rules (a non-staff member pressed a button)."""
        subject = StaffSubject(user_id, frozenset(), manage_guild=False)  # pragma: no mutate (only its id is read)
        await self._audit(
            action, AuditEvent.REFUSED, subject, order=None, order_id=order_id, result=reason, guild_id=guild_id
        )

    async def _get(self, action: str, staff: StaffSubject, order_id: str, guild_id: int | None) -> Order:
        if not await is_staff(staff, self._config):
            await self._audit(
                action, AuditEvent.REFUSED, staff, order=None, order_id=order_id, result="not staff", guild_id=guild_id
            )
            raise NotStaff()
        try:
            return await self.orders.get(order_id)
        except OrderNotFound:
            raise await self._refuse(
                action, staff, order_id, Said("orders.no_order", {"id": echoed(order_id[:64], 64)}), guild_id=guild_id
            ) from None

    async def _checked_limit(
        self, action: str, staff: StaffSubject, order: Order, limit_of: int, guild_id: int | None
    ) -> None:
        try:
            await self.limit.check(limit_of, order.nle_cost)
        except StaffError as exc:
            said = exc.said or exc.message  # the limit's sentence in the reader's language
            raise await self._refuse(action, staff, order.id, said, order=order, guild_id=guild_id) from None

    # ------------------------------------------------------------------ confirm / approve
    async def confirm(self, order_id: str, staff: StaffSubject, *, guild_id: int | None = None) -> ActionResult:
        """A staff member confirms a manual payment (see the module docstring)."""
        order = await self._get("confirm", staff, order_id, guild_id)
        async with self._order_locks(order.id), self._staff_locks(staff.user_id):
            order = await self.orders.get(order.id)
            if order.method is not PaymentMethod.MANUAL or order.state not in CONFIRMABLE:
                why = "orders.action.not_manual" if order.state in CONFIRMABLE else "orders.action.nothing_to_confirm"
                text = Said(why, {"id": order.id, "state": partial(localized.state_choice, order.state)})
                raise await self._refuse("confirm", staff, order.id, text, order=order, guild_id=guild_id)
            await self._checked_limit("confirm", staff, order, staff.user_id, guild_id)
            threshold = await self._config.transfer_approval_threshold()
            if order.nle_cost > threshold:
                return await self._request_approval(order, staff, threshold, guild_id)
            return await self._confirm(order, f"staff:{staff.user_id}", "confirm", staff, guild_id)

    async def _request_approval(
        self, order: Order, staff: StaffSubject, threshold: Decimal, guild_id: int | None
    ) -> ActionResult:
        waiting = pending_approval(await self.orders.history(order.id))
        said = Said(
            "orders.action.threshold",
            {
                "cost": lambda locale: money(order.nle_cost.quantize(CENTS), "NLE", locale),
                "threshold": lambda locale: money(threshold.quantize(CENTS), "NLE", locale),
                "button": lambda locale: t(locale, "orders.button.approve"),
            },
        )
        text = said()
        if waiting is not None:
            again = Said("orders.action.already_waiting", {"mention": f"<@{waiting}>", "text": said})
            return ActionResult(order, again(), again)
        order = await self.orders.repo.move(
            order.id, order.state, actor=f"staff:{staff.user_id}", note=APPROVAL_NOTE, expect=order.state
        )
        await self._audit(
            "confirm",
            AuditEvent.APPROVAL_REQUESTED,
            staff,
            order=order,
            order_id=order.id,
            result=text,
            guild_id=guild_id,
        )
        return ActionResult(order, text, said)

    async def _confirm(
        self,
        order: Order,
        actor: str,
        action: str,
        staff: StaffSubject,
        guild_id: int | None,
        event: AuditEvent = AuditEvent.REQUESTED,
    ) -> ActionResult:
        try:
            order = await self.orders.confirm_payment(order.id, PaymentMethod.MANUAL, None, actor)
        except OrderError as exc:
            raise await self._refuse(action, staff, order.id, _refused(exc), order=order, guild_id=guild_id) from None
        delivered = order
        said = Said(
            "orders.action.confirmed",
            {"id": order.id, "product": lambda locale: localized.description(delivered, locale), "login": order.login},
        )
        text = said()
        await self._audit(action, event, staff, order=order, order_id=order.id, result=text, guild_id=guild_id)
        return ActionResult(order, text, said)

    async def approve(self, order_id: str, staff: StaffSubject, *, guild_id: int | None = None) -> ActionResult:
        """A second staff member approves a confirmation above the threshold."""
        order = await self._get("approve", staff, order_id, guild_id)
        async with self._order_locks(order.id):
            order = await self.orders.get(order.id)
            requester = pending_approval(await self.orders.history(order.id)) if order.state in CONFIRMABLE else None
            if requester is None:
                text = Said(
                    "orders.action.no_approval", {"id": order.id, "state": partial(localized.state_choice, order.state)}
                )
                raise await self._refuse(
                    "approve", staff, order.id, text, order=order, guild_id=guild_id, event=AuditEvent.APPROVAL_REFUSED
                )
            if requester == staff.user_id:
                text = Said("orders.action.own")
                raise await self._refuse(
                    "approve", staff, order.id, text, order=order, guild_id=guild_id, event=AuditEvent.APPROVAL_REFUSED
                )
            async with self._staff_locks(requester):
                await self._checked_limit("approve", staff, order, requester, guild_id)
                result = await self._confirm(
                    order, f"staff:{requester}", "approve", staff, guild_id, event=AuditEvent.APPROVED
                )
        approved = Said("orders.action.approved", {"text": result.said or result.text, "mention": f"<@{requester}>"})
        return ActionResult(result.order, approved(), approved)

    # ------------------------------------------------------------------ the others
    async def _simple(
        self,
        action: str,
        order_id: str,
        staff: StaffSubject,
        guild_id: int | None,
        run: Callable[[str], Awaitable[Order]],
        done: Callable[[Order], Said],
        event: AuditEvent = AuditEvent.SUCCEEDED,
    ) -> ActionResult:
        order = await self._get(action, staff, order_id, guild_id)
        async with self._order_locks(order.id):
            try:
                order = await run(order.id)
            except IllegalTransition as exc:
                past = f"orders.action.past.{action}"
                illegal = Said(
                    "orders.action.illegal",
                    {
                        "id": exc.order_id,
                        "state": partial(localized.state_choice, exc.current),
                        "past": lambda locale: t(locale, past),
                    },
                )
                raise await self._refuse(action, staff, order.id, illegal, order=order, guild_id=guild_id) from None
            except OrderError as exc:
                raise await self._refuse(
                    action, staff, order.id, _refused(exc), order=order, guild_id=guild_id
                ) from None
        said = done(order)
        text = said()
        await self._audit(action, event, staff, order=order, order_id=order.id, result=text, guild_id=guild_id)
        return ActionResult(order, text, said)

    async def reject(
        self, order_id: str, staff: StaffSubject, reason: str | None = None, *, guild_id: int | None = None
    ) -> ActionResult:
        why = reason or "payment not received"
        return await self._simple(
            "reject",
            order_id,
            staff,
            guild_id,
            lambda oid: self.orders.reject_payment(oid, f"staff:{staff.user_id}", why),
            lambda o: Said("orders.action.rejected", {"id": o.id, "why": why}),
        )

    async def cancel(
        self, order_id: str, staff: StaffSubject, reason: str | None = None, *, guild_id: int | None = None
    ) -> ActionResult:
        why = reason or "cancelled by staff"
        return await self._simple(
            "cancel",
            order_id,
            staff,
            guild_id,
            lambda oid: self.orders.cancel(oid, f"staff:{staff.user_id}", why),
            lambda o: Said("orders.action.cancelled", {"id": o.id, "why": why}),
        )

    async def retry(self, order_id: str, staff: StaffSubject, *, guild_id: int | None = None) -> ActionResult:
        def done(order: Order) -> Said:
            if order.state is OrderState.DELIVERED:
                return Said("orders.action.retried_delivered", {"id": order.id})
            if order.state is OrderState.NEEDS_ATTENTION:
                error = order.last_error
                # pragma: no mutate start (a refused delivery always has its error: never reached)
                reason = error if error else (lambda locale: t(locale, "orders.action.no_reason"))
                # pragma: no mutate end
                return Said("orders.action.retried_refused", {"id": order.id, "reason": reason})
            return Said(
                "orders.action.retried_unknown", {"id": order.id, "state": partial(localized.state_choice, order.state)}
            )

        return await self._simple(
            "retry",
            order_id,
            staff,
            guild_id,
            lambda oid: self.orders.retry(oid, f"staff:{staff.user_id}"),
            done,
            event=AuditEvent.RETRIED,
        )

    async def refund(
        self, order_id: str, staff: StaffSubject, note: str, *, guild_id: int | None = None
    ) -> ActionResult:
        result = await self._simple(
            "refund",
            order_id,
            staff,
            guild_id,
            lambda oid: self.orders.refund(oid, f"staff:{staff.user_id}", note),
            lambda o: Said("orders.action.refunded", {"id": o.id, "note": note.strip()[:300]}),
        )
        details = await self.payment_details(result.order)
        if details is None:
            return result
        order = result.order

        def lines(locale: str) -> str:
            return "\n".join(details_lines(order, details, locale))

        said = Said("orders.action.refund_details", {"text": result.said or result.text, "lines": lines})
        return ActionResult(result.order, said(), said)

    async def payment_details(self, order: Order) -> dict[str, str] | None:
        """The buyer's payment as its provider reported it (see :mod:`bot.orders.payment_details`)."""
        return await payer_details(self.orders.providers, order)


CENTS = Decimal("0.01")


def _refused(exc: OrderError) -> Said:
    """``Refused: <the order service's reason>.``, the reason in the reader's language when it is a catalog one."""
    return Said("orders.action.refused", {"reason": lambda locale: localized.refusal(str(exc), locale)})
