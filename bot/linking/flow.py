"""The two steps of linking, independent of HTTP: ``begin`` (start URL → authorize URL) and ``complete``
(callback → stored link). Every refusal is a :class:`LinkFailure` with a :class:`FailureReason`, logged once
as ``link rejected reason=…``; no link is created unless every check passed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from bot.linking.links import AlreadyLinkedElsewhere, Link, LinkRepository
from bot.linking.oidc_client import (
    MissingSubject,
    OIDCClient,
    ProviderProtocolError,
    ProviderRefused,
    ProviderUnavailable,
    UserInfo,
    safe_error_code,
)
from bot.linking.sessions import LinkSessions, SessionProblem, SessionRejected

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
    ALREADY_LINKED = "already_linked"


Reason = FailureReason | SessionProblem
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
    def __init__(self, sessions: LinkSessions, oidc: OIDCClient, links: LinkRepository) -> None:
        self._sessions = sessions
        self._oidc = oidc
        self._links = links

    async def begin(self, start_token: str, browser_id: str) -> str:
        """Use the start token; return the provider's authorize URL for this browser."""
        try:
            pending = await self._sessions.begin(start_token, browser_id)
        except SessionRejected as exc:
            raise self._reject(exc.problem, user=exc.discord_user_id) from None
        log.info("link started user=%d", pending.discord_user_id)
        return self._oidc.authorize_url(state=pending.state, code_challenge=pending.code_challenge)

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
        info = await self._identify(code, consumed.code_verifier, user)
        try:
            link, replaced = await self._links.link(user, info.sub, info.login)
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

    async def _identify(self, code: str, verifier: str, user: int) -> UserInfo:
        """Exchange the code and read userinfo; the access token lives only inside this call."""
        try:
            access_token = await self._oidc.exchange_code(code, verifier)
        except ProviderRefused as exc:
            raise self._reject(FailureReason.TOKEN_REFUSED, detail=exc.error, user=user) from None
        except ProviderUnavailable:
            raise self._reject(FailureReason.PROVIDER_UNAVAILABLE, user=user) from None
        except ProviderProtocolError:
            raise self._reject(FailureReason.PROVIDER_PROTOCOL, user=user) from None
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

    @staticmethod
    def _reject(reason: Reason, *, detail: str | None = None, user: int | None = None) -> LinkFailure:
        log.warning("link rejected reason=%s user=%s detail=%s", reason.value, user if user else "-", detail or "-")
        return LinkFailure(reason, detail=detail, discord_user_id=user)
