"""HTTP glue: ``GET /oauth/start/{token}`` and ``GET /oauth/callback`` on the embedded server.

The start route binds the attempt to the browser with a signed, HttpOnly, SameSite=Lax cookie (Lax so it
comes back on the top-level redirect from Neverlose) and redirects to the authorize URL. The callback
renders a self-contained page. Neither route logs its URL: the start path carries a one-time token and
the callback query the code and state (the core's access log is off, and unexpected errors are caught
here so the shared error middleware never sees the path).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiohttp import web

from bot.i18n.negotiation import supported
from bot.i18n.web import page_locale, remember
from bot.linking import pages
from bot.linking.flow import LinkFailure, LinkFlow
from bot.linking.oidc_client import CALLBACK_PATH
from bot.linking.sessions import BrowserCookie
from bot.storage.write_health import RETRY_AFTER, database_fault

log = logging.getLogger(__name__)

START_PATH = "/oauth/start/{token}"
START_PREFIX = "/oauth/start/"
COOKIE_NAME = "nlrb_link"
COOKIE_PATH = "/oauth"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _guarded(route: str, handler: Handler) -> Handler:
    """Turn an unexpected exception into the generic page, logging the route template, never the URL. A fault of
    the database (a full disk: :func:`~bot.storage.write_health.database_fault`) is the "try again in a minute"
    page, ``503`` with ``Retry-After``, and one WARNING line."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Exception as exc:
            locale = page_locale(request)
            fault = database_fault(exc)
            if fault is not None:
                log.warning("linking route unavailable route=%s fault=%r", route, fault)
                response = pages.response(pages.unavailable(locale), locale)
                response.headers["Retry-After"] = RETRY_AFTER
                return response
            reference = secrets.token_hex(4)
            log.exception("linking route failed ref=%s route=%s", reference, route)
            return pages.response(pages.internal_error(locale), locale, reference=reference)

    return wrapper


def linking_routes(
    flow: LinkFlow, cookie: BrowserCookie, *, secure_cookie: bool, cookie_max_age: timedelta
) -> list[web.RouteDef]:
    async def start(request: web.Request) -> web.StreamResponse:
        # Reuse this browser's genuine cookie (two tabs may link in turn), refreshing its lifetime.
        cookie_value = request.cookies.get(COOKIE_NAME)
        browser_id = cookie.verify(cookie_value)
        if browser_id is None or cookie_value is None:
            browser_id, cookie_value = cookie.new()
        try:
            authorize_url = await flow.begin(request.match_info["token"], browser_id)
        except LinkFailure as failure:
            locale = page_locale(request)
            return pages.response(pages.failure_page(failure, locale), locale)
        response = web.Response(status=302, headers={**pages.SECURITY_HEADERS, "Location": authorize_url})
        chosen = supported(request.query.get("lang"))  # the member's Discord language, from /link start
        if chosen is not None:
            remember(response, chosen, secure=secure_cookie)
        response.set_cookie(
            COOKIE_NAME,
            cookie_value,
            max_age=int(cookie_max_age.total_seconds()),
            path=COOKIE_PATH,
            secure=secure_cookie,
            httponly=True,
            samesite="Lax",
        )
        return response

    async def callback(request: web.Request) -> web.StreamResponse:
        query = request.query
        try:
            result = await flow.complete(
                state=query.get("state"),
                code=query.get("code"),
                error=query.get("error"),
                browser_id=cookie.verify(request.cookies.get(COOKIE_NAME)),
            )
        except LinkFailure as failure:
            locale = page_locale(request)
            return pages.response(pages.failure_page(failure, locale), locale)
        locale = page_locale(request)
        return pages.response(pages.success_page(result, locale), locale)

    return [
        web.get(START_PATH, _guarded("start", start), allow_head=False),
        web.get(CALLBACK_PATH, _guarded("callback", callback), allow_head=False),
    ]
