"""The shop's audit records in the reader's language, and a price shown the reader's way.

:class:`bot.shop.service.ShopService` records each change in English (the audit keeps what was said, byte for
byte, and its CSV export stays English): ``cs2-90 RUB (every method)`` and ``none → 1234.50`` for a price,
``3 added, 1 changed, 0 removed`` and its diff lines (``+ cs2-30 EUR 30.50 (every method)``, ``~ … → 31.00``,
``- …``, joined by ``; ``) for an import, ``integration 7`` and ``hidden → public`` for visibility, ``manual
payment instructions`` and the old and new instructions for the manual method. ``/audit`` and the audit
channel show a record of a ``shop …`` action through :func:`detail_in` and :func:`result_in`: the text is
matched to its ``audit.shop.*`` (or ``shop.import.*``) catalog message, whose English is exactly what the
service writes, and shown in ``locale`` — prices grouped the reader's way, ``every method``, ``none``, the
visibility values and the failure's cause by their names. What a person typed (the manual instructions), a
product key, a currency and a method's value stay as recorded; so does any text no message matches (a record
of an older wording), except an import's diff line cut by the record's length limit, shown as ``…``. Records
written before this module existed are shown the same way: their text is the same.

This module imports nothing of :mod:`bot.staff` (whose audit rendering calls it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Final

from bot.i18n import DEFAULT_LOCALE, t
from bot.i18n.english import Shown, match, shown
from bot.i18n.formats import as_written
from bot.shop.prices_object import price_text

ACTIONS: Final = frozenset(
    {"shop price set", "shop price remove", "shop prices import", "shop visibility", "shop method manual"}
)
"""The audit actions the shop records (:meth:`ShopService._record`)."""
RESULT_LIMIT: Final = 1000
"""The longest result the shop records (an import's diff lines are cut there)."""
_PRICE: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_ERRORS: Final = {
    "MarketUnavailable": "error.unreachable",
    "MarketProtocolError": "error.unexpected_answer",
    "MarketError": "audit.shop.refused",
}
"""A failed visibility change records the Market failure's class: its sentence in the catalogs."""


def price(value: Decimal, locale: str) -> str:
    """``30.50`` (en, as Neverlose writes it) / ``1 234,50`` (ru): the places as stored, never rounded."""
    return price_text(value) if locale == DEFAULT_LOCALE else as_written(value, locale)


def _message(msg_id: str) -> Callable[[str, str], str]:
    return lambda _text, locale: t(locale, msg_id)


def _one_of(values: Mapping[str, str]) -> Callable[[str, str], str]:
    """A value recorded as one of ``values`` (English -> message id) by its message; another as recorded."""
    return lambda text, locale: t(locale, values[text]) if text in values else text


def _price_or(values: Mapping[str, str]) -> Callable[[str, str], str]:
    """A recorded price (``1234.50``) the reader's way, or one of ``values``; anything else as recorded."""
    other = _one_of(values)
    return lambda text, locale: price(Decimal(text), locale) if _PRICE.fullmatch(text) else other(text, locale)


_METHOD: Final = _one_of({"every method": "shop.method.every"})
_PRICE_OR_NONE: Final = _price_or({"none": "audit.shop.none"})
_VISIBILITY: Final = _one_of({v: f"audit.shop.visibility.{v}" for v in ("unknown", "public", "hidden")})
_ENTRY: Final[Shown] = {"price": _price_or({}), "method": _METHOD}

_DETAILS: Final[Mapping[str, tuple[str, Shown]]] = {
    "shop price set": ("audit.shop.what", {"method": _METHOD}),
    "shop price remove": ("audit.shop.what", {"method": _METHOD}),
    "shop prices import": ("shop.import.summary", {}),
    "shop visibility": ("audit.shop.integration", {}),
    "shop method manual": ("audit.shop.instructions", {}),
}
_RESULTS: Final[Mapping[str, tuple[tuple[str, ...], Shown]]] = {
    "shop price set": (("audit.shop.change",), {"old": _PRICE_OR_NONE, "new": _PRICE_OR_NONE}),
    "shop price remove": (("audit.shop.change",), {"old": _PRICE_OR_NONE, "new": _PRICE_OR_NONE}),
    "shop visibility": (
        ("audit.shop.failed", "audit.shop.change"),
        {"old": _VISIBILITY, "new": _VISIBILITY, "error": _one_of(_ERRORS)},
    ),
}
_DISABLED: Final = "none (disabled)"
_ARROW: Final = " → "


def detail_in(action: str, text: str, locale: str) -> str:
    """What a shop record is about (``cs2-90 RUB (every method)``) in ``locale``; else as recorded."""
    if locale == DEFAULT_LOCALE or action not in _DETAILS:
        return text
    prefix, nested = _DETAILS[action]
    return shown(locale, text, prefix, nested)


def result_in(action: str, text: str, locale: str) -> str:
    """What a shop record says changed (``none → 1234.50``, an import's diff lines) in ``locale``."""
    if locale == DEFAULT_LOCALE:
        return text
    if action == "shop prices import":
        return _import_lines(text, locale)
    if action == "shop method manual":
        return _instructions_change(text, locale)
    if action not in _RESULTS:
        return text
    prefixes, nested = _RESULTS[action]
    return shown(locale, text, prefixes, nested)


def _instructions_change(text: str, locale: str) -> str:
    """``none (disabled) → <instructions>`` or ``<instructions> → none (disabled)``: the instructions (typed by a
    person, maybe with an arrow in them) as recorded, ``none (disabled)`` by its message."""
    old, new = text.removeprefix(_DISABLED + _ARROW), text.removesuffix(_ARROW + _DISABLED)
    if old != text:
        return t(locale, "audit.shop.change", old=t(locale, "audit.shop.disabled"), new=_disabled_or(old, locale))
    if new != text:
        return t(locale, "audit.shop.change", old=new, new=t(locale, "audit.shop.disabled"))
    return text


def _disabled_or(text: str, locale: str) -> str:
    return t(locale, "audit.shop.disabled") if text == _DISABLED else text


def _import_lines(text: str, locale: str) -> str:
    """``+ cs2-30 EUR 30.50 (every method); ~ … → 31.00; - …`` (or ``no changes``) line by line."""
    if text == "no changes":
        return t(locale, "audit.shop.no_changes")
    lines = text.split("; ")
    cut = len(text) >= RESULT_LIMIT  # the last line may have been cut where the record ends
    return "; ".join(_import_line(line, locale, cut and n == len(lines) - 1) for n, line in enumerate(lines))


def _import_line(line: str, locale: str, last_of_cut: bool) -> str:
    sign, _, rest = line.partition(" ")
    entry, arrow, new = rest.rpartition(" → ") if sign == "~" else (rest, "", "")
    if sign not in ("+", "~", "-") or (sign == "~" and not (arrow and _PRICE.fullmatch(new))):
        return "…" if last_of_cut else line
    if match(entry, "shop.import.entry") is None:
        return "…" if last_of_cut else line
    shown_entry = shown(locale, entry, "shop.import.entry", _ENTRY)
    return f"{sign} {shown_entry} → {price(Decimal(new), locale)}" if arrow else f"{sign} {shown_entry}"
