"""Fixtures for linking: a real SQLite file, the fake IdP on loopback, our routes on a real server."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.http.server import error_middleware
from bot.i18n.web import language_routes
from bot.linking.service import LinkingService
from bot.settings import OAuthSettings
from bot.storage import Database
from tests.linking.fake_idp import AUTHORIZE_PATH, TOKEN_PATH, USERINFO_PATH, FakeIdP, running_fake_idp


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2025, 1, 1, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def oauth_settings(idp: FakeIdP, *, client_secret: str | None = None, discovery: bool = True) -> OAuthSettings:
    """Settings for the fake IdP: its discovery document (the default), or no discovery and the three URLs."""
    values: dict[str, Any] = {"OAUTH_CLIENT_ID": idp.client_id, "OAUTH_ISSUER": idp.url}
    if not discovery:
        values.update(
            {
                "OAUTH_ISSUER": "",
                "OAUTH_AUTHORIZE_URL": idp.url + AUTHORIZE_PATH,
                "OAUTH_TOKEN_URL": idp.url + TOKEN_PATH,
                "OAUTH_USERINFO_URL": idp.url + USERINFO_PATH,
            }
        )
    if client_secret is not None:
        values["OAUTH_CLIENT_SECRET"] = client_secret
    return OAuthSettings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Harness:
    """Our linking routes on a real server, the fake IdP, the database and a controllable clock."""

    service: LinkingService
    idp: FakeIdP
    db: Database
    clock: Clock
    base_url: str
    _browsers: list[aiohttp.ClientSession] = field(default_factory=list)

    def browser(self) -> aiohttp.ClientSession:
        """A fresh browser: its own cookie jar (unsafe=True so cookies work for 127.0.0.1)."""
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self._browsers.append(session)
        return session

    async def start_url(self, user_id: int, locale: str | None = None) -> str:
        return await self.service.new_start_url(user_id, locale)

    async def to_callback(self, browser: aiohttp.ClientSession, user_id: int) -> str:
        """Follow /oauth/start and the IdP's authorize step by hand; return the callback URL (not visited)."""
        async with browser.get(await self.start_url(user_id), allow_redirects=False) as start:
            assert start.status == 302, await start.text()
            authorize_url = start.headers["Location"]
        async with browser.get(authorize_url, allow_redirects=False) as authorize:
            assert authorize.status == 302, await authorize.text()
            return authorize.headers["Location"]

    async def link(self, browser: aiohttp.ClientSession, user_id: int) -> tuple[int, str]:
        """The whole flow, following redirects like a browser; the final page's status and HTML."""
        return await self.link_url(browser, await self.start_url(user_id))

    @staticmethod
    async def link_url(browser: aiohttp.ClientSession, start_url: str) -> tuple[int, str]:
        """The whole flow from a start URL already handed out."""
        async with browser.get(start_url) as response:
            return response.status, await response.text()

    async def links(self) -> list[tuple[int, str, str]]:
        rows = await self.db.fetchall(
            "SELECT discord_user_id, neverlose_sub, neverlose_login FROM account_links ORDER BY discord_user_id"
        )
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "bot.sqlite3")
    yield database
    await database.close()


@pytest.fixture
def idp_options() -> dict[str, Any]:
    return {}


@pytest.fixture
async def idp(idp_options: dict[str, Any]) -> AsyncIterator[FakeIdP]:
    async with running_fake_idp(**idp_options) as fake:
        yield fake


@pytest.fixture
async def bot_session() -> AsyncIterator[aiohttp.ClientSession]:
    """Stands for the bot's one ClientSession (no cookies)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        yield session


@pytest.fixture
async def make_harness(
    db: Database, idp: FakeIdP, clock: Clock, bot_session: aiohttp.ClientSession
) -> AsyncIterator[Callable[..., Any]]:
    runners: list[web.AppRunner] = []
    harnesses: list[Harness] = []

    async def factory(*, client_secret: str | None = None, discovery: bool = True, **service_options: Any) -> Harness:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        idp.client_secret = client_secret
        idp.clock = clock  # the IdP dates its id_tokens by the same (controllable) clock as the bot
        service = await LinkingService.create(
            db,
            bot_session,
            oauth_settings(idp, client_secret=client_secret, discovery=discovery),
            public_base_url=base_url,
            clock=clock,
            **service_options,
        )
        assert await service.discovery.refresh()  # what the bot's background task does at start
        idp.redirect_uris.add(service.redirect_uri)
        app = web.Application(middlewares=[error_middleware])
        app.add_routes(service.routes())
        app.add_routes(language_routes())  # as bot/http/server.py: the pages' language switcher
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        runners.append(runner)
        harness = Harness(service, idp, db, clock, base_url)
        harnesses.append(harness)
        return harness

    yield factory
    for harness in harnesses:
        for browser in harness._browsers:
            await browser.close()
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def harness(make_harness: Callable[..., Any]) -> Harness:
    h: Harness = await make_harness()
    return h
