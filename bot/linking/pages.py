"""The small, self-contained HTML pages the browser sees at the end of the linking flow.

No scripts, no images, no third-party resources: one inline stylesheet allowed by its hash in a strict
Content-Security-Policy. Every dynamic value is HTML-escaped.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from html import escape

from aiohttp import web

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


def render(page: Page, *, reference: str | None = None) -> str:
    footer = ""
    if reference is not None:
        footer = f"<p><small>Reference: <code>{escape(reference)}</code></small></p>"
    hint = "" if page.ok else "<p><small>You can close this page and run <code>/link start</code> again.</small></p>"
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(page.title)}</title><style>{_CSS}</style></head>"
        f'<body><main class="{"ok" if page.ok else "fail"}"><h1>{escape(page.title)}</h1>'
        f"<p>{escape(page.message)}</p>{hint}{footer}</main></body></html>\n"
    )


def response(page: Page, *, reference: str | None = None) -> web.Response:
    return web.Response(
        text=render(page, reference=reference),
        status=page.status,
        content_type="text/html",
        charset="utf-8",
        headers=SECURITY_HEADERS,
    )


_RESTART = "Run /link start in Discord again to get a new link."
_FAILURES: dict[Reason, tuple[str, str, int]] = {
    SessionProblem.START_UNKNOWN: ("Link not valid", f"This linking link is not valid. {_RESTART}", 404),
    SessionProblem.START_USED: ("Link already used", f"This linking link was already used. {_RESTART}", 410),
    SessionProblem.START_EXPIRED: ("Link expired", f"This linking link has expired. {_RESTART}", 410),
    SessionProblem.STATE_MISSING: (
        "Linking failed",
        "The answer from Neverlose carried no state parameter, so it cannot be matched to a linking attempt.",
        400,
    ),
    SessionProblem.STATE_UNKNOWN: (
        "Linking failed",
        "The answer from Neverlose does not match any linking attempt started here.",
        400,
    ),
    SessionProblem.STATE_REUSED: (
        "Already handled",
        "This answer from Neverlose was already used. Check /link status in Discord.",
        400,
    ),
    SessionProblem.STATE_EXPIRED: (
        "Linking timed out",
        f"More than 10 minutes passed between starting and finishing. {_RESTART}",
        400,
    ),
    SessionProblem.BROWSER_MISMATCH: (
        "Different browser",
        "Linking must finish in the same browser where it started (and with cookies allowed). " + _RESTART,
        400,
    ),
    FailureReason.PROVIDER_ERROR: ("Neverlose did not sign you in", "Neverlose returned an error", 400),
    FailureReason.CODE_MISSING: (
        "Linking failed",
        "The answer from Neverlose carried no authorization code.",
        400,
    ),
    FailureReason.TOKEN_REFUSED: (
        "Linking failed",
        "Neverlose refused to confirm the sign-in",
        400,
    ),
    FailureReason.USERINFO_REFUSED: (
        "Linking failed",
        "Neverlose refused to tell us which account signed in",
        502,
    ),
    FailureReason.SUB_MISSING: (
        "Linking failed",
        "Neverlose did not say which account signed in (no account id in its answer). Nothing was linked.",
        502,
    ),
    FailureReason.PROVIDER_PROTOCOL: (
        "Linking failed",
        "Neverlose answered in a way we do not understand. Nothing was linked; please try again later.",
        502,
    ),
    FailureReason.PROVIDER_UNAVAILABLE: (
        "Neverlose is unavailable",
        "Neverlose could not be reached. Nothing was linked; please try again in a few minutes.",
        502,
    ),
    FailureReason.DISCOVERY_UNAVAILABLE: (
        "Linking is unavailable",
        "The bot cannot read Neverlose's sign-in configuration right now, so linking is paused. Nothing was "
        "linked; please try again later.",
        503,
    ),
    FailureReason.USERINFO_SUB_MISMATCH: (
        "Sign-in could not be verified",
        "Neverlose's answers named two different accounts. Nothing was linked. " + _RESTART,
        502,
    ),
    FailureReason.ALREADY_LINKED: (
        "Account already linked",
        "This Neverlose account is already linked to another Discord account. Run /unlink from that "
        "Discord account first, or ask staff for help.",
        409,
    ),
}


_ID_TOKEN_CHECK: dict[IdTokenProblem, str] = {
    IdTokenProblem.MISSING: "Neverlose's answer carried no signed identity (id_token)",
    IdTokenProblem.MALFORMED: "the signed identity (id_token) is malformed",
    IdTokenProblem.ALGORITHM: "the signed identity uses a signature method the bot does not accept",
    IdTokenProblem.KEY_UNKNOWN: "the signed identity was signed with a key Neverlose does not publish",
    IdTokenProblem.SIGNATURE: "the signature of the signed identity is not valid",
    IdTokenProblem.ISSUER: "the signed identity was not issued by Neverlose",
    IdTokenProblem.AUDIENCE: "the signed identity was issued for another application",
    IdTokenProblem.EXPIRED: "the signed identity has expired",
    IdTokenProblem.NOT_YET_VALID: "the signed identity is dated in the future (check the server clock)",
    IdTokenProblem.SUBJECT: "the signed identity names no valid Neverlose account",
    IdTokenProblem.NONCE_MISSING: "the signed identity is not bound to this sign-in (no nonce)",
    IdTokenProblem.NONCE_MISMATCH: "the signed identity belongs to a different sign-in (nonce)",
    IdTokenProblem.NONCE_REPLAYED: "the signed identity was already used by an earlier sign-in (nonce)",
    IdTokenProblem.AT_HASH: "the signed identity does not belong to the access token (at_hash)",
}
for _problem, _check in _ID_TOKEN_CHECK.items():
    _FAILURES[_problem] = (
        "Sign-in could not be verified",
        f"The bot could not verify the sign-in: {_check}. Nothing was linked. If this keeps happening, tell staff.",
        502,
    )


def failure_page(failure: LinkFailure) -> Page:
    title, message, status = _FAILURES[failure.reason]
    if failure.reason in {
        FailureReason.PROVIDER_ERROR,
        FailureReason.TOKEN_REFUSED,
        FailureReason.USERINFO_REFUSED,
    }:
        if failure.detail == "access_denied":
            message = "You declined the request on Neverlose, so nothing was linked."
        else:
            message = f"{message} (error: {failure.detail or 'unknown'}). Nothing was linked. {_RESTART}"
    return Page(title, message, ok=False, status=status)


def success_page(result: LinkResult) -> Page:
    login = result.link.neverlose_login
    message = f"Your Discord account is now linked to the Neverlose account {login}."
    if result.replaced is not None and result.replaced.neverlose_sub != result.link.neverlose_sub:
        message += f" It replaces the earlier link to {result.replaced.neverlose_login}."
    return Page("Account linked", message + " You can close this page.", ok=True)


INTERNAL_ERROR = Page(
    "Something went wrong",
    "Something went wrong on our side and nothing was linked. Staff can find the reference in the log.",
    status=500,
)
