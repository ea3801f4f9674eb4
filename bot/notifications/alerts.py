"""The audit alerts the money modules write in English, shown in the audit channel's language at delivery.

:mod:`bot.orders.service` (an order blocked before payment) and :mod:`bot.payments.cryptopay.store` (paid
after expiry, payment quarantined, update quarantined, payment not applied; the reasons of
:mod:`bot.payments.cryptopay.matching`, of the webhook and its invoice parser, and the order side's
:class:`~bot.payments.cryptopay.provider.PaymentNotApplicable`) are mutation-tested money modules and queue
their alerts in English.
The outbox renders an audit row through :func:`localize_alert` when it is read for delivery: an embed whose
title is one of the ``alerts.title.*`` catalog messages has its title, description, field names and known
field values matched against the English catalog texts (:mod:`bot.i18n.english`) and shown in ``locale``,
values included. Any other embed, and any text that matches nothing, is left exactly as written.

The shop's price push alerts are the one other kind of English audit alert, and they are translated when
queued instead (:class:`bot.shop.localized.LocalizedAlerts`, whose docstring says why in full). Translated here,
an alert is read in the language the channel has at delivery, not the one it had when the alert was raised; the
money modules queue it in the transaction that records what it reports and hold no channel language, so
delivery is the one place left to translate it. Most audit rows read here are not these alerts (an alert
already rendered in the channel language, a delivery problem…), so a text that matches no message is not logged.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Final

from bot.i18n.catalog import DEFAULT_LOCALE, t_known
from bot.i18n.english import Nested, match, shown
from bot.i18n.formats import nle_in
from bot.notifications.embeds import MAX_DESCRIPTION, MAX_FIELD_NAME, MAX_FIELD_VALUE, MAX_TITLE, Embed, truncate
from bot.shop.catalog import ProductKey, all_product_keys


def _order_state(value: str, locale: str) -> str:
    """An order state's value (``delivered``) by its name in ``locale``; an unknown one as written."""
    return t_known(locale, f"order.state.{value}", value)


_REASON_PARTS: Final[Nested] = {
    "state": "alerts.state.",
    "status": "alerts.state.",
    "error": "alerts.parse.",  # the invoice parser's error after "payload is not an invoice:"
    "order_state": _order_state,  # the order side's refusal (PaymentNotApplicable)
}


def alert_reason(text: str, locale: str) -> str:
    """A matching, quarantine or not-applied reason (an invoice or order state, the parser's error inside too)."""
    return shown(locale, text, "alerts.reason.", _REASON_PARTS)


def _value(text: str, locale: str) -> str:
    return shown(locale, text, "alerts.value.")


_VALUES: Final[dict[str, Callable[[str, str], str]]] = {"Reason": alert_reason, "Order": _value, "Seen by": _value}
"""The English field name -> how its value is shown (other values are data: ids, amounts, a digest)."""


@cache
def _product_keys() -> dict[str, ProductKey]:
    """A product's English label (``CS2, 30 days``, as ``Order.description`` writes it) -> its key."""
    return {key.label: key for key in all_product_keys()}


def description_in(text: str, locale: str) -> str:
    """What was ordered (``CS2, 30 days`` or ``12.50 NLE``) in ``locale``; anything else as written."""
    key = _product_keys().get(text)
    if key is not None:
        return key.label_in(locale)
    amount = nle_in(text, locale)
    return text if amount is None else amount


_NESTED: Final[Nested] = {
    "reason": "orders.staff_block.",
    "description": description_in,
}


def localize_alert(embed: Embed, locale: str) -> Embed:
    """``embed`` (as queued) in ``locale`` when it is one of the money modules' English alerts; else itself."""
    title = embed.get("title")
    if locale == DEFAULT_LOCALE or not isinstance(title, str) or match(title, "alerts.title.") is None:
        return embed
    out: Embed = dict(embed)
    out["title"] = truncate(shown(locale, title, "alerts.title."), MAX_TITLE)
    description = embed.get("description")
    if isinstance(description, str):
        out["description"] = truncate(shown(locale, description, "alerts.text.", _NESTED), MAX_DESCRIPTION)
    fields = embed.get("fields")
    if isinstance(fields, list):
        out["fields"] = [_field(item, locale) for item in fields]
    return out


def _field(item: object, locale: str) -> object:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not isinstance(item.get("value"), str):
        return item
    name, value = str(item["name"]), str(item["value"])
    how = _VALUES.get(name)
    return {
        **item,
        "name": truncate(shown(locale, name, "alerts.field."), MAX_FIELD_NAME),
        "value": truncate(value if how is None else how(value, locale), MAX_FIELD_VALUE),
    }
