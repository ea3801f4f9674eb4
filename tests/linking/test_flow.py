"""The whole OAuth/OIDC linking flow over real HTTP: our routes on loopback, the fake IdP on another port."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from bot.linking import pkce
from bot.linking.flow import LinkFailure
from bot.linking.routes import COOKIE_NAME
from bot.linking.service import LinkingService
from bot.linking.sessions import SessionProblem
from bot.storage.write_health import RETRY_AFTER
from tests.linking.conftest import Harness, oauth_settings
from tests.linking.fake_idp import Account

pytestmark = pytest.mark.usefixtures("harness")


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def _visit(browser: aiohttp.ClientSession, url: str) -> tuple[int, str, Any]:
    async with browser.get(url, allow_redirects=False) as response:
        return response.status, await response.text(), response.headers


def _secrets_absent(caplog: pytest.LogCaptureFixture, *values: str) -> None:
    text = "\n".join(record.getMessage() for record in caplog.records)
    for value in values:
        assert value not in text


async def test_happy_path_links_and_shows_a_safe_page(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    browser = harness.browser()
    start_url = await harness.start_url(42)
    async with browser.get(start_url, allow_redirects=False) as start:
        assert start.status == 302
        assert start.headers["Referrer-Policy"] == "no-referrer"
        assert start.headers["Cache-Control"] == "no-store"
        cookie_header = start.headers["Set-Cookie"]
        authorize_url = start.headers["Location"]
    assert "HttpOnly" in cookie_header
    assert "SameSite=Lax" in cookie_header
    assert "Path=/oauth" in cookie_header
    params = _query(authorize_url)
    assert authorize_url.startswith(harness.idp.url + "/oauth/authorize?")
    assert params["response_type"] == "code"
    assert params["scope"] == "openid profile"
    assert params["redirect_uri"] == harness.base_url + "/oauth/callback"
    assert params["code_challenge_method"] == "S256"
    assert params["client_id"] == harness.idp.client_id
    assert set(params) == {
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
        "nonce",
    }
    assert len(params["nonce"]) >= 43

    async with browser.get(authorize_url, allow_redirects=False) as authorize:
        callback_url = authorize.headers["Location"]
    async with browser.get(callback_url) as page:
        assert page.status == 200
        html = await page.text()
        headers = page.headers
    assert "Account linked" in html
    assert "A49" in html
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"
    assert headers["Content-Type"].startswith("text/html")
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "http" not in html.replace("http-equiv", "")  # no third-party resources

    assert await harness.links() == [(42, "1001", "A49")]

    # the public client sent its id and the PKCE verifier, and the verifier matches the challenge
    (request,) = harness.idp.token_requests
    form = request["form"]
    assert form["client_id"] == harness.idp.client_id
    assert "client_secret" not in form
    assert pkce.challenge_s256(form["code_verifier"]) == params["code_challenge"]

    # the access token is neither stored nor logged; neither are code, state, verifier or start token
    (access_token,) = harness.idp.tokens
    (id_token,) = harness.idp.id_tokens
    dump = "\n".join(str(tuple(row)) for row in await harness.db.fetchall("SELECT * FROM account_links"))
    dump += "\n".join(str(tuple(row)) for row in await harness.db.fetchall("SELECT * FROM oauth_states"))
    assert access_token not in dump
    assert id_token not in dump
    assert params["nonce"] not in dump  # only its hash is kept
    callback = _query(callback_url)
    start_token = start_url.rsplit("/", 1)[1]
    _secrets_absent(
        caplog, access_token, id_token, callback["code"], callback["state"], form["code_verifier"], start_token
    )
    row = await harness.db.fetchone("SELECT neverlose_user_id, neverlose_reg_date FROM account_links")
    assert tuple(row) == (1001, "2021-04-05")
    assert any("link created user=42" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_confidential_client_authenticates(make_harness: Any, method: str) -> None:
    harness: Harness = await make_harness(client_secret="s3cr:et/", client_auth=method)
    status, html = await harness.link(harness.browser(), 7)
    assert status == 200, html
    assert await harness.links() == [(7, "1001", "A49")]
    request = harness.idp.token_requests[-1]
    assert request["basic"] is (method == "client_secret_basic")
    assert ("client_secret" in request["form"]) is (method == "client_secret_post")


async def test_wrong_client_secret_is_refused(make_harness: Any) -> None:
    harness: Harness = await make_harness(client_secret="right")
    harness.idp.client_secret = "different"
    status, html = await harness.link(harness.browser(), 7)
    assert status == 400
    assert "invalid_client" in html
    assert await harness.links() == []


async def test_replayed_callback_is_refused(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    browser = harness.browser()
    callback_url = await harness.to_callback(browser, 1)
    status, html, _ = await _visit(browser, callback_url)
    assert status == 200
    status, html, headers = await _visit(browser, callback_url)
    assert status == 400
    assert "already used" in html
    assert headers["Referrer-Policy"] == "no-referrer"
    assert await harness.links() == [(1, "1001", "A49")]
    assert any("reason=state_reused" in r.getMessage() for r in caplog.records)


async def test_replay_after_a_failure_does_not_link(harness: Harness) -> None:
    harness.idp.userinfo_without_sub = True
    browser = harness.browser()
    callback_url = await harness.to_callback(browser, 1)
    assert (await _visit(browser, callback_url))[0] == 502
    harness.idp.userinfo_without_sub = False
    status, html, _ = await _visit(browser, callback_url)
    assert status == 400
    assert "already used" in html
    assert await harness.links() == []


async def test_callback_in_another_browser_is_refused(harness: Harness) -> None:
    victim, attacker = harness.browser(), harness.browser()
    # the attacker starts a flow of their own, then lures the victim's browser to the attacker's callback
    callback_url = await harness.to_callback(attacker, 666)
    status, html, _ = await _visit(victim, callback_url)
    assert status == 400
    assert "same browser" in html
    # a browser with its own valid cookie (from its own attempt) is refused too
    other = harness.browser()
    callback_other = await harness.to_callback(other, 5)
    status, _, _ = await _visit(other, callback_url)
    assert status == 400
    # the refused state is burned: not even the right browser can use it now
    status, html, _ = await _visit(attacker, callback_url)
    assert status == 400
    assert "already used" in html
    assert await harness.links() == []
    # the other browser's own attempt is unaffected
    assert (await _visit(other, callback_other))[0] == 200


async def test_forged_cookie_is_refused(harness: Harness) -> None:
    browser = harness.browser()
    callback_url = await harness.to_callback(browser, 1)
    genuine = next(c for c in browser.cookie_jar if c.key == COOKIE_NAME).value
    browser_id, signature = genuine.split(".")
    forged = harness.browser()
    forged.cookie_jar.update_cookies(
        {COOKIE_NAME: f"{browser_id}.{signature[::-1]}"}, aiohttp.client.URL(harness.base_url + "/oauth/")
    )
    status, html, _ = await _visit(forged, callback_url)
    assert status == 400
    assert "same browser" in html
    assert await harness.links() == []


async def test_forged_and_missing_state(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    browser = harness.browser()
    await harness.to_callback(browser, 1)  # a real attempt exists and has a cookie
    forged = pkce.new_state()
    status, html, _ = await _visit(browser, f"{harness.base_url}/oauth/callback?code=abc&state={forged}")
    assert status == 400
    assert "does not match any linking attempt" in html
    status, html, _ = await _visit(browser, f"{harness.base_url}/oauth/callback?code=abc")
    assert status == 400
    assert "no state" in html
    assert await harness.links() == []
    reasons = [r.getMessage() for r in caplog.records if "link rejected" in r.getMessage()]
    assert any("reason=state_unknown" in m for m in reasons)
    assert any("reason=state_missing" in m for m in reasons)
    _secrets_absent(caplog, forged)


async def test_start_token_is_one_time_and_expires(harness: Harness) -> None:
    browser = harness.browser()
    url = await harness.start_url(3)
    assert (await _visit(browser, url))[0] == 302
    status, html, _ = await _visit(browser, url)
    assert status == 410
    assert "already used" in html

    expired = await harness.start_url(3)
    harness.clock.advance(timedelta(minutes=10, seconds=1))
    status, html, _ = await _visit(browser, expired)
    assert status == 410
    assert "expired" in html

    status, html, _ = await _visit(browser, f"{harness.base_url}/oauth/start/not-a-token")
    assert status == 404

    # a new /link replaces the member's earlier unused start URL
    first = await harness.start_url(3)
    second = await harness.start_url(3)
    assert (await _visit(browser, first))[0] == 404
    assert (await _visit(browser, second))[0] == 302


async def test_expired_state_is_refused(harness: Harness) -> None:
    browser = harness.browser()
    callback_url = await harness.to_callback(browser, 1)
    harness.clock.advance(timedelta(minutes=10, seconds=1))
    status, html, _ = await _visit(browser, callback_url)
    assert status == 400
    assert "More than 10 minutes" in html
    assert await harness.links() == []
    assert harness.idp.token_requests == []  # the code was never even exchanged


@pytest.mark.parametrize(
    ("error", "expected"),
    [("access_denied", "You declined"), ("server_error", "error: server_error")],
)
async def test_provider_error_is_shown(harness: Harness, error: str, expected: str) -> None:
    harness.idp.authorize_error = error
    status, html = await harness.link(harness.browser(), 1)
    assert status == 400
    assert expected in html
    assert await harness.links() == []


async def test_provider_error_text_is_escaped_and_not_trusted(harness: Harness) -> None:
    browser = harness.browser()
    callback_url = await harness.to_callback(browser, 1)
    state = _query(callback_url)["state"]
    status, html, _ = await _visit(
        browser, f"{harness.base_url}/oauth/callback?state={state}&error=%3Cscript%3E&error_description=evil"
    )
    assert status == 400
    assert "<script>" not in html
    assert "evil" not in html
    assert "error: unknown" in html


@pytest.mark.parametrize(("verifier", "error"), [("", "invalid_request"), (None, "invalid_grant")])
async def test_missing_or_wrong_verifier_is_refused(harness: Harness, verifier: str | None, error: str) -> None:
    browser = harness.browser()
    callback_url = await harness.to_callback(browser, 1)
    # simulate a lost or wrong verifier: change what the server kept for this state
    await harness.db.execute(
        "UPDATE oauth_states SET code_verifier = ?", (pkce.new_verifier() if verifier is None else verifier,)
    )
    status, html, _ = await _visit(browser, callback_url)
    assert status == 400
    assert f"error: {error}" in html
    assert await harness.links() == []


async def test_userinfo_without_sub_is_refused(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.userinfo_without_sub = True
    status, html = await harness.link(harness.browser(), 1)
    assert status == 502
    assert "no account id" in html
    assert await harness.links() == []
    assert any("reason=sub_missing" in r.getMessage() for r in caplog.records)


async def test_provider_unavailable(harness: Harness) -> None:
    harness.idp.token_status = 503
    status, html = await harness.link(harness.browser(), 1)
    assert status == 502
    assert "could not be reached" in html
    assert await harness.links() == []


async def test_two_members_racing_for_one_account(harness: Harness) -> None:
    alice, bob = harness.browser(), harness.browser()
    alice_callback = await harness.to_callback(alice, 1)
    bob_callback = await harness.to_callback(bob, 2)
    (a_status, a_html, _), (b_status, b_html, _) = await asyncio.gather(
        _visit(alice, alice_callback), _visit(bob, bob_callback)
    )
    assert sorted([a_status, b_status]) == [200, 409]
    loser_html = a_html if a_status == 409 else b_html
    assert "already linked to another Discord account" in loser_html
    links = await harness.links()
    assert len(links) == 1
    assert links[0][1:] == ("1001", "A49")
    assert links[0][0] == (1 if a_status == 200 else 2)


async def test_relinking_replaces_and_unlink_frees_the_account(harness: Harness) -> None:
    browser = harness.browser()
    assert (await harness.link(browser, 1))[0] == 200
    harness.idp.account = Account("2002", "B50")
    status, html = await harness.link(browser, 1)
    assert status == 200
    assert "replaces the earlier link to A49" in html
    assert await harness.links() == [(1, "2002", "B50")]

    # the first account is free again: another member may link it
    harness.idp.account = Account("1001", "A49")
    assert (await harness.link(harness.browser(), 2))[0] == 200
    assert await harness.links() == [(1, "2002", "B50"), (2, "1001", "A49")]

    # a refused link leaves the member's existing link as it was
    harness.idp.account = Account("2002", "B50")
    assert (await harness.link(browser, 2))[0] == 409
    assert await harness.links() == [(1, "2002", "B50"), (2, "1001", "A49")]

    removed = await harness.service.links.unlink(1)
    assert removed is not None
    assert removed.neverlose_login == "B50"
    assert await harness.service.links.unlink(1) is None
    assert await harness.links() == [(2, "1001", "A49")]
    found = await harness.service.links.get_by_login("a49")
    assert found is not None
    assert found.discord_user_id == 2


async def test_a_restart_mid_flow_does_no_harm(harness: Harness, bot_session: aiohttp.ClientSession) -> None:
    browser = harness.browser()
    callback_url = await harness.to_callback(browser, 9)
    cookie = next(c for c in browser.cookie_jar if c.key == COOKIE_NAME).value
    # a new service on the same database (what a restarted bot builds) finishes the attempt
    restarted = await LinkingService.create(
        harness.db,
        bot_session,
        oauth_settings(harness.idp),
        public_base_url=harness.base_url,
        clock=harness.clock,
    )
    assert await restarted.discovery.refresh()  # the restarted bot's background task reads discovery
    query = _query(callback_url)
    result = await restarted.flow.complete(
        state=query["state"], code=query["code"], error=None, browser_id=restarted._cookie.verify(cookie)
    )
    assert result.link.discord_user_id == 9
    with pytest.raises(LinkFailure) as refused:
        await restarted.flow.complete(state=query["state"], code=query["code"], error=None, browser_id=None)
    assert refused.value.reason is SessionProblem.STATE_REUSED


async def test_a_database_that_takes_no_writes_is_the_try_again_page(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """The sign-in comes back while the database refuses writes (``query_only``: SQLite's own "attempt to write a
    readonly database", as for a read-only file; a full disk is the same kind of fault): the "try again in a
    minute" page in the member's language, 503 with ``Retry-After``, one WARNING line, nothing linked. Before, the
    generic 500 page "Something went wrong" with a traceback."""
    browser = harness.browser()
    callback_url = await harness.to_callback(browser, 42)
    await harness.db.execute("PRAGMA query_only = 1")
    try:
        async with browser.get(callback_url, headers={"Accept-Language": "ru"}) as page:
            assert page.status == 503
            assert page.headers["Retry-After"] == RETRY_AFTER
            html = await page.text()
    finally:
        await harness.db.execute("PRAGMA query_only = 0")
    assert "<title>Попробуйте через минуту</title>" in html
    assert "аккаунт не привязан" in html
    lines = [r for r in caplog.records if r.name == "bot.linking.routes"]
    assert [(r.levelno, r.getMessage(), r.exc_info) for r in lines] == [
        (
            logging.WARNING,
            "linking route unavailable route=callback fault='OperationalError: attempt to write a readonly database'",
            None,
        )
    ]
    assert await harness.links() == []
    status, _ = await harness.link(harness.browser(), 42)  # once it takes writes again, /link works
    assert status == 200
    assert [row[0] for row in await harness.links()] == [42]
