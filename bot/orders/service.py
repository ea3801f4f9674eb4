"""The order service: every way an order is created, paid, delivered, refused, cancelled or refunded.

Callers: the checkout pages (:mod:`bot.orders.web`), the Discord cogs (staff buttons, ``/order``, ``/buy``) and
payment providers (as :class:`~bot.payments.provider.PaymentListener`). Every change goes through
:class:`~bot.orders.repository.OrderRepository.move`: a guarded update plus its history entry plus the
transition hooks, in one SQLite transaction; an illegal move raises
:class:`~bot.orders.models.IllegalTransition` and writes nothing.

Actors are strings (see :mod:`bot.orders.models`): ``customer``, ``system``, ``staff:<id>``,
``discord:<id>``, ``provider:<method>``. A payment confirmed by ``staff:<id>`` is spent in that staff member's
name in the spending journal (``requested_by``), so it counts toward their daily limit like ``/gift``.

Background work (pre-checks after a checkout link, fulfilment after a payment) runs in tasks the service
owns; :meth:`OrderService.drain` waits for them (tests, shutdown).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import aiosqlite

from bot.background import BackgroundTasks
from bot.locks import KeyedLocks
from bot.market.errors import MarketFailure, MarketValidationError
from bot.market.journal import SpendingJournal
from bot.market.models import DOCUMENTED_PLAN_PRICES, MAX_AMOUNT
from bot.market.validation import validate_username
from bot.notifications.embeds import alert_embed
from bot.notifications.outbox import Outbox
from bot.notifications.targets import AUDIT_TARGET
from bot.orders import fulfilment
from bot.orders.market_cache import SHARED_FOR, SharedMarketReads
from bot.orders.models import (
    IllegalTransition,
    Order,
    OrderRefused,
    OrderState,
    Transition,
    staff_id,
)
from bot.orders.prechecks import BlockReason, MarketReader, Offer, PrecheckResult, choose_offer, run_prechecks
from bot.orders.repository import OrderRepository, TransitionHook
from bot.orders.token import PurchaseClaims
from bot.payments.enabled import EnabledMethods
from bot.payments.provider import PaymentOutcome, PaymentRequest, PaymentStart, PaymentStatus
from bot.payments.registry import PaymentRegistry
from bot.shop.catalog import PaymentMethod, ProductKey
from bot.shop.price_table import PriceTable
from bot.storage import Database

log = logging.getLogger(__name__)

_COUNT_BLOCKED = (  # pragma: no mutate block
    "SELECT COUNT(*) FROM orders WHERE state = 'awaiting_payment' AND check_status = 'blocked' AND check_reason = ?"
)
CLAIM_REFERENCE_MAX = 100
NOTE_MAX = 300
ORDER_ID_BYTES = 16  # 128 bits
MAINTENANCE_INTERVAL = timedelta(minutes=3)
"""How often expiry, balance retries, re-checks and re-drives run."""


ORDER_ID_TIME_CHARS = 7
"""The id's first characters: the creation time in milliseconds (42 bits, counted again from 0 after 2109)."""
_SORTED_BASE64URL = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
"""The 64 characters of URL-safe base64 in the order SQLite compares text (their code points)."""


def new_order_id() -> str:
    """The creation time (:data:`ORDER_ID_TIME_CHARS` characters) then 128 random bits, URL-safe base64: 29
    characters of ``A-Za-z0-9_-``; the random part alone makes an id unguessable.

    The time comes first so that ids sort by creation: a new order's entries go to the end of the b-trees keyed
    by its id (the orders' primary key, the history's), not to a random leaf of each, a page fewer to write to
    the WAL at each ``COMMIT`` (and again at the checkpoint) per tree and order. Nothing depends on that order
    (a clock set back only costs those pages again); ids made before (22 random characters) stay valid."""
    millis = time.time_ns() // 1_000_000
    shifts = range(6 * (ORDER_ID_TIME_CHARS - 1), -1, -6)
    return "".join(_SORTED_BASE64URL[(millis >> shift) & 63] for shift in shifts) + secrets.token_urlsafe(
        ORDER_ID_BYTES
    )


def clean_text(text: str | None, limit: int) -> str | None:
    """Printable, single-line, trimmed to ``limit`` characters; ``None`` when nothing is left."""
    if text is None:
        return None
    cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return cleaned[:limit] or None


class OrderService:
    """See the module docstring. Build one per bot; share it between the web pages and the cogs."""

    def __init__(
        self,
        db: Database,
        *,
        market: MarketReader,
        journal: SpendingJournal,
        prices: PriceTable,
        methods: EnabledMethods,
        providers: PaymentRegistry,
        order_ttl: timedelta,
        outbox: Outbox | None = None,
        wake: Callable[[], None] | None = None,
        clock: Callable[[], datetime] | None = None,
        base_url: Callable[[], str] | None = None,
        shared_reads_for: float = SHARED_FOR,
    ) -> None:
        self._db = db
        self._market = market
        self._shared_reads = SharedMarketReads(market, ttl=shared_reads_for)
        self._journal = journal
        self._prices = prices
        self._methods = methods
        self.providers = providers
        self.order_ttl = order_ttl
        self._outbox = outbox
        self._wake = wake
        self._clock = clock or (lambda: datetime.now(UTC))
        self._base_url = base_url
        self.repo = OrderRepository(db, self._clock)
        self._lock = KeyedLocks[str]()  # one per order being worked on
        self._tasks = BackgroundTasks(log, "order")
        self._checking: set[str] = set()

    # ------------------------------------------------------------------ hooks, background
    def add_transition_hook(self, hook: TransitionHook, *, creations: bool = True) -> None:
        """``await hook(conn, order, transition)`` inside the transaction of every change (creation included,
        unless ``creations`` is false: for a hook that has nothing to do for a new order, so that a burst of
        checkouts stays one round trip to the database's thread).

        ``transition.from_state == transition.to_state`` marks an event that did not move the state (method
        chosen, payment claimed, pre-check result). Write only with ``conn`` (e.g. ``Outbox.enqueue(conn, ...)``);
        raising rolls the change back.
        """
        (self.repo.hooks if creations else self.repo.change_hooks).append(hook)

    async def drain(self) -> None:
        """Wait until the background work started so far (and what it started) has finished."""
        await self._tasks.drain()

    async def close(self) -> None:
        await self._tasks.close()

    def order_url(self, order_id: str) -> str:
        """The order page's address (absolute when the bot knows its public address)."""
        base = self._base_url() if self._base_url is not None else ""
        return f"{base.rstrip('/')}/orders/{order_id}"

    # ------------------------------------------------------------------ reading
    async def get(self, order_id: str) -> Order:
        """The order; :class:`OrderNotFound` for an unknown id."""
        return await self.repo.get(order_id)

    async def history(self, order_id: str) -> list[Transition]:
        """Its transitions and events, oldest first (``seq`` 1 is the creation)."""
        return await self.repo.history(order_id)

    async def find(
        self,
        *,
        state: OrderState | Sequence[OrderState] | None = None,
        login: str | None = None,
        since: datetime | None = None,
        discord_user_id: int | None = None,
        limit: int = 25,
        offset: int = 0,
    ) -> list[Order]:
        """Newest first, every given filter applied (login case-insensitive), paginated."""
        return await self.repo.find(
            state=state, login=login, since=since, discord_user_id=discord_user_id, limit=limit, offset=offset
        )

    async def customer_orders(self, discord_user_id: int, login: str | None, *, limit: int) -> list[Order]:
        """``/orders mine``: the orders a member placed with ``/buy`` and those for their linked ``login`` (each
        once), newest first, at most ``limit``."""
        found = {o.id: o for o in await self.repo.find(discord_user_id=discord_user_id, limit=limit)}
        if login is not None:
            for o in await self.repo.find(login=login, limit=limit):
                found.setdefault(o.id, o)
        return sorted(found.values(), key=lambda o: o.created_at, reverse=True)[:limit]

    async def offer(self, order: Order) -> Offer | None:
        """The order's currency and each offered method's price (registered and enabled methods only)."""
        enabled = [m for m in await self._methods.methods() if m in self.providers]
        offer = choose_offer(await self._prices.entries(), order.key, enabled, order.nle)
        if offer is None:
            return None
        if order.currency is not None and offer.currency != order.currency:
            return None  # the price table changed currency since the order was checked: check it again
        offered = {m: p for m, p in offer.prices.items() if self.providers.get(m).offers(offer.currency)}
        if offered != offer.prices:  # a provider that cannot take this currency (Crypto Pay: its fiat list)
            return Offer(offer.currency, offered) if offered else None
        return offer

    # ------------------------------------------------------------------ creating
    async def create_from_token(self, claims: PurchaseClaims) -> tuple[Order, bool]:
        """The order for a verified checkout token: created once per token (sha256), found again on a reload or
        replay, whatever its state. Returns (order, created). The pre-checks start when the order page is first
        shown (:meth:`start_check`); until they are done ``check_status`` is ``pending``."""
        order, created = await self.repo.insert(
            dict(  # noqa: C408 - keyword arguments: no column name in a string literal
                id=new_order_id(),
                token_hash=claims.token_hash,
                form_token=secrets.token_urlsafe(16),
                login=claims.login,
                email=claims.email,
                product_key=str(claims.product_key),
                nle=claims.nle,
                nle_cost=_initial_cost(claims.product_key, claims.nle),
                expires_at=self._clock() + self.order_ttl,
            ),
            actor="customer",
        )
        if created:
            # pragma: no mutate start
            log.info("order created order_id=%s source=checkout product=%s", order.id, order.product_key)
            # pragma: no mutate end
        return order, created

    def start_check(self, order: Order) -> bool:
        """Start the pre-checks of an order still ``pending`` them, in the background, once (the order page calls
        this when it is shown: a checkout link nobody opens costs no Market call). True when started."""
        if order.state is not OrderState.AWAITING_PAYMENT or order.check_status != "pending":
            return False
        if order.id in self._checking:
            return False
        self._checking.add(order.id)

        async def run() -> None:
            try:
                await self.check(order.id)
            finally:
                self._checking.discard(order.id)

        self._tasks.spawn(run(), name=f"order-check-{order.id}")
        return True

    async def create_for_discord_user(
        self, user_id: int, login: str, product_key: ProductKey | str, nle: Decimal | None = None
    ) -> Order:
        """``/buy``: an order for the customer's own (linked) login, checked before it is returned.

        ``product_key`` is a product and plan (``cs2-30``), or ``marketplace`` with ``nle`` (positive, at most
        two places). :class:`OrderRefused` (a sentence for the customer) for bad input.
        """
        try:
            login = validate_username(login)
            key = product_key if isinstance(product_key, ProductKey) else ProductKey.parse(product_key)
        except (MarketValidationError, ValueError) as exc:
            raise OrderRefused(str(exc)) from None
        if key.is_marketplace:
            if (
                nle is None
                or not nle.is_finite()
                or nle <= 0
                or nle > MAX_AMOUNT
                or nle != nle.quantize(Decimal("0.01"))
            ):
                raise OrderRefused("choose an NLE amount above 0 with at most two decimal places")
        elif nle is not None:
            raise OrderRefused("an NLE amount applies to the marketplace only")
        order, _ = await self.repo.insert(
            dict(  # noqa: C408 - keyword arguments: no column name in a string literal
                id=new_order_id(),
                form_token=secrets.token_urlsafe(16),
                login=login,
                product_key=str(key),
                nle=nle,  # None unless marketplace (checked above)
                nle_cost=_initial_cost(key, nle),
                discord_user_id=user_id,
                expires_at=self._clock() + self.order_ttl,
            ),
            actor=f"discord:{user_id}",
        )
        # pragma: no mutate start
        log.info("order created order_id=%s source=discord product=%s", order.id, order.product_key)
        # pragma: no mutate end
        return await self.check(order.id)

    # ------------------------------------------------------------------ pre-checks
    async def check(self, order_id: str) -> Order:
        """Run the pre-checks for an order awaiting payment and record the result (an event, only when something
        changed). A newly failing reason queues ONE staff alert in the audit channel. With a single offered
        method it is chosen at once ("straight to confirmation"). Other states are returned untouched."""
        async with self._lock(order_id):
            order = await self.repo.get(order_id)
            if order.state is not OrderState.AWAITING_PAYMENT:
                return order
            enabled = [m for m in await self._methods.methods() if m in self.providers]
            result = await run_prechecks(
                self._shared_reads,
                login=order.login,
                key=order.key,
                nle=order.nle,
                entries=await self._prices.entries(),
                enabled=enabled,
            )
            return await self._record_check(order, result)

    async def _record_check(self, order: Order, result: PrecheckResult) -> Order:
        sets: dict[str, object] = {
            "check_status": "ok" if result.ok else "blocked",
            "check_reason": None if result.reason is None else result.reason.value,
        }
        if result.nle_cost is not None:
            sets["nle_cost"] = result.nle_cost
        if result.offer is not None:
            sets["currency"] = result.offer.currency
            if result.ok and len(result.offer.prices) == 1 and order.method is None:
                ((method, amount),) = result.offer.prices.items()
                sets.update(method=method, amount=amount)
            elif order.method is not None and order.method in result.offer.prices:
                sets["amount"] = result.offer.prices[order.method]
        if all(getattr(order, name) == value for name, value in sets.items()):
            return order  # nothing new: no history entry, no write
        alert = None
        if not result.ok and result.reason is not None and result.reason.value != order.check_reason:
            alert = self._block_alert(result.reason, result.detail)
        note = "checks passed" if result.ok else f"blocked: {result.reason}"
        updated = await self.repo.move(
            order.id, order.state, actor="system", note=note, expect=order.state, sets=sets, also=alert
        )
        if alert is not None and self._wake is not None:
            self._wake()
        return updated

    def _block_alert(
        self, reason: BlockReason, detail: str
    ) -> Callable[[aiosqlite.Connection, Order], Awaitable[None]] | None:
        """The audit alert for an order newly blocked for ``reason``, queued in the transaction that records it.

        A reason of the order's own (no price, unknown login, not invited): one alert per order. A shop-wide
        reason (balance, Market unreachable): one alert when the first waiting order meets it; the orders
        that follow while it lasts add none (the alert counts the waiting orders at that moment).
        """
        outbox = self._outbox
        if outbox is None:
            return None

        async def enqueue(conn: aiosqlite.Connection, order: Order) -> None:
            rows = list(await conn.execute_fetchall(_COUNT_BLOCKED, (reason.value,)))
            waiting = int(rows[0][0])
            if reason.shop_wide and waiting > 1:
                return  # already alerted for this episode
            text = (
                f"Order `{order.id}` for `{order.login}` ({order.description}) cannot be offered: {reason.staff_text}."
            )
            if detail:
                text += f" ({detail})"
            await outbox.enqueue(
                conn,
                target=AUDIT_TARGET,
                embeds=[alert_embed("Order blocked before payment", text)],
                dedupe_key=f"order-blocked:{order.id}:{reason.value}",
            )

        return enqueue

    # ------------------------------------------------------------------ paying
    async def choose_method(self, order_id: str, method: PaymentMethod, *, actor: str = "customer") -> Order:
        """The customer picks a method: the order must be payable and the method offered; checks run again
        first (nothing is charged on a failing one: :class:`OrderRefused` with the customer's sentence).
        Choosing again (another method) is allowed until a payment is claimed."""
        order = await self.check(order_id)
        if order.state is not OrderState.AWAITING_PAYMENT:
            raise IllegalTransition(order.id, order.state, OrderState.AWAITING_PAYMENT)
        if order.check_status != "ok":
            raise OrderRefused(BlockReason(str(order.check_reason)).customer_text)  # checked: blocked has a reason
        if order.payment_claimed_at is not None and order.method is not method:
            raise OrderRefused("You already told us you paid; please wait for the confirmation.")
        offer = await self.offer(order)
        if offer is None or method not in offer.prices:
            raise OrderRefused("This payment method is not available for this order.")
        if order.method is method and order.amount == offer.prices[method]:
            return order
        return await self.repo.move(
            order.id,
            OrderState.AWAITING_PAYMENT,
            actor=actor,
            note=f"method {method.value}",
            expect=OrderState.AWAITING_PAYMENT,
            sets={"method": method, "amount": offer.prices[method]},
        )

    async def payment_start(self, order: Order) -> PaymentStart | None:
        """What the chosen method tells the customer (instructions or a redirect); ``None`` before a method is
        chosen or once the order is no longer awaiting payment."""
        if order.method is None or not order.payable or order.amount is None or order.currency is None:
            return None
        provider = self.providers.get(order.method)
        request = PaymentRequest(
            order_id=order.id,
            amount=order.amount,
            currency=order.currency,
            description=order.description,
            expires_at=order.expires_at,
            return_url=self.order_url(order.id),
        )
        return await provider.start(request)

    async def claim_manual_payment(self, order_id: str, reference: str | None, *, actor: str = "customer") -> Order:
        """ "I have paid" (manual method): recorded once with its optional reference (printable, at most 100
        characters); staff then confirm or reject. A second claim returns the order unchanged."""
        order = await self.repo.get(order_id)
        if order.state is not OrderState.AWAITING_PAYMENT:
            raise IllegalTransition(order.id, order.state, OrderState.AWAITING_PAYMENT)
        if order.method is not PaymentMethod.MANUAL or order.check_status != "ok":
            raise OrderRefused("Choose manual payment first.")
        if order.payment_claimed_at is not None:
            return order
        ref = clean_text(reference, CLAIM_REFERENCE_MAX)
        return await self.repo.move(
            order.id,
            OrderState.AWAITING_PAYMENT,
            actor=actor,
            note="payment claimed",
            expect=OrderState.AWAITING_PAYMENT,
            sets={"payment_claimed_at": self._clock(), "claim_reference": ref},
            unless=lambda current: current.payment_claimed_at is not None,  # claims at once: the first counts
        )

    async def confirm_payment(
        self, order_id: str, method: PaymentMethod, status: PaymentStatus | None, actor: str
    ) -> Order:
        """The money arrived (staff confirmation for ``manual``; a provider's report otherwise).

        Idempotent: an order already paid, being delivered, delivered, needing attention or refunded is
        returned unchanged. An awaiting or just-expired order becomes ``paid`` (durable when this returns) and
        fulfilment starts in the background. A cancelled order raises :class:`IllegalTransition`; a status
        other than paid raises :class:`OrderRefused`.
        """
        if status is not None and status.outcome is not PaymentOutcome.PAID:
            raise OrderRefused(f"the payment is {status.outcome.value}, not paid")
        order = await self.repo.get(order_id)
        if order.state in (OrderState.AWAITING_PAYMENT, OrderState.EXPIRED):
            sets: dict[str, object] = {"method": method, "paid_by": staff_id(actor)}
            if status is not None and status.reference is not None:
                sets["payment_reference"] = status.reference
            if order.method is not method:
                offer = await self.offer(order)
                if offer is not None and method in offer.prices:
                    sets["amount"] = offer.prices[method]
            try:
                order = await self.repo.move(
                    order.id,
                    OrderState.PAID,
                    actor=actor,
                    note=f"payment confirmed ({method.value})",
                    sets=sets,  # from awaiting or expired (read above; needs_attention is only reached via paid)
                )
            except IllegalTransition:
                order = await self.repo.get(order_id)  # a concurrent confirmation won: same answer
                if order.state in (OrderState.CANCELLED, OrderState.AWAITING_PAYMENT, OrderState.EXPIRED):
                    raise
                return order
            self._tasks.spawn(self.fulfil(order.id), name=f"order-fulfil-{order.id}")
            return order
        if order.state is OrderState.CANCELLED:
            raise IllegalTransition(order.id, order.state, OrderState.PAID)
        return order

    async def payment_confirmed(self, order_id: str, method: PaymentMethod, status: PaymentStatus, actor: str) -> None:
        """:class:`~bot.payments.provider.PaymentListener`: :meth:`confirm_payment`."""
        await self.confirm_payment(order_id, method, status, actor)

    async def reject_payment(self, order_id: str, actor: str, reason: str) -> Order:
        """Staff found no payment for a (claimed) order: it is cancelled, ``reason`` in its history (staff see it;
        the customer's page says the order was cancelled and to contact support if they paid)."""
        return await self.cancel(order_id, actor, reason or "payment not received")

    # ------------------------------------------------------------------ fulfilling
    async def fulfil(self, order_id: str) -> Order:
        """Deliver a ``paid`` order (or go on with a ``fulfilling`` one) exactly once; see
        :mod:`bot.orders.fulfilment`. Returns the order as the run left it (delivered, needs_attention, or
        still fulfilling when Neverlose gave no definite answer). Other states are returned untouched."""
        async with self._lock(order_id):
            order = await self.repo.get(order_id)
            if order.state is OrderState.PAID:
                attempt = order.fulfil_attempt + 1
                order = await self.repo.move(
                    order.id,
                    OrderState.FULFILLING,
                    actor="system",
                    sets={
                        "fulfil_attempt": attempt,
                        "request_id": fulfilment.request_id_for(order.id, attempt),
                        "auto_retry": False,
                    },
                )
            if order.state is not OrderState.FULFILLING or order.request_id is None:
                return order
            operation = await self._journal.get_by_request_id(order.request_id)
            if operation is None:
                method, params = fulfilment.spending_call(order)
                try:
                    operation = await self._journal.create(
                        method,
                        params,
                        requested_by=order.paid_by,
                        amount_nle=fulfilment.amount_for_journal(order),
                        request_id=order.request_id,
                    )
                except MarketValidationError as exc:
                    return await self._needs_attention(order, str(exc), low_balance=False)
            operation = await self._journal.run(operation)
            result = fulfilment.outcome_of(operation)
            if result.outcome is fulfilment.Outcome.DELIVERED:
                return await self.repo.move(
                    order.id,
                    OrderState.DELIVERED,
                    actor="system",
                    note=result.note,
                    sets={"last_error": None},
                )
            if result.outcome is fulfilment.Outcome.REFUSED:
                return await self._needs_attention(order, str(result.error), low_balance=result.low_balance)
            # pragma: no mutate start
            log.warning("order fulfilment still open order_id=%s request_id=%s", order.id, order.request_id)
            # pragma: no mutate end
            return order

    async def _needs_attention(self, order: Order, error: str, *, low_balance: bool) -> Order:
        note = error if not low_balance else f"{error} (retried automatically when the balance allows)"
        return await self.repo.move(
            order.id,
            OrderState.NEEDS_ATTENTION,
            actor="system",
            note=note,
            sets={"last_error": error, "auto_retry": low_balance},
        )

    async def retry(self, order_id: str, actor: str) -> Order:
        """Try a ``needs_attention`` order again (a new attempt, new request id) and return the outcome."""
        await self.repo.move(order_id, OrderState.PAID, actor=actor, note="retry", expect=OrderState.NEEDS_ATTENTION)
        return await self.fulfil(order_id)

    async def cancel(self, order_id: str, actor: str, reason: str) -> Order:
        """Cancel an order awaiting payment (nothing was paid); its provider withdraws the payment request."""
        order = await self.repo.move(
            order_id,
            OrderState.CANCELLED,
            actor=actor,
            note=clean_text(reason, NOTE_MAX),
        )
        await self._withdraw(order)
        return order

    async def refund(self, order_id: str, actor: str, note: str) -> Order:
        """Record a refund made by hand (paid, delivered or needs-attention orders); the note is required."""
        text = clean_text(note, NOTE_MAX)
        if text is None:
            raise OrderRefused("say how the money was refunded")
        # The transition table allows it from paid, delivered and needs_attention only.
        return await self.repo.move(order_id, OrderState.REFUNDED, actor=actor, note=text)

    async def _withdraw(self, order: Order) -> None:
        if order.method is None or order.method not in self.providers:
            return
        try:
            await self.providers.get(order.method).cancel(order.id)
        except Exception:
            log.exception("payment cancel failed order_id=%s method=%s", order.id, order.method)  # pragma: no mutate

    # ------------------------------------------------------------------ time and restarts
    async def expire_due(self) -> list[Order]:
        """Orders unpaid at ``expires_at`` become ``expired`` (oldest first); returns them."""
        expired: list[Order] = []
        for order_id in await self.repo.ids(OrderState.AWAITING_PAYMENT, expires_before=self._clock()):
            try:
                moved = await self.repo.move(
                    order_id,
                    OrderState.EXPIRED,
                    actor="system",
                    note="not paid in time",
                )
            except IllegalTransition:
                continue  # paid or cancelled meanwhile
            await self._withdraw(moved)
            expired.append(moved)
        return expired

    async def resume(self) -> list[Order]:
        """At start: deliver every ``paid`` or ``fulfilling`` order (the same request ids: nothing twice) and
        check orders whose pre-checks never finished, oldest first. Returns the orders as they ended."""
        done: list[Order] = []
        for order_id in await self.repo.ids(OrderState.PAID, OrderState.FULFILLING):
            log.warning("order resumed order_id=%s", order_id)  # pragma: no mutate
            done.append(await self.fulfil(order_id))
        for order_id in await self.repo.ids(OrderState.AWAITING_PAYMENT, check_status="pending"):
            done.append(await self.check(order_id))
        return done

    async def retry_low_balance(self) -> list[Order]:
        """``needs_attention`` orders refused for the balance are retried, oldest first, while it covers them."""
        waiting = await self.repo.ids(OrderState.NEEDS_ATTENTION, auto_retry=True)
        if not waiting:
            return []
        try:
            balance = await self._market.get_balance()
        except MarketFailure:
            return []
        retried: list[Order] = []
        for order_id in waiting:
            order = await self.repo.get(order_id)
            if order.nle_cost > balance:
                continue
            balance -= order.nle_cost
            retried.append(await self.retry(order.id, "system"))
        return retried

    async def maintain(self) -> None:
        """One maintenance pass: expiry, balance retries, re-drive of open deliveries, re-checks of blocked
        orders whose reason may pass (balance, Market unreachable)."""
        await self.expire_due()
        await self.retry_low_balance()
        for order_id in await self.repo.ids(OrderState.PAID, OrderState.FULFILLING):
            await self.fulfil(order_id)
        passing = [reason.value for reason in BlockReason if reason.shop_wide]
        for order_id in await self.repo.ids(OrderState.AWAITING_PAYMENT, check_reasons=passing):  # blocked for them
            await self.check(order_id)

    async def run_forever(self, interval: timedelta = MAINTENANCE_INTERVAL) -> None:
        """:meth:`resume` once, then :meth:`maintain` every ``interval`` (a background task of the bot)."""
        try:
            await self.resume()
        except Exception:
            log.exception("order resume failed")  # pragma: no mutate
        while True:
            await asyncio.sleep(interval.total_seconds())
            try:
                await self.maintain()
            except Exception:
                log.exception("order maintenance pass failed")  # pragma: no mutate


def _initial_cost(key: ProductKey, nle: Decimal | None) -> Decimal:
    """The documented plan price (replaced by the live ``get-prices`` one when checked), or the NLE amount."""
    if key.plan is not None:
        return DOCUMENTED_PLAN_PRICES[key.plan]
    if nle is None:
        raise ValueError("a marketplace order needs its NLE amount")
    return nle
