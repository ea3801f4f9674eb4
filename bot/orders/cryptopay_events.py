"""The order side of Crypto Pay: what a confirmed, late or expired Crypto Pay invoice does to its order.

- a payment for an order awaiting it confirms the order (``OrderService.payment_confirmed``: paid, then
  delivered exactly once); for an order already paid or delivered it changes nothing;
- a payment for an order that expired (late) moves it to ``needs_attention`` with the Crypto Pay reference:
  the money arrived, staff decide (``/order retry`` delivers, ``/order refund`` records a refund by hand);
- a payment for a cancelled order cannot be applied: :class:`PaymentNotApplicable` (the provider alerts staff);
- an expired invoice expires its order if it is still awaiting payment.
"""

from __future__ import annotations

import contextlib
import logging

from bot.orders.models import IllegalTransition, OrderState
from bot.orders.service import OrderService
from bot.payments.cryptopay.provider import ACTOR, PaymentNotApplicable
from bot.payments.provider import PaymentStatus
from bot.shop.catalog import PaymentMethod

log = logging.getLogger(__name__)

LATE_NOTE = "paid with Crypto Pay after the order expired: deliver with retry, or refund by hand"
LATE_ERROR = "paid after the order expired"
"""The order's last error for a late payment (shown by its ``orders.last_error.late`` message)."""


class OrderPaymentEvents:
    """:class:`~bot.payments.cryptopay.provider.OrderEvents` over the order service."""

    def __init__(self, service: OrderService) -> None:
        self._service = service

    async def payment_confirmed(self, order_id: str, status: PaymentStatus) -> None:
        order = await self._service.get(order_id)
        if order.state is OrderState.EXPIRED:
            await self.payment_late(order_id, status)
            return
        if order.state is OrderState.CANCELLED:
            raise PaymentNotApplicable.cancelled()
        try:
            await self._service.payment_confirmed(order_id, PaymentMethod.CRYPTOPAY, status, ACTOR)
        except IllegalTransition as exc:
            raise PaymentNotApplicable.in_state(exc.current.value) from None

    async def payment_late(self, order_id: str, status: PaymentStatus) -> None:
        order = await self._service.get(order_id)
        if order.state is OrderState.CANCELLED:
            raise PaymentNotApplicable.cancelled()
        if order.state is not OrderState.EXPIRED:
            # still awaiting (the invoice was replaced) or already paid: an ordinary confirmation
            await self._service.payment_confirmed(order_id, PaymentMethod.CRYPTOPAY, status, ACTOR)
            return
        try:
            await self._service.repo.move(
                order_id,
                OrderState.NEEDS_ATTENTION,
                actor=ACTOR,
                note=LATE_NOTE,
                expect=OrderState.EXPIRED,
                sets={
                    "method": PaymentMethod.CRYPTOPAY,
                    "payment_reference": status.reference,
                    "last_error": LATE_ERROR,
                },
            )
        except IllegalTransition:
            log.info("cryptopay late payment: order moved meanwhile order_id=%s", order_id)
        else:
            log.warning("order needs attention: late Crypto Pay payment order_id=%s", order_id)  # pragma: no mutate

    async def invoice_expired(self, order_id: str) -> None:
        with contextlib.suppress(IllegalTransition):  # already expired, paid or cancelled
            await self._service.repo.move(
                order_id,
                OrderState.EXPIRED,
                actor=ACTOR,
                note="the Crypto Pay invoice expired",
                # only awaiting_payment may become expired: ``expect`` says it again (no mutants: the same)
                expect=OrderState.AWAITING_PAYMENT,  # pragma: no mutate
            )
