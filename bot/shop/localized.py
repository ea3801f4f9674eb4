"""The shop in the reader's language: labels, prices, import previews, refusals and the push alerts.

The shop's money modules (``validation``, ``importing``, ``push``, ``prices_object``) keep their English
sentences and decide nothing here. This module renders what they return (entries, plans, counts) from the
catalogs (``shop.*``), and shows a sentence they raise or report, values included, in the reader's language
by matching it to its English catalog message (:mod:`bot.i18n.english`).

English stays as it was: prices in Neverlose's plain form (``1234.50``); other languages group and use
their decimal sign (``1 234,50``), the places as stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from bot.i18n import DEFAULT_LOCALE, english, t
from bot.i18n.english import Nested
from bot.i18n.formats import number
from bot.market.localized import detail_in
from bot.notifications.outbox import Outbox
from bot.shop.catalog import PaymentMethod, ProductKey
from bot.shop.importing import MAX_LISTED_PROBLEMS, ImportPlan, ImportRejected
from bot.shop.price_table import PriceEntry
from bot.shop.prices_object import PriceValue
from bot.shop.push import OutboxAlerts
from bot.shop.recorded import price as price  # re-exported: the cogs show prices through this module
from bot.shop.validation import ShopInputError
from bot.staff.errors import StaffError

_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})*")
_FIELDS = frozenset({"product", "plan", "currency", "price", "method"})


def price_value(value: PriceValue, locale: str) -> str:
    """A price or a range: ``30.50`` or ``30.50–31.30`` (see :func:`bot.shop.prices_object.describe`)."""
    if isinstance(value, tuple):
        return f"{price(value[0], locale)}–{price(value[1], locale)}"
    return price(value, locale)


def method_label(method: PaymentMethod | None, locale: str) -> str:
    """``every method`` or the method's name (``Manual payment``)."""
    return t(locale, "shop.method.every") if method is None else t(locale, f"payment.method.{method.value}")


def entry_label(key: ProductKey, entry: PriceEntry, locale: str) -> str:
    """``**CS2, 30 days**, EUR, every method``: which price a set or remove answer is about."""
    return t(
        locale,
        "shop.entry",
        key=key.label_in(locale, "shop.key.marketplace"),
        currency=entry.currency,
        method=method_label(entry.method, locale),
    )


# ---------------------------------------------------------------------------------------------- import
def _import_entry(entry: PriceEntry, locale: str) -> str:
    """``cs2-30 EUR 30.50 (every method)`` (:func:`bot.shop.importing.describe_entry`)."""
    method = t(locale, "shop.method.every") if entry.method is None else entry.method.value
    return t(
        locale,
        "shop.import.entry",
        key=entry.product_key,
        currency=entry.currency,
        price=price(entry.price, locale),
        method=method,
    )


def preview_lines(plan: ImportPlan, locale: str) -> list[str]:
    """The diff lines of an import (:meth:`ImportPlan.preview_lines` in ``locale``)."""
    lines = [f"+ {_import_entry(e, locale)}" for e in plan.added]
    lines += [f"~ {_import_entry(old, locale)} → {price(new.price, locale)}" for old, new in plan.changed]
    lines += [f"- {_import_entry(e, locale)}" for e in plan.removed]
    return lines


def summary(plan: ImportPlan, locale: str) -> str:
    """``1 added, 2 changed, 0 removed`` (:meth:`ImportPlan.summary` in ``locale``)."""
    return t(
        locale,
        "shop.import.summary",
        added=number(len(plan.added), locale),
        changed=number(len(plan.changed), locale),
        removed=number(len(plan.removed), locale),
    )


def _grouped(value: str, locale: str) -> str:
    """A whole number written the English way (``65,537``) the reader's way (``65 537``)."""
    return number(int(value.replace(",", "")), locale) if _GROUPED.fullmatch(value) else value


def rule(text: str, locale: str) -> str:
    """A validation rule (:class:`ShopInputError`'s ``rule``) in ``locale``."""
    return english.shown(locale, text, "shop.rule.", warn=True)


def problem(text: str, locale: str) -> str:
    """One problem of a refused import file in ``locale``."""
    nested: Nested = {"rule": "shop.rule.", "reason": "shop.json.", "size": _grouped, "max": _grouped}
    return english.shown(locale, text, "shop.problem.", nested, warn=True)


def rejected(exc: ImportRejected, locale: str) -> str:
    """The refusal of an import file: how many problems, each problem (as :class:`ImportRejected` lists them)."""
    shown = exc.problems[:MAX_LISTED_PROBLEMS]
    lines = [t(locale, "shop.import.rejected", count=len(exc.problems))]
    lines += [f"- {problem(text, locale)}" for text in shown]
    if len(exc.problems) > len(shown):
        lines.append(t(locale, "shop.import.more_problems", count=len(exc.problems) - len(shown)))
    return "\n".join(lines)


def invalid(exc: ShopInputError, locale: str) -> str:
    """``Invalid currency: 'usd' must be exactly 3 upper-case Latin letters…`` in ``locale``."""
    field = t(locale, f"shop.field.{exc.field}") if exc.field in _FIELDS else exc.field
    return t(locale, "shop.invalid", field=field, rule=rule(exc.rule, locale))


def _matched(exc: StaffError, locale: str) -> str:
    if isinstance(exc, ImportRejected):
        return rejected(exc, locale)
    if isinstance(exc, ShopInputError):
        return invalid(exc, locale)
    return exc.message


@contextmanager
def refusals_in_reader_language() -> Iterator[None]:
    """Around a :class:`~bot.shop.service.ShopService` operation: a shop refusal raised inside (validation,
    import) gets its sentence in the reader's language for the error handler
    (:func:`bot.staff.errors.render_error`); its English ``message`` stays what the module wrote."""
    try:
        yield
    except StaffError as exc:
        if exc.said is None and isinstance(exc, ImportRejected | ShopInputError):
            refused = exc
            exc.said = lambda locale: _matched(refused, locale)
        raise


# ---------------------------------------------------------------------------------------------- answers
def price_set_text(
    key: ProductKey, old: PriceEntry | None, new: PriceEntry, shown: PriceValue | None, locale: str
) -> str:
    """The answer to ``/shop price set``: the entry, its new price, what it was, what Neverlose will show."""
    was = t(locale, "shop.price.new") if old is None else t(locale, "shop.price.was", price=price(old.price, locale))
    values = {"entry": entry_label(key, new, locale), "price": price(new.price, locale), "was": was}
    if shown is None:
        return t(locale, "shop.price.set_not_pushed", **values)
    return t(locale, "shop.price.set_shown", shown=price_value(shown, locale), currency=new.currency, **values)


def price_lines(entries: Sequence[PriceEntry], locale: str) -> list[str]:
    """``/shop prices show``: one line per price of the table."""
    return [
        t(
            locale,
            "shop.prices.line",
            key=e.product_key,
            currency=e.currency,
            price=price(e.price, locale),
            method=method_label(e.method, locale),
        )
        for e in entries
    ]


def next_push_field(text: str | None, reason: str | None, locale: str) -> tuple[str, str]:
    """``/shop prices show``'s last field: what the next push sends (its JSON, cut to fit), or why nothing."""
    if text is None:
        return t(locale, "shop.prices.next_push"), t(
            locale, "shop.prices.nothing", reason=nothing_reason(reason or "", locale)
        )
    shown = text if len(text) <= 1000 else text[:997] + "…"
    return t(locale, "shop.prices.next_sends"), f"```json\n{shown}\n```"


def visibility_ask(text: str | None, reason: str | None, locale: str) -> str:
    """``/shop visibility public``'s question; when the next push sends nothing (``text`` ``None``), a warning
    below it, after a blank line, with why (:class:`bot.shop.service.NextPush`'s ``text`` and ``reason``)."""
    ask = t(locale, "shop.visibility.ask")
    if text is not None:
        return ask
    return ask + "\n\n" + t(locale, "shop.visibility.warning", reason=nothing_reason(reason or "", locale))


# ---------------------------------------------------------------------------------------------- push
def nothing_reason(text: str, locale: str) -> str:
    """Why nothing is pushed (:class:`bot.shop.service.NextPush`'s ``reason``) in ``locale``."""
    return english.shown(locale, text, "shop.next.", warn=True)


def push_error(text: str, locale: str) -> str:
    """The last push error as the pusher stored it (``Neverlose refused: …``) in ``locale``; the Market
    client's own detail inside (``server error (HTTP 503)``) too, the Market's words as written."""
    return english.shown(locale, text, "shop.error.", {"detail": detail_in}, warn=True)


def _last(value: str, locale: str) -> str:
    return t(locale, "shop.alert.never") if value == "never" else value


def alert(title: str, description: str, locale: str) -> tuple[str, str]:
    """A push alert (:class:`bot.shop.push.PricePusher`'s title and description) in ``locale``."""
    nested: Nested = {"retry": "shop.alert.retry.", "last": _last}
    shown_title = english.shown(locale, title, "shop.alert.", warn=True)
    return shown_title, english.shown(locale, description, "shop.alert.", nested, warn=True)


class LocalizedAlerts(OutboxAlerts):
    """The pusher's alerts, posted to the audit channel through the outbox (as :class:`OutboxAlerts` posts
    them), translated into the channel language when they are queued.

    The other audit alerts in English, those of the money modules (:mod:`bot.orders.service`,
    :mod:`bot.payments.cryptopay.store`), are translated when the outbox reads them for delivery
    (:func:`bot.notifications.alerts.localize_alert`). The two ways stay apart on purpose:

    * what a reader sees differs when the channel language changes while an alert waits in the outbox
      (Discord unreachable, the audit channel not set yet): a push alert is read in the language the channel
      had when it was raised, a money module's in the language it has at delivery. Either way for both would
      change one of them (``tests/shop/test_localized.py`` and ``tests/orders/test_blocked_alert_localized.py``
      hold each);
    * the money modules write their alert row in their own transaction, with the state change it reports, and
      stay free of translation (no channel language in the mutation-tested code), so their English can only
      be translated on the way out; the pusher hands its alert to this sink, outside any transaction, and it is
      translated at once;
    * a pusher sentence no ``shop.alert.*`` message matches is logged here (``warn``: its wording drifted from
      its message); the delivery side reads every audit row, most of them not the money modules' alerts, and
      leaves a text that matches nothing as written without a word.
    """

    def __init__(
        self, outbox: Outbox, wake: Callable[[], None] | None = None, locale: Callable[[], str] | None = None
    ) -> None:
        super().__init__(outbox, wake)
        self._locale = locale or (lambda: DEFAULT_LOCALE)

    async def __call__(self, title: str, description: str, *, problem: bool) -> None:
        shown_title, shown = alert(title, description, self._locale())
        await super().__call__(shown_title, shown, problem=problem)
