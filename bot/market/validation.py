"""Rules checked before anything is sent; each failure is a :class:`MarketValidationError`.

Where the API documents a rule we follow it (request ids: at most 80 characters of ``A-Za-z0-9._-``).
Where it does not (usernames, item codes, integration ids) we accept a conservative character set so that
nothing ambiguous ever reaches the signed string; see ``docs/market-api.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

from bot.market.errors import MarketValidationError
from bot.market.models import MAX_AMOUNT, MONEY_PLACES, Plan, Product, amount_to_wire

REQUEST_ID_MAX_LENGTH = 80
USERNAME_MAX_LENGTH = 64
ITEM_CODE_MAX_LENGTH = 32

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,80}")
_USERNAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_ITEM_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_INTEGRATION_ID = re.compile(r"[A-Za-z0-9._-]{1,80}")


def validate_request_id(value: object) -> str:
    """1–80 characters of ``A-Za-z0-9._-`` (the documented rule), as a string."""
    if not isinstance(value, str) or not _REQUEST_ID.fullmatch(value):
        raise MarketValidationError("request_id", "must be 1-80 characters of letters, digits, '.', '_' or '-'")
    return value


def validate_username(value: object) -> str:
    """A Neverlose login: 1–64 characters of ``A-Za-z0-9._-`` (surrounding spaces are removed)."""
    if not isinstance(value, str):
        raise MarketValidationError("username", "must be text")
    name = value.strip()
    if not _USERNAME.fullmatch(name):
        raise MarketValidationError("username", "must be 1-64 characters of letters, digits, '.', '_' or '-'")
    return name


def validate_item_code(value: object) -> str:
    """A market item code such as ``E3yugw``: 1–32 characters of ``A-Za-z0-9_-``."""
    if not isinstance(value, str) or not _ITEM_CODE.fullmatch(value.strip()):
        raise MarketValidationError("code", "must be 1-32 characters of letters, digits, '_' or '-'")
    return value.strip()


def validate_integration_id(value: object) -> int | str:
    """An integration id: a positive integer or 1–80 characters of ``A-Za-z0-9._-``."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value <= 0:
            raise MarketValidationError("integration_id", "must be positive")
        return value
    if isinstance(value, str) and _INTEGRATION_ID.fullmatch(value):
        return value
    raise MarketValidationError("integration_id", "must be a positive integer or 1-80 safe characters")


def validate_product(value: object) -> Product:
    if isinstance(value, Product):
        return value
    if isinstance(value, str):
        try:
            return Product(value.strip().lower())
        except ValueError:
            pass
    raise MarketValidationError("product", f"must be one of {', '.join(p.value for p in Product)}")


def validate_plan(value: object) -> Plan:
    if isinstance(value, Plan):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return Plan(value)
        except ValueError:
            pass
    raise MarketValidationError("plan", "must be cnt 0, 1, 2 or 3 (30, 90, 180 or 365 days)")


def validate_amount(value: object, *, field: str = "amount") -> Decimal:
    """A positive ``Decimal`` (or ``int``, or decimal text) with at most two places, at most MAX_AMOUNT.

    Floats are refused: money never passes through a float before the JSON edge. The result has exactly
    two places and is guaranteed to survive the float round trip of the request body.
    """
    if isinstance(value, bool | float):
        raise MarketValidationError(field, "must be a Decimal (floats and booleans are refused)")
    if isinstance(value, int):
        value = Decimal(value)
    elif isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except ArithmeticError:
            raise MarketValidationError(field, "must be a number such as 2.50") from None
    if not isinstance(value, Decimal):
        raise MarketValidationError(field, "must be a Decimal")
    if not value.is_finite():
        raise MarketValidationError(field, "must be a finite number")
    if value <= 0:
        raise MarketValidationError(field, "must be positive")
    if value > MAX_AMOUNT:
        raise MarketValidationError(field, f"must be at most {MAX_AMOUNT}")
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise MarketValidationError(field, "must have at most two decimal places")
    amount = value.quantize(MONEY_PLACES)
    try:
        amount_to_wire(amount)
    except ValueError:  # pragma: no cover - impossible within MAX_AMOUNT, kept as a guard
        raise MarketValidationError(field, "cannot be sent exactly") from None
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
        raise MarketValidationError("method", f"must be one of {', '.join(SPENDING_METHODS)}")
    given = {_PARAM_ALIASES.get(key, key): value for key, value in params.items()}
    if len(given) != len(params):
        raise MarketValidationError("params", "the same parameter is given twice")
    expected = _SPENDING_KEYS[method]
    unknown = sorted(set(given) - set(expected))
    missing = [key for key in expected if key not in given]
    if unknown or missing:
        raise MarketValidationError(
            "params", f"{method} takes {', '.join(expected)} (missing: {missing}, unknown: {unknown})"
        )
    out: dict[str, str | int] = {"username": validate_username(given["username"])}
    if method == "gift-product":
        out["product"] = validate_product(given["product"]).value
        out["cnt"] = int(validate_plan(given["cnt"]))
    elif method == "give-for-free":
        out["code"] = validate_item_code(given["code"])
    else:
        out["amount"] = str(validate_amount(given["amount"]))
    return out
