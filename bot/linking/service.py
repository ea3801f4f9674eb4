"""Assembles the linking feature from the bot's resources: what ``bot/core.py`` builds and cogs use."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import aiohttp
from aiohttp import web

from bot.i18n import DEFAULT_LOCALE
from bot.linking.discovery import Discovery
from bot.linking.enabled import linking_disabled_reason as linking_disabled_reason
from bot.linking.flow import LinkFlow
from bot.linking.id_token import IdTokenVerifier
from bot.linking.links import LinkRepository
from bot.linking.oidc_client import ClientAuthMethod, OIDCClient
from bot.linking.receipts import ReceiptHooks
from bot.linking.renames import RenameAudit
from bot.linking.roles import RoleMappings
from bot.linking.routes import START_PREFIX, linking_routes
from bot.linking.sessions import DEFAULT_TTL, BrowserCookie, Clock, LinkSessions, load_cookie_key, utc_now
from bot.linking.signing_keys import SigningKeys
from bot.notifications.outbox import Outbox
from bot.settings import OAuthSettings
from bot.storage import Database


class LinkingService:
    """Sessions, links, role mappings, discovery, the OIDC client, the id_token verifier and the flow,
    sharing one database and clock. :attr:`discovery`'s ``run()`` is the feature's background task."""

    def __init__(
        self,
        db: Database,
        session: aiohttp.ClientSession,
        oauth: OAuthSettings,
        *,
        public_base_url: str,
        cookie_key: bytes,
        clock: Clock = utc_now,
        ttl: timedelta = DEFAULT_TTL,
        client_auth: ClientAuthMethod = "client_secret_basic",
    ) -> None:
        self._db = db
        self.public_base_url = public_base_url.rstrip("/")
        self.ttl = ttl
        self.sessions = LinkSessions(db, clock=clock, ttl=ttl)
        self.links = LinkRepository(db, clock=clock)
        self.roles = RoleMappings(db)
        self.discovery = Discovery(session, oauth)
        self.oidc = OIDCClient(
            session,
            oauth,
            self.discovery,
            redirect_uri=OIDCClient.redirect_uri_for(self.public_base_url),
            client_auth=client_auth,
        )
        self.signing_keys = SigningKeys(session, clock, before_refetch=self.discovery.refresh)
        self.verifier = IdTokenVerifier(self.signing_keys, client_id=self.oidc.client_id, clock=clock)
        self.flow = LinkFlow(self.sessions, self.oidc, self.links, self.verifier)
        self._cookie = BrowserCookie(cookie_key)

    @classmethod
    async def create(
        cls,
        db: Database,
        session: aiohttp.ClientSession,
        oauth: OAuthSettings,
        *,
        public_base_url: str,
        clock: Clock = utc_now,
        ttl: timedelta = DEFAULT_TTL,
        client_auth: ClientAuthMethod = "client_secret_basic",
    ) -> LinkingService:
        """Build the service with the install's cookie-signing key (created on first use)."""
        return cls(
            db,
            session,
            oauth,
            public_base_url=public_base_url,
            cookie_key=await load_cookie_key(db),
            clock=clock,
            ttl=ttl,
            client_auth=client_auth,
        )

    def attach_outbox(
        self, outbox: Outbox, *, wake: Callable[[], None], locale: Callable[[], str] = lambda: DEFAULT_LOCALE
    ) -> ReceiptHooks:
        """Confirm new links by DM and note renames in the audit channel through ``outbox``; return the
        receipt hooks for the webhook store and the spending service to register (``on_events``,
        ``on_spending``)."""
        hooks = ReceiptHooks(self._db, outbox, wake=wake, locale=locale)
        self.links.add_link_hook(hooks.on_linked)
        self.links.add_rename_hook(RenameAudit(outbox).on_renamed)
        self.links.add_commit_listener(hooks.after_commit)
        return hooks

    @property
    def available(self) -> bool:
        """Whether ``/link`` can work now (a discovery document was accepted, or no discovery is used)."""
        return self.discovery.metadata is not None

    @property
    def redirect_uri(self) -> str:
        return self.oidc.redirect_uri

    async def new_start_url(self, discord_user_id: int, locale: str | None = None) -> str:
        """A one-time start URL for ``discord_user_id`` (valid :attr:`ttl`); ``locale`` (the member's Discord
        language) becomes ``?lang=``, so the pages at the end of the flow are in that language."""
        token = await self.sessions.issue_start_token(discord_user_id)
        suffix = f"?lang={locale}" if locale else ""
        return f"{self.public_base_url}{START_PREFIX}{token}{suffix}"

    def routes(self) -> list[web.RouteDef]:
        return linking_routes(
            self.flow,
            self._cookie,
            secure_cookie=self.public_base_url.startswith("https://"),
            cookie_max_age=self.ttl,
        )
