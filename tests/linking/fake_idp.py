"""A fake Neverlose OpenID Connect provider on loopback that enforces the documented rules.

Rules (../shared/market-api/NOTES.md): code flow only; ``state`` required; PKCE required, ``S256`` only
(``plain`` refused); the client id must be known; the redirect URI must be registered exactly; a code is
single-use and bound to its client, redirect URI and code challenge; the token endpoint checks the client
secret when one is configured (``client_secret_basic`` or ``client_secret_post``); userinfo needs the bearer
token; no refresh tokens.

Knobs on :class:`FakeIdP` let a test make it misbehave like a real provider can: return an error to the
redirect URI, refuse at the token endpoint, answer userinfo without ``sub``, or fail with a 5xx.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode

from aiohttp import web

AUTHORIZE_PATH = "/oauth/authorize"
TOKEN_PATH = "/oauth/token"
USERINFO_PATH = "/oauth/oidc_userinfo"


@dataclass(frozen=True)
class Account:
    sub: str
    login: str


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    account: Account
    used: bool = False


@dataclass
class FakeIdP:
    client_id: str = "reseller-client"
    client_secret: str | None = None
    redirect_uris: set[str] = field(default_factory=set)
    account: Account = field(default_factory=lambda: Account("1001", "A49"))
    # misbehaviour knobs
    authorize_error: str | None = None
    token_error: str | None = None
    token_status: int | None = None
    userinfo_without_sub: bool = False
    userinfo_status: int | None = None
    # what happened (for assertions)
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, Account] = field(default_factory=dict)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    # ------------------------------------------------------------------ endpoints
    async def authorize(self, request: web.Request) -> web.Response:
        q = dict(request.query)
        self.authorize_requests.append(q)
        # Errors about the client or redirect URI must not redirect (RFC 6749 §4.1.2.1).
        if q.get("client_id") != self.client_id:
            return web.Response(status=400, text="unknown client_id")
        redirect_uri = q.get("redirect_uri", "")
        if redirect_uri not in self.redirect_uris:
            return web.Response(status=400, text="redirect_uri is not registered")

        def back(**params: str) -> web.Response:
            if "state" in q:
                params["state"] = q["state"]
            return web.Response(status=302, headers={"Location": f"{redirect_uri}?{urlencode(params)}"})

        scopes = q.get("scope", "").split()
        if q.get("response_type") != "code":
            return back(error="unsupported_response_type")
        if "openid" not in scopes:
            return back(error="invalid_scope")
        if not q.get("state") and "no_state" not in scopes:
            return back(error="invalid_request", error_description="state is required")
        if not q.get("code_challenge"):
            return back(error="invalid_request", error_description="PKCE is required")
        if q.get("code_challenge_method") != "S256":
            return back(error="invalid_request", error_description="only S256 is supported")
        if self.authorize_error is not None:
            return back(error=self.authorize_error)
        code = secrets.token_urlsafe(16)
        self.grants[code] = Grant(self.client_id, redirect_uri, q["code_challenge"], self.account)
        return back(code=code)

    def _client_ok(self, request: web.Request, form: dict[str, str]) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            raw = base64.b64decode(header[6:]).decode()
            client_id, _, secret = raw.partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
            return client_id == self.client_id and (
                self.client_secret is None or secrets.compare_digest(secret, self.client_secret)
            )
        if form.get("client_id") != self.client_id:
            return False
        if self.client_secret is None:
            return True
        return secrets.compare_digest(form.get("client_secret", ""), self.client_secret)

    async def token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append(
            {"form": form, "basic": request.headers.get("Authorization", "").startswith("Basic ")}
        )
        if self.token_status is not None:
            return web.json_response({"message": "down"}, status=self.token_status)
        if not self._client_ok(request, form):
            return _error(401, "invalid_client")
        if form.get("grant_type") != "authorization_code":
            return _error(400, "unsupported_grant_type")
        grant = self.grants.get(form.get("code", ""))
        if grant is None or grant.used:
            return _error(400, "invalid_grant")
        grant.used = True  # single use, whatever happens next
        if grant.client_id != self.client_id or form.get("redirect_uri") != grant.redirect_uri:
            return _error(400, "invalid_grant")
        verifier = form.get("code_verifier", "")
        if not verifier:
            return _error(400, "invalid_request")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if not secrets.compare_digest(challenge, grant.code_challenge):
            return _error(400, "invalid_grant")
        if self.token_error is not None:
            return _error(400, self.token_error)
        token = secrets.token_urlsafe(24)
        self.tokens[token] = grant.account
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": "openid profile"},
            headers={"Cache-Control": "no-store"},
        )

    async def userinfo(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        account = self.tokens.get(header[7:]) if header.startswith("Bearer ") else None
        if account is None:
            return web.json_response(
                {"error": "invalid_token"}, status=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        if self.userinfo_status is not None:
            return web.json_response({"message": "down"}, status=self.userinfo_status)
        claims: dict[str, str] = {"preferred_username": account.login, "name": account.login}
        if not self.userinfo_without_sub:
            claims["sub"] = account.sub
        return web.json_response(claims)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(AUTHORIZE_PATH, self.authorize)
        app.router.add_post(TOKEN_PATH, self.token)
        app.router.add_get(USERINFO_PATH, self.userinfo)
        return app


def _error(status: int, error: str) -> web.Response:
    return web.json_response({"error": error}, status=status)


@asynccontextmanager
async def running_fake_idp(**options: Any) -> AsyncIterator[FakeIdP]:
    idp = FakeIdP(**options)
    runner = web.AppRunner(idp.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert runner.addresses
    idp.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield idp
    finally:
        await runner.cleanup()
