"""The OpenID Connect relying-party side: authorize URL, code exchange and userinfo.

The endpoints come from discovery (:mod:`bot.linking.discovery`), read again for every request. Authorization
code flow with PKCE (S256) and a ``nonce`` always; the client authenticates with ``client_secret_basic`` (or
``client_secret_post``) when a secret is configured, otherwise it is a public client identified by
``client_id`` alone. Requests go through the bot's one aiohttp ``ClientSession``. Nothing is retried: an
authorization code is single-use, so a retried exchange could only fail. The access token is returned to
the caller to read userinfo with (and to check the id_token's ``at_hash``) and is never logged or stored;
so is the id_token, which :mod:`bot.linking.id_token` verifies.
"""

from __future__ import annotations

import base64
import logging
import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal
from urllib.parse import quote, urlencode

import aiohttp

from bot.linking import pkce
from bot.linking.discovery import Discovery, ProviderMetadata
from bot.settings import OAuthSettings

log = logging.getLogger(__name__)

SCOPE = "openid profile"
CALLBACK_PATH = "/oauth/callback"
ClientAuthMethod = Literal["client_secret_basic", "client_secret_post"]

_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5)


def safe_error_code(value: object) -> str:
    """An OAuth ``error`` value fit for a log line or a page, or ``"unknown"``."""
    return value if isinstance(value, str) and _ERROR_CODE.match(value) else "unknown"


class OIDCError(Exception):
    """Base of every failure talking to the identity provider."""


class ProviderRefused(OIDCError):
    """The provider answered with an OAuth error (``error`` code, e.g. ``invalid_grant``)."""

    def __init__(self, error: str, *, status: int | None = None) -> None:
        self.error = safe_error_code(error)
        self.status = status
        super().__init__(f"provider refused error={self.error} status={status}")


class ProviderUnavailable(OIDCError):
    """Connection failure, timeout or a 5xx answer."""


class ProviderProtocolError(OIDCError):
    """The provider answered something that is not what the protocol says."""


class MissingSubject(ProviderProtocolError):
    """Userinfo came back without a usable ``sub`` claim."""


class DiscoveryUnavailable(OIDCError):
    """No accepted discovery document: linking is unavailable for now."""


_LOGIN_CLAIMS = ("cc.neverlose.login", "preferred_username", "name")
_REG_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


@dataclass(frozen=True, slots=True)
class TokenResponse:
    access_token: str
    id_token: str | None


@dataclass(frozen=True, slots=True)
class UserInfo:
    sub: str
    login: str
    reg_date: date | None = None  # ``cc.neverlose.reg_date``


def _reg_date(value: object) -> date | None:
    if not isinstance(value, str) or not _REG_DATE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _check_user_id(body: dict[str, Any], sub: str) -> None:
    """``cc.neverlose.user_id``, when given, must be the integer ``sub`` stands for (the link stores the user id
    :func:`~bot.linking.links.user_id_of` reads from ``sub``)."""
    claimed = body.get("cc.neverlose.user_id")
    if claimed is not None and (isinstance(claimed, bool) or not isinstance(claimed, int) or str(claimed) != sub):
        raise ProviderProtocolError("userinfo cc.neverlose.user_id does not match sub")


class OIDCClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        settings: OAuthSettings,
        discovery: Discovery,
        *,
        redirect_uri: str,
        client_auth: ClientAuthMethod = "client_secret_basic",
    ) -> None:
        if settings.client_id is None:
            raise ValueError("OAUTH_CLIENT_ID is not set")
        self._session = session
        self._client_id = settings.client_id
        self._client_secret = settings.client_secret.get_secret_value() if settings.client_secret is not None else None
        self.discovery = discovery
        self.redirect_uri = redirect_uri
        self._client_auth = client_auth

    @classmethod
    def redirect_uri_for(cls, public_base_url: str) -> str:
        """The exact redirect URI to register with Neverlose: ``PUBLIC_BASE_URL/oauth/callback``."""
        return public_base_url.rstrip("/") + CALLBACK_PATH

    @property
    def client_id(self) -> str:
        return self._client_id

    def provider(self) -> ProviderMetadata:
        """The endpoints in use now; :class:`DiscoveryUnavailable` while there are none."""
        metadata = self.discovery.metadata
        if metadata is None:
            raise DiscoveryUnavailable(self.discovery.problem or "unavailable")
        return metadata

    def authorize_url(self, *, state: str, code_challenge: str, nonce: str) -> str:
        authorize = self.provider().authorization_endpoint
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self._client_id,
                "redirect_uri": self.redirect_uri,
                "scope": SCOPE,
                "state": state,
                "code_challenge": code_challenge,
                "code_challenge_method": pkce.CHALLENGE_METHOD,
                "nonce": nonce,
            },
            quote_via=quote,
        )
        separator = "&" if "?" in authorize else "?"
        return f"{authorize}{separator}{query}"

    async def exchange_code(self, code: str, code_verifier: str) -> TokenResponse:
        """Trade the authorization code (and the PKCE verifier) for an access token and an id_token."""
        token_url = self.provider().token_endpoint
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": code_verifier,
        }
        headers: dict[str, str] = {}
        if self._client_secret is None:
            form["client_id"] = self._client_id
        elif self._client_auth == "client_secret_basic":
            # RFC 6749 §2.3.1: both parts are form-urlencoded before the Basic encoding.
            pair = f"{quote(self._client_id, safe='')}:{quote(self._client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
        else:
            form["client_id"] = self._client_id
            form["client_secret"] = self._client_secret
        body = await self._request("POST", token_url, "token", data=form, headers=headers)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise ProviderProtocolError("token response has no access_token")
        token_type = body.get("token_type", "Bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise ProviderProtocolError("token response is not a bearer token")
        id_token = body.get("id_token")
        if id_token is not None and (not isinstance(id_token, str) or not id_token):
            raise ProviderProtocolError("token response id_token is not a string")
        return TokenResponse(token, id_token)

    async def userinfo(self, access_token: str) -> UserInfo:
        """``sub``, the login (``cc.neverlose.login``, else ``preferred_username``, else ``name``) and the
        registration date from the userinfo endpoint (a ``cc.neverlose.user_id`` other than ``sub`` is refused)."""
        body = await self._request(
            "GET", self.provider().userinfo_endpoint, "userinfo", headers={"Authorization": f"Bearer {access_token}"}
        )
        sub = body.get("sub")
        if isinstance(sub, int) and not isinstance(sub, bool):
            sub = str(sub)
        if not isinstance(sub, str) or not sub.strip():
            raise MissingSubject("userinfo has no sub")
        sub = sub.strip()
        login = next(
            (body[name] for name in _LOGIN_CLAIMS if isinstance(body.get(name), str) and body[name].strip()), None
        )
        if login is None:
            raise ProviderProtocolError("userinfo has no login (cc.neverlose.login or preferred_username)")
        _check_user_id(body, sub)
        return UserInfo(sub=sub, login=login.strip(), reg_date=_reg_date(body.get("cc.neverlose.reg_date")))

    async def _request(
        self,
        method: str,
        url: str,
        endpoint: str,
        *,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        request_headers = {"Accept": "application/json", **(headers or {})}
        try:
            async with self._session.request(
                method,
                url,
                data=data,
                headers=request_headers,
                timeout=_TIMEOUT,
                allow_redirects=False,
            ) as response:
                status = response.status
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = None
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("oidc request failed endpoint=%s error=%s", endpoint, type(exc).__name__)
            raise ProviderUnavailable(f"{endpoint} unreachable") from None
        if status >= 500:
            log.warning("oidc provider error endpoint=%s status=%d", endpoint, status)
            raise ProviderUnavailable(f"{endpoint} answered {status}")
        if isinstance(body, dict) and "error" in body:
            refused = ProviderRefused(str(body["error"]), status=status)
            log.warning("oidc provider refused endpoint=%s status=%d error=%s", endpoint, status, refused.error)
            raise refused
        if status == 401:
            log.warning("oidc provider refused endpoint=%s status=401", endpoint)
            raise ProviderRefused("invalid_token", status=status)
        if status != 200 or not isinstance(body, dict):
            log.warning("oidc unexpected answer endpoint=%s status=%d", endpoint, status)
            raise ProviderProtocolError(f"{endpoint} answered status {status} without a JSON object")
        return body
