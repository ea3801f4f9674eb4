"""Command line: ``reseller-bot [run|check-config|sandbox|backup PATH]`` (also ``python -m bot``).

Exit status: 0 success; 1 a runtime problem (Market API refused or unreachable, database error);
2 invalid configuration or usage. Configuration problems are printed as one readable message, never a
traceback, and never with a secret in it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal
import sqlite3
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import aiosqlite
import discord
from pydantic import SecretStr

from bot import __version__
from bot.discord_api import use_rest_base
from bot.i18n.catalog import catalogs
from bot.logging_setup import configure_logging
from bot.settings import (
    ServerSettings,
    Settings,
    SettingsError,
    StorageSettings,
    load_section,
    load_settings,
)

if TYPE_CHECKING:  # the simulators are imported by `sandbox` only, not by `run`
    from bot.core import ResellerBot
    from bot.market.simulator.runner import RunningSimulator
    from bot.payments.cryptopay.simulator import RunningFakeCryptoPay

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2


def _out(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def _err(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reseller-bot",
        description="Discord bot for Neverlose resellers. Configured by environment variables or a .env file.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--env-file",
        type=Path,
        default=Path(".env"),
        help="read settings from this file as well as the environment (default: .env)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", help="run the bot (the default)", description="Connect to Discord and serve.")
    sub.add_parser(
        "check-config",
        help="validate settings and call get-balance on the Market API (and getMe on Crypto Pay)",
        description="Validate every setting, then ask the Market API for the balance and, when CRYPTOPAY_TOKEN "
        "is set, Crypto Pay for the app's name. Exit 0 when they work, 1 when an API refuses or cannot be "
        "reached, 2 when settings are invalid.",
    )
    sub.add_parser(
        "sandbox",
        help="run the bot against the embedded Market API simulator",
        description="Run the bot against an in-process Market API simulator with a seeded demo account. "
        "Needs only DISCORD_TOKEN; no Neverlose credentials and no NLE are used.",
    )
    backup = sub.add_parser(
        "backup",
        help="make a consistent online copy of the database",
        description="Copy DATABASE_PATH to PATH with SQLite's backup API; safe while the bot runs.",
    )
    backup.add_argument("path", type=Path, help="the new file to write (must not exist)")
    sub.add_parser(
        "healthcheck",
        help="ask the running bot's /healthz (used by the container's HEALTHCHECK)",
        description="GET http://127.0.0.1:WEBHOOK_PORT/healthz; exit 0 when it answers 200, 1 otherwise.",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command: str = args.command or "run"
    env_file: Path = args.env_file
    try:
        if command == "backup":
            storage = load_section(StorageSettings, env_file)
            return _backup(storage, args.path)
        if command == "healthcheck":
            return _healthcheck(load_section(ServerSettings, env_file))
        settings = load_settings(env_file, sandbox=command == "sandbox")
    except SettingsError as exc:
        _err(exc.render())
        return EXIT_CONFIG
    configure_logging(settings.logging.level)
    if command == "check-config":
        return asyncio.run(_check_config(settings))
    return asyncio.run(run_bot(settings, sandbox=command == "sandbox"))


# --------------------------------------------------------------------- check-config
async def _check_config(settings: Settings) -> int:
    from bot.market.errors import MarketError, MarketFailure, MarketUnavailable
    from bot.market.health_check import check_balance

    _out("Settings OK.")
    async with aiohttp.ClientSession() as session:
        try:
            balance = await check_balance(session, settings.market)
        except MarketError as exc:
            _err(f"Market API refused the request: {exc.text}")
            _err("Check MARKET_USER_ID and MARKET_SECRET against Neverlose's market API settings page.")
            return EXIT_FAILURE
        except MarketUnavailable as exc:
            _err(f"Market API unreachable at {settings.market.base_url}: {exc}")
            return EXIT_FAILURE
        except MarketFailure as exc:
            _err(f"Market API answered unexpectedly: {exc}")
            return EXIT_FAILURE
    _out(f"Market API OK: balance {balance:.2f} NLE.")
    if settings.cryptopay.enabled:
        return await _check_cryptopay(settings)
    return EXIT_OK


async def _check_cryptopay(settings: Settings) -> int:
    from bot.payments.cryptopay.errors import CryptoPayFailure
    from bot.payments.cryptopay.health_check import check_app, describe_app, describe_failure

    async with aiohttp.ClientSession() as session:
        try:
            app = await check_app(session, settings.cryptopay)
        except CryptoPayFailure as exc:
            _err(describe_failure(exc, settings.cryptopay))
            return EXIT_FAILURE
    _out(describe_app(app, settings.cryptopay))
    return EXIT_OK


# --------------------------------------------------------------------- healthcheck
def _healthcheck(server: ServerSettings, timeout: float = 5.0) -> int:
    url = f"http://127.0.0.1:{server.port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read(4096).decode("utf-8", "replace")
            status = response.status
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(4096).decode("utf-8", "replace")
    except (OSError, ValueError) as exc:
        _err(f"unhealthy: {url} did not answer ({type(exc).__name__})")
        return EXIT_FAILURE
    if status == 200:
        _out(body)
        return EXIT_OK
    _err(f"unhealthy: {status} {body}")
    return EXIT_FAILURE


# --------------------------------------------------------------------- backup
def _backup(storage: StorageSettings, destination: Path) -> int:
    source = storage.database_path
    if not source.is_file():
        _err(f"No database at {source} (DATABASE_PATH); nothing to back up.")
        return EXIT_FAILURE

    async def copy() -> None:
        from bot.storage.database import backup_file

        async with aiosqlite.connect(f"file:{source}?mode=ro", uri=True) as conn:
            await backup_file(conn, destination)

    try:
        asyncio.run(copy())
    except FileExistsError as exc:
        _err(str(exc))
        return EXIT_FAILURE
    except (OSError, sqlite3.Error) as exc:
        _err(f"Backup failed: {exc}")
        return EXIT_FAILURE
    _out(f"Backup written to {destination}.")
    return EXIT_OK


# --------------------------------------------------------------------- run / sandbox
async def run_bot(settings: Settings, *, sandbox: bool = False) -> int:
    """Run until SIGTERM/SIGINT or a fatal error; shut down gracefully. Returns the exit status."""
    if settings.discord.api_base is not None:
        use_rest_base(settings.discord.api_base)
    if not sandbox:
        return await _serve(settings)
    async with _sandbox_market(settings) as (sandbox_settings, simulator):
        if sandbox_settings.cryptopay.enabled:  # a real (testnet) Crypto Pay app was configured: use it
            return await _serve(sandbox_settings, sandbox_simulator=simulator)
        async with _sandbox_cryptopay(sandbox_settings) as (cryptopay_settings, fake):
            return await _serve(cryptopay_settings, sandbox_simulator=simulator, sandbox_cryptopay=fake)


@contextlib.asynccontextmanager
async def _sandbox_market(settings: Settings) -> AsyncIterator[tuple[Settings, RunningSimulator]]:
    """Start the Market API simulator with a seeded demo account and point the settings at it."""
    from bot.market.simulator.runner import running_simulator
    from bot.market.simulator.state import SANDBOX_INTEGRATION_ID, Integration, SimulatorState

    async with running_simulator(SimulatorState.demo()) as sim:
        market = settings.market.model_copy(
            update={"base_url": sim.base_url, "user_id": sim.user_id, "secret": SecretStr(sim.secret)}
        )
        log.info("sandbox market simulator running url=%s", sim.base_url)
        shop = settings.shop
        if shop.integration_id is None:  # the shop works in sandbox mode without any configuration
            shop = shop.model_copy(update={"integration_id": SANDBOX_INTEGRATION_ID})
            log.info("sandbox shop integration_id=%d (MARKET_INTEGRATION_ID not set)", SANDBOX_INTEGRATION_ID)
        assert shop.integration_id is not None  # noqa: S101 - set just above
        sim.state.integrations.setdefault(str(shop.integration_id), Integration())
        yield dataclasses.replace(settings, market=market, shop=shop), sim


async def _print_sample_link(settings: Settings, bot: ResellerBot) -> None:
    """Sandbox: once the bot is ready (its embedded server listens), print a checkout link signed like Neverlose's (see
    bot/orders/sandbox_link.py) to the bot's own address, for an operator to click through an order."""
    from bot.orders.sandbox_link import SANDBOX_INTEGRATION_ID, sample_checkout_link

    await bot.wait_until_ready()
    base = str(settings.server.public_base_url or bot.web.local_url)
    link = sample_checkout_link(
        base,
        settings.checkout.checkout_path,
        settings.market.secret.get_secret_value(),
        settings.shop.integration_id or SANDBOX_INTEGRATION_ID,
    )
    _out(f"Sample checkout link (valid 1 h, buys CS2 30 days for the demo customer darth): {link}")


@contextlib.asynccontextmanager
async def _sandbox_cryptopay(settings: Settings) -> AsyncIterator[tuple[Settings, RunningFakeCryptoPay]]:
    """Start the fake Crypto Pay (pay page, signed webhooks) and point the Crypto Pay settings at it."""
    from bot.payments.cryptopay.simulator import FakeCryptoPayState, run_fake_cryptopay

    fake = await run_fake_cryptopay(FakeCryptoPayState())
    try:
        cryptopay = settings.cryptopay.model_copy(update={"token": SecretStr(fake.token), "api_base": fake.api_base})
        log.info("sandbox crypto pay running url=%s", fake.base_url)
        yield dataclasses.replace(settings, cryptopay=cryptopay), fake
    finally:
        await fake.close()


def bot_class() -> type[ResellerBot]:
    """The bot's class, imported once the message catalogs are read.

    Every start reads them (the commands' Russian texts are synced from them). Babel's parse frees most of what
    it allocates, in holes between the messages it keeps; read before the bot's own modules and the libraries
    only they use (about 6 MB) are imported, those imports fill the holes instead of new memory: the idle bot
    keeps 0.7-0.9 MB less resident than when the catalogs are first read by the command sync, after every
    import (docs/benchmarks.md, memory).
    """
    catalogs()
    from bot.core import ResellerBot

    return ResellerBot


async def _serve(
    settings: Settings,
    *,
    sandbox_simulator: RunningSimulator | None = None,
    sandbox_cryptopay: RunningFakeCryptoPay | None = None,
) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    bot = bot_class()(settings, sandbox_simulator=sandbox_simulator, sandbox_cryptopay=sandbox_cryptopay)
    from bot.http.server import CannotListen  # after bot_class(): imported with the bot's modules
    from bot.storage.migrations import MigrationError

    announce: asyncio.Task[None] | None = None
    try:
        async with bot:
            if sandbox_simulator is not None:
                announce = asyncio.create_task(_print_sample_link(settings, bot), name="sandbox-link")
            token = settings.discord.token.get_secret_value()
            runner = asyncio.create_task(start_when_reachable(bot, token), name="bot")
            stopper = asyncio.create_task(stop.wait(), name="signal")
            done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if stopper in done:
                log.info("signal received; shutting down")
                if bot.user is None:  # still trying to log in (start_when_reachable): nothing started to finish
                    runner.cancel()
                await bot.close()
                with contextlib.suppress(asyncio.CancelledError):
                    await runner
                return EXIT_OK
            stopper.cancel()
            runner.result()
            return EXIT_OK
    except discord.LoginFailure:
        log.error(
            "Discord rejected DISCORD_TOKEN (401). Create a new token in the Developer Portal → Bot, put it in .env "
            "and restart."
        )
        return await _halted(settings, "Discord rejected DISCORD_TOKEN (401)", stop)
    except discord.PrivilegedIntentsRequired:
        log.error("discord refused the requested intents; see README 'Create the Discord application'")
        return await _halted(settings, "Discord refused the requested gateway intents", stop)
    except (sqlite3.Error, MigrationError) as exc:  # start-up: the database cannot be opened or migrated (later
        # errors are caught); MigrationError: a database written by a newer version of the bot (an image rolled back)
        path = settings.storage.database_path
        log.error("the database cannot be used path=%s: %s: %s", path, type(exc).__name__, exc)
        return await _halted(settings, f"the database cannot be used: {exc}", stop)
    except CannotListen as exc:  # the port is taken or the host is not this machine's: /healthz cannot be served
        log.error("%s; free the port or set WEBHOOK_HOST / WEBHOOK_PORT in .env", exc)
        return await _halted(settings, str(exc), stop, serve_health=False)
    finally:
        if announce is not None:
            announce.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


LOGIN_RETRY_FIRST = 2.0
LOGIN_RETRY_MAX = 60.0
_UNREACHABLE = (aiohttp.ClientError, OSError, TimeoutError, discord.DiscordServerError)


async def start_when_reachable(
    bot: ResellerBot, token: str, *, first: float = LOGIN_RETRY_FIRST, most: float = LOGIN_RETRY_MAX
) -> None:
    """``bot.start(token)``, except that a Discord that cannot be reached at start-up (no network, DNS, Discord's
    own 5xx) is tried again after ``first`` seconds, then twice as long each time up to ``most``, with one WARNING
    line per attempt, instead of ending the process with a traceback. Once logged in, discord.py reconnects by
    itself. A refused token (:class:`discord.LoginFailure`) and anything that fails after Discord answered (the
    bot's own start-up) are raised as before."""
    delay = first
    while True:
        try:
            await bot.login(token)
            break
        except _UNREACHABLE as exc:
            if bot.user is not None:  # Discord answered: what failed is the bot's own start-up
                raise
            log.warning("discord unreachable at start-up; retrying in %.0f s: %s: %s", delay, type(exc).__name__, exc)
            # the failed login's HTTP session (and with it its connector) closed: the next login makes new ones
            await bot.http.close()
            bot.http.connector = discord.utils.MISSING
            await asyncio.sleep(delay)
            delay = min(delay * 2, most)
    await bot.connect(reconnect=True)


async def _halted(settings: Settings, reason: str, stop: asyncio.Event, *, serve_health: bool = True) -> int:
    """After a configuration error: serve ``/healthz`` (503 with ``reason``) until SIGTERM/SIGINT, then exit 2.

    Exiting at once would turn the error into a restart loop under ``restart: unless-stopped``; waiting lets
    the container show *unhealthy* with the reason while the log holds the one line that explains it. When the
    error is the server's own address (``serve_health=False``), nothing is served: the health check then fails
    to connect, which shows *unhealthy* too.
    """
    from bot.http.health import HealthCheck
    from bot.http.server import CannotListen, WebServer

    if not serve_health:
        log.info("halted until SIGTERM/SIGINT reason=%r", reason)
        await stop.wait()
        return EXIT_CONFIG

    async def configuration() -> str | None:
        return reason

    health = HealthCheck()
    health.add("configuration", configuration)
    server = WebServer(settings.server, health)
    try:
        await server.start()
    except CannotListen as exc:
        log.error("halted: cannot serve /healthz: %s", exc)
    log.info("halted until SIGTERM/SIGINT reason=%r", reason)
    try:
        await stop.wait()
    finally:
        await server.stop()
    return EXIT_CONFIG
