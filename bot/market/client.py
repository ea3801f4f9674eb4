"""MarketClient: one async method per Market API method, typed results, typed failures.

Every request is ``POST <base_url>/<method>`` with ``Content-Type: application/json`` (no charset) and a
JSON body carrying ``user_id`` and ``signature``; amounts travel as JSON floats and the signature covers
exactly the values serialized. Answers are parsed with ``parse_float=Decimal``.

Read-only calls (and the idempotent integration settings) are retried with the :class:`RetryPolicy` on
:class:`MarketUnavailable`. Spending calls make exactly ONE attempt: the spending journal
(:mod:`bot.market.journal`) owns their retries, always with the same request id.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import aiohttp

from bot.market.errors import MarketError, MarketProtocolError, MarketUnavailable, MarketValidationError
from bot.market.models import InviteStatus, Plan, PlanPrice, Prices, Product, amount_to_wire, money_from_wire
from bot.market.retry import RetryPolicy, parse_retry_after, with_retries
from bot.market.signing import sign
from bot.market.validation import (
    normalize_spending_params,
    validate_amount,
    validate_integration_id,
    validate_product,
    validate_request_id,
    validate_username,
)
from bot.settings import MarketSettings

log = logging.getLogger(__name__)

Answer = dict[str, Any]
PriceValue = Decimal | tuple[Decimal, Decimal]
"""A reseller price: one amount, or a ``(low, high)`` range."""

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=20, connect=5)
_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
_PRICE_KEY_DAYS = {str(plan.days) for plan in Plan}
_MAX_ERROR_TEXT = 500
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
_DECODER = json.JSONDecoder(parse_float=Decimal)


class MarketClient:
    """Talks to one Market API account. Shares the bot's one ``ClientSession``; never closes it."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        user_id: int,
        secret: str,
        retry: RetryPolicy | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> None:
        if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id <= 0:
            raise ValueError("user_id must be a positive integer")
        if not secret:
            raise ValueError("secret must not be empty")
        self._session = session
        self.base_url = base_url.rstrip("/")
        self.user_id = user_id
        self._secret = secret
        self.retry = retry or RetryPolicy()
        self.timeout = timeout or DEFAULT_TIMEOUT
        self._urls: dict[str, str] = {}

    @classmethod
    def from_settings(
        cls,
        session: aiohttp.ClientSession,
        settings: MarketSettings,
        *,
        retry: RetryPolicy | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> MarketClient:
        return cls(
            session,
            base_url=settings.base_url,
            user_id=settings.user_id,
            secret=settings.secret.get_secret_value(),
            retry=retry,
            timeout=timeout,
        )

    def __repr__(self) -> str:  # never shows the secret
        return f"MarketClient(base_url={self.base_url!r}, user_id={self.user_id})"

    # ------------------------------------------------------------------ read-only methods
    async def get_balance(self) -> Decimal:
        """``get-balance``: the account's NLE balance, two places."""
        answer = await self._read("get-balance", {})
        return _money(answer, "balance", "get-balance")

    async def get_prices(self, product: Product | str) -> Prices:
        """``get-prices`` (resellers): the product's plans with NLE (= EUR) and RUB prices."""
        chosen = validate_product(product)
        answer = await self._read("get-prices", {"product": chosen.value})
        return _parse_prices(chosen, answer)

    async def is_user_exists(self, username: str) -> bool:
        """``is-user-exists`` (resellers)."""
        answer = await self._read("is-user-exists", {"username": validate_username(username)})
        return _bool(answer, "user_exists", "is-user-exists")

    async def is_user_invited(self, username: str, product: Product | str) -> InviteStatus:
        """``is-user-invited`` (resellers): whether the product is public and whether the user is invited."""
        fields = {"username": validate_username(username), "product": validate_product(product).value}
        answer = await self._read("is-user-invited", fields)
        return InviteStatus(
            cheat_public=_bool(answer, "cheat_public", "is-user-invited"),
            user_invited=_bool(answer, "user_invited", "is-user-invited"),
        )

    # ------------------------------------------------------------------ spending methods (one attempt)
    async def gift_product(self, username: str, product: Product | str, plan: Plan | int, *, request_id: str) -> None:
        """``gift-product`` (resellers): gift ``plan`` of ``product``; paid from the balance at the plan price."""
        params = {"username": username, "product": product, "cnt": plan}
        await self.send_spending("gift-product", params, request_id=request_id)

    async def give_for_free(self, username: str, code: str, *, request_id: str) -> None:
        """``give-for-free``: give market item ``code`` to ``username``."""
        await self.send_spending("give-for-free", {"username": username, "code": code}, request_id=request_id)

    async def transfer_money(self, username: str, amount: Decimal, *, request_id: str) -> None:
        """``transfer-money`` (resellers): send ``amount`` NLE (Decimal, two places, positive)."""
        params = {"username": username, "amount": amount}
        await self.send_spending("transfer-money", params, request_id=request_id)

    async def send_spending(self, method: str, params: Mapping[str, object], *, request_id: str) -> Answer:
        """ONE attempt of a spending method by name; returns the API's success answer.

        ``params`` as accepted by :func:`normalize_spending_params`. Validation happens before sending.
        """
        fields: dict[str, object] = {"id": validate_request_id(request_id)}
        for key, value in normalize_spending_params(method, params).items():
            fields[key] = amount_to_wire(Decimal(value)) if key == "amount" else value
        return await self._send(method, fields)

    # ------------------------------------------------------------------ reseller integration (newer docs)
    async def set_reseller_prices(
        self, integration_id: int | str, prices: Mapping[str, Mapping[str, PriceValue]]
    ) -> None:
        """``set-reseller-prices``: prices of the checkout integration (they expire after 24 h).

        ``prices`` maps ``"<product>-<days>"`` (e.g. ``"cs2-30"``) or ``"marketplace"`` to at most three
        currencies (three upper-case letters) with an amount or a ``(low, high)`` range. Sent as the JSON
        string the API expects (:meth:`push_reseller_prices`). Idempotent, so retried like a read.
        """
        validate_integration_id(integration_id)
        await self.push_reseller_prices(integration_id, encode_reseller_prices(prices))

    async def push_reseller_prices(self, integration_id: int | str, prices_json: str) -> None:
        """``set-reseller-prices`` with an already encoded prices object (``bot.shop.prices_object``).

        ``prices_json`` is sent exactly as given, and the signature covers exactly that text.
        """
        if not isinstance(prices_json, str) or not prices_json.startswith("{"):
            raise MarketValidationError("prices", "must be the JSON text of the prices object")
        fields = {"integration_id": validate_integration_id(integration_id), "prices": prices_json}
        await self._read("set-reseller-prices", fields)

    async def integration_visibility(self, integration_id: int | str, is_public: bool) -> None:
        """``integration-visibility``: show or hide the integration in Neverlose's checkout. Idempotent."""
        if not isinstance(is_public, bool):
            raise MarketValidationError("is_public", "must be true or false")
        fields = {"integration_id": validate_integration_id(integration_id), "is_public": is_public}
        await self._read("integration-visibility", fields)

    # ------------------------------------------------------------------ transport
    def build_body(self, fields: Mapping[str, object]) -> bytes:
        """The exact bytes sent: ``user_id`` + ``fields`` + the signature over exactly those values."""
        body: dict[str, object] = {"user_id": self.user_id, **fields}
        body["signature"] = sign(body, self._secret)
        return _ENCODER.encode(body).encode("utf-8")

    async def _read(self, method: str, fields: Mapping[str, object]) -> Answer:
        return await with_retries(
            self.retry, method, lambda: self._send(method, fields), retry_on=MarketUnavailable, service="market"
        )

    async def _send(self, method: str, fields: Mapping[str, object]) -> Answer:
        """One HTTP attempt; returns the success answer or raises a typed failure."""
        url = self._urls.get(method)
        if url is None:
            url = self._urls[method] = f"{self.base_url}/{method}"
        payload = self.build_body(fields)
        started = time.perf_counter()
        try:
            async with self._session.post(url, data=payload, headers=_HEADERS, timeout=self.timeout) as resp:
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
                raw = await resp.read()
        except TimeoutError:
            log.warning("market call timed out method=%s", method)
            raise MarketUnavailable(f"{method}: timed out", method=method) from None
        except aiohttp.ClientError as exc:
            log.warning("market call failed method=%s error=%s", method, type(exc).__name__)
            raise MarketUnavailable(f"{method}: {type(exc).__name__}: {exc}", method=method) from None
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.debug("market call method=%s status=%d elapsed_ms=%.1f", method, status, elapsed_ms)
        return _interpret(method, status, raw, retry_after)


def _interpret(method: str, status: int, raw: bytes, retry_after: str | None) -> Answer:
    if status == 429:
        raise MarketUnavailable(
            f"{method}: rate limited (HTTP 429)",
            method=method,
            status=status,
            retry_after=parse_retry_after(retry_after),
        )
    if status >= 500:
        raise MarketUnavailable(
            f"{method}: server error (HTTP {status})",
            method=method,
            status=status,
            retry_after=parse_retry_after(retry_after),
        )
    try:
        answer = _DECODER.decode(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise MarketProtocolError(
            f"{method}: answer is not JSON (HTTP {status})", method=method, status=status
        ) from None
    if not isinstance(answer, dict):
        raise MarketProtocolError(f"{method}: answer is not a JSON object", method=method, status=status)
    success = answer.get("success", answer.get("succ"))
    if not isinstance(success, bool):
        raise MarketProtocolError(f"{method}: answer has no boolean 'success'", method=method, status=status)
    succ = answer.get("succ", success)
    if succ is not success:
        raise MarketProtocolError(f"{method}: 'succ' and 'success' disagree", method=method, status=status)
    if not success:
        text = answer.get("error")
        if not isinstance(text, str):
            raise MarketProtocolError(f"{method}: failure without an error text", method=method, status=status)
        log.info("market refused method=%s status=%d error=%r", method, status, text[:_MAX_ERROR_TEXT])
        raise MarketError(text, method=method, status=status)
    if not 200 <= status < 300:
        raise MarketProtocolError(f"{method}: success answer with HTTP {status}", method=method, status=status)
    return answer


def _bool(answer: Answer, key: str, method: str) -> bool:
    value = answer.get(key)
    if not isinstance(value, bool):
        raise MarketProtocolError(f"{method}: '{key}' missing or not a boolean", method=method)
    return value


def _money(answer: Mapping[str, Any], key: str, method: str) -> Decimal:
    try:
        return money_from_wire(answer.get(key))
    except (TypeError, ValueError, ArithmeticError):
        raise MarketProtocolError(f"{method}: '{key}' missing or not a number", method=method) from None


def _parse_prices(product: Product, answer: Answer) -> Prices:
    table = answer.get("prices")
    if not isinstance(table, dict) or not table:
        raise MarketProtocolError("get-prices: 'prices' missing or not an object", method="get-prices")
    plans: dict[Plan, PlanPrice] = {}
    for days_key, row in table.items():
        if days_key not in _PRICE_KEY_DAYS:
            log.info("market get-prices unknown plan ignored days=%r", days_key)
            continue
        if not isinstance(row, dict):
            raise MarketProtocolError(f"get-prices: plan {days_key} is not an object", method="get-prices")
        plan = Plan.from_days(int(days_key))
        cnt = row.get("cnt")
        if isinstance(cnt, bool) or cnt != int(plan):
            raise MarketProtocolError(f"get-prices: plan {days_key} has cnt {cnt!r}", method="get-prices")
        plans[plan] = PlanPrice(
            days=plan.days,
            cnt=plan,
            nle=_money(row, "eur", "get-prices"),
            rub=_money(row, "rub", "get-prices"),
        )
    if not plans:
        raise MarketProtocolError("get-prices: no known plan in the answer", method="get-prices")
    return Prices(product=product, plans=plans)


def encode_reseller_prices(prices: Mapping[str, Mapping[str, PriceValue]]) -> str:
    """Validate a reseller price table and encode it as the JSON string ``set-reseller-prices`` carries."""
    if not prices:
        raise MarketValidationError("prices", "must name at least one product")
    encoded: dict[str, dict[str, str | list[str]]] = {}
    for key, currencies in prices.items():
        product, _, days = key.partition("-")
        if key != "marketplace" and (product not in {p.value for p in Product} or days not in _PRICE_KEY_DAYS):
            raise MarketValidationError("prices", f"unknown key {key!r}; use '<product>-<days>' or 'marketplace'")
        if not currencies or len(currencies) > 3:
            raise MarketValidationError("prices", f"{key}: give one to three currencies")
        row: dict[str, str | list[str]] = {}
        for currency, value in currencies.items():
            if len(currency) != 3 or not currency.isascii() or not currency.isalpha() or not currency.isupper():
                raise MarketValidationError("prices", f"{key}: currency {currency!r} must be 3 upper-case letters")
            if isinstance(value, tuple):
                low, high = (validate_amount(v, field=f"prices.{key}.{currency}") for v in value)
                if low > high:
                    raise MarketValidationError("prices", f"{key}.{currency}: range low is above high")
                row[currency] = [str(low), str(high)]
            else:
                row[currency] = str(validate_amount(value, field=f"prices.{key}.{currency}"))
        encoded[key] = row
    return json.dumps(encoded, separators=(",", ":"), sort_keys=True)
