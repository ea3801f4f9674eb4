"""Sandbox demos: make the embedded Market API simulator send signed events to this bot's own webhook.

Only exists in ``reseller-bot sandbox``. The events travel the real path (HTTP POST, signature check,
durable store, outbox, Discord), so an operator can see notifications and receipts without a real sale.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.staff import inputs
from bot.staff.errors import InvalidInput

if TYPE_CHECKING:  # only `reseller-bot sandbox` starts a simulator; `run` does not import it
    from bot.market.simulator.runner import RunningSimulator

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DemoResult:
    kind: str
    unique_id: int
    status: int
    """What the bot's own webhook endpoint answered."""


class SandboxDemo:
    def __init__(self, simulator: RunningSimulator, webhook_url: Callable[[], str]) -> None:
        self.simulator = simulator
        self._webhook_url = webhook_url

    @property
    def item_codes(self) -> list[str]:
        return sorted(self.simulator.state.catalogue)

    async def purchase(self, username: str, item_id: str) -> DemoResult:
        """A demo customer buys ``item_id``: the simulator credits the balance and posts the signed event."""
        login = inputs.username(username)
        if item_id not in self.simulator.state.catalogue:
            known = ", ".join(f"`{code}`" for code in self.item_codes)
            raise InvalidInput(f"`{inputs.item_code(item_id)}` is not a sandbox item; the demo shop sells {known}.")
        delivery = await self.simulator.purchase(self._webhook_url(), login, item_id)
        return self._result("purchase", delivery.body, delivery.status)

    async def transfer(self, username: str, amount: str | Decimal) -> DemoResult:
        """A demo customer transfers ``amount`` NLE to the reseller: credited, then the signed event posted."""
        login = inputs.username(username)
        nle = inputs.amount(amount)
        delivery = await self.simulator.receive_transfer(self._webhook_url(), login, nle)
        return self._result("transfer", delivery.body, delivery.status)

    @staticmethod
    def _result(kind: str, body: dict[str, object], status: int) -> DemoResult:
        unique_id = body.get("unique_id")
        result = DemoResult(kind, unique_id if isinstance(unique_id, int) else 0, status)
        log.info("sandbox event sent kind=%s unique_id=%d status=%d", kind, result.unique_id, status)
        return result
