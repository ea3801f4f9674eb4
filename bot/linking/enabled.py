"""Whether account linking can run with the settings, and if not what to configure.

Apart from :mod:`bot.linking.service` so that the start-up check (``bot.core``, the ``/link`` and
``/setup roles`` extensions) does not import the linking feature when it is off.
"""

from __future__ import annotations

from bot.settings import OAuthSettings, Settings


def has_static_endpoints(oauth: OAuthSettings) -> bool:
    """All three endpoint settings are set: what linking needs when ``OAUTH_ISSUER`` is empty (no discovery; the
    same condition as :func:`bot.linking.discovery.static_metadata`)."""
    return oauth.authorize_url is not None and oauth.token_url is not None and oauth.userinfo_url is not None


def linking_disabled_reason(settings: Settings) -> str | None:
    """Why linking cannot run with these settings (what to configure), or ``None`` when it can."""
    if not settings.oauth.enabled:
        return (
            "OAUTH_CLIENT_ID is not set: ask Neverlose support for an OAuth client id "
            "(see docs/linking.md) to enable /link"
        )
    if settings.server.public_base_url is None:
        return (
            "PUBLIC_BASE_URL is not set: Neverlose must redirect browsers to PUBLIC_BASE_URL/oauth/callback "
            "(see docs/linking.md)"
        )
    if settings.oauth.issuer is None and not has_static_endpoints(settings.oauth):
        return (
            "OAUTH_ISSUER is empty (no discovery) but OAUTH_AUTHORIZE_URL, OAUTH_TOKEN_URL and OAUTH_USERINFO_URL "
            "are not all set (see docs/linking.md)"
        )
    return None
