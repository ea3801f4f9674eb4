"""Rules checked before anything is sent; each failure is a :class:`MarketValidationError`.

Where the API documents a rule we follow it (request ids: at most 80 characters of ``A-Za-z0-9._-``).
Where it does not (usernames, item codes, integration ids) we accept a conservative character set so that
nothing ambiguous ever reaches the signed string; see ``docs/market-api.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

from bot.i18n.said import Said
from bot.market.errors import MarketValidationError
from bot.market.models import MAX_AMOUNT, MONEY_PLACES, Plan, Product, amount_to_wire

REQUEST_ID_MAX_LENGTH = 80
USERNAME_MAX_LENGTH = 64
ITEM_CODE_MAX_LENGTH = 32

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,80}")
_USERNAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_ITEM_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_INTEGRATION_ID = re.compile(r"[A-Za-z0-9._-]{1,80}")


def _refused(field: str, rule: str, **values: object) -> MarketValidationError:
    """The error for ``field`` breaking ``rule``: the message is the catalog's ``market.invalid.<rule>`` (English
    in ``message``, any language through ``said``)."""
    said = Said(f"market.invalid.{rule}", values)
    return MarketValidationError(field, said(), said=said)


def validate_request_id(value: object) -> str:
    """1–80 characters of ``A-Za-z0-9._-`` (the documented rule), as a string."""
    if not isinstance(value, str) or not _REQUEST_ID.fullmatch(value):
        raise _refused("request_id", "request_id")
    return value


def validate_username(value: object) -> str:
    """A Neverlose login: 1–64 characters of ``A-Za-z0-9._-`` (surrounding spaces are removed)."""
    if not isinstance(value, str):
        raise _refused("username", "text")
    name = value.strip()
    if not _USERNAME.fullmatch(name):
        raise _refused("username", "username")
    return name


def validate_item_code(value: object) -> str:
    """A market item code such as ``E3yugw``: 1–32 characters of ``A-Za-z0-9_-``."""
    if not isinstance(value, str) or not _ITEM_CODE.fullmatch(value.strip()):
        raise _refused("code", "item_code")
    return value.strip()


def validate_integration_id(value: object) -> int | str:
    """An integration id: a positive integer or 1–80 characters of ``A-Za-z0-9._-``."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value <= 0:
            raise _refused("integration_id", "positive")
        return value
    if isinstance(value, str) and _INTEGRATION_ID.fullmatch(value):
        return value
    raise _refused("integration_id", "integration_id")


def validate_product(value: object) -> Product:
    if isinstance(value, Product):
        return value
    if isinstance(value, str):
        try:
            return Product(value.strip().lower())
        except ValueError:
            pass
    raise _refused("product", "one_of", choices=", ".join(p.value for p in Product))


def validate_plan(value: object) -> Plan:
    if isinstance(value, Plan):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return Plan(value)
        except ValueError:
            pass
    raise _refused("plan", "plan")


def validate_amount(value: object, *, field: str = "amount") -> Decimal:
    """A positive ``Decimal`` (or ``int``, or decimal text) with at most two places, at most MAX_AMOUNT.

    Floats are refused: money never passes through a float before the JSON edge. The result has exactly
    two places and is guaranteed to survive the float round trip of the request body.
    """
    if isinstance(value, bool | float):
        raise _refused(field, "no_float")
    if isinstance(value, int):
        value = Decimal(value)
    elif isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except ArithmeticError:
            raise _refused(field, "number") from None
    if not isinstance(value, Decimal):
        raise _refused(field, "decimal")
    if not value.is_finite():
        raise _refused(field, "finite")
    if value <= 0:
        raise _refused(field, "positive")
    if value > MAX_AMOUNT:
        raise _refused(field, "at_most", max=MAX_AMOUNT)
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise _refused(field, "places")
    amount = value.quantize(MONEY_PLACES)
    try:
        amount_to_wire(amount)
    except ValueError:  # pragma: no cover - impossible within MAX_AMOUNT, kept as a guard
        raise _refused(field, "inexact") from None
    return amount


SPENDING_METHODS = ("gift-product", "give-for-free", "transfer-money")
"""The mutating API methods: each needs a request id and goes through the spending journal."""

_PARAM_ALIASES = {"plan": "cnt", "item": "code", "item_code": "code"}
_SPENDING_KEYS = {
    "gift-product": ("username", "product", "cnt"),
    "give-for-free": ("username", "code"),
    "transfer-money": ("username", "amount"),
}


def normalize_spending_params(method: str, params: Mapping[str, object]) -> dict[str, str | int]:
    """Validate the parameters of a spending call and return their canonical, JSON-safe form.

    - ``gift-product``: ``username``, ``product`` (Product or text), ``cnt`` (or ``plan``: Plan or 0..3)
      → ``{"username", "product": "cs2", "cnt": 0}``;
    - ``give-for-free``: ``username``, ``code`` (or ``item``) → ``{"username", "code"}``;
    - ``transfer-money``: ``username``, ``amount`` (Decimal, int or decimal text) → amount as text ``"2.00"``.

    Unknown or missing keys are refused.
    """
    if method not in _SPENDING_KEYS:
        raise _refused("method", "one_of", choices=", ".join(SPENDING_METHODS))
    given = {_PARAM_ALIASES.get(key, key): value for key, value in params.items()}
    if len(given) != len(params):
        raise _refused("params", "twice")
    expected = _SPENDING_KEYS[method]
    unknown = sorted(set(given) - set(expected))
    missing = [key for key in expected if key not in given]
    if unknown or missing:
        raise _refused("params", "takes", method=method, expected=", ".join(expected), missing=missing, unknown=unknown)
    out: dict[str, str | int] = {"username": validate_username(given["username"])}
    if method == "gift-product":
        out["product"] = validate_product(given["product"]).value
        out["cnt"] = int(validate_plan(given["cnt"]))
    elif method == "give-for-free":
        out["code"] = validate_item_code(given["code"])
    else:
        out["amount"] = str(validate_amount(given["amount"]))
    return out
