"""The checkout pages: the Redirect URL entry, the order page, its status JSON and its forms.

- ``GET $CHECKOUT_PATH?nl_purchase=<JWT>``: verify (:mod:`bot.orders.token`), create or find the order, ``303``
  to ``/orders/<id>`` (the token leaves the address bar). A refused token gets a 4xx page in plain words and
  ONE warning line with the reason code (never the token or the e-mail); nothing is stored.
- ``GET /orders/<id>``: the order page (jinja2, autoescaped, package templates); ``GET /orders/<id>/status``:
  ``{"state": ..., "updated_at": ...}``; unknown ids: the same 404 page whatever the id.
- ``POST /orders/<id>/method|paid|check``: CSRF-checked, rate limited per address, then ``303`` back (PRG).
- ``GET /orders-assets/orders.css|orders.js``: the page's own stylesheet and script.

The server has no access log (``bot/http/server.py``), so the checkout URL never reaches a log.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from importlib import resources
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.orders.models import IllegalTransition, Order, OrderError, OrderNotFound, OrderRefused, OrderState
from bot.orders.prechecks import BlockReason
from bot.orders.repository import iso
from bot.orders.service import OrderService
from bot.orders.token import PurchaseTokenVerifier, TokenRejected
from bot.orders.web_security import (
    SECURITY_HEADERS,
    RateLimiter,
    form_token_ok,
    origin_of,
    retry_after_header,
    same_origin,
    secure,
)
from bot.payments.provider import PaymentStartRefused
from bot.shop.catalog import PaymentMethod

log = logging.getLogger(__name__)

ASSETS_PATH = "/orders-assets"
JINJA_KEY = web.AppKey("orders_jinja", jinja2.Environment)
_ORDER_ID = re.compile(r"[A-Za-z0-9_-]{22}")
_ASSET_TYPES = {"orders.css": "text/css", "orders.js": "text/javascript"}
_RECHECKABLE = {BlockReason.LOW_BALANCE.value, BlockReason.MARKET_UNAVAILABLE.value}
MAX_FORM_BYTES = 4096
_START_FAILED = (
    "This payment could not be started because of a problem on our side. Please try again later, or contact support"
)
_CSRF_TEXT = "This form could not be accepted. Reload the order page and try again."


def _when(moment: datetime) -> str:
    return moment.strftime("%d %b %Y, %H:%M UTC")


@dataclass(frozen=True, slots=True)
class _Step:
    label: str
    at: str | None
    iso: str | None


@dataclass(frozen=True, slots=True)
class _OfferView:
    method: str
    label: str
    price: Decimal
    selected: bool


class CheckoutPages:
    """Routes of the checkout; see the module docstring."""

    def __init__(
        self,
        service: OrderService,
        *,
        secret: str,
        integration_id: int,
        checkout_path: str,
        support_url: str | None,
        public_base_url: str | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.service = service
        self._verifier = PurchaseTokenVerifier(secret=secret, integration_id=integration_id)
        self.checkout_path = checkout_path
        self._support_url = support_url
        self._public_origin = origin_of(public_base_url)
        self.limiter = limiter or RateLimiter()
        self._assets = {name: (resources.files("bot.orders") / "static" / name).read_bytes() for name in _ASSET_TYPES}

    def setup(self, app: web.Application) -> None:
        """Add the routes and the template environment to ``app``."""
        aiohttp_jinja2.setup(
            app,
            loader=jinja2.PackageLoader("bot.orders", "templates"),
            autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
            app_key=JINJA_KEY,
        )
        app.add_routes(
            [
                web.get(self.checkout_path, self.checkout),
                web.get(ASSETS_PATH + "/{name}", self.asset),
                web.get("/orders/{order_id}", self.order_page),
                web.get("/orders/{order_id}/status", self.status),
                web.post("/orders/{order_id}/method", self.post_method),
                web.post("/orders/{order_id}/paid", self.post_paid),
                web.post("/orders/{order_id}/check", self.post_check),
            ]
        )

    # ------------------------------------------------------------------ rendering
    def _render(
        self, request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
    ) -> web.Response:
        context = {"assets": ASSETS_PATH, "support_url": self._support_url, **context}
        response = aiohttp_jinja2.render_template(template, request, context, status=status, app_key=JINJA_KEY)
        secure(response)
        return response

    def _error(
        self,
        request: web.Request,
        status: int,
        title: str,
        message: str,
        *,
        start_again: bool = False,
        back_url: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        response = self._render(
            request,
            "error.html",
            {"title": title, "message": message, "start_again": start_again, "back_url": back_url},
            status=status,
        )
        if headers:
            response.headers.update(headers)
        return response

    def _not_found(self, request: web.Request) -> web.Response:
        return self._error(
            request, 404, "Order not found", "We have no order at this address. Check the link you were given."
        )

    # ------------------------------------------------------------------ handlers
    async def checkout(self, request: web.Request) -> web.Response:
        token = request.query.get("nl_purchase")
        try:
            claims = self._verifier.verify(token)
        except TokenRejected as exc:
            log.warning("checkout link refused reason=%s client=%s", exc.code, request.remote)
            title = "Link expired" if exc.expired else "Link not valid"
            return self._error(request, exc.status, title, exc.message, start_again=True)
        order, _ = await self.service.create_from_token(claims)
        # Returned, not raised (web.HTTPSeeOther): no exception through the middlewares, no text body to build.
        return web.Response(status=303, headers={"Location": f"/orders/{order.id}", **SECURITY_HEADERS})

    async def asset(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in _ASSET_TYPES:
            return self._not_found(request)
        response = web.Response(body=self._assets[name], content_type=_ASSET_TYPES[name], charset="utf-8")
        secure(response)
        return response

    async def _order(self, request: web.Request) -> Order | None:
        order_id = request.match_info["order_id"]
        if not _ORDER_ID.fullmatch(order_id):
            return None
        try:
            return await self.service.get(order_id)
        except OrderNotFound:
            return None

    async def order_page(self, request: web.Request) -> web.Response:
        order = await self._order(request)
        if order is None:
            return self._not_found(request)
        self.service.start_check(order)
        return self._render(request, "order.html", await self._context(order))

    async def status(self, request: web.Request) -> web.Response:
        order = await self._order(request)
        if order is None:
            response = web.json_response({"error": "not found"}, status=404)
        else:
            response = web.json_response({"state": order.state.value, "updated_at": iso(order.updated_at)})
        secure(response)
        return response

    async def _context(self, order: Order) -> dict[str, Any]:
        history = await self.service.history(order.id)
        first: dict[OrderState, datetime] = {}
        for entry in history:
            if entry.from_state is not entry.to_state:
                first.setdefault(entry.to_state, entry.at)
        steps = [
            ("Created", order.created_at),
            ("Paid", first.get(OrderState.PAID)),
            ("Delivered", first.get(OrderState.DELIVERED)),
        ]
        offers: list[_OfferView] = []
        start = None
        start_problem = ""
        if order.payable:
            offer = await self.service.offer(order)
            if offer is not None:
                offers = [_OfferView(m.value, m.label, price, m is order.method) for m, price in offer.prices.items()]
            try:
                start = await self.service.payment_start(order)
            except PaymentStartRefused as exc:  # expected: the provider says what the customer can do
                start_problem = exc.customer_text
                log.warning(
                    "payment start refused order_id=%s method=%s error=%s",
                    order.id,
                    order.method,
                    type(exc).__name__,
                )
            except Exception:
                reference = secrets.token_hex(4)
                start_problem = f"{_START_FAILED} (reference {reference})."
                log.exception("payment start failed order_id=%s method=%s ref=%s", order.id, order.method, reference)
        reason = order.check_reason
        blocked_text = BlockReason(reason).customer_text if reason in {r.value for r in BlockReason} else ""
        live = not order.state.final and order.state is not OrderState.EXPIRED
        return {
            "order": order,
            "short_id": order.id[:8],
            "state_label": order.state.label,
            "order_url": f"/orders/{order.id}",
            "status_url": f"/orders/{order.id}/status",
            "updated_at": iso(order.updated_at),
            "live": live,
            "refresh_seconds": 30 if order.payable and not order.payment_claimed_at else 10,
            "timeline": [_Step(label, _when(at) if at else None, iso(at) if at else None) for label, at in steps],
            "offers": offers,
            "start": start,
            "start_problem": start_problem,
            "blocked_text": blocked_text,
            "can_recheck": reason in _RECHECKABLE,
            "expires_at": _when(order.expires_at),
            "expires_iso": iso(order.expires_at),
        }

    # ------------------------------------------------------------------ forms
    async def _form(self, request: web.Request) -> tuple[Order, Any] | web.Response:
        """Rate limit, size, order, origin and form token: the order and the form, or the refusal page."""
        wait = self.limiter.allow(request.remote or "unknown")
        if wait:
            log.warning("order form rate limited client=%s", request.remote)
            return self._error(
                request,
                429,
                "Too many tries",
                "You sent this form too often. Please wait a minute and try again.",
                headers={"Retry-After": retry_after_header(wait)},
            )
        order = await self._order(request)
        if order is None:
            return self._not_found(request)
        back = f"/orders/{order.id}"
        if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
            return self._error(request, 413, "Form too large", "Please go back and try again.", back_url=back)
        form = await request.post()
        if not same_origin(request, public_origin=self._public_origin) or not form_token_ok(
            order.form_token, form.get("form_token")
        ):
            log.warning("order form refused reason=csrf order_id=%s client=%s", order.id, request.remote)
            return self._error(
                request,
                403,
                "Please try again",
                _CSRF_TEXT,
                back_url=back,
            )
        return order, form

    def _back(self, order: Order) -> web.Response:
        raise web.HTTPSeeOther(f"/orders/{order.id}", headers=_security_headers())

    def _refused(self, request: web.Request, order: Order, exc: OrderError) -> web.Response:
        message = str(exc) if isinstance(exc, OrderRefused) else "This order can no longer be changed."
        return self._error(request, 409, "Not possible", message, back_url=f"/orders/{order.id}")

    async def post_method(self, request: web.Request) -> web.Response:
        checked = await self._form(request)
        if isinstance(checked, web.Response):
            return checked
        order, form = checked
        try:
            method = PaymentMethod(str(form.get("method", "")))
        except ValueError:
            return self._error(
                request, 400, "Choose a method", "Please choose how to pay.", back_url=f"/orders/{order.id}"
            )
        try:
            await self.service.choose_method(order.id, method)
        except (OrderRefused, IllegalTransition) as exc:
            return self._refused(request, order, exc)
        return self._back(order)

    async def post_paid(self, request: web.Request) -> web.Response:
        checked = await self._form(request)
        if isinstance(checked, web.Response):
            return checked
        order, form = checked
        reference = form.get("reference")
        try:
            await self.service.claim_manual_payment(order.id, reference if isinstance(reference, str) else None)
        except (OrderRefused, IllegalTransition) as exc:
            return self._refused(request, order, exc)
        return self._back(order)

    async def post_check(self, request: web.Request) -> web.Response:
        checked = await self._form(request)
        if isinstance(checked, web.Response):
            return checked
        order, _ = checked
        await self.service.check(order.id)
        return self._back(order)


def _security_headers() -> dict[str, str]:
    return dict(SECURITY_HEADERS)
