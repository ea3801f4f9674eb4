"""Option values validated before any Market call, with messages written for staff."""

from __future__ import annotations

from decimal import Decimal

from bot.i18n.formats import number
from bot.i18n.said import Said
from bot.market.errors import MarketValidationError
from bot.market.models import MAX_AMOUNT, Plan, Product
from bot.market.validation import validate_amount, validate_item_code, validate_username
from bot.notifications.embeds import echoed
from bot.staff.errors import InvalidInput


def username(value: str) -> str:
    """A Neverlose login (1-64 of ``A-Za-z0-9._-``), surrounding spaces removed."""
    try:
        return validate_username(value)
    except MarketValidationError:
        raise InvalidInput.said_as(Said("staff.input.username", {"value": shown(value)})) from None


def item_code(value: str) -> str:
    """A market item code such as ``E3yugw`` (1-32 of ``A-Za-z0-9_-``)."""
    try:
        return validate_item_code(value)
    except MarketValidationError:
        raise InvalidInput.said_as(Said("staff.input.item_code", {"value": shown(value)})) from None


def amount(value: str | int | float | Decimal) -> Decimal:
    """A positive NLE amount with at most two decimal places, at most ``MAX_AMOUNT``.

    Text may use a decimal comma (``12,5``). A float is read through its shortest text form, so ``12.5``
    typed in a number option is 12.50 exactly.
    """
    if isinstance(value, bool):
        raise InvalidInput.said_as(Said("staff.input.amount_type"))
    raw: object = value
    if isinstance(value, float):
        raw = repr(value)
    if isinstance(raw, str):
        raw = raw.strip().removesuffix("NLE").strip()
        if raw.count(",") == 1 and "." not in raw:
            raw = raw.replace(",", ".")
    try:
        return validate_amount(raw)
    except MarketValidationError as exc:
        said = Said("staff.input.amount", {"value": shown(str(value)), "reason": exc.message_in, "max": _max_amount})
        raise InvalidInput.said_as(said) from None


def product(value: str) -> Product:
    try:
        return Product(value.strip().lower())
    except ValueError:
        choices = ", ".join(p.label for p in Product)
        raise InvalidInput.said_as(Said("staff.input.product", {"value": shown(value), "choices": choices})) from None


def plan(days: int) -> Plan:
    try:
        return Plan.from_days(days)
    except ValueError:
        raise InvalidInput.said_as(Said("staff.input.plan", {"days": days})) from None


def _max_amount(locale: str) -> str:
    return number(MAX_AMOUNT, locale)


def shown(value: str) -> str:
    """A user's value echoed back safely: short, no backticks or newlines."""
    return echoed(value)
