"""OpenID Connect discovery: where the provider's endpoints and signing keys are, read from the issuer.

The bot reads ``<OAUTH_ISSUER>/.well-known/openid-configuration`` in the background at start, then daily,
and again when an id_token names a key the bot does not know (:mod:`bot.linking.signing_keys`). A document
is accepted only when its ``issuer`` equals ``OAUTH_ISSUER`` exactly and it names the authorization, token,
userinfo and JWKS endpoints (each ``OAUTH_*_URL`` setting that is set replaces the discovered value).

While no document has been accepted, linking is *unavailable*: :attr:`Discovery.problem` says why (one
WARNING when that starts, one INFO when it ends), ``/link`` answers so, and the background task retries with
a capped backoff. A later refresh that cannot reach the provider keeps the last accepted document; one that
answers with an invalid document makes linking unavailable until a valid one is read again.

With ``OAUTH_ISSUER`` empty there is no discovery: the three URL settings are the endpoints, and no id_token
can be verified (no issuer, no keys); identity then comes from userinfo alone (see docs/linking.md).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp

from bot.linking.fetch import Unreachable, fetch_json
from bot.settings import OAuthSettings

log = logging.getLogger(__name__)

WELL_KNOWN = "/.well-known/openid-configuration"
REFRESH_EVERY = timedelta(days=1)
RETRY_FIRST = timedelta(seconds=30)
RETRY_MAX = timedelta(minutes=15)
MAX_DOCUMENT_BYTES = 256 * 1024

ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""Signature algorithms an id_token may use: public-key ones only (never ``none`` or an HMAC algorithm,
whatever a discovery document or a token header says)."""

_REQUIRED = ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri")
_OVERRIDES = {
    "authorization_endpoint": "authorize_url",
    "token_endpoint": "token_url",
    "userinfo_endpoint": "userinfo_url",
}


class DiscoveryProblem(Exception):
    """Why a discovery document was not accepted; the message is safe to log (no document content)."""

    def __init__(self, problem: str, *, reachable: bool = True) -> None:
        super().__init__(problem)
        self.problem = problem
        self.reachable = reachable


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """The endpoints in use. ``issuer`` and ``jwks_uri`` are ``None`` only without discovery."""

    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    issuer: str | None = None
    jwks_uri: str | None = None
    signing_algorithms: frozenset[str] = frozenset()

    @property
    def verifies_id_tokens(self) -> bool:
        return self.issuer is not None and self.jwks_uri is not None


def discovery_url(issuer: str) -> str:
    """OpenID Connect Discovery §4: a terminating ``/`` of the issuer is removed before appending."""
    return issuer.rstrip("/") + WELL_KNOWN


def _url(document: dict[str, Any], name: str, *, https_only: bool) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value.startswith(("https://", "http://")) or len(value) > 2000:
        raise DiscoveryProblem(f"{name} missing or not a URL")
    if https_only and not value.startswith("https://"):
        raise DiscoveryProblem(f"{name} is not https")
    return value


def parse_document(document: object, settings: OAuthSettings) -> ProviderMetadata:
    """Check a discovery document against the settings; raise :class:`DiscoveryProblem` when unusable."""
    issuer = settings.issuer
    if issuer is None:  # pragma: no cover - callers only parse with an issuer
        raise DiscoveryProblem("no issuer configured")
    if not isinstance(document, dict):
        raise DiscoveryProblem("document is not a JSON object")
    if document.get("issuer") != issuer:
        said = document.get("issuer")
        shown = repr(said[:100]) if isinstance(said, str) else "nothing"
        raise DiscoveryProblem(f"issuer mismatch (the document says {shown}, OAUTH_ISSUER is {issuer!r})")
    https_only = issuer.startswith("https://")
    urls: dict[str, str] = {}
    for name in _REQUIRED:
        override = getattr(settings, _OVERRIDES[name]) if name in _OVERRIDES else None
        urls[name] = override if isinstance(override, str) else _url(document, name, https_only=https_only)
    listed = document.get("id_token_signing_alg_values_supported", ["RS256"])  # RS256: OIDC Core's default
    if not isinstance(listed, list):
        raise DiscoveryProblem("id_token_signing_alg_values_supported is not a list")
    algorithms = frozenset(alg for alg in listed if isinstance(alg, str)) & ASYMMETRIC_ALGORITHMS
    if not algorithms:
        raise DiscoveryProblem("no supported id_token signing algorithm")
    return ProviderMetadata(
        authorization_endpoint=urls["authorization_endpoint"],
        token_endpoint=urls["token_endpoint"],
        userinfo_endpoint=urls["userinfo_endpoint"],
        issuer=issuer,
        jwks_uri=urls["jwks_uri"],
        signing_algorithms=algorithms,
    )


def static_metadata(settings: OAuthSettings) -> ProviderMetadata | None:
    """The endpoints without discovery (``OAUTH_ISSUER`` empty): all three URL settings, else ``None``."""
    if settings.authorize_url is None or settings.token_url is None or settings.userinfo_url is None:
        return None
    return ProviderMetadata(settings.authorize_url, settings.token_url, settings.userinfo_url)


class Discovery:
    """The provider's current metadata, kept fresh by :meth:`run` (a background task)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        settings: OAuthSettings,
        *,
        refresh_every: timedelta = REFRESH_EVERY,
        retry_first: timedelta = RETRY_FIRST,
        retry_max: timedelta = RETRY_MAX,
    ) -> None:
        self._session = session
        self._settings = settings
        self.refresh_every = refresh_every
        self.retry_first = retry_first
        self.retry_max = retry_max
        self._lock = asyncio.Lock()
        self._metadata: ProviderMetadata | None = None
        self.problem: str | None = "not read yet"
        if settings.issuer is None:
            self._metadata = static_metadata(settings)
            self.problem = (
                None if self._metadata is not None else "OAUTH_ISSUER is empty and an endpoint URL is missing"
            )

    @property
    def enabled(self) -> bool:
        """Whether a discovery document is read at all (``OAUTH_ISSUER`` set)."""
        return self._settings.issuer is not None

    @property
    def metadata(self) -> ProviderMetadata | None:
        """The accepted metadata, or ``None`` while linking is unavailable."""
        return self._metadata if self.problem is None else None

    async def refresh(self) -> bool:
        """Read the document once; ``True`` when linking is available afterwards."""
        issuer = self._settings.issuer
        if issuer is None:
            return self._metadata is not None
        async with self._lock:
            try:
                metadata = parse_document(await self._fetch(discovery_url(issuer)), self._settings)
            except DiscoveryProblem as exc:
                self._failed(issuer, exc)
            else:
                if self.problem is not None:
                    log.info("oidc discovery ok issuer=%s linking=available", issuer)
                elif metadata != self._metadata:
                    log.info("oidc discovery changed issuer=%s", issuer)
                self._metadata = metadata
                self.problem = None
            return self.problem is None

    def _failed(self, issuer: str, exc: DiscoveryProblem) -> None:
        if not exc.reachable and self._metadata is not None and self.problem is None:
            log.warning("oidc discovery refresh failed issuer=%s problem=%s; keeping the last document", issuer, exc)
            return
        if self.problem != exc.problem:
            log.warning(
                "oidc discovery failed issuer=%s problem=%s; /link is unavailable until it succeeds "
                "(retrying in the background)",
                issuer,
                exc.problem,
            )
        else:
            log.debug("oidc discovery still failing issuer=%s problem=%s", issuer, exc.problem)
        self.problem = exc.problem

    async def _fetch(self, url: str) -> object:
        try:
            answer = await fetch_json(self._session, url, limit=MAX_DOCUMENT_BYTES)
        except Unreachable as exc:
            raise DiscoveryProblem(f"unreachable ({exc})", reachable=False) from None
        if answer.problem is not None:
            raise DiscoveryProblem(answer.problem, reachable=answer.status < 500)
        return answer.document

    def next_delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failed attempts (0 = the last one worked)."""
        if failures == 0:
            return self.refresh_every.total_seconds()
        first = self.retry_first.total_seconds()
        return float(min(self.retry_max.total_seconds(), first * 2 ** min(failures - 1, 20)))

    async def run(self) -> None:
        """Read now, then keep reading: daily while it works, with a capped backoff while it does not."""
        if not self.enabled:
            return
        failures = 0
        while True:
            try:
                ok = await self.refresh()
            except Exception:  # never let a surprise end the retries: linking would stay off for good
                log.exception("oidc discovery attempt failed unexpectedly issuer=%s", self._settings.issuer)
                ok = False
            failures = 0 if ok else failures + 1
            await asyncio.sleep(self.next_delay(failures))
