"""ShopService: the operations ``/shop`` runs, each validated, applied and audited (who, what, old, new).

Built by ``bot/core.py`` when ``MARKET_INTEGRATION_ID`` is set; owns the price table, the shop state, the
enabled payment methods and the price pusher (run as a background task). Every change to the table or the
methods asks the pusher for a push within 10 s.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import ParamSpec, TypeVar

from bot.i18n import t
from bot.i18n.said import Said
from bot.market.client import MarketClient
from bot.market.errors import MarketFailure
from bot.notifications.embeds import truncate
from bot.notifications.outbox import Outbox
from bot.settings import Settings
from bot.shop.catalog import PaymentMethod, ProductKey
from bot.shop.enabled import shop_disabled_reason as shop_disabled_reason
from bot.shop.importing import ImportPlan, check_size, export_json, parse_import
from bot.shop.localized import LocalizedAlerts, refusals_in_reader_language
from bot.shop.methods import EnabledMethods
from bot.shop.price_table import PriceEntry, PriceTable
from bot.shop.prices_object import PricesObject, PriceValue, derive_prices, encode_prices, price_text
from bot.shop.push import AlertSink, PricePusher
from bot.shop.recorded import RESULT_LIMIT
from bot.shop.state import (
    EXPIRES_AT,
    LAST_ERROR,
    LAST_ERROR_AT,
    LAST_SUCCESS_AT,
    VISIBILITY_PUBLIC,
    VISIBILITY_SET_AT,
    ShopState,
    to_iso,
)
from bot.shop.status import ShopStatus
from bot.shop.validation import (
    ShopInputError,
    check_currency_count,
    parse_currency,
    parse_method,
    parse_price,
    parse_product_key,
    product_key,
)
from bot.staff.audit import AuditLog
from bot.staff.errors import InvalidInput
from bot.staff.limits import Clock, utc_now
from bot.staff.models import AuditEntry, AuditEvent
from bot.storage import Database

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

MAX_AUDIT_TEXT = 400
DISABLE_WORDS = frozenset({"off", "none", "disable", "-"})
"""Manual payment instructions that mean "disable manual payments" (any letter case)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who changes the shop: a staff member's Discord id and the guild."""

    staff_id: int
    guild_id: int | None = None


@dataclass(frozen=True, slots=True)
class PriceChange:
    old: PriceEntry | None
    new: PriceEntry | None


@dataclass(frozen=True, slots=True)
class NextPush:
    """What the next push sends (``text`` is ``None`` when nothing is pushed, ``reason`` says why)."""

    prices: PricesObject
    text: str | None
    reason: str | None


def _said_refusals(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """A service method whose refusals of a value or a file (validation, import) carry their sentence in the
    reader's language for the error handler (:func:`bot.shop.localized.refusals_in_reader_language`)."""

    @functools.wraps(method)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with refusals_in_reader_language():
            return await method(*args, **kwargs)

    return run


def _what(key: str, currency: str, method: PaymentMethod | None) -> str:
    return f"{key} {currency} ({'every method' if method is None else method.value})"


def _method_value(method: PaymentMethod | None) -> Callable[[str], str]:
    """``every method`` in the reader's language, or the method's value (``manual``) as :func:`_what` shows it."""
    return lambda locale: t(locale, "shop.method.every") if method is None else method.value


class ShopService:
    def __init__(
        self,
        *,
        db: Database,
        market: MarketClient,
        integration_id: int,
        audit: AuditLog,
        methods: EnabledMethods,
        state: ShopState,
        alerts: AlertSink,
        refresh: timedelta,
        checkout_path: str,
        public_base_url: str | None,
        clock: Clock = utc_now,
    ) -> None:
        self.table = PriceTable(db)
        self.state = state
        self.methods = methods
        self.integration_id = integration_id
        self.checkout_path = checkout_path
        self.sample_link: Callable[[], str] | None = None
        """Sandbox mode only: makes a fresh sample checkout link for ``/shop status``."""
        self.public_base_url = public_base_url
        self._market = market
        self._audit = audit
        self._clock = clock
        self._lock = asyncio.Lock()
        self.pusher = PricePusher(
            build=self.prices_json,
            send=self._send,
            state=state,
            alerts=alerts,
            refresh=refresh,
            clock=clock,
        )
        methods.on_change(self.pusher.changed)

    @classmethod
    def create(
        cls,
        *,
        db: Database,
        market: MarketClient,
        settings: Settings,
        audit: AuditLog,
        outbox: Outbox,
        wake: Callable[[], None] | None = None,
        locale: Callable[[], str] | None = None,
    ) -> ShopService:
        """The service as ``bot/core.py`` builds it (``MARKET_INTEGRATION_ID`` must be set); ``locale`` is the
        channel language the push alerts are posted in."""
        integration_id = settings.shop.integration_id
        if integration_id is None:
            raise ValueError("MARKET_INTEGRATION_ID is not set")
        state = ShopState(db)
        return cls(
            db=db,
            market=market,
            integration_id=integration_id,
            audit=audit,
            methods=EnabledMethods(state, cryptopay_enabled=settings.cryptopay.enabled),
            state=state,
            alerts=LocalizedAlerts(outbox, wake, locale),
            refresh=settings.shop.prices_refresh,
            checkout_path=settings.checkout.checkout_path,
            public_base_url=settings.server.public_base_url,
        )

    @property
    def redirect_url(self) -> str | None:
        """PUBLIC_BASE_URL + CHECKOUT_PATH: what the operator pastes into Neverlose's API settings."""
        return None if self.public_base_url is None else self.public_base_url.rstrip("/") + self.checkout_path

    async def _send(self, text: str) -> None:
        await self._market.push_reseller_prices(self.integration_id, text)

    # ----------------------------------------------------------------- what the push sends
    async def next_push(self) -> NextPush:
        entries = await self.table.entries()
        enabled = await self.methods.enabled()
        prices = derive_prices(entries, enabled)
        if not entries:
            return NextPush(prices, None, "The price table is empty; add prices with `/shop price set`.")
        if not enabled:
            return NextPush(
                prices,
                None,
                "No payment method is enabled; set `/shop method manual` instructions or CRYPTOPAY_TOKEN.",
            )
        if not prices:
            return NextPush(prices, None, "No enabled payment method has a price in the table.")
        return NextPush(prices, encode_prices(prices), None)

    async def shown_price(self, key: ProductKey | str, currency: str) -> PriceValue | None:
        """What Neverlose will show for ``key`` in ``currency`` after the next push (``None``: not pushed)."""
        return (await self.next_push()).prices.get(str(key), {}).get(currency)

    async def prices_json(self) -> str | None:
        """The exact prices text the push sends now, or ``None`` when there is nothing to push."""
        return (await self.next_push()).text

    # ----------------------------------------------------------------- price table
    @staticmethod
    def product_key(product: str, plan_days: int | None) -> ProductKey:
        """The key a command's product and plan options name; refused (in the reader's language) otherwise."""
        with refusals_in_reader_language():
            return product_key(product, plan_days)

    @_said_refusals
    async def set_price(
        self,
        actor: Actor,
        key: ProductKey | str,
        currency: str,
        price: object,
        method: PaymentMethod | str | None = None,
    ) -> PriceChange:
        """Add or change one price; refused (with the field and the rule) when any value is wrong."""
        chosen = key if isinstance(key, ProductKey) else parse_product_key(key)
        entry = PriceEntry(str(chosen), parse_currency(currency), parse_price(price), parse_method(method))
        async with self._lock:
            check_currency_count(await self.table.entries(), entry.product_key, entry.currency)
            old = await self.table.get(entry.product_key, entry.currency, entry.method)
            await self.table.put(entry, updated_by=actor.staff_id)
        old_text = "none" if old is None else price_text(old.price)
        await self._record(
            actor,
            "shop price set",
            _what(entry.product_key, entry.currency, entry.method),
            f"{old_text} → {price_text(entry.price)}",
        )
        self.pusher.changed()
        return PriceChange(old, entry)

    @_said_refusals
    async def remove_price(
        self, actor: Actor, key: ProductKey | str, currency: str, method: PaymentMethod | str | None = None
    ) -> PriceEntry:
        chosen = key if isinstance(key, ProductKey) else parse_product_key(key)
        code, how = parse_currency(currency), parse_method(method)
        async with self._lock:
            old = await self.table.get(str(chosen), code, how)
            if old is None or not await self.table.remove(str(chosen), code, how):
                error = ShopInputError("price", f"there is no price for {_what(str(chosen), code, how)} to remove.")
                error.said = Said(
                    "shop.invalid",
                    {
                        "field": Said("shop.field.price"),
                        "rule": Said(
                            "shop.rule.nothing_to_remove",
                            {"key": str(chosen), "currency": code, "method": _method_value(how)},
                        ),
                    },
                )
                raise error
        await self._record(
            actor,
            "shop price remove",
            _what(old.product_key, old.currency, old.method),
            f"{price_text(old.price)} → none",
        )
        self.pusher.changed()
        return old

    async def currencies(self) -> list[str]:
        """Currencies already used in the table (autocomplete)."""
        return sorted({entry.currency for entry in await self.table.entries()})

    # ----------------------------------------------------------------- export / import
    async def export(self) -> bytes:
        return export_json(await self.table.entries(), await self.methods.enabled())

    @staticmethod
    def check_import_size(size: int) -> None:
        """Refuse a file too large to import before it is downloaded (in the reader's language)."""
        with refusals_in_reader_language():
            check_size(size)

    @_said_refusals
    async def plan_import(self, raw: bytes) -> ImportPlan:
        """Validate a file as a whole and describe what it would change (nothing changes yet)."""
        return parse_import(raw, await self.table.entries(), await self.methods.enabled())

    async def apply_import(self, actor: Actor, plan: ImportPlan) -> ImportPlan:
        """Replace the table with ``plan`` unless the table changed since the preview."""
        async with self._lock:
            if await self.table.entries() != plan.base:
                raise InvalidInput.said_as(Said("shop.import.stale"))
            await self.table.replace_all(plan.entries, updated_by=actor.staff_id)
        details = "; ".join(plan.preview_lines()) or "no changes"
        await self._record(actor, "shop prices import", plan.summary(), details)
        self.pusher.changed()
        return plan

    # ----------------------------------------------------------------- visibility and methods
    async def set_visibility(self, actor: Actor, public: bool) -> bool | None:
        """``integration-visibility``; stores and audits the new value; returns the value as last set."""
        old = await self.state.get_bool(VISIBILITY_PUBLIC)
        shown_old = "unknown" if old is None else ("public" if old else "hidden")
        new = "public" if public else "hidden"
        try:
            await self._market.integration_visibility(self.integration_id, public)
        except MarketFailure as exc:
            await self._record(
                actor,
                "shop visibility",
                f"integration {self.integration_id}",
                f"{shown_old} → {new} failed: {type(exc).__name__}",
                event=AuditEvent.FAILED,
            )
            raise
        await self.state.set_many(
            {VISIBILITY_PUBLIC: "true" if public else "false", VISIBILITY_SET_AT: to_iso(self._clock())}
        )
        await self._record(actor, "shop visibility", f"integration {self.integration_id}", f"{shown_old} → {new}")
        return old

    async def set_manual_instructions(self, actor: Actor, text: str) -> str | None:
        """Set the manual payment instructions (blank or a word of :data:`DISABLE_WORDS`: disable manual
        payments); returns the instructions now in force (``None``: disabled)."""
        cleaned = "" if text.strip().lower() in DISABLE_WORDS else text
        old = await self.methods.set_manual_instructions(cleaned, actor.staff_id)
        new = await self.methods.manual_instructions()
        await self._record(
            actor,
            "shop method manual",
            "manual payment instructions",
            f"{_short(old) if old else 'none (disabled)'} → {_short(new) if new else 'none (disabled)'}",
        )
        return new

    # ----------------------------------------------------------------- status
    async def status(self) -> ShopStatus:
        entries = await self.table.entries()
        plan = await self.next_push()
        pusher = self.pusher
        last_success = pusher.last_success or await self.state.get_time(LAST_SUCCESS_AT)
        expires_at = pusher.expires_at or await self.state.get_time(EXPIRES_AT)
        return ShopStatus(
            integration_id=self.integration_id,
            public=await self.state.get_bool(VISIBILITY_PUBLIC),
            visibility_set_at=await self.state.get_time(VISIBILITY_SET_AT),
            last_success=last_success,
            expires_at=expires_at,
            next_push=pusher.next_push_at(),
            entries=len(entries),
            pushed_products=len(plan.prices) if plan.text is not None else 0,
            nothing_reason=plan.reason,
            last_error=await self.state.get(LAST_ERROR),
            last_error_at=await self.state.get_time(LAST_ERROR_AT),
            redirect_url=self.redirect_url,
            checkout_path=self.checkout_path,
            methods=await self.methods.enabled(),
            alert_active=pusher.alert_active,
            now=self._clock(),
            sample_link=None if self.sample_link is None else self.sample_link(),
        )

    # ----------------------------------------------------------------- audit
    async def _record(
        self, actor: Actor, action: str, what: str, change: str, *, event: AuditEvent = AuditEvent.SUCCEEDED
    ) -> None:
        await self._audit.record(
            AuditEntry(
                action=action,
                event=event,
                staff_id=actor.staff_id,
                guild_id=actor.guild_id,
                detail=what[:MAX_AUDIT_TEXT],
                result=change[:RESULT_LIMIT],
            )
        )


def _short(text: str | None) -> str:
    value = (text or "").replace("\n", " ")
    return truncate(value, MAX_AUDIT_TEXT // 2)
