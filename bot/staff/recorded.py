"""The audit's recorded English result and detail texts, shown in the reader's language where they are rendered.

What is recorded stays English (the audit keeps what was said, byte for byte). ``/audit`` and the audit channel's
entries show a recorded text through :func:`result_in` and :func:`detail_in`: a text that is the English of one of
the catalog messages listed here (most results are the staff answers' own ``Said`` sentences; the few written
inline by :mod:`bot.staff.spending` and :mod:`bot.orders.staff_actions` have ``audit.recorded.*`` and
``audit.detail.*`` messages whose English is the same text) is matched by :mod:`bot.i18n.english` and shown in
``locale``, values included. Anything else (Neverlose's or Discord's own words, a person's note) is shown exactly
as recorded.
"""

from __future__ import annotations

from typing import Final

from bot.i18n import DEFAULT_LOCALE, catalogs, t
from bot.i18n.catalog import t_known
from bot.i18n.english import Shown, shown
from bot.i18n.formats import nle_in
from bot.shop import recorded as shop_records
from bot.staff.models import SpendKind

RESULTS: Final = (
    "audit.recorded.",
    "staff.outcome.done",
    "staff.outcome.refused",
    "staff.outcome.unknown",
    "staff.precheck.",
    "staff.input.",
    "staff.refusal.",
    "orders.action.",
    "orders.no_order",
)
"""The messages a recorded result may be the English text of (each with its values)."""
DETAILS: Final = ("audit.detail.", "staff.detail.")


def _sentence(text: str, locale: str) -> str:
    """A whole catalog sentence without values (``no reason given``, a state's name) in ``locale``."""
    return catalogs().localize_english(locale, text, warn=False)


def _what(text: str, locale: str) -> str:
    """What was spent or ordered (``CS2, 30 days``, ``item E3yugw``, ``5.00 NLE``) in ``locale``."""
    amount = nle_in(text, locale)
    return shown(locale, text, "staff.detail.") if amount is None else amount


def result_in(text: str, locale: str, action: str = "") -> str:
    """A recorded result in ``locale``; a text no listed message matches, exactly as recorded. A record of one
    of the shop's actions is shown by :mod:`bot.shop.recorded`."""
    if locale == DEFAULT_LOCALE:
        return text
    if action in shop_records.ACTIONS:
        return shop_records.result_in(action, text, locale)
    msg_id = catalogs().id_of_english(text)
    if msg_id is not None:
        return t(locale, msg_id)
    return shown(locale, text, RESULTS, _NESTED)


_NESTED: Final[Shown] = {
    "text": result_in,
    "reason": result_in,
    "lead": _sentence,
    "state": lambda text, locale: catalogs().localize_english(locale, text, "choice."),
    "past": _sentence,
    "detail": _what,
    "description": _what,
    "product": _what,
    "cost": _what,
    "threshold": _what,
}


def detail_in(text: str, locale: str, action: str = "") -> str:
    """A recorded detail (``order …: CS2, 30 days``, ``5.00 NLE, approval #3``) in ``locale``; else as recorded.
    A record of one of the shop's actions is shown by :mod:`bot.shop.recorded`."""
    if locale == DEFAULT_LOCALE:
        return text
    if action in shop_records.ACTIONS:
        return shop_records.detail_in(action, text, locale)
    amount = nle_in(text, locale)
    if amount is not None:
        return amount
    return shown(locale, text, DETAILS, {"detail": _what, "description": _what})


def _method(text: str, locale: str) -> str:
    """A payment method's value (``manual``) by its name in ``locale``; an unknown one as recorded."""
    return t_known(locale, f"payment.method.{text}", text)


def _operation(text: str, locale: str) -> str:
    """A Market method (``gift-product``) by its spending kind's name in ``locale``; another as recorded."""
    for kind in SpendKind:
        if kind.method == text:
            return t(locale, f"staff.kind.{kind.value}")
    return text


_NOTES: Final = tuple(
    f"audit.note.{name}"
    for name in (
        "method", "claimed", "confirmed", "confirmed_on_retry", "already_done", "retry", "not_paid",
        "invoice_expired", "late", "approval", "checks_passed", "blocked",
    )
)  # fmt: skip
"""The notes matched as patterns; ``audit.note.done`` ("{operation} done") only with a Market method before it."""


def note_in(text: str, locale: str) -> str:
    """An order's recorded timeline note (``payment claimed``, ``method manual``) in ``locale``; a note no
    ``audit.note.*`` message matches (a person's reason or refund note) exactly as recorded. ``<method> done``
    is matched only for a Market method (``gift-product done``): a person's ``all done`` stays as typed."""
    if locale == DEFAULT_LOCALE:
        return text
    operation = text.removesuffix(" done")
    if operation != text and any(kind.method == operation for kind in SpendKind):
        return t(locale, "audit.note.done", operation=_operation(operation, locale))
    return shown(locale, text, _NOTES, {"method": _method, "reason": "orders.staff_block."})
