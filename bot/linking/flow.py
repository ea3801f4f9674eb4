"""The two steps of linking, independent of HTTP: ``begin`` (start URL → authorize URL) and ``complete``
(callback → verified id_token and userinfo → stored link). Every refusal is a :class:`LinkFailure` with a
reason (:class:`FailureReason`, :class:`~bot.linking.sessions.SessionProblem` or
:class:`~bot.linking.id_token.IdTokenProblem`), logged once at WARNING as ``link rejected reason=…`` (never
with a token); no link is created unless every check passed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from bot.linking.discovery import ProviderMetadata
from bot.linking.id_token import IdTokenClaims, IdTokenProblem, IdTokenRejected, IdTokenVerifier
from bot.linking.links import AlreadyLinkedElsewhere, Link, LinkRepository
from bot.linking.oidc_client import (
    DiscoveryUnavailable,
    MissingSubject,
    OIDCClient,
    ProviderProtocolError,
    ProviderRefused,
    ProviderUnavailable,
    TokenResponse,
    UserInfo,
    safe_error_code,
)
from bot.linking.sessions import ConsumedAuthorization, LinkSessions, SessionProblem, SessionRejected
from bot.linking.signing_keys import KeysUnavailable

log = logging.getLogger(__name__)


class FailureReason(StrEnum):
    """Why the provider or the link step failed; a refused start token or state is a :class:`SessionProblem`."""

    PROVIDER_ERROR = "provider_error"
    CODE_MISSING = "code_missing"
    TOKEN_REFUSED = "token_refused"  # noqa: S105 - a reason code, not a secret
    USERINFO_REFUSED = "userinfo_refused"
    SUB_MISSING = "sub_missing"
    PROVIDER_PROTOCOL = "provider_protocol"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    DISCOVERY_UNAVAILABLE = "discovery_unavailable"
    USERINFO_SUB_MISMATCH = "userinfo_sub_mismatch"
    ALREADY_LINKED = "already_linked"


Reason = FailureReason | SessionProblem | IdTokenProblem
"""Every reason a linking step can be refused for (also the ``reason=`` in log lines)."""


class LinkFailure(Exception):
    """A refused step. ``detail`` is a safe OAuth error code when the provider gave one."""

    def __init__(self, reason: Reason, *, detail: str | None = None, discord_user_id: int | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.detail = detail
        self.discord_user_id = discord_user_id


@dataclass(frozen=True, slots=True)
class LinkResult:
    link: Link
    replaced: Link | None


class LinkFlow:
    def __init__(
        self, sessions: LinkSessions, oidc: OIDCClient, links: LinkRepository, verifier: IdTokenVerifier
    ) -> None:
        self._sessions = sessions
        self._oidc = oidc
        self._links = links
        self._verifier = verifier

    def _provider(self, user: int | None = None) -> ProviderMetadata:
        try:
            return self._oidc.provider()
        except DiscoveryUnavailable:
            raise self._reject(FailureReason.DISCOVERY_UNAVAILABLE, user=user) from None

    async def begin(self, start_token: str, browser_id: str) -> str:
        """Use the start token; return the provider's authorize URL for this browser.

        While discovery is unavailable the start token is left unused (it works once discovery is back).
        """
        self._provider()
        try:
            pending = await self._sessions.begin(start_token, browser_id)
        except SessionRejected as exc:
            raise self._reject(exc.problem, user=exc.discord_user_id) from None
        log.info("link started user=%d", pending.discord_user_id)
        try:
            return self._oidc.authorize_url(
                state=pending.state, code_challenge=pending.code_challenge, nonce=pending.nonce
            )
        except DiscoveryUnavailable:  # pragma: no cover - lost in the instant since the check above
            raise self._reject(FailureReason.DISCOVERY_UNAVAILABLE, user=pending.discord_user_id) from None

    async def complete(
        self, *, state: str | None, code: str | None, error: str | None, browser_id: str | None
    ) -> LinkResult:
        """Check the callback, exchange the code, read userinfo and store the link."""
        if error is not None and not state:
            raise self._reject(FailureReason.PROVIDER_ERROR, detail=safe_error_code(error))
        try:
            consumed = await self._sessions.consume(state, browser_id)
        except SessionRejected as exc:
            raise self._reject(exc.problem, user=exc.discord_user_id) from None
        user = consumed.discord_user_id
        if error is not None:
            raise self._reject(FailureReason.PROVIDER_ERROR, detail=safe_error_code(error), user=user)
        if not code:
            raise self._reject(FailureReason.CODE_MISSING, user=user)
        info = await self._identify(code, consumed, user)
        try:
            link, replaced = await self._links.link(user, info.sub, info.login, reg_date=info.reg_date)
        except AlreadyLinkedElsewhere:
            raise self._reject(FailureReason.ALREADY_LINKED, user=user) from None
        log.info(
            "link created user=%d sub=%s login=%s replaced_sub=%s",
            user,
            info.sub,
            info.login,
            replaced.neverlose_sub if replaced else "-",
        )
        return LinkResult(link, replaced)

    async def _identify(self, code: str, consumed: ConsumedAuthorization, user: int) -> UserInfo:
        """Exchange the code, verify the id_token and read userinfo (which must name the same ``sub``).

        The access token and the id_token live only inside this call.
        """
        provider = self._provider(user)
        tokens = await self._exchange(code, consumed.code_verifier, user)
        claims: IdTokenClaims | None = None
        if provider.verifies_id_tokens:
            claims = await self._verify(tokens, provider, consumed, user)
        info = await self._userinfo(tokens.access_token, user)
        if claims is not None and info.sub != claims.sub:
            raise self._reject(FailureReason.USERINFO_SUB_MISMATCH, user=user)
        return info

    async def _verify(
        self, tokens: TokenResponse, provider: ProviderMetadata, consumed: ConsumedAuthorization, user: int
    ) -> IdTokenClaims:
        if tokens.id_token is None:
            raise self._reject(IdTokenProblem.MISSING, user=user)
        try:
            return await self._verifier.verify(
                tokens.id_token,
                provider,
                nonce_hash=consumed.nonce_hash,
                access_token=tokens.access_token,
                current=lambda: self._oidc.discovery.metadata,
            )
        except KeysUnavailable:
            raise self._reject(FailureReason.PROVIDER_UNAVAILABLE, detail="jwks", user=user) from None
        except IdTokenRejected as exc:
            problem = exc.problem
            if (
                problem is IdTokenProblem.NONCE_MISMATCH
                and exc.nonce_hash is not None
                and await self._sessions.nonce_was_issued(exc.nonce_hash)
            ):
                problem = IdTokenProblem.NONCE_REPLAYED
            raise self._reject(problem, detail=exc.detail, user=user) from None

    async def _exchange(self, code: str, verifier: str, user: int) -> TokenResponse:
        try:
            return await self._oidc.exchange_code(code, verifier)
        except ProviderRefused as exc:
            raise self._reject(FailureReason.TOKEN_REFUSED, detail=exc.error, user=user) from None
        except ProviderUnavailable:
            raise self._reject(FailureReason.PROVIDER_UNAVAILABLE, user=user) from None
        except ProviderProtocolError:
            raise self._reject(FailureReason.PROVIDER_PROTOCOL, user=user) from None
        except DiscoveryUnavailable:
            raise self._reject(FailureReason.DISCOVERY_UNAVAILABLE, user=user) from None

    async def _userinfo(self, access_token: str, user: int) -> UserInfo:
        try:
            return await self._oidc.userinfo(access_token)
        except ProviderRefused as exc:
            raise self._reject(FailureReason.USERINFO_REFUSED, detail=exc.error, user=user) from None
        except ProviderUnavailable:
            raise self._reject(FailureReason.PROVIDER_UNAVAILABLE, user=user) from None
        except MissingSubject:
            raise self._reject(FailureReason.SUB_MISSING, user=user) from None
        except ProviderProtocolError:
            raise self._reject(FailureReason.PROVIDER_PROTOCOL, user=user) from None
        except DiscoveryUnavailable:
            raise self._reject(FailureReason.DISCOVERY_UNAVAILABLE, user=user) from None

    @staticmethod
    def _reject(reason: Reason, *, detail: str | None = None, user: int | None = None) -> LinkFailure:
        log.warning("link rejected reason=%s user=%s detail=%s", reason.value, user if user else "-", detail or "-")
        return LinkFailure(reason, detail=detail, discord_user_id=user)
