"""A fake Neverlose OpenID Connect provider on loopback that enforces the documented rules.

Rules (../shared/market-api/NOTES.md, docs of 17 Mar 2026): discovery at
``/.well-known/openid-configuration`` (issuer = the server's URL), a JWKS of real RSA keys (generated here with
``cryptography``) at ``jwks_uri``; code flow only; ``state`` required; PKCE required, ``S256`` only
(``plain`` refused); the client id must be known; the redirect URI must be registered exactly; a code is
single-use and bound to its client, redirect URI, code challenge and ``nonce``; the token endpoint checks the
client secret when one is configured (``client_secret_basic`` or ``client_secret_post``) and returns an
RS256 ``id_token`` (``iss``, ``sub``, ``aud``, ``iat``, ``exp``, ``nonce``, ``at_hash``); userinfo needs the
bearer token and reports ``sub``, the login and the ``cc.neverlose.*`` claims; no refresh tokens.

Knobs on :class:`FakeIdP` let a test make it misbehave like a real provider (or an attacker) can: return an
error to the redirect URI, refuse at the token endpoint, answer userinfo without ``sub`` or with another one,
fail with a 5xx, serve a bad discovery document, rotate its key, or forge the id_token in many ways
(:attr:`FakeIdP.forge`, :attr:`FakeIdP.id_token_claims`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlencode

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

AUTHORIZE_PATH = "/oauth/authorize"
TOKEN_PATH = "/oauth/token"
USERINFO_PATH = "/oauth/oidc_userinfo"
DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/oauth/jwks"
REMOVE = object()
"""A value for :attr:`FakeIdP.id_token_claims` / :attr:`FakeIdP.discovery_changes`: leave the field out."""


@functools.cache
def rsa_key(number: int) -> rsa.RSAPrivateKey:
    """The ``number``-th real 2048-bit RSA key of this test run (generated once, then reused)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    def public_jwk(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def compact(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    """A JWS built by hand (for tokens PyJWT refuses to produce, e.g. HS256 keyed with a public key)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}".encode()
    return f"{signing_input.decode()}.{b64url(sign(signing_input))}"


def at_hash_of(access_token: str) -> str:
    return b64url(hashlib.sha256(access_token.encode("ascii")).digest()[:16])


@dataclass(frozen=True)
class Account:
    sub: str
    login: str
    reg_date: str | None = "2021-04-05"


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    account: Account
    nonce: str | None = None
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
    userinfo_sub: str | None = None  # report this sub instead of the account's
    userinfo_user_id: object = None  # report this cc.neverlose.user_id instead of the sub's number
    # discovery and keys
    issuer: str | None = None  # default: the server's URL
    discovery_status: int | None = None
    discovery_changes: dict[str, Any] = field(default_factory=dict)  # REMOVE drops a field
    jwks_status: int | None = None
    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey("key-1", rsa_key(1))])
    signing_kid: str = "key-1"
    unpublished: set[str] = field(default_factory=set)  # kids left out of the JWKS (still used to sign)
    # the id_token: claim overrides (REMOVE drops one), and forgeries:
    # "none" (alg none), "hs256" (HS256 keyed with the public key PEM), "bad_signature", "unknown_key"
    # (a real RSA key that is not in the JWKS), "omit" (no id_token at all)
    id_token_claims: dict[str, Any] = field(default_factory=dict)
    id_token_header: dict[str, Any] = field(default_factory=dict)  # header overrides (REMOVE drops one)
    forge: str | None = None
    clock: Callable[[], datetime] = field(default_factory=lambda: lambda: datetime.now(UTC))
    # what happened (for assertions)
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, Account] = field(default_factory=dict)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    id_tokens: list[str] = field(default_factory=list)
    discovery_requests: int = 0
    jwks_requests: int = 0
    url: str = ""

    # ------------------------------------------------------------------ keys
    def rotate(self, *, keep_old: bool = True) -> SigningKey:
        """Publish a new key (a new ``kid``) and sign with it from now on."""
        number = len(self.keys) + 1
        key = SigningKey(f"key-{number}", rsa_key(number))
        self.keys = [*self.keys, key] if keep_old else [key]
        self.signing_kid = key.kid
        return key

    @property
    def signing_key(self) -> SigningKey:
        return next(key for key in self.keys if key.kid == self.signing_kid)

    def id_token(self, grant: Grant, access_token: str) -> str:
        now = int(self.clock().timestamp())
        claims: dict[str, Any] = {
            "iss": self.issuer or self.url,
            "sub": grant.account.sub,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + 3600,
            "at_hash": at_hash_of(access_token),
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        claims.update(self.id_token_claims)
        claims = {name: value for name, value in claims.items() if value is not REMOVE}
        key = self.signing_key
        header: dict[str, Any] = {"alg": "RS256", "typ": "JWT", "kid": key.kid}
        header.update(self.id_token_header)
        header = {name: value for name, value in header.items() if value is not REMOVE}
        if self.forge == "garbage":
            return "this-is.not-a.jwt"
        if self.forge == "none":
            return compact({"alg": "none", "typ": "JWT", "kid": key.kid}, claims, lambda _: b"")
        if self.forge == "hs256":
            secret = key.public_pem()
            return compact(
                {"alg": "HS256", "typ": "JWT", "kid": key.kid},
                claims,
                lambda data: hmac.new(secret, data, hashlib.sha256).digest(),
            )
        if self.forge == "unknown_key":
            return jwt.encode(claims, rsa_key(99), algorithm="RS256", headers={"kid": "key-99"})
        if not isinstance(header.get("kid"), str):  # PyJWT refuses an odd kid: build such a token by hand
            return compact(
                header,
                claims,
                lambda data: jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).sign(data, key.private),
            )
        token = jwt.encode(claims, key.private, algorithm="RS256", headers=header)
        if self.forge == "bad_signature":
            head, body, signature = token.split(".")
            raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
            raw[10] ^= 0x01
            token = f"{head}.{body}.{b64url(bytes(raw))}"
        return token

    # ------------------------------------------------------------------ discovery
    async def discovery(self, request: web.Request) -> web.Response:
        self.discovery_requests += 1
        if self.discovery_status is not None:
            return web.json_response({"message": "nope"}, status=self.discovery_status)
        document: dict[str, Any] = {
            "issuer": self.issuer or self.url,
            "authorization_endpoint": self.url + AUTHORIZE_PATH,
            "token_endpoint": self.url + TOKEN_PATH,
            "userinfo_endpoint": self.url + USERINFO_PATH,
            "jwks_uri": self.url + JWKS_PATH,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "no_state", "no_pkce"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code"],
        }
        document.update(self.discovery_changes)
        return web.json_response({k: v for k, v in document.items() if v is not REMOVE})

    async def jwks(self, request: web.Request) -> web.Response:
        self.jwks_requests += 1
        if self.jwks_status is not None:
            return web.json_response({"message": "nope"}, status=self.jwks_status)
        return web.json_response({"keys": [key.public_jwk() for key in self.keys if key.kid not in self.unpublished]})

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
        self.grants[code] = Grant(self.client_id, redirect_uri, q["code_challenge"], self.account, q.get("nonce"))
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
        body: dict[str, Any] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "openid profile",
        }
        if self.forge != "omit":
            body["id_token"] = self.id_token(grant, token)
            self.id_tokens.append(body["id_token"])
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    async def userinfo(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        account = self.tokens.get(header[7:]) if header.startswith("Bearer ") else None
        if account is None:
            return web.json_response(
                {"error": "invalid_token"}, status=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        if self.userinfo_status is not None:
            return web.json_response({"message": "down"}, status=self.userinfo_status)
        claims: dict[str, Any] = {
            "preferred_username": account.login,
            "name": account.login,
            "cc.neverlose.login": account.login,
        }
        if account.reg_date is not None:
            claims["cc.neverlose.reg_date"] = account.reg_date
        if not self.userinfo_without_sub:
            claims["sub"] = self.userinfo_sub or account.sub
            claims["cc.neverlose.user_id"] = (
                int(claims["sub"]) if self.userinfo_user_id is None else self.userinfo_user_id
            )
        return web.json_response(claims)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(AUTHORIZE_PATH, self.authorize)
        app.router.add_post(TOKEN_PATH, self.token)
        app.router.add_get(USERINFO_PATH, self.userinfo)
        app.router.add_get(DISCOVERY_PATH, self.discovery)
        app.router.add_get(JWKS_PATH, self.jwks)
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
