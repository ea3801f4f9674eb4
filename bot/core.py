"""The bot: a ``commands.Bot`` that owns every resource and closes them in reverse order.

``setup_hook`` opens the database (migrating it), creates the one aiohttp ``ClientSession`` and the Market
client, wires the core services, starts the embedded HTTP server, re-drives spending operations left pending
by a crash, loads the extensions in ``cogs/`` and syncs the command tree. ``close`` stops accepting HTTP,
stops background work (persisting what is in flight), closes the Market session, the database and finally
the Discord connection.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
from discord.ext import commands

from bot import __version__
from bot.collector import settle_after_start_up
from bot.discord_api import use_gateway_of
from bot.extensions import LoadReport, load_extensions
from bot.guild_config import GuildConfig
from bot.http.health import HealthCheck
from bot.http.server import WebServer
from bot.i18n.commands import CommandTranslator
from bot.i18n.preferences import Languages
from bot.linking.enabled import linking_disabled_reason
from bot.market.client import MarketClient
from bot.market.errors import MarketError, MarketFailure, MarketUnavailable
from bot.market.journal import Operation, SpendingJournal
from bot.market.recheck import recheck_forever
from bot.market.request_ids import RequestIdFactory
from bot.memory import release_free_memory
from bot.notifications.discord_sink import DiscordHttpSink
from bot.sandbox import SandboxDemo
from bot.settings import Settings
from bot.staff.services import StaffServices
from bot.stale_components import answer_orphaned, is_orphaned
from bot.stats.feature import StatsFeature
from bot.storage import Database
from bot.tree import BotCommandTree
from bot.webhooks.feature import WebhookFeature

if TYPE_CHECKING:  # imported in setup_features only when configured (an idle bot without them keeps ~2 MB less)
    from bot.linking.service import LinkingService
    from bot.orders.discord_feature import OrdersDiscord
    from bot.orders.feature import OrdersFeature
    from bot.payments.cryptopay.feature import CryptoPayFeature
    from bot.shop.service import ShopService
if TYPE_CHECKING:  # sandbox mode only (`reseller-bot sandbox` imports them)
    from bot.market.simulator.runner import RunningSimulator
    from bot.payments.cryptopay.simulator import RunningFakeCryptoPay

log = logging.getLogger(__name__)

SHUTDOWN_BUDGET = 9.0
"""Seconds a graceful shutdown may take in all (SIGTERM → exit within 10 s)."""
SHUTDOWN_STEP_TIMEOUT = 3.0
MIN_STEP_TIMEOUT = 0.5
Closer = Callable[[], Awaitable[None]]


class NotReadyError(RuntimeError):
    """A resource was used before ``setup_hook`` created it."""


class ResellerBot(commands.Bot):
    """Owns: settings, database, HTTP session, Market client and journal, web server, background tasks."""

    shutdown_budget: float = SHUTDOWN_BUDGET

    def __init__(
        self,
        settings: Settings,
        *,
        extensions_package: str = "cogs",
        sandbox_simulator: RunningSimulator | None = None,
        sandbox_cryptopay: RunningFakeCryptoPay | None = None,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # channels and roles; no privileged intents are needed
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            tree_cls=BotCommandTree,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.settings = settings
        self.extensions_package = extensions_package
        self.health = HealthCheck()
        self.web = WebServer(settings.server, self.health)
        self.gateway_connected = False
        self.extension_report = LoadReport()
        # sandbox mode only: demo events from the embedded simulator to our own webhook (cogs/sandbox.py)
        self.sandbox: SandboxDemo | None = None
        if sandbox_simulator is not None:
            self.sandbox = SandboxDemo(sandbox_simulator, self._own_webhook_url)
        self._db: Database | None = None
        self._session: aiohttp.ClientSession | None = None
        self._market: MarketClient | None = None
        self._journal: SpendingJournal | None = None
        self._guild_config: GuildConfig | None = None
        self._languages: Languages | None = None
        self.webhooks: WebhookFeature | None = None  # webhook store, notifications outbox and dispatcher
        self.staff: StaffServices | None = None
        self.linking: LinkingService | None = None  # None unless OAUTH_CLIENT_ID and PUBLIC_BASE_URL are set
        self.shop: ShopService | None = None  # None unless MARKET_INTEGRATION_ID is set
        self.orders: OrdersFeature | None = None  # None unless MARKET_INTEGRATION_ID is set (the shop)
        self.order_discord: OrdersDiscord | None = None  # orders channel cards, receipts, staff actions (with orders)
        self.cryptopay: CryptoPayFeature | None = None  # None unless the shop is on and CRYPTOPAY_TOKEN is set
        self._sandbox_cryptopay = sandbox_cryptopay  # sandbox only: the fake Crypto Pay's webhooks come here
        self.stats: StatsFeature | None = None  # /stats figures, balance forecast and its alerts
        self._background: list[asyncio.Task[Any]] = []
        # Feature services register closers here (run in reverse order before the Market session closes).
        self._service_closers: list[Closer] = []
        self._closing = False
        self._trimmed = False
        self.health.add("database", self._probe_database)
        self.health.add("discord", self._probe_gateway)
        self.health.add("extensions", self._probe_extensions)

    # ----------------------------------------------------------------- resources
    @property
    def db(self) -> Database:
        if self._db is None:
            raise NotReadyError("database is not open yet")
        return self._db

    @property
    def http_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise NotReadyError("HTTP session is not created yet")
        return self._session

    @property
    def market(self) -> MarketClient:
        if self._market is None:
            raise NotReadyError("Market client is not created yet")
        return self._market

    @property
    def journal(self) -> SpendingJournal:
        if self._journal is None:
            raise NotReadyError("spending journal is not created yet")
        return self._journal

    @property
    def guild_config(self) -> GuildConfig:
        if self._guild_config is None:
            raise NotReadyError("guild configuration is not loaded yet")
        return self._guild_config

    @property
    def languages(self) -> Languages:
        """The language of channel posts and of each member's DMs (docs/i18n.md)."""
        if self._languages is None:
            raise NotReadyError("languages are not loaded yet")
        return self._languages

    def start_background(self, coro: Awaitable[Any], *, name: str) -> asyncio.Task[Any]:
        """Run ``coro`` for the bot's lifetime; it is cancelled (after services close) on shutdown."""
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._background.append(task)
        task.add_done_callback(self._background_done)
        return task

    def on_close(self, closer: Closer) -> None:
        """Register a feature's shutdown step (run newest first, before the Market session closes)."""
        self._service_closers.append(closer)

    @staticmethod
    def _background_done(task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("background task crashed name=%s", task.get_name(), exc_info=exc)

    # ----------------------------------------------------------------- lifecycle
    async def setup_hook(self) -> None:
        log.info("starting neverlose-reseller-bot version=%s", __version__)
        if self.settings.discord.api_base is not None:
            await use_gateway_of(self.http)
        self._db = await Database.open(self.settings.storage.database_path)
        self._guild_config = GuildConfig(self._db, self.settings)
        self._languages = Languages(self.settings.language, self._guild_config)
        await self._languages.load()
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30, connect=10),
            headers={"User-Agent": f"neverlose-reseller-bot/{__version__}"},
        )
        self._market = MarketClient.from_settings(self._session, self.settings.market)
        ids = await RequestIdFactory.load(self._db)
        self._journal = SpendingJournal(self._db, self._market, id_factory=ids)

        await self.setup_features()
        await self.web.start()

        # Re-drive what a crash left open in the background: new spending waits for it inside the journal,
        # while Discord, webhooks and read-only commands are served at once even if Neverlose hangs.
        self._journal.begin_recovery()
        self.start_background(self._recover_journal(), name="journal-recovery")
        self.start_background(self._check_market(), name="market-check")
        self.start_background(
            recheck_forever(self._journal, on_resolved=self._record_rechecked), name="journal-recheck"
        )

        self.extension_report = await load_extensions(self, self.extensions_package)
        await self.sync_commands()

    def _own_webhook_url(self) -> str:
        return self.web.local_url + self.settings.server.webhook_path

    def _public_base_url(self) -> str:
        """Where browsers reach the embedded server: ``PUBLIC_BASE_URL``, else the address it listens on (known
        once it listens)."""
        return str(self.settings.server.public_base_url or self.web.local_url)

    def _sample_checkout_link(self, integration_id: int) -> str:
        from bot.orders.sandbox_link import sample_checkout_link  # sandbox only: PyJWT loads on first use

        return sample_checkout_link(
            self._public_base_url(),
            self.settings.checkout.checkout_path,
            self.settings.market.secret.get_secret_value(),
            integration_id,
        )

    async def _recover_journal(self) -> None:
        redriven = await self.journal.redrive_pending()
        if redriven:
            outcomes = ", ".join(f"{op.request_id}={op.status}" for op in redriven)
            log.info("journal recovery done operations=%d outcomes=%s", len(redriven), outcomes)
        if redriven and self.staff is not None:
            await self.staff.spending.record_redriven(redriven)  # audited like any staff-triggered outcome

    async def _record_rechecked(self, resolved: list[Operation]) -> None:
        if self.staff is not None:
            await self.staff.spending.record_redriven(resolved, how="re-checked automatically")

    async def _check_market(self) -> None:
        """One get-balance at start-up: log the balance, or one clear warning (the bot serves anyway)."""
        url = self.settings.market.base_url
        try:
            balance = await self.market.get_balance()
        except MarketError as exc:
            log.warning("Market API refused get-balance at %s: %s; check MARKET_USER_ID and MARKET_SECRET", url, exc)
        except MarketUnavailable as exc:
            log.warning("Market API unreachable at %s: %s; spending commands will report it until it answers", url, exc)
        except MarketFailure as exc:
            log.warning("Market API answered unexpectedly at %s: %s", url, exc)
        else:
            log.info("market api reachable url=%s balance=%s", url, balance)

    async def setup_features(self) -> None:
        """Wire the core feature services (webhooks, notifications, staff, linking) and their routes.

        Runs after the database, session and Market client exist and before the HTTP server starts, so
        features can add routes. Each feature registers its background tasks and closers.
        """
        # --- webhooks + notifications (issue 4) ---
        self.webhooks = await WebhookFeature.create(
            self.db,
            secret=self.settings.market.secret.get_secret_value(),
            channels=self.guild_config,
            sink=DiscordHttpSink(self.http),
            public_url=self.settings.server.public_webhook_url,
            locale=self.languages.channel,
        )
        self.webhooks.add_route(self.web.app, self.settings.server.webhook_path)
        self.health.add("webhooks", self.webhooks.probe)
        self.start_background(self.webhooks.processor.run(), name="webhook-fanout")  # starts with the web server
        self.start_background(self.webhooks.dispatcher.run(), name="notifications")
        self.on_close(self.webhooks.close)
        # --- staff services (issue 5) ---
        self.staff = StaffServices.create(
            db=self.db,
            market=self.market,
            journal=self.journal,
            guild_config=self.guild_config,
            outbox=self.webhooks.outbox,
            wake=self.webhooks.dispatcher.wake,
            locale=self.languages.channel,
        )
        # --- linking (issue 7) ---
        public_base_url = self.settings.server.public_base_url
        if linking_disabled_reason(self.settings) is None and public_base_url is not None:
            from bot.linking.service import LinkingService

            self.linking = await LinkingService.create(
                self.db, self.http_session, self.settings.oauth, public_base_url=public_base_url
            )
            self.web.app.add_routes(self.linking.routes())
            # discovery is read in the background: unreachable, it pauses /link only (retried with backoff)
            self.start_background(self.linking.discovery.run(), name="oidc-discovery")
            receipts = self.linking.attach_outbox(
                self.webhooks.outbox, wake=self.webhooks.dispatcher.wake, locale=self.languages.channel
            )
            self.webhooks.store.add_events_hook(receipts.on_events)
            self.staff.spending.add_success_hook(receipts.on_spending)
        # --- shop: the price table and its push to Neverlose's checkout (issue 13) ---
        integration_id = self.settings.shop.integration_id  # set: the shop is on (shop_disabled_reason)
        if integration_id is not None:
            from bot.shop.service import ShopService

            self.shop = ShopService.create(
                db=self.db,
                market=self.market,
                settings=self.settings,
                audit=self.staff.audit,
                outbox=self.webhooks.outbox,
                wake=self.webhooks.dispatcher.wake,
                locale=self.languages.channel,
            )
            self.start_background(self.shop.pusher.run(), name="shop-prices")
            self.on_close(self.shop.pusher.close)
            if self.sandbox is not None:  # /shop status shows a link signed like Neverlose's, to this server
                self.shop.sample_link = lambda: self._sample_checkout_link(integration_id)
        # --- orders and checkout (issue 14) ---
        if self.settings.shop.enabled:
            from bot.orders.discord_feature import OrdersDiscord
            from bot.orders.feature import OrdersFeature

            self.orders = OrdersFeature.create(
                self.db,
                self.settings,
                market=self.market,
                journal=self.journal,
                app=self.web.app,
                outbox=self.webhooks.outbox,
                wake=self.webhooks.dispatcher.wake,
                base_url=self._public_base_url,
            )
            self.start_background(self.orders.service.run_forever(), name="orders")
            self.on_close(self.orders.service.close)
            # --- orders in Discord (issue 14): the card in the orders channel, DM receipts, staff actions ---
            self.order_discord = OrdersDiscord.attach(
                self.orders.service,
                db=self.db,
                wake=self.webhooks.dispatcher.wake,
                audit=self.staff.audit,
                config=self.guild_config,
                channel_locale=self.languages.channel,
            )
        # --- Crypto Pay (issue 15) ---
        if self.orders is not None and self.settings.cryptopay.enabled:
            from bot.orders.cryptopay_events import OrderPaymentEvents
            from bot.payments.cryptopay.feature import CryptoPayFeature

            self.cryptopay = CryptoPayFeature.create(
                self.db,
                self.http_session,
                self.settings.cryptopay,
                outbox=self.webhooks.outbox,
                wake=self.webhooks.dispatcher.wake,
            )
            self.cryptopay.provider.events = OrderPaymentEvents(self.orders.service)
            self.orders.service.providers.add(self.cryptopay.provider)
            self.cryptopay.add_route(self.web.app)
            if self._sandbox_cryptopay is not None:
                path = self.settings.cryptopay.webhook_path
                self._sandbox_cryptopay.state.webhook_url = lambda: self.web.local_url + path
            self.start_background(self.cryptopay.provider.run_forever(), name="cryptopay-poll")
            self.on_close(self.cryptopay.provider.close)
        # --- statistics, balance forecast and alerts (issue 18); the weekly digest is started by cogs/stats.py ---
        self.stats = StatsFeature.create(
            self.db,
            self.settings.stats,
            market=self.market,
            config=self.guild_config,
            outbox=self.webhooks.outbox,
            wake=self.webhooks.dispatcher.wake,
        )
        self.start_background(self.stats.watch.run_forever(), name="balance-watch")

    async def sync_commands(self) -> None:
        guild_id = self.settings.discord.guild_id
        if self.tree.translator is None:  # Russian names, descriptions, options and choices (docs/i18n.md)
            await self.tree.set_translator(CommandTranslator())
        try:
            if guild_id is not None:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
            else:
                synced = await self.tree.sync()
        except discord.HTTPException as exc:
            log.error("command sync failed status=%s code=%s", exc.status, exc.code)
            return
        log.info("commands synced count=%d guild=%s", len(synced), guild_id or "global")

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        log.info("shutting down")
        deadline = asyncio.get_running_loop().time() + self.shutdown_budget
        await self._step("http server", self.web.stop, deadline)
        for closer in reversed(self._service_closers):
            await self._step("service", closer, deadline)
        for task in self._background:
            task.cancel()
        if self._background:
            await asyncio.wait(self._background, timeout=self._time_left(deadline, reserve=3))
        if self._session is not None:
            await self._step("market session", self._session.close, deadline, reserve=2)
        if self._db is not None:
            await self._step("database", self._db.close, deadline, reserve=1)
        await self._step("discord", super().close, deadline)
        log.info("shutdown complete")

    @staticmethod
    def _time_left(deadline: float, *, reserve: int = 0) -> float:
        """Seconds this step may take: what is left of the budget, keeping ``reserve`` short steps for the
        ones after it (closing the session, the database and Discord must still happen)."""
        left = deadline - asyncio.get_running_loop().time() - reserve * MIN_STEP_TIMEOUT
        return min(SHUTDOWN_STEP_TIMEOUT, max(MIN_STEP_TIMEOUT, left))

    @classmethod
    async def _step(cls, name: str, closer: Closer, deadline: float, *, reserve: int = 3) -> None:
        try:
            await asyncio.wait_for(closer(), timeout=cls._time_left(deadline, reserve=reserve))
        except TimeoutError:
            log.error("shutdown step timed out step=%s", name)
        except Exception:
            log.exception("shutdown step failed step=%s", name)
        else:
            log.debug("shutdown step done step=%s", name)

    # ----------------------------------------------------------------- gateway state
    async def on_connect(self) -> None:
        self.gateway_connected = True

    async def on_ready(self) -> None:
        self.gateway_connected = True
        log.info("gateway ready user=%s guilds=%d", self.user, len(self.guilds))
        if not self._trimmed:  # start-up is over: its freed heap goes back to the system (bot.memory)
            self._trimmed = True
            settle_after_start_up()  # and the collector stops walking what start-up made (bot.collector)
            release_free_memory()

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        super().dispatch(event_name, *args, **kwargs)
        # discord.py has just offered a press to its views (synchronously, no view task has run yet): a press
        # that no view, persistent item or modal takes gets an answer instead of "This interaction failed"
        pressed = args[0] if event_name == "interaction" and args else None
        if isinstance(pressed, discord.Interaction) and is_orphaned(self, pressed):
            super().dispatch("stale_component", pressed)

    async def on_stale_component(self, interaction: discord.Interaction) -> None:
        await answer_orphaned(interaction)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Remember the member's Discord language for the DMs the bot sends them later."""
        if self._languages is not None:
            await self._languages.remember_member(interaction.user.id, interaction.locale)
            command = interaction.data.get("name") if interaction.data else None
            if interaction.type is discord.InteractionType.application_command and command == "setup":
                await self._languages.remember_guild(interaction.guild_locale)  # the server's language

    async def on_resumed(self) -> None:
        self.gateway_connected = True
        log.info("gateway resumed")

    # A channel's overwrites or a role's permissions changed: a channel we could not post in may work now.
    async def on_guild_channel_update(self, before: object, after: object) -> None:
        self._recheck_notifications()

    async def on_guild_role_update(self, before: object, after: object) -> None:
        self._recheck_notifications()

    def _recheck_notifications(self) -> None:
        if self.webhooks is not None:
            self.webhooks.dispatcher.recheck_blocked()

    async def on_disconnect(self) -> None:
        if self.gateway_connected:
            log.warning("gateway disconnected")
        self.gateway_connected = False

    # ----------------------------------------------------------------- health probes
    async def _probe_database(self) -> str | None:
        if self._db is None:
            return "not open"
        if not await self._db.ping():
            return "not answering"
        fault = self._db.health.problem
        return None if fault is None else f"writes failing: {fault}"

    async def _probe_gateway(self) -> str | None:
        if not self.gateway_connected or self.is_closed():
            return "gateway not connected"
        if not math.isfinite(self.latency):
            return "no heartbeat yet"
        return None

    async def _probe_extensions(self) -> str | None:
        failed = self.extension_report.failed
        return f"failed to load: {', '.join(sorted(failed))}" if failed else None
