"""The checkout pages: the Redirect URL entry, the order page, its status JSON and its forms.

- ``GET $CHECKOUT_PATH?nl_purchase=<JWT>``: verify (:mod:`bot.orders.token`), create or find the order, ``303``
  to ``/orders/<id>`` (the token leaves the address bar). A refused token gets a 4xx page in plain words and
  ONE warning line with the reason code (never the token or the e-mail); nothing is stored.
- ``GET /orders/<id>``: the order page (jinja2, autoescaped, package templates); ``GET /orders/<id>/status``:
  ``{"state": ..., "updated_at": ...}``; unknown ids: the same 404 page whatever the id.
- ``POST /orders/<id>/method|paid|check``: CSRF-checked, rate limited per address, then ``303`` back (PRG).
- ``GET /orders-assets/orders.css|orders.js``: the page's own stylesheet and script.
- Any other ``GET /orders...`` address: the same 404 page as an unknown order (in the reader's language).

The server has no access log (``bot/http/server.py``), so the checkout URL never reaches a log.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.http.server import Handler
from bot.i18n import date_time, money, relative, t, t_html
from bot.i18n.web import page_locale, switcher
from bot.orders import localized
from bot.orders.models import IllegalTransition, Order, OrderError, OrderNotFound, OrderRefused, OrderState
from bot.orders.prechecks import BlockReason
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
from bot.storage.timestamps import format_timestamp
from bot.storage.write_health import RETRY_AFTER, database_fault

if TYPE_CHECKING:  # jinja2 and aiohttp-jinja2 are imported when the checkout pages are set up (the shop is on)
    import jinja2

log = logging.getLogger(__name__)

ASSETS_PATH = "/orders-assets"
JINJA_KEY: web.AppKey[jinja2.Environment] = web.AppKey("orders_jinja")
_ORDER_ID = re.compile(r"(?:[A-Za-z0-9_-]{7})?[A-Za-z0-9_-]{22}")  # new_order_id(); 22: the ids made before it
_ASSET_TYPES = {"orders.css": "text/css", "orders.js": "text/javascript"}
_RECHECKABLE = {BlockReason.LOW_BALANCE.value, BlockReason.MARKET_UNAVAILABLE.value}
MAX_FORM_BYTES = 4096


@dataclass(frozen=True, slots=True)
class _Step:
    label: str
    at: str | None
    iso: str | None


@dataclass(frozen=True, slots=True)
class _OfferView:
    method: str
    label: str
    price: str
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
        import aiohttp_jinja2
        import jinja2

        aiohttp_jinja2.setup(
            app,
            loader=jinja2.PackageLoader("bot.orders", "templates"),
            autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
            app_key=JINJA_KEY,
        )
        guarded = self._guarded
        app.add_routes(
            [
                web.get(self.checkout_path, guarded("checkout", self.checkout)),
                web.get(ASSETS_PATH + "/{name}", self.asset),
                web.get("/orders/{order_id}", guarded("order", self.order_page)),
                web.get("/orders/{order_id}/status", guarded("status", self.status, json=True)),
                web.post("/orders/{order_id}/method", guarded("method", self.post_method)),
                web.post("/orders/{order_id}/paid", guarded("paid", self.post_paid)),
                web.post("/orders/{order_id}/check", guarded("check", self.post_check)),
                # last: any other address under /orders (a trailing slash, a GET of a form's address, a
                # mistyped tail) gets the order pages' own 404 in the reader's language, not aiohttp's text
                web.get("/orders{rest:(/.*)?}", self.unknown),
            ]
        )

    # ------------------------------------------------------------------ rendering
    def _render(
        self, request: web.Request, template: str, context: dict[str, Any], *, status: int = 200, here: str | None
    ) -> web.Response:
        """``here``: where the language switcher returns to (never an address the request came with: a 404 page
        is the same whatever the id, and a checkout link's token stays out of the page)."""
        import aiohttp_jinja2  # imported by setup() already: a lookup in sys.modules

        locale = page_locale(request)
        context = {
            "assets": ASSETS_PATH,
            "support_url": self._support_url,
            "lang": locale,
            "switcher": switcher(locale, here),
            "t": lambda msg_id, **values: t(locale, msg_id, **values),
            "th": lambda msg_id, **values: t_html(locale, msg_id, **values),
            **context,
        }
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
            here=back_url,
        )
        if headers:
            response.headers.update(headers)
        return response

    def _guarded(self, route: str, handler: Handler, *, json: bool = False) -> Handler:
        """``handler`` answering an unexpected error as a page in the reader's language, not the server's JSON.

        A fault of the database (a full disk, an I/O error: :func:`~bot.storage.write_health.database_fault`) is
        ``503`` with ``Retry-After``: nothing was recorded, the customer tries again in a minute (``/healthz`` tells
        the operator). Anything else is ``500`` with a reference that staff find in the log (with the traceback).
        The log names the route, never the address (an order's address is its key; a checkout link holds a
        token)."""

        async def page(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except web.HTTPException:
                raise
            except Exception as exc:
                return self._failed(request, route, exc, json=json)

        return page

    def _failed(self, request: web.Request, route: str, exc: Exception, *, json: bool) -> web.Response:
        locale = page_locale(request)
        fault = database_fault(exc)
        if fault is not None:
            log.warning("order page unavailable route=%s method=%s fault=%r", route, request.method, fault)
            if json:
                response = web.json_response({"error": "temporarily unavailable"}, status=503)
                response.headers["Retry-After"] = RETRY_AFTER
                secure(response)
                return response
            title, text = t(locale, "order.error.unavailable.title"), t(locale, "order.error.unavailable.text")
            return self._error(request, 503, title, text, headers={"Retry-After": RETRY_AFTER})
        reference = secrets.token_hex(4)
        log.error("order page failed ref=%s route=%s method=%s", reference, route, request.method, exc_info=exc)
        if json:
            response = web.json_response({"error": "internal error", "reference": reference}, status=500)
            secure(response)
            return response
        text = t(locale, "order.error.internal.text", reference=reference)
        return self._error(request, 500, t(locale, "order.error.internal.title"), text)

    def _not_found(self, request: web.Request) -> web.Response:
        locale = page_locale(request)
        return self._error(
            request, 404, t(locale, "order.error.not_found.title"), t(locale, "order.error.not_found.text")
        )

    # ------------------------------------------------------------------ handlers
    async def checkout(self, request: web.Request) -> web.Response:
        token = request.query.get("nl_purchase")
        try:
            claims = self._verifier.verify(token)
        except TokenRejected as exc:
            log.warning("checkout link refused reason=%s client=%s", exc.code, request.remote)
            title, message = localized.link_refused(exc, page_locale(request))
            return self._error(request, exc.status, title, message, start_again=True)
        order, _ = await self.service.create_from_token(claims)
        # Returned, not raised (web.HTTPSeeOther): no exception through the middlewares, no text body to build.
        return web.Response(status=303, headers={"Location": f"/orders/{order.id}", **SECURITY_HEADERS})

    async def unknown(self, request: web.Request) -> web.Response:
        return self._not_found(request)

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
        context = await self._context(order, page_locale(request))
        return self._render(request, "order.html", context, here=f"/orders/{order.id}")

    async def status(self, request: web.Request) -> web.Response:
        order = await self._order(request)
        if order is None:
            response = web.json_response({"error": "not found"}, status=404)
        else:
            response = web.json_response({"state": order.state.value, "updated_at": format_timestamp(order.updated_at)})
        secure(response)
        return response

    async def _context(self, order: Order, locale: str) -> dict[str, Any]:
        history = await self.service.history(order.id)
        first: dict[OrderState, datetime] = {}
        for entry in history:
            if entry.from_state is not entry.to_state:
                first.setdefault(entry.to_state, entry.at)
        steps = [
            (t(locale, "order.step.created"), order.created_at),
            (t(locale, "order.step.paid"), first.get(OrderState.PAID)),
            (t(locale, "order.step.delivered"), first.get(OrderState.DELIVERED)),
        ]
        offers: list[_OfferView] = []
        start = None
        start_problem = ""
        if order.payable:
            offer = await self.service.offer(order)
            if offer is not None:
                offers = [
                    _OfferView(
                        m.value,
                        localized.method_label(m, locale),
                        money(price, str(order.currency), locale),
                        m is order.method,
                    )
                    for m, price in offer.prices.items()
                ]
            try:
                start = await self.service.payment_start(order)
            except PaymentStartRefused as exc:  # expected: the provider says what the customer can do
                start_problem = localized.refusal(exc.customer_text, locale)
                log.warning(
                    "payment start refused order_id=%s method=%s error=%s",
                    order.id,
                    order.method,
                    type(exc).__name__,
                )
            except Exception:
                reference = secrets.token_hex(4)
                start_problem = t(locale, "order.error.start_failed", reference=reference)
                log.exception("payment start failed order_id=%s method=%s ref=%s", order.id, order.method, reference)
        reason = order.check_reason
        blocked_text = localized.blocked_text(reason, locale)
        now = datetime.now(UTC)
        live = not order.state.final and order.state is not OrderState.EXPIRED
        return {
            "order": order,
            "short_id": order.id[:8],
            "state_label": localized.state_label(order.state, locale),
            "description": localized.description(order, locale),
            "price": money(order.amount, order.currency, locale) if order.amount is not None and order.currency else "",
            "method_label": localized.method_label(order.method, locale) if order.method else "",
            "order_url": f"/orders/{order.id}",
            "status_url": f"/orders/{order.id}/status",
            "updated_at": format_timestamp(order.updated_at),
            "live": live,
            "refresh_seconds": 30 if order.payable and not order.payment_claimed_at else 10,
            "timeline": [
                _Step(label, date_time(at, locale) if at else None, format_timestamp(at) if at else None)
                for label, at in steps
            ],
            "offers": offers,
            "start": start,
            "start_problem": start_problem,
            "blocked_text": blocked_text,
            "can_recheck": reason in _RECHECKABLE,
            "expires_html": _markup('<time datetime="{}">{}</time>').format(
                format_timestamp(order.expires_at), date_time(order.expires_at, locale)
            ),
            "expires_in": relative(order.expires_at - now, locale),
        }

    # ------------------------------------------------------------------ forms
    async def _form(self, request: web.Request) -> tuple[Order, Any] | web.Response:
        """Rate limit, size, order, origin and form token: the order and the form, or the refusal page."""
        locale = page_locale(request)
        wait = self.limiter.allow(request.remote or "unknown")
        if wait:
            log.warning("order form rate limited client=%s", request.remote)
            return self._error(
                request,
                429,
                t(locale, "order.error.rate.title"),
                t(locale, "order.error.rate.text"),
                headers={"Retry-After": retry_after_header(wait)},
            )
        order = await self._order(request)
        if order is None:
            return self._not_found(request)
        back = f"/orders/{order.id}"
        if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
            return self._form_refused(request, 413, "too_large", back)
        try:
            form = await request.post()
        except web.HTTPRequestEntityTooLarge:  # no Content-Length: aiohttp counted it while reading
            return self._form_refused(request, 413, "too_large", back)
        except (ValueError, LookupError):  # no browser sends it: a broken multipart, a bad charset, not UTF-8
            log.warning("order form refused reason=malformed order_id=%s client=%s", order.id, request.remote)
            return self._form_refused(request, 400, "csrf", back)
        if not same_origin(request, public_origin=self._public_origin) or not form_token_ok(
            order.form_token, form.get("form_token")
        ):
            log.warning("order form refused reason=csrf order_id=%s client=%s", order.id, request.remote)
            return self._form_refused(request, 403, "csrf", back)
        return order, form

    def _form_refused(self, request: web.Request, status: int, page: str, back: str) -> web.Response:
        """A refused form's page: ``order.error.<page>.title`` and ``.text``, with the way back to the order."""
        locale = page_locale(request)
        title, text = t(locale, f"order.error.{page}.title"), t(locale, f"order.error.{page}.text")
        return self._error(request, status, title, text, back_url=back)

    def _back(self, order: Order) -> web.Response:
        raise web.HTTPSeeOther(f"/orders/{order.id}", headers=_security_headers())

    def _refused(self, request: web.Request, order: Order, exc: OrderError) -> web.Response:
        locale = page_locale(request)
        message = localized.refusal(str(exc), locale) if isinstance(exc, OrderRefused) else ""
        return self._error(
            request,
            409,
            t(locale, "order.error.refused.title"),
            message or t(locale, "order.error.refused.generic"),
            back_url=f"/orders/{order.id}",
        )

    async def post_method(self, request: web.Request) -> web.Response:
        checked = await self._form(request)
        if isinstance(checked, web.Response):
            return checked
        order, form = checked
        try:
            method = PaymentMethod(str(form.get("method", "")))
        except ValueError:
            locale = page_locale(request)
            return self._error(
                request,
                400,
                t(locale, "order.error.method.title"),
                t(locale, "order.error.method.text"),
                back_url=f"/orders/{order.id}",
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


def _markup(template: str) -> Any:
    """``markupsafe.Markup(template)``, imported on first use like jinja2 (it is jinja2's)."""
    from markupsafe import Markup

    return Markup(template)  # noqa: S704 - a constant of this module; values are escaped by format()
