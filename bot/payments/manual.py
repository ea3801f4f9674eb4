"""The ``manual`` payment method: the customer pays as the operator's instructions say, then presses
"I have paid"; a staff member confirms the payment in Discord (``OrderService.confirm_payment``).

The provider itself never learns of a payment: :meth:`poll` knows nothing, :meth:`cancel` has nothing to
withdraw. It offers every currency (the operator's instructions say how to pay in the order's currency).
"""

from __future__ import annotations

from bot.payments.enabled import manual_instructions
from bot.payments.provider import PaymentRequest, PaymentStart, PaymentStartRefused, PaymentStatus
from bot.shop.catalog import PaymentMethod
from bot.storage import Database


class ManualPaymentUnavailable(PaymentStartRefused):
    """The operator removed the instructions: the method is no longer offered."""


class ManualProvider:
    """:class:`~bot.payments.provider.PaymentProvider` for ``manual``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def method(self) -> PaymentMethod:
        return PaymentMethod.MANUAL

    def offers(self, currency: str) -> bool:
        return True

    async def start(self, request: PaymentRequest) -> PaymentStart:
        """The instructions to show, with the order number to quote (idempotent: nothing is created)."""
        text = await manual_instructions(self._db)
        if text is None:
            raise ManualPaymentUnavailable(
                "Payment by hand is not available any more. Choose another way to pay, or contact support."
            )
        return PaymentStart(instructions=text)

    async def poll(self, order_id: str) -> PaymentStatus | None:
        return None

    async def cancel(self, order_id: str) -> None:
        return None
