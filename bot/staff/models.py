"""Plain data shared by the staff services and the embed builders."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bot.i18n import money, t
from bot.market.models import Plan, Product


class SpendKind(enum.StrEnum):
    """A spending command, named after the Market method it runs."""

    GIFT = "gift"
    GIVE = "give"
    TRANSFER = "transfer"

    @property
    def method(self) -> str:
        return _METHODS[self]


_METHODS = {SpendKind.GIFT: "gift-product", SpendKind.GIVE: "give-for-free", SpendKind.TRANSFER: "transfer-money"}


@dataclass(frozen=True, slots=True)
class Quote:
    """What a staff member is asked to confirm: the operation, its price and the balance after it."""

    id: str
    kind: SpendKind
    staff_id: int
    guild_id: int | None
    username: str
    amount_nle: Decimal
    """What leaves the balance: the plan price, the transfer amount, 0 for a free item."""
    product: Product | None = None
    plan: Plan | None = None
    item_code: str | None = None
    amount_rub: Decimal | None = None
    balance: Decimal | None = None
    needs_approval: bool = False

    @property
    def balance_after(self) -> Decimal | None:
        return None if self.balance is None else self.balance - self.amount_nle

    @property
    def params(self) -> dict[str, Any]:
        """The journal's ``params`` for this operation (the Market call's fields, JSON-safe)."""
        if self.kind is SpendKind.GIFT:
            product, plan = self._gift()
            return {"username": self.username, "product": product.value, "cnt": int(plan)}
        if self.kind is SpendKind.GIVE:
            return {"username": self.username, "code": self.item_code}
        return {"username": self.username, "amount": str(self.amount_nle)}

    def _gift(self) -> tuple[Product, Plan]:
        if self.product is None or self.plan is None:
            raise ValueError("a gift quote needs a product and a plan")
        return self.product, self.plan

    @property
    def detail(self) -> str:
        """What, in words: ``CS2, 30 days`` / ``item E3yugw`` / ``12.50 NLE``."""
        if self.kind is SpendKind.GIFT:
            product, plan = self._gift()
            return f"{product.label}, {plan.days} days"
        if self.kind is SpendKind.GIVE:
            return f"item {self.item_code}"
        return f"{self.amount_nle:.2f} NLE"

    def detail_in(self, locale: str) -> str:
        """:attr:`detail` in ``locale`` (``detail`` itself stays English: the audit records it)."""
        if self.kind is SpendKind.GIFT:
            product, plan = self._gift()
            return t(locale, "staff.detail.gift", product=product.label, days=plan.days)
        if self.kind is SpendKind.GIVE:
            return t(locale, "staff.detail.give", code=self.item_code)
        return money(self.amount_nle, "NLE", locale)


class AuditEvent(enum.StrEnum):
    REQUESTED = "requested"  # confirmed by staff, sent (or about to be sent) to Neverlose
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"  # no usable answer: recorded, re-checked later
    REFUSED = "refused"  # refused on our side (permission, limit, cooldown, pre-check, validation)
    APPROVAL_REQUESTED = "approval_requested"
    APPROVED = "approved"
    APPROVAL_DENIED = "approval_denied"  # a staff member said no (or the requester withdrew it): nothing sent
    APPROVAL_REFUSED = "approval_refused"
    APPROVAL_EXPIRED = "approval_expired"
    RETRIED = "retried"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    action: str
    event: AuditEvent
    staff_id: int
    guild_id: int | None = None
    username: str | None = None
    item_code: str | None = None
    detail: str = ""
    amount_nle: Decimal | None = None
    request_id: str | None = None
    operation_id: int | None = None
    result: str = ""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    created_at: datetime
    entry: AuditEntry


def to_iso(moment: datetime) -> str:
    """The one timestamp format stored by the staff tables (sortable as text)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
