"""The simulated account and the business rules of every API method.

Assumptions where the docs are silent (also in ``docs/market-api.md``):

- usernames are matched case-insensitively (the docs use ``A49`` and ``a49`` for one user);
- a request id is consumed only when its action succeeds; a refused request (bad user, insufficient
  balance, …) leaves the id usable, so a retry of it is answered like the first attempt. Reusing a consumed
  id answers ``Invalid id.`` with no effect, whatever the method or parameters. ``123`` and ``"123"`` are the
  same id;
- error texts other than ``Invalid id.`` are our own (the three seen in public client code are reused).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.market.errors import INVALID_ID_TEXT
from bot.market.models import DOCUMENTED_PLAN_PRICES, MAX_AMOUNT, Plan, PlanPrice, Product
from bot.market.signing import verify
from bot.market.simulator.faults import FaultPlan

MUTATING_METHODS = frozenset({"give-for-free", "transfer-money", "gift-product"})
RESELLER_METHODS = frozenset(
    {
        "transfer-money",
        "gift-product",
        "get-prices",
        "is-user-invited",
        "is-user-exists",
        "set-reseller-prices",
        "integration-visibility",
    }
)
METHODS = MUTATING_METHODS | RESELLER_METHODS | {"get-balance"}

# Error texts. Only INVALID_ID is documented; the next three are seen in public client code.
USER_NOT_FOUND = "User doesn't exist"
ALREADY_HAS_ITEM = "This user already has this item"
INVALID_ITEM = "invalid item"
INVALID_SIGNATURE = "Invalid signature"
INVALID_USER_ID = "Invalid user_id"
RESELLER_ONLY = "This method is available for official resellers only"
INSUFFICIENT_BALANCE = "Insufficient balance"
INVALID_PRODUCT = "Invalid product"
INVALID_CNT = "Invalid cnt"
INVALID_AMOUNT = "Invalid amount"
INVALID_ID_FORMAT = "Invalid id format"
NOT_INVITED = "User is not invited to this product"
INVALID_INTEGRATION = "Invalid integration_id"
INVALID_PRICES = "Invalid prices format"
TOO_MANY_CURRENCIES = "Too many currencies"
PRICES_TTL = timedelta(hours=24)
MAX_PRICE_CURRENCIES = 3
SANDBOX_INTEGRATION_ID = 1
"""The integration the demo account has (``reseller-bot sandbox`` uses it when none is configured)."""
UNKNOWN_METHOD = "Unknown method"

SANDBOX_SECRET = "sandbox-secret"  # noqa: S105 - public sandbox credential, same as the settings default
"""The simulator's default secret; not a secret (the sandbox runs on loopback)."""

_CNT_VALUES = frozenset(int(plan) for plan in Plan)
_ID = re.compile(r"[A-Za-z0-9._-]{1,80}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_PLAN_DAYS = {str(plan.days) for plan in Plan}


class Refusal(Exception):
    """The simulated API refuses the request with ``text`` (``success: false``)."""

    def __init__(self, text: str, status: int = 200) -> None:
        self.text = text
        self.status = status
        super().__init__(text)


@dataclass(slots=True)
class SimUser:
    name: str
    balance: Decimal = Decimal("0.00")
    invited: set[Product] = field(default_factory=set)
    items: set[str] = field(default_factory=set)
    subscription_days: dict[Product, int] = field(default_factory=dict)


@dataclass(slots=True)
class SimProduct:
    public: bool
    prices: dict[Plan, PlanPrice]


@dataclass(frozen=True, slots=True)
class CatalogueItem:
    code: str
    name: str
    price: Decimal


@dataclass(slots=True)
class Integration:
    """A reseller integration: its visibility and the prices last pushed (they expire after 24 hours)."""

    is_public: bool = False
    prices: dict[str, Any] | None = None
    prices_text: str | None = None
    """The ``prices`` string exactly as received."""
    pushed_at: datetime | None = None
    expires_at: datetime | None = None

    def live_prices(self, now: datetime) -> dict[str, Any] | None:
        """The pushed prices while they have not expired (what Neverlose's checkout shows)."""
        if self.prices is None or self.expires_at is None or self.expires_at <= now:
            return None
        return self.prices


@dataclass(slots=True)
class LoggedRequest:
    """One request as the simulator saw it, and what it did with it."""

    method: str
    content_type: str | None
    raw: bytes
    body: dict[str, Any] | None = None
    status: int | None = None
    answer: dict[str, Any] | None = None
    fault: str | None = None
    effect_applied: bool = False


def default_prices(rub_per_nle: Decimal = Decimal("80")) -> dict[Plan, PlanPrice]:
    return {
        plan: PlanPrice(days=plan.days, cnt=plan, nle=nle, rub=(nle * rub_per_nle).quantize(Decimal("1")))
        for plan, nle in DOCUMENTED_PLAN_PRICES.items()
    }


@dataclass
class SimulatorState:
    """Everything the simulated API knows; tests read and change it directly."""

    user_id: int = 1
    secret: str = SANDBOX_SECRET
    reseller: bool = True
    balance: Decimal = Decimal("0.00")
    users: dict[str, SimUser] = field(default_factory=dict)
    products: dict[Product, SimProduct] = field(
        default_factory=lambda: {p: SimProduct(public=True, prices=default_prices()) for p in Product}
    )
    catalogue: dict[str, CatalogueItem] = field(default_factory=dict)
    integrations: dict[str, Integration] = field(default_factory=dict)
    used_ids: dict[str, str] = field(default_factory=dict)
    """Consumed request id → the method that consumed it."""
    request_log: deque[LoggedRequest] = field(default_factory=lambda: deque(maxlen=10_000))
    faults: FaultPlan = field(default_factory=FaultPlan)
    strict_content_type: bool = True
    """Refuse ``Content-Type`` other than exactly ``application/json`` (a charset suffix was reported refused)."""
    next_unique_id: dict[str, int] = field(default_factory=lambda: {"transfer": 1, "purchase": 1})
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), repr=False)
    """The simulator's time (pushed prices expire 24 hours after the push)."""
    stopping: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    """Set while the simulator shuts down: injected delays end at once."""

    @classmethod
    def demo(cls, *, user_id: int = 1, secret: str = SANDBOX_SECRET) -> SimulatorState:
        """The seeded demo account: a reseller with 1000.00 NLE, a few users, one invite-only product."""
        state = cls(user_id=user_id, secret=secret, reseller=True, balance=Decimal("1000.00"))
        state.products[Product.CS2].public = False
        state.add_user("darth", invited={Product.CS2})
        state.add_user("a49", balance=Decimal("25.00"))
        state.add_user("target_user")
        state.add_user("newbie")
        state.add_item("E3yugw", "Demo config", Decimal("0.90"))
        state.add_item("Lua777", "Demo script", Decimal("2.50"))
        state.integrations[str(SANDBOX_INTEGRATION_ID)] = Integration()
        return state

    # ------------------------------------------------------------------ setup helpers
    def add_user(
        self, name: str, *, invited: set[Product] | None = None, balance: Decimal = Decimal("0.00")
    ) -> SimUser:
        user = SimUser(name=name, balance=balance, invited=set(invited or ()))
        self.users[name.lower()] = user
        return user

    def add_item(self, code: str, name: str, price: Decimal) -> CatalogueItem:
        item = CatalogueItem(code, name, price)
        self.catalogue[code] = item
        return item

    def user(self, name: str) -> SimUser | None:
        return self.users.get(name.lower())

    def requests_for(self, method: str) -> list[LoggedRequest]:
        return [entry for entry in self.request_log if entry.method == method]

    def effects(self, method: str | None = None) -> list[LoggedRequest]:
        """Logged requests whose effect was applied (optionally of one method)."""
        return [e for e in self.request_log if e.effect_applied and (method is None or e.method == method)]

    def take_unique_id(self, kind: str) -> int:
        value = self.next_unique_id.get(kind, 1)
        self.next_unique_id[kind] = value + 1
        return value

    # ------------------------------------------------------------------ request processing
    def process(self, method: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Check and apply one parsed request; return (success answer fields, effect applied).

        Raises :class:`Refusal` for every error answer.
        """
        if method not in METHODS:
            raise Refusal(UNKNOWN_METHOD, status=404)
        user_id = _field(body, "user_id", int)
        if user_id != self.user_id:
            raise Refusal(INVALID_USER_ID, status=403)
        if not isinstance(body.get("signature"), str) or not verify(body, self.secret):
            raise Refusal(INVALID_SIGNATURE, status=403)
        if method in RESELLER_METHODS and not self.reseller:
            raise Refusal(RESELLER_ONLY)
        request_id: str | None = None
        if method in MUTATING_METHODS:
            request_id = self._check_id(body)
        handler = getattr(self, "_" + method.replace("-", "_"))
        answer: dict[str, Any] = handler(body)
        if request_id is not None:
            self.used_ids[request_id] = method
        return answer, method in MUTATING_METHODS

    def _check_id(self, body: dict[str, Any]) -> str:
        if "id" not in body:
            raise Refusal("Missing field: id")
        raw = body["id"]
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise Refusal("Invalid field type: id")
        request_id = str(raw)
        if not _ID.fullmatch(request_id):
            raise Refusal(INVALID_ID_FORMAT)
        if request_id in self.used_ids:
            raise Refusal(INVALID_ID_TEXT)
        return request_id

    def _existing_user(self, body: dict[str, Any]) -> SimUser:
        user = self.user(_field(body, "username", str))
        if user is None:
            raise Refusal(USER_NOT_FOUND)
        return user

    def _debit(self, amount: Decimal) -> None:
        if amount > self.balance:
            raise Refusal(INSUFFICIENT_BALANCE)
        self.balance -= amount

    # ------------------------------------------------------------------ methods
    def _get_balance(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"balance": float(self.balance)}

    def _get_prices(self, body: dict[str, Any]) -> dict[str, Any]:
        product = self.products[_product(body)]
        return {
            "prices": {
                str(price.days): {"cnt": int(plan), "eur": float(price.nle), "rub": _json_number(price.rub)}
                for plan, price in sorted(product.prices.items())
            }
        }

    def _is_user_exists(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"user_exists": self.user(_field(body, "username", str)) is not None}

    def _is_user_invited(self, body: dict[str, Any]) -> dict[str, Any]:
        product = _product(body)
        user = self._existing_user(body)
        public = self.products[product].public
        return {"cheat_public": public, "user_invited": public or product in user.invited}

    def _gift_product(self, body: dict[str, Any]) -> dict[str, Any]:
        product = _product(body)
        cnt = _field(body, "cnt", int)
        if cnt not in _CNT_VALUES:
            raise Refusal(INVALID_CNT)
        plan = Plan(cnt)
        user = self._existing_user(body)
        info = self.products[product]
        if not info.public and product not in user.invited:
            raise Refusal(NOT_INVITED)
        self._debit(info.prices[plan].nle)
        user.subscription_days[product] = user.subscription_days.get(product, 0) + plan.days
        return {}

    def _give_for_free(self, body: dict[str, Any]) -> dict[str, Any]:
        code = _field(body, "code", str)
        item = self.catalogue.get(code)
        if item is None:
            raise Refusal(INVALID_ITEM)
        user = self._existing_user(body)
        if code in user.items:
            raise Refusal(ALREADY_HAS_ITEM)
        self._debit(item.price)
        user.items.add(code)
        return {}

    def _transfer_money(self, body: dict[str, Any]) -> dict[str, Any]:
        raw = body.get("amount")
        if "amount" not in body:
            raise Refusal("Missing field: amount")
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise Refusal("Invalid field type: amount")
        try:
            amount = Decimal(str(raw))
        except InvalidOperation:  # pragma: no cover - str() of a parsed number is always valid
            raise Refusal(INVALID_AMOUNT) from None
        exponent = amount.normalize().as_tuple().exponent
        if (
            not amount.is_finite()
            or amount <= 0
            or amount > MAX_AMOUNT
            or (isinstance(exponent, int) and exponent < -2)
        ):
            raise Refusal(INVALID_AMOUNT)
        user = self._existing_user(body)
        self._debit(amount)
        user.balance += amount
        return {}

    def _integration(self, body: dict[str, Any]) -> Integration:
        raw = body.get("integration_id")
        if "integration_id" not in body:
            raise Refusal("Missing field: integration_id")
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise Refusal("Invalid field type: integration_id")
        integration = self.integrations.get(str(raw))
        if integration is None:
            raise Refusal(INVALID_INTEGRATION)
        return integration

    def _set_reseller_prices(self, body: dict[str, Any]) -> dict[str, Any]:
        integration = self._integration(body)
        text = _field(body, "prices", str)
        integration.prices = parse_reseller_prices(text)
        integration.prices_text = text
        integration.pushed_at = self.clock()
        integration.expires_at = integration.pushed_at + PRICES_TTL
        return {}

    def _integration_visibility(self, body: dict[str, Any]) -> dict[str, Any]:
        integration = self._integration(body)
        integration.is_public = _field(body, "is_public", bool)
        return {}


def _field(body: dict[str, Any], name: str, kind: type[Any]) -> Any:
    if name not in body:
        raise Refusal(f"Missing field: {name}")
    value = body[name]
    if (kind is not bool and isinstance(value, bool)) or not isinstance(value, kind):
        raise Refusal(f"Invalid field type: {name}")
    return value


def _product(body: dict[str, Any]) -> Product:
    try:
        return Product(_field(body, "product", str))
    except ValueError:
        raise Refusal(INVALID_PRODUCT) from None


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def parse_reseller_prices(text: str) -> dict[str, Any]:
    """Check a ``prices`` string against every rule of the docs; the object with canonical keys.

    Keys ``<product>-<days>`` of an existing plan (``cs2`` alone = ``cs2-30``) or ``marketplace``; per key
    1 to 3 currencies of exactly 3 upper-case Latin letters; each value a positive decimal string, or a list
    of exactly 2 of them with the first less than the second. Refusals are :class:`Refusal`.
    """
    try:
        prices = json.loads(text, parse_float=Decimal)
    except ValueError:
        raise Refusal(f"{INVALID_PRICES}: prices is not JSON") from None
    if not isinstance(prices, dict) or not prices:
        raise Refusal(f"{INVALID_PRICES}: prices must be a non-empty JSON object")
    result: dict[str, Any] = {}
    for key, row in prices.items():
        canonical = _price_key(key)
        if canonical in result:
            raise Refusal(f"{INVALID_PRICES}: {key} duplicates {canonical}")
        if not isinstance(row, dict) or not row:
            raise Refusal(f"{INVALID_PRICES}: {key} must be an object of currencies")
        if len(row) > MAX_PRICE_CURRENCIES:
            raise Refusal(f"{TOO_MANY_CURRENCIES}: {key} has {len(row)}, at most {MAX_PRICE_CURRENCIES}")
        for currency, value in row.items():
            if not _CURRENCY.fullmatch(currency):
                raise Refusal(f"{INVALID_PRICES}: currency {currency!r} must be 3 uppercase latin letters")
            _price_value(f"{key}.{currency}", value)
        result[canonical] = row
    return result


def _price_key(key: str) -> str:
    if key == "marketplace":
        return key
    product, sep, days = key.partition("-")
    if product not in {p.value for p in Product}:
        raise Refusal(f"{INVALID_PRICES}: unknown product in key {key!r}")
    if not sep:
        return f"{product}-30"
    if days not in _PLAN_DAYS:
        raise Refusal(f"{INVALID_PRICES}: no {days!r}-day plan in key {key!r}")
    return key


def _price_value(where: str, value: object) -> None:
    if isinstance(value, list):
        if len(value) != 2:
            raise Refusal(f"{INVALID_PRICES}: {where} range must have exactly 2 elements")
        low, high = (_decimal_string(where, item) for item in value)
        if not low < high:
            raise Refusal(f"{INVALID_PRICES}: {where} range first price must be less than the second")
        return
    _decimal_string(where, value)


def _decimal_string(where: str, value: object) -> Decimal:
    if not isinstance(value, str):
        raise Refusal(f"{INVALID_PRICES}: {where} decimal values must be passed as strings")
    if not _DECIMAL.fullmatch(value) or not Decimal(value) > 0:
        raise Refusal(f"{INVALID_PRICES}: {where} {value!r} is not a positive decimal number")
    return Decimal(value)
