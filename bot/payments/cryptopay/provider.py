"""The Crypto Pay payment method: one invoice per order, confirmed by webhook or by polling, whichever is first.

**Starting** (:meth:`CryptoPayProvider.start`, called each time the order page renders): an order whose
invoice exists gets its pay URL back without any API call. Otherwise the intent is committed first (row
``creating``), then ``createInvoice`` is sent ONCE: priced in the order's fiat currency, ``accepted_assets``
from ``CRYPTOPAY_ASSETS``, ``payload`` = the order id, ``expires_in`` = what is left of the order's time to
live, and a "callback" button back to the order page. Crypto Pay has no idempotency key, so when that call's
outcome is unknown (timeout, 5xx, dropped connection) the invoice is looked for by its ``payload`` in
``getInvoices`` before another is created, and not before :data:`SETTLE` has passed since the attempt (an
in-flight creation must have finished by then). A per-order lock makes two presses one. The remaining risk
(a creation that completes at Crypto Pay later than that) yields a second invoice whose payment is quarantined
and reported, never delivered twice.

**Confirming**: a paid invoice enters through :meth:`CryptoPayStore.record_paid` (webhook or poll: the same
dedupe key), then :meth:`confirm` tells the order side once (``payment_confirmed``; a late payment goes to
``payment_late``) and records that it did. Rows paid but not confirmed are re-driven by every poll pass, so a
crash between the webhook's 200 and the confirmation loses nothing.

**Polling** (:meth:`poll_pass`, every minute): ``getInvoices`` for the open invoices (paid → recorded as
above; expired → the order's invoice is marked expired and the order side told), the uncertain creations
(looked up by payload), the invoices withdrawn in the last day (a late payment whose webhook was lost is still
found: it goes to staff), and the re-drive of unconfirmed payments.

**Refunds**: Crypto Pay has no refund call; :meth:`poll` returns the payer's details (asset, amount, rates)
in :attr:`PaymentStatus.details` for staff to send the money back by hand.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol, Self

from bot.background import BackgroundTasks
from bot.i18n.said import Said
from bot.payments.cryptopay.client import CryptoPayClient, InvoiceRequest
from bot.payments.cryptopay.errors import CryptoPayError, CryptoPayFailure
from bot.payments.cryptopay.matching import RowState, StoredInvoice, Verdict
from bot.payments.cryptopay.models import FIAT_CURRENCIES, MAX_EXPIRES_IN, Invoice, InvoiceStatus
from bot.payments.cryptopay.store import CryptoPayStore, Recorded
from bot.payments.provider import PaymentOutcome, PaymentRequest, PaymentStart, PaymentStartRefused, PaymentStatus
from bot.shop.catalog import PaymentMethod

log = logging.getLogger(__name__)

SETTLE = timedelta(seconds=30)
"""How long after an uncertain ``createInvoice`` the bot waits before creating another (after a search)."""
POLL_INTERVAL = timedelta(minutes=1)
SEARCH_PAGE = 1000
SEARCH_PAGES = 5
IDS_PER_CALL = 100
LATE_WINDOW = timedelta(days=1)
"""How long a withdrawn (expired or cancelled) invoice is still polled for a late payment."""
ACTOR = "cryptopay"


class PaymentNotStarted(PaymentStartRefused):
    """The invoice could not be created now; ``customer_text`` says what to do."""


class PaymentNotApplicable(Exception):
    """Raised by the order side when a payment cannot be applied to its order (e.g. it was cancelled).

    Its text is one of a fixed set, each the English of an ``alerts.reason.*`` catalog message (``said``): the
    provider records the English in the audit alert, the alert is shown in the channel's language at delivery
    (:mod:`bot.notifications.alerts`)."""

    def __init__(self, message: str, said: Said | None = None) -> None:
        self.said = said
        super().__init__(message)

    @classmethod
    def cancelled(cls) -> Self:
        """The order was cancelled before the money came."""
        return cls("the order was cancelled before the payment arrived", Said("alerts.reason.cancelled_first"))

    @classmethod
    def in_state(cls, state: str) -> Self:
        """The order is in a state that takes no payment (``state``: an order state's value)."""
        return cls(f"the order is {state}", Said("alerts.reason.order_state", {"order_state": state}))


class OrderEvents(Protocol):
    """The order side of Crypto Pay (``bot/orders/cryptopay_events.py`` adapts the order service)."""

    async def payment_confirmed(self, order_id: str, status: PaymentStatus) -> None:
        """The order is paid (``PaymentListener.payment_confirmed``); idempotent."""
        ...

    async def payment_late(self, order_id: str, status: PaymentStatus) -> None:
        """Money arrived for an order that had withdrawn its invoice: staff decide (``needs_attention``)."""
        ...

    async def invoice_expired(self, order_id: str) -> None:
        """The order's invoice expired unpaid."""
        ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CryptoPayProvider:
    """:class:`~bot.payments.provider.PaymentProvider` for ``cryptopay``; see the module docstring."""

    def __init__(
        self,
        client: CryptoPayClient,
        store: CryptoPayStore,
        *,
        assets: Sequence[str],
        events: OrderEvents | None = None,
        clock: Callable[[], datetime] = _utc_now,
        settle: timedelta = SETTLE,
    ) -> None:
        if not assets:
            raise ValueError("assets must name at least one asset")
        self._client = client
        self.store = store
        self._assets = tuple(assets)
        self.events = events
        self._clock = clock
        self._settle = settle
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks = BackgroundTasks(log, "cryptopay")

    @property
    def method(self) -> PaymentMethod:
        return PaymentMethod.CRYPTOPAY

    def offers(self, currency: str) -> bool:
        return currency in FIAT_CURRENCIES

    def _lock(self, order_id: str) -> asyncio.Lock:
        return self._locks.setdefault(order_id, asyncio.Lock())

    # ----------------------------------------------------------------- start
    async def start(self, request: PaymentRequest) -> PaymentStart:
        """The order's pay URL, creating its one invoice when there is none yet (see the module docstring)."""
        if not self.offers(request.currency):
            raise PaymentNotStarted("Crypto Pay does not accept this order's currency.")
        async with self._lock(request.order_id):
            stored = await self.store.get(request.order_id)
            if stored is not None:
                reuse = await self._reuse(stored, request)
                if reuse is not None:
                    return reuse
            return await self._create(request)

    async def _reuse(self, stored: StoredInvoice, request: PaymentRequest) -> PaymentStart | None:
        """What an existing row gives: its pay URL, the order page once paid, or ``None`` to create anew."""
        if stored.state is RowState.PAID:
            return PaymentStart(reference=str(stored.invoice_id), redirect_url=request.return_url)
        if stored.state in (RowState.EXPIRED, RowState.CANCELLED):
            raise PaymentNotStarted("This order's invoice has expired. Start again from Neverlose's site.")
        same_price = stored.amount == request.amount and stored.fiat == request.currency
        if stored.state is RowState.ACTIVE:
            if same_price or not await self._delete(stored):  # not deletable (e.g. just paid): keep it
                return PaymentStart(reference=str(stored.invoice_id), redirect_url=stored.pay_url)
            return None  # the order's price changed and its invoice is gone: create the new one
        found = await self._search(stored.order_id)  # CREATING: the last attempt's outcome is unknown
        if found is not None:
            return await self._adopt(found, request)
        if stored.updated_at is not None and self._clock() - stored.updated_at < self._settle:
            raise PaymentNotStarted("Your invoice is being created. Reload this page in a moment.")
        return None

    async def _create(self, request: PaymentRequest) -> PaymentStart:
        expires_in = int((request.expires_at - self._clock()).total_seconds())
        if expires_in < 1:
            raise PaymentNotStarted("This order has expired. Start again from Neverlose's site.")
        invoice_request = InvoiceRequest(
            amount=request.amount,
            fiat=request.currency,
            accepted_assets=self._assets,
            payload=request.order_id,
            description=request.description[:1024],
            expires_in=min(expires_in, MAX_EXPIRES_IN),
            paid_btn_url=request.return_url if request.return_url.startswith(("http://", "https://")) else None,
        )
        invoice_request.validate()
        await self.store.begin_create(request.order_id, request.amount, request.currency)  # durable intent first
        try:
            invoice = await self._client.create_invoice(invoice_request)
        except CryptoPayError as exc:
            await self.store.forget_failed(request.order_id)
            log.error("cryptopay createInvoice refused order_id=%s error=%s", request.order_id, exc.name)
            raise PaymentNotStarted("Crypto Pay refused to create the invoice. Please contact support.") from None
        except CryptoPayFailure as exc:
            log.warning("cryptopay createInvoice outcome unknown order_id=%s error=%s", request.order_id, exc)
            found = await self._search(request.order_id)  # its intent is stored: it may exist all the same
            if found is None:
                raise PaymentNotStarted("Crypto Pay did not answer. Reload this page in a moment.") from None
            return await self._adopt(found, request)
        await self.store.set_active(request.order_id, invoice)
        log.info(
            "cryptopay invoice created order_id=%s invoice_id=%d amount=%s fiat=%s",
            request.order_id,
            invoice.invoice_id,
            invoice.amount,
            invoice.fiat,
        )
        return PaymentStart(reference=str(invoice.invoice_id), redirect_url=invoice.pay_url)

    async def _search(self, order_id: str) -> Invoice | None:
        """The invoice whose ``payload`` is the order id, among the app's invoices (``None`` when not found or
        when Crypto Pay cannot be asked now)."""
        try:
            for page in range(SEARCH_PAGES):
                items = await self._client.get_invoices(offset=page * SEARCH_PAGE, count=SEARCH_PAGE)
                for invoice in items:
                    if invoice.payload == order_id:
                        log.info(
                            "cryptopay invoice found by payload order_id=%s invoice_id=%d",
                            order_id,
                            invoice.invoice_id,
                        )
                        return invoice
                if len(items) < SEARCH_PAGE:
                    return None
        except CryptoPayFailure as exc:
            log.warning("cryptopay invoice search failed order_id=%s error=%s", order_id, exc)
        return None

    async def _adopt(self, invoice: Invoice, request: PaymentRequest) -> PaymentStart:
        """Take over the invoice an uncertain creation made (found by payload) and send the buyer on."""
        await self._take_over(request.order_id, invoice)
        if invoice.status is InvoiceStatus.EXPIRED:
            raise PaymentNotStarted("This order's invoice has expired. Start again from Neverlose's site.")
        url = request.return_url if invoice.status is InvoiceStatus.PAID else invoice.pay_url
        return PaymentStart(reference=str(invoice.invoice_id), redirect_url=url)

    async def _take_over(self, order_id: str, invoice: Invoice) -> None:
        """Record the invoice an uncertain creation made as the order's: paid, expired or active."""
        if invoice.status is InvoiceStatus.PAID:
            await self._record_polled(invoice)
        elif invoice.status is InvoiceStatus.EXPIRED:
            await self.store.set_active(order_id, invoice)
            await self._expired(order_id)
        else:
            await self.store.set_active(order_id, invoice)

    async def _delete(self, stored: StoredInvoice) -> bool:
        """``deleteInvoice``; ``True`` when Crypto Pay deleted it (or there was none)."""
        if stored.invoice_id is None:
            return True  # pragma: no mutate (no caller reads it: ACTIVE rows have an id, cancel ignores it)
        try:
            return await self._client.delete_invoice(stored.invoice_id)
        except CryptoPayFailure as exc:
            log.warning(
                "cryptopay deleteInvoice failed order_id=%s invoice_id=%s error=%s",
                stored.order_id,
                stored.invoice_id,
                exc,
            )
            return False

    # ----------------------------------------------------------------- poll / cancel
    async def poll(self, order_id: str) -> PaymentStatus | None:
        """What is known of the order's payment (asking Crypto Pay while it is open); payer details once paid."""
        stored = await self.store.get(order_id)
        if stored is None:
            return None
        if stored.state is not RowState.PAID:  # open, or withdrawn but perhaps paid late
            await self._check([stored])
            stored = await self.store.get(order_id)
            if stored is None:  # pragma: no cover - rows are never deleted once an invoice exists
                return None
        return self._status(stored)

    async def stored_details(self, order_id: str) -> dict[str, str]:
        """The payer's details stored when the payment was recorded (no API call; empty when none)."""
        return await self.store.payer_details(order_id)

    def _status(self, stored: StoredInvoice) -> PaymentStatus:
        outcome = {
            RowState.CREATING: PaymentOutcome.PENDING,
            RowState.ACTIVE: PaymentOutcome.PENDING,
            RowState.PAID: PaymentOutcome.PAID,
            RowState.EXPIRED: PaymentOutcome.EXPIRED,
            RowState.CANCELLED: PaymentOutcome.CANCELLED,
        }[stored.state]
        details = dict(stored.details)  # stored with the payment: empty until paid
        paid_at = details.get("paid_at")
        return PaymentStatus(
            outcome=outcome,
            reference=None if stored.invoice_id is None else str(stored.invoice_id),
            amount=stored.amount,
            currency=stored.fiat,
            paid_at=datetime.fromisoformat(paid_at) if paid_at else None,
            details=details,
        )

    async def cancel(self, order_id: str) -> None:
        """The order expired or was cancelled: withdraw its invoice (locally first, then ``deleteInvoice``)."""
        async with self._lock(order_id):
            withdrawn = await self.store.withdraw(order_id, RowState.CANCELLED)
        if withdrawn is not None:
            await self._delete(withdrawn)
            log.info("cryptopay invoice withdrawn order_id=%s invoice_id=%s", order_id, withdrawn.invoice_id)

    # ----------------------------------------------------------------- confirmation
    def on_recorded(self, recorded: Recorded) -> None:
        """After a webhook was stored: confirm its order in the background (the 200 does not wait for it)."""
        # not mutated: ``or`` reads the same (an accepted or late payment always has its order; a confirmation
        # spawned for another verdict finds no unconfirmed paid row and tells nothing)
        if recorded.order_id is not None and recorded.verdict in (Verdict.ACCEPTED, Verdict.LATE):  # pragma: no mutate
            self._tasks.spawn(self.confirm(recorded.order_id), name=f"cryptopay-confirm-{recorded.order_id}")

    async def confirm(self, order_id: str) -> bool:
        """Tell the order side of a stored payment, once; ``True`` when it was told now."""
        if self.events is None:
            return False
        async with self._lock(order_id):
            stored = await self.store.get(order_id)
            if stored is None or stored.state is not RowState.PAID or stored.confirmed:
                return False
            status = self._status(stored)
            try:
                if stored.late:
                    await self.events.payment_late(order_id, status)
                else:
                    await self.events.payment_confirmed(order_id, status)
            except PaymentNotApplicable as exc:
                await self.store.alert_unapplied(order_id, str(exc))
            await self.store.mark_confirmed(order_id)
        log.info("cryptopay payment confirmed order_id=%s late=%s", order_id, stored.late)
        return True

    async def redrive(self) -> int:
        """Confirm every stored payment the order side has not acknowledged (after a crash); how many."""
        done = 0
        for stored in await self.store.unconfirmed():
            try:
                done += await self.confirm(stored.order_id)
            except Exception:
                log.exception("cryptopay confirmation failed order_id=%s", stored.order_id)
        return done

    # ----------------------------------------------------------------- polling
    async def poll_pass(self) -> None:
        """One pass: re-drive confirmations, check open invoices and uncertain creations."""
        await self.redrive()
        rows = await self.store.by_state(RowState.ACTIVE, RowState.CREATING)
        rows += await self.store.withdrawn_since(self._clock() - LATE_WINDOW)
        await self._check(rows)
        await self.redrive()

    async def _check(self, rows: Sequence[StoredInvoice]) -> None:
        known = [row for row in rows if row.invoice_id is not None and row.state is not RowState.CREATING]
        for start in range(0, len(known), IDS_PER_CALL):
            chunk = known[start : start + IDS_PER_CALL]
            try:
                invoices = await self._client.get_invoices(
                    invoice_ids=[row.invoice_id for row in chunk if row.invoice_id is not None],
                    count=IDS_PER_CALL,  # pragma: no mutate (left out, the client asks for its default: also 100)
                )
            except CryptoPayFailure as exc:
                log.warning("cryptopay poll failed invoices=%d error=%s", len(chunk), exc)
                return
            by_id: dict[int | None, Invoice] = {invoice.invoice_id: invoice for invoice in invoices}
            for row in chunk:
                answer = by_id.get(row.invoice_id)
                if answer is None:  # deleted at Crypto Pay (e.g. by hand in @CryptoBot): nothing to learn
                    continue
                if answer.status is InvoiceStatus.PAID:
                    await self._record_polled(answer)
                elif answer.status is InvoiceStatus.EXPIRED:
                    await self._expired(row.order_id)
        for row in rows:
            if row.state is RowState.CREATING and (
                row.updated_at is None or self._clock() - row.updated_at >= self._settle
            ):
                found = await self._search(row.order_id)
                if found is not None:
                    await self._take_over(row.order_id, found)

    async def _record_polled(self, invoice: Invoice) -> None:
        body = json.dumps(
            {
                "source": "getInvoices",
                "invoice_id": invoice.invoice_id,
                "payload": invoice.payload,
                **invoice.payer_details(),
            },
            sort_keys=True,  # pragma: no mutate (the order of keys in the stored audit text)
        )
        self.on_recorded(await self.store.record_paid(invoice, body=body, source="poll"))

    async def _expired(self, order_id: str) -> None:
        withdrawn = await self.store.withdraw(order_id, RowState.EXPIRED)
        if withdrawn is not None and self.events is not None:
            log.info("cryptopay invoice expired order_id=%s invoice_id=%s", order_id, withdrawn.invoice_id)
            await self.events.invoice_expired(order_id)

    async def run_forever(self, interval: timedelta = POLL_INTERVAL) -> None:
        """:meth:`poll_pass` now and every ``interval`` (a background task of the bot)."""
        while True:
            try:
                await self.poll_pass()
            except Exception:
                log.exception("cryptopay poll pass failed")
            await asyncio.sleep(interval.total_seconds())

    # ----------------------------------------------------------------- tasks
    async def drain(self) -> None:
        """Wait for background confirmations (tests)."""
        await self._tasks.drain()

    async def close(self) -> None:
        await self._tasks.close()
