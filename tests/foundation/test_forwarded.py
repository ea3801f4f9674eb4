"""TRUSTED_PROXIES: the client's address behind a reverse proxy, through the real embedded server."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.http.forwarded import client_address
from bot.http.health import HealthCheck
from bot.http.server import WebServer
from bot.settings import ServerSettings, SettingsError, load_settings

PROXY = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.0.2.7")]


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("203.0.113.5", ["198.51.100.1"], "203.0.113.5"),  # an untrusted peer is the client, whatever it sends
        ("10.1.2.3", [], "10.1.2.3"),  # a proxy that names nobody
        ("10.1.2.3", ["198.51.100.1"], "198.51.100.1"),
        ("192.0.2.7", ["198.51.100.1"], "198.51.100.1"),  # one address is a /32
        ("10.1.2.3", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # a client's prepended guess does not count
        ("10.1.2.3", ["198.51.100.1, 10.9.9.9"], "198.51.100.1"),  # two proxies in a row
        ("10.1.2.3", ["198.51.100.1", "10.9.9.9"], "198.51.100.1"),  # the header twice
        ("10.1.2.3", ["10.4.4.4, 10.9.9.9"], "10.4.4.4"),  # only proxies: the first of them
        ("10.1.2.3", ["198.51.100.1, not-an-ip"], "10.1.2.3"),  # malformed: stop at the proxy
        ("10.1.2.3", ["198.51.100.1, garbage, 10.9.9.9"], "10.9.9.9"),
        ("10.1.2.3", [" 2001:db8::1 "], "2001:db8::1"),
        (None, ["198.51.100.1"], None),
        ("unix-socket", ["198.51.100.1"], "unix-socket"),
    ],
)
def test_client_address(remote: str | None, forwarded: list[str], expected: str | None) -> None:
    assert client_address(remote, forwarded, PROXY) == expected


def test_nothing_trusted_ignores_the_header() -> None:
    assert client_address("10.1.2.3", ["198.51.100.1"], []) == "10.1.2.3"


@pytest.fixture
async def server(request: pytest.FixtureRequest) -> AsyncIterator[WebServer]:
    settings = ServerSettings(WEBHOOK_HOST="127.0.0.1", WEBHOOK_PORT=0, TRUSTED_PROXIES=request.param)  # type: ignore[call-arg]
    web_server = WebServer(settings, HealthCheck())

    async def whoami(req: web.Request) -> web.Response:
        return web.Response(text=str(req.remote))

    web_server.app.router.add_get("/whoami", whoami)
    await web_server.start()
    try:
        yield web_server
    finally:
        await web_server.stop()


async def _whoami(server: WebServer, forwarded: str | None) -> str:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    async with aiohttp.ClientSession() as http, http.get(f"{server.local_url}/whoami", headers=headers) as resp:
        return await resp.text()


@pytest.mark.parametrize("server", ["127.0.0.1"], indirect=True)
async def test_behind_a_trusted_proxy_handlers_see_the_client(server: WebServer) -> None:
    assert await _whoami(server, "198.51.100.1") == "198.51.100.1"
    assert await _whoami(server, "6.6.6.6, 198.51.100.2") == "198.51.100.2"
    assert await _whoami(server, None) == "127.0.0.1"


@pytest.mark.parametrize("server", [""], indirect=True)
async def test_without_trusted_proxies_the_header_is_ignored(server: WebServer) -> None:
    assert await _whoami(server, "198.51.100.1") == "127.0.0.1"


def test_setting_parsed_and_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"DISCORD_TOKEN": "tok", "MARKET_USER_ID": "7", "MARKET_SECRET": "s3cr3t-value"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TRUSTED_PROXIES", " 127.0.0.1, 172.16.0.0/12 ,::1")
    assert [str(n) for n in load_settings(None).server.trusted_proxies] == ["127.0.0.1/32", "172.16.0.0/12", "::1/128"]
    monkeypatch.setenv("TRUSTED_PROXIES", "127.0.0.1, proxy.local")
    with pytest.raises(SettingsError) as caught:
        load_settings(None)
    assert [p.variable for p in caught.value.problems] == ["TRUSTED_PROXIES"]
    assert "'proxy.local' is not an IP address or network (e.g. 10.0.0.2 or 172.16.0.0/12)" in caught.value.render()
