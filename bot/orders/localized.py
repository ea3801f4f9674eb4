"""Orders in the reader's language: labels and sentences of the order pages and answers from the catalogs.

The order modules keep their English texts (logs, exceptions, the staff's audit); this module finds each in
the catalog by its value (``order.state.<state>``, ``order.blocked.<reason>``) or, for a sentence an
exception carries, by its English text (:meth:`~bot.i18n.catalog.Catalogs.localize_english`), so the money
logic is untouched by translation.
"""

from __future__ import annotations

from bot.i18n import catalogs, money, t
from bot.orders.models import Order, OrderState
from bot.orders.prechecks import BlockReason
from bot.orders.token import EXPIRED_LINK, INVALID_LINK, MISSING_LINK, UNSUPPORTED, TokenRejected
from bot.shop.catalog import PaymentMethod

_LINK_TEXTS = {
    INVALID_LINK: "checkout.link.invalid",
    EXPIRED_LINK: "checkout.link.expired",
    MISSING_LINK: "checkout.link.missing",
    UNSUPPORTED: "checkout.link.unsupported",
}
BLOCK_REASONS = frozenset(reason.value for reason in BlockReason)
"""The values an order's ``check_reason`` has when the pre-checks blocked it (anything else is shown as written)."""
# Where a refusal's English sentence may come from: the order service, the pre-checks, the payment providers.
_REFUSAL_PREFIXES = ("order.refused.", "order.blocked.", "payment.refused.")


def state_label(state: OrderState, locale: str) -> str:
    return t(locale, f"order.state.{state.value}")


def state_choice(state: OrderState, locale: str) -> str:
    """The state as staff filter by it (the ``/orders list`` choices): ``awaiting_payment`` / ``ожидает
    оплаты``. The order cards and lists show it; a staff answer, built before its reader is known, holds
    ``partial(state_choice, state)`` as a :class:`~bot.i18n.said.Said` value (a function of the locale)."""
    return t(locale, f"choice.{state.value}")


def method_label(method: PaymentMethod, locale: str) -> str:
    return t(locale, f"payment.method.{method.value}")


def description(order: Order, locale: str) -> str:
    """What was ordered: ``CS2, 30 days`` or ``12.50 NLE`` (Order.description in the reader's language)."""
    if order.nle is not None:
        return money(order.nle, "NLE", locale)
    return order.key.label_in(locale)


def blocked_text(reason: str | None, locale: str) -> str:
    """Why the order cannot be paid now, for the customer ("" for no or an unknown reason)."""
    return t(locale, f"order.blocked.{reason}") if reason in BLOCK_REASONS else ""


def link_refused(exc: TokenRejected, locale: str) -> tuple[str, str]:
    """Title and sentence of a refused checkout link."""
    title = t(locale, "checkout.link.title_expired" if exc.expired else "checkout.link.title_invalid")
    return title, t(locale, _LINK_TEXTS.get(exc.message, "checkout.link.invalid"))


def refusal(text: str, locale: str) -> str:
    """An English sentence the order service or a payment provider refused with, in ``locale``."""
    return catalogs().localize_english(locale, text, _REFUSAL_PREFIXES)
