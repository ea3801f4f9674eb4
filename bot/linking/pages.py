"""The small, self-contained HTML pages the browser sees at the end of the linking flow.

No scripts, no images, no third-party resources: one inline stylesheet allowed by its hash in a strict
Content-Security-Policy. Every dynamic value is HTML-escaped. Texts come from the catalogs (``link.*``) in
the page's language (:func:`bot.i18n.web.page_locale`); the switcher's links set the language cookie and do
not return here (a callback's address answers only once).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from html import escape

from aiohttp import web

from bot.i18n import t, t_html
from bot.i18n.web import switcher
from bot.linking.flow import FailureReason, LinkFailure, LinkResult, Reason
from bot.linking.id_token import IdTokenProblem
from bot.linking.sessions import SessionProblem

_CSS = (
    "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#0f1115;color:#e6e6e6;"
    "margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}"
    "main{max-width:32rem;padding:2rem;margin:1rem;border-radius:12px;background:#181b22;"
    "border-top:4px solid #888}"
    "main.ok{border-top-color:#3ba55d}main.fail{border-top-color:#ed4245}"
    "h1{font-size:1.4rem;margin:0 0 1rem}p{line-height:1.5}code{font-size:.9em}"
    "small{color:#9a9a9a}"
    "nav{text-align:right;font-size:.9rem;margin:-1rem 0 .5rem}nav a{color:#7d97ff;margin-left:.75rem}"
    "nav span{color:#9a9a9a;margin-left:.75rem}"
)
_CSS_HASH = base64.b64encode(hashlib.sha256(_CSS.encode("utf-8")).digest()).decode("ascii")

CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True, slots=True)
class Page:
    title: str
    message: str
    ok: bool = False
    status: int = 200


def _switcher(locale: str) -> str:
    links = []
    for link in switcher(locale, None):
        if link.current:
            links.append(f'<span lang="{link.code}" aria-current="true">{escape(link.name)}</span>')
        else:
            links.append(
                f'<a href="{escape(link.href)}" lang="{link.code}" hreflang="{link.code}">{escape(link.name)}</a>'
            )
    return f'<nav aria-label="{escape(t(locale, "lang.switch"))}">{"".join(links)}</nav>'


def render(page: Page, locale: str, *, reference: str | None = None) -> str:
    footer = ""
    if reference is not None:
        footer = f"<p><small>{escape(t(locale, 'link.page.reference'))} <code>{escape(reference)}</code></small></p>"
    hint = "" if page.ok else f"<p><small>{t_html(locale, 'link.page.hint_html')}</small></p>"
    return (
        "<!doctype html>\n"
        f'<html lang="{locale}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(page.title)}</title><style>{_CSS}</style></head>"
        f'<body><main class="{"ok" if page.ok else "fail"}">{_switcher(locale)}<h1>{escape(page.title)}</h1>'
        f"<p>{escape(page.message)}</p>{hint}{footer}</main></body></html>\n"
    )


def response(page: Page, locale: str, *, reference: str | None = None) -> web.Response:
    return web.Response(
        text=render(page, locale, reference=reference),
        status=page.status,
        content_type="text/html",
        charset="utf-8",
        headers=SECURITY_HEADERS,
    )


# reason -> (title id, message id, HTTP status); ``{restart}`` in a message is ``link.page.restart``.
_FAILURES: dict[Reason, tuple[str, str, int]] = {
    SessionProblem.START_UNKNOWN: ("link.title.invalid", "link.fail.start_unknown", 404),
    SessionProblem.START_USED: ("link.title.used", "link.fail.start_used", 410),
    SessionProblem.START_EXPIRED: ("link.title.expired", "link.fail.start_expired", 410),
    SessionProblem.STATE_MISSING: ("link.title.failed", "link.fail.state_missing", 400),
    SessionProblem.STATE_UNKNOWN: ("link.title.failed", "link.fail.state_unknown", 400),
    SessionProblem.STATE_REUSED: ("link.title.handled", "link.fail.state_reused", 400),
    SessionProblem.STATE_EXPIRED: ("link.title.timed_out", "link.fail.state_expired", 400),
    SessionProblem.BROWSER_MISMATCH: ("link.title.browser", "link.fail.browser_mismatch", 400),
    FailureReason.PROVIDER_ERROR: ("link.title.not_signed_in", "link.fail.provider_error", 400),
    FailureReason.CODE_MISSING: ("link.title.failed", "link.fail.code_missing", 400),
    FailureReason.TOKEN_REFUSED: ("link.title.failed", "link.fail.token_refused", 400),
    FailureReason.USERINFO_REFUSED: ("link.title.failed", "link.fail.userinfo_refused", 502),
    FailureReason.SUB_MISSING: ("link.title.failed", "link.fail.sub_missing", 502),
    FailureReason.PROVIDER_PROTOCOL: ("link.title.failed", "link.fail.provider_protocol", 502),
    FailureReason.PROVIDER_UNAVAILABLE: ("link.title.unavailable_nl", "link.fail.provider_unavailable", 502),
    FailureReason.DISCOVERY_UNAVAILABLE: ("link.title.unavailable", "link.fail.discovery_unavailable", 503),
    FailureReason.USERINFO_SUB_MISMATCH: ("link.title.unverified", "link.fail.userinfo_sub_mismatch", 502),
    FailureReason.ALREADY_LINKED: ("link.title.already_linked", "link.fail.already_linked", 409),
}
for _problem in IdTokenProblem:
    _FAILURES[_problem] = ("link.title.unverified", "link.fail.verify", 502)

_WITH_DETAIL = {FailureReason.PROVIDER_ERROR, FailureReason.TOKEN_REFUSED, FailureReason.USERINFO_REFUSED}


def failure_page(failure: LinkFailure, locale: str) -> Page:
    title_id, message_id, status = _FAILURES[failure.reason]
    restart = t(locale, "link.page.restart")
    if isinstance(failure.reason, IdTokenProblem):
        message = t(locale, message_id, check=t(locale, f"link.check.{failure.reason.value}"))
    else:
        message = (
            t(locale, message_id, restart=restart) if "{restart}" in t("en", message_id) else t(locale, message_id)
        )
    if failure.reason in _WITH_DETAIL:
        if failure.detail == "access_denied":
            message = t(locale, "link.fail.declined")
        else:
            detail = failure.detail or t(locale, "link.fail.unknown_error")
            message = t(locale, "link.fail.with_error", message=message, detail=detail, restart=restart)
    return Page(t(locale, title_id), message, ok=False, status=status)


def success_page(result: LinkResult, locale: str) -> Page:
    message = t(locale, "link.ok.linked", login=result.link.neverlose_login)
    if result.replaced is not None and result.replaced.neverlose_sub != result.link.neverlose_sub:
        message += " " + t(locale, "link.ok.replaces", login=result.replaced.neverlose_login)
    return Page(t(locale, "link.title.linked"), message + " " + t(locale, "link.ok.close"), ok=True)


def internal_error(locale: str) -> Page:
    return Page(t(locale, "link.title.internal"), t(locale, "link.internal"), status=500)


def unavailable(locale: str) -> Page:
    """The database cannot take writes (a full disk...): nothing was linked, try again in a minute."""
    return Page(t(locale, "link.title.try_again"), t(locale, "link.try_again"), status=503)
