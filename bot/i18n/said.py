"""A sentence kept as a catalog message until someone reads it: the audit records ``said()`` (English), the
member who asked reads ``said(locale)``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from bot.i18n.catalog import DEFAULT_LOCALE, t
from bot.i18n.formats import figure, money


@dataclass(frozen=True, slots=True)
class Said:
    """``Said("staff.outcome.done", {"detail": ...})(locale)``; a value may itself be ``callable(locale)``
    (another :class:`Said`, a money amount formatted per locale…)."""

    msg_id: str
    values: Mapping[str, object] = field(default_factory=dict)

    def __call__(self, locale: str = DEFAULT_LOCALE) -> str:
        values = {k: v(locale) if callable(v) else v for k, v in self.values.items()}
        return t(locale, self.msg_id, **values)


@dataclass(frozen=True, slots=True)
class Lines:
    """Several sentences, one per line, each rendered in the reader's language."""

    parts: tuple[Said, ...]

    def __call__(self, locale: str = DEFAULT_LOCALE) -> str:
        return "\n".join(part(locale) for part in self.parts)


def amount(value: Decimal) -> Callable[[str], str]:
    """A number with two decimals the reader's way (``1,234.50`` / ``1 234,50``), for a :class:`Said` value."""
    return lambda locale: figure(value, locale)


def nle(amount: Decimal) -> Callable[[str], str]:
    """An NLE amount shown the reader's way (``1,234.50 NLE`` / ``1 234,50 NLE``), for a :class:`Said` value."""
    return lambda locale: money(amount, "NLE", locale)
