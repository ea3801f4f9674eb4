"""OpenID Connect discovery against the fake IdP: acceptance, every refusal, background retry, overrides, and
what linking does while discovery is unavailable (nothing else is affected)."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.linking.discovery import Discovery, DiscoveryProblem, discovery_url, parse_document
from bot.linking.service import linking_disabled_reason
from bot.settings import OAuthSettings, Settings
from tests.linking.conftest import Harness, oauth_settings
from tests.linking.fake_idp import AUTHORIZE_PATH, JWKS_PATH, REMOVE, TOKEN_PATH, USERINFO_PATH, FakeIdP


def _settings(**values: Any) -> OAuthSettings:
    return OAuthSettings(_env_file=None, OAUTH_CLIENT_ID="c", **values)  # type: ignore[call-arg]


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "discovery" in r.getMessage()]


async def test_a_valid_document_gives_the_endpoints(idp: FakeIdP, bot_session: aiohttp.ClientSession) -> None:
    discovery = Discovery(bot_session, oauth_settings(idp))
    assert discovery.metadata is None
    assert await discovery.refresh()
    metadata = discovery.metadata
    assert metadata is not None
    assert metadata.issuer == idp.url
    assert metadata.authorization_endpoint == idp.url + AUTHORIZE_PATH
    assert metadata.token_endpoint == idp.url + TOKEN_PATH
    assert metadata.userinfo_endpoint == idp.url + USERINFO_PATH
    assert metadata.jwks_uri == idp.url + JWKS_PATH
    assert metadata.signing_algorithms == frozenset({"RS256"})
    assert metadata.verifies_id_tokens
    assert idp.discovery_requests == 1


async def test_explicit_urls_override_the_discovered_ones(idp: FakeIdP, bot_session: aiohttp.ClientSession) -> None:
    settings = _settings(OAUTH_ISSUER=idp.url, OAUTH_TOKEN_URL="https://proxy.example/token")
    discovery = Discovery(bot_session, settings)
    assert await discovery.refresh()
    assert discovery.metadata is not None
    assert discovery.metadata.token_endpoint == "https://proxy.example/token"
    assert discovery.metadata.authorization_endpoint == idp.url + AUTHORIZE_PATH


async def test_issuer_mismatch(
    idp: FakeIdP, bot_session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    idp.issuer = "https://neverlose.cc"  # the document claims another issuer than the one it was read from
    discovery = Discovery(bot_session, oauth_settings(idp))
    assert not await discovery.refresh()
    assert discovery.metadata is None
    assert discovery.problem is not None
    assert discovery.problem.startswith("issuer mismatch")
    (warning,) = _warnings(caplog)
    assert (
        f"issuer={idp.url} problem=issuer mismatch (the document says 'https://neverlose.cc', "
        f"OAUTH_ISSUER is '{idp.url}'); /link is unavailable" in warning
    )


async def test_the_issuer_must_match_exactly(idp: FakeIdP, bot_session: aiohttp.ClientSession) -> None:
    # a trailing slash is removed to build the URL (Discovery §4) but the issuer is compared exactly
    discovery = Discovery(bot_session, _settings(OAUTH_ISSUER=idp.url + "/"))
    assert discovery_url(idp.url + "/") == idp.url + "/.well-known/openid-configuration"
    assert not await discovery.refresh()
    assert discovery.problem is not None
    assert discovery.problem.startswith("issuer mismatch")
    assert idp.discovery_requests == 1


async def test_unreachable(bot_session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    discovery = Discovery(bot_session, _settings(OAUTH_ISSUER=closed))
    assert not await discovery.refresh()
    assert discovery.problem == "unreachable (ClientConnectorError)"
    assert len(_warnings(caplog)) == 1


@pytest.mark.parametrize(("status", "problem"), [(404, "answered status 404"), (503, "answered status 503")])
async def test_an_error_status(idp: FakeIdP, bot_session: aiohttp.ClientSession, status: int, problem: str) -> None:
    idp.discovery_status = status
    discovery = Discovery(bot_session, oauth_settings(idp))
    assert not await discovery.refresh()
    assert discovery.problem == problem


@pytest.mark.parametrize("field", ["authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"])
async def test_a_missing_field(idp: FakeIdP, bot_session: aiohttp.ClientSession, field: str) -> None:
    idp.discovery_changes[field] = REMOVE
    discovery = Discovery(bot_session, oauth_settings(idp))
    assert not await discovery.refresh()
    assert discovery.problem == f"{field} missing or not a URL"


async def test_a_missing_endpoint_can_be_supplied_by_its_setting(
    idp: FakeIdP, bot_session: aiohttp.ClientSession
) -> None:
    idp.discovery_changes["userinfo_endpoint"] = REMOVE
    discovery = Discovery(bot_session, _settings(OAUTH_ISSUER=idp.url, OAUTH_USERINFO_URL=idp.url + USERINFO_PATH))
    assert await discovery.refresh()


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"jwks_uri": "ftp://x/keys"}, "jwks_uri missing or not a URL"),
        ({"token_endpoint": 5}, "token_endpoint missing or not a URL"),
        ({"id_token_signing_alg_values_supported": ["HS256", "none"]}, "no supported id_token signing algorithm"),
        ({"id_token_signing_alg_values_supported": "RS256"}, "id_token_signing_alg_values_supported is not a list"),
        ({"issuer": REMOVE}, "issuer mismatch (the document says nothing, OAUTH_ISSUER is "),
    ],
)
async def test_an_invalid_field(
    idp: FakeIdP, bot_session: aiohttp.ClientSession, changes: dict[str, Any], problem: str
) -> None:
    idp.discovery_changes.update(changes)
    discovery = Discovery(bot_session, oauth_settings(idp))
    assert not await discovery.refresh()
    assert discovery.problem is not None
    assert discovery.problem.startswith(problem)


async def test_without_an_algorithm_list_rs256_is_assumed(idp: FakeIdP, bot_session: aiohttp.ClientSession) -> None:
    idp.discovery_changes["id_token_signing_alg_values_supported"] = REMOVE
    discovery = Discovery(bot_session, oauth_settings(idp))
    assert await discovery.refresh()
    assert discovery.metadata is not None
    assert discovery.metadata.signing_algorithms == frozenset({"RS256"})


def test_an_https_issuer_needs_https_endpoints_and_a_json_object() -> None:
    settings = _settings(OAUTH_ISSUER="https://neverlose.cc")
    document = {
        "issuer": "https://neverlose.cc",
        "authorization_endpoint": "https://neverlose.cc/oauth/authorize",
        "token_endpoint": "https://neverlose.cc/oauth/token",
        "userinfo_endpoint": "https://neverlose.cc/oauth/userinfo",
        "jwks_uri": "https://neverlose.cc/.well-known/jwks.json",
    }
    assert parse_document(document, settings).jwks_uri == "https://neverlose.cc/.well-known/jwks.json"
    with pytest.raises(DiscoveryProblem, match="jwks_uri is not https"):
        parse_document({**document, "jwks_uri": "http://neverlose.cc/jwks"}, settings)
    with pytest.raises(DiscoveryProblem, match="not a JSON object"):
        parse_document(["issuer"], settings)


@pytest.mark.parametrize(("status", "kept"), [(500, True), (503, True), (404, False), (499, False)])
async def test_after_a_good_document_a_5xx_keeps_it_and_a_4xx_does_not(
    idp: FakeIdP, bot_session: aiohttp.ClientSession, status: int, kept: bool
) -> None:
    """A 5xx is an outage (the last document still serves); any other status is an answer: linking pauses."""
    discovery = Discovery(bot_session, oauth_settings(idp))
    assert await discovery.refresh()
    idp.discovery_status = status
    assert await discovery.refresh() is kept
    assert (discovery.metadata is not None) is kept
    assert discovery.problem == (None if kept else f"answered status {status}")


async def test_a_document_that_is_not_json(bot_session: aiohttp.ClientSession, unused_tcp_port: int) -> None:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<html>maintenance</html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/.well-known/openid-configuration", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    try:
        discovery = Discovery(bot_session, _settings(OAUTH_ISSUER=f"http://127.0.0.1:{unused_tcp_port}"))
        assert not await discovery.refresh()
        assert discovery.problem == "document is not JSON"
    finally:
        await runner.cleanup()


async def test_a_failed_refresh_keeps_the_last_document_but_an_invalid_one_does_not(
    idp: FakeIdP, bot_session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    discovery = Discovery(bot_session, oauth_settings(idp))
    assert await discovery.refresh()
    idp.discovery_status = 503
    assert await discovery.refresh()  # unreachable for now: the cached document still serves
    assert discovery.metadata is not None
    assert any("keeping the last document" in m for m in _warnings(caplog))
    idp.discovery_status = None
    idp.issuer = "https://elsewhere.example"
    assert not await discovery.refresh()  # the provider now says something unacceptable: stop
    assert discovery.metadata is None
    assert discovery.problem is not None
    assert discovery.problem.startswith("issuer mismatch")


async def test_retry_delays(bot_session: aiohttp.ClientSession) -> None:
    discovery = Discovery(bot_session, _settings(OAUTH_ISSUER="https://neverlose.cc"))
    assert discovery.next_delay(0) == 86400
    assert [discovery.next_delay(n) for n in range(1, 8)] == [30, 60, 120, 240, 480, 900, 900]
    assert discovery.next_delay(10_000) == 900


async def test_the_background_task_retries_until_discovery_works(
    idp: FakeIdP, bot_session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.linking")
    idp.discovery_status = 503
    discovery = Discovery(
        bot_session,
        oauth_settings(idp),
        retry_first=timedelta(milliseconds=5),
        retry_max=timedelta(milliseconds=20),
    )
    task = asyncio.create_task(discovery.run())
    try:
        for _ in range(500):
            if idp.discovery_requests >= 3:
                break
            await asyncio.sleep(0.01)
        assert discovery.metadata is None
        idp.discovery_status = None
        for _ in range(500):
            if discovery.metadata is not None:
                break
            await asyncio.sleep(0.01)
        assert discovery.metadata is not None
        requests = idp.discovery_requests
        await asyncio.sleep(0.05)
        assert idp.discovery_requests == requests  # working: the next read is a day away
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # one WARNING when it started failing, DEBUG while it kept failing, one INFO when it recovered
    assert len(_warnings(caplog)) == 1
    assert sum("oidc discovery still failing" in r.getMessage() for r in caplog.records) >= 2
    recovered = [r for r in caplog.records if "oidc discovery ok" in r.getMessage()]
    assert len(recovered) == 1
    assert recovered[0].levelno == logging.INFO


# ------------------------------------------------------------------ without discovery (OAUTH_ISSUER empty)
async def test_without_discovery_the_three_urls_are_used_and_userinfo_identifies(make_harness: Any) -> None:
    harness: Harness = await make_harness(discovery=False)
    harness.idp.forge = "omit"  # a provider without discovery sends no id_token
    assert not harness.service.discovery.enabled
    metadata = harness.service.discovery.metadata
    assert metadata is not None
    assert not metadata.verifies_id_tokens
    await harness.service.discovery.run()  # returns at once: nothing to read
    assert (await harness.link(harness.browser(), 5))[0] == 200
    assert await harness.links() == [(5, "1001", "A49")]
    assert harness.idp.discovery_requests == 0
    assert harness.idp.jwks_requests == 0


def test_without_discovery_all_three_urls_are_required(make_settings: Callable[..., Settings]) -> None:
    base = {"OAUTH_CLIENT_ID": "abc", "PUBLIC_BASE_URL": "https://bot.example.com", "OAUTH_ISSUER": ""}
    reason = linking_disabled_reason(make_settings(**base, OAUTH_AUTHORIZE_URL="https://idp.example/a"))
    assert reason is not None
    assert "OAUTH_ISSUER is empty" in reason
    full = {
        "OAUTH_AUTHORIZE_URL": "https://idp.example/a",
        "OAUTH_TOKEN_URL": "https://idp.example/t",
        "OAUTH_USERINFO_URL": "https://idp.example/u",
    }
    assert linking_disabled_reason(make_settings(**base, **full)) is None
    assert make_settings(**base, **full).oauth.issuer is None


def test_the_issuer_defaults_to_neverlose_and_is_kept_as_written() -> None:
    assert _settings().issuer == "https://neverlose.cc"
    assert _settings(OAUTH_ISSUER="https://idp.example/tenant/").issuer == "https://idp.example/tenant/"
    with pytest.raises(ValueError, match="http:// or https:// URL"):
        _settings(OAUTH_ISSUER="neverlose.cc")


# ------------------------------------------------------------------ linking while discovery is unavailable
async def test_while_discovery_is_unavailable_linking_pauses_and_resumes(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    idp = harness.idp
    start_url = await harness.start_url(42)
    idp.issuer = "https://elsewhere.example"
    assert not await harness.service.discovery.refresh()
    assert not harness.service.available
    async with harness.browser().get(start_url, allow_redirects=False) as page:
        assert page.status == 503
        html = await page.text()
    assert "Linking is unavailable" in html
    assert "Nothing was linked" in html
    assert idp.authorize_requests == []
    assert any("reason=discovery_unavailable" in r.getMessage() for r in caplog.records)

    idp.issuer = None
    assert await harness.service.discovery.refresh()
    assert harness.service.available
    status, html = await harness.link_url(harness.browser(), start_url)  # the same start URL still works
    assert status == 200, html
    assert await harness.links() == [(42, "1001", "A49")]


async def test_discovery_lost_between_start_and_callback(harness: Harness) -> None:
    browser = harness.browser()
    callback_url = await harness.to_callback(browser, 42)
    harness.idp.issuer = "https://elsewhere.example"
    assert not await harness.service.discovery.refresh()
    async with browser.get(callback_url) as page:
        assert page.status == 503
        assert "Linking is unavailable" in await page.text()
    assert harness.idp.token_requests == []  # the code was never exchanged
    assert await harness.links() == []


@pytest.mark.parametrize(("padding", "accepted"), [(200_000, True), (300_000, False)])
async def test_a_large_document_is_read_whole_up_to_256_kib(
    idp: FakeIdP, bot_session: aiohttp.ClientSession, padding: int, accepted: bool
) -> None:
    idp.discovery_changes["op_policy_uri_padding"] = "x" * padding  # arrives in several chunks
    discovery = Discovery(bot_session, oauth_settings(idp))
    assert await discovery.refresh() is accepted
    assert discovery.problem == (None if accepted else "document too large")
