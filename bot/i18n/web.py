"""The language of a web page: the reader's choice (a cookie set by the switcher), else ``Accept-Language``.

``GET /lang/{code}?next=/orders/...`` remembers the choice for a year in the ``lang`` cookie (``Path=/``,
``SameSite=Lax``, ``HttpOnly``: no script reads it) and sends the browser back to ``next``, a path on this
server (anything else is ignored). Without a usable ``next`` (the linking pages: their address answers only
once) it shows a short page in the chosen language. No JavaScript: the switcher is two links.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from aiohttp import web

from bot.i18n.catalog import DEFAULT_LOCALE, LOCALES, t
from bot.i18n.negotiation import from_accept_language, supported

COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
PATH = "/lang/{code}"
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def page_locale(request: web.Request) -> str:
    """The cookie's language, else the browser's preferred one we have, else English."""
    return (
        supported(request.cookies.get(COOKIE))
        or from_accept_language(request.headers.get("Accept-Language"))
        or (DEFAULT_LOCALE)
    )


def safe_next(value: str | None) -> str | None:
    """A path on this server (``/orders/x``), never another site (``//evil``, ``/\\evil``, ``https://``)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if any(ord(ch) < 0x20 for ch in value):
        return None
    return value


@dataclass(frozen=True, slots=True)
class SwitchLink:
    code: str
    name: str
    href: str
    current: bool


def switcher(current: str, next_path: str | None) -> list[SwitchLink]:
    """The switcher's links, one per language, each in its own language (``English``, ``Русский``)."""
    target = safe_next(next_path)
    suffix = f"?next={quote(target, safe='/')}" if target else ""
    return [
        SwitchLink(code, t(code, f"lang.name.{code}"), f"/lang/{code}{suffix}", code == current) for code in LOCALES
    ]


def remember(response: web.StreamResponse, code: str, *, secure: bool) -> None:
    response.set_cookie(COOKIE, code, max_age=COOKIE_MAX_AGE, path="/", secure=secure, httponly=True, samesite="Lax")


async def choose(request: web.Request) -> web.StreamResponse:
    code = supported(request.match_info["code"])
    if code is None or code != request.match_info["code"]:
        raise web.HTTPNotFound(headers=_HEADERS)
    target = safe_next(request.query.get("next"))
    response: web.StreamResponse
    if target is not None:
        response = web.Response(status=303, headers={**_HEADERS, "Location": target})
    else:
        body = (
            f'<!doctype html>\n<html lang="{code}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(t(code, 'lang.switch'))}</title></head><body><main>"
            f"<h1>{escape(t(code, f'lang.name.{code}'))}</h1><p>{escape(t(code, 'lang.chosen'))}</p>"
            "</main></body></html>\n"
        )
        response = web.Response(text=body, content_type="text/html", charset="utf-8", headers=_HEADERS)
    remember(response, code, secure=request.secure)
    return response


def language_routes() -> list[web.RouteDef]:
    return [web.get(PATH, choose, allow_head=False)]
