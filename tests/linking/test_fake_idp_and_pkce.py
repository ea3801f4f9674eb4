"""PKCE against RFC 7636's vector, and the fake IdP's enforcement of the documented rules (raw HTTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import jwt
import pytest

from bot.linking import pkce
from tests.linking.fake_idp import (
    AUTHORIZE_PATH,
    DISCOVERY_PATH,
    TOKEN_PATH,
    USERINFO_PATH,
    FakeIdP,
    at_hash_of,
)

REDIRECT = "http://127.0.0.1:1/oauth/callback"


def test_rfc7636_appendix_b_vector() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce.challenge_s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_verifiers_and_states_are_fresh_and_well_formed() -> None:
    verifiers = {pkce.new_verifier() for _ in range(50)}
    assert len(verifiers) == 50
    assert all(pkce.is_valid_verifier(v) for v in verifiers)
    assert len({pkce.new_state() for _ in range(50)}) == 50
    with pytest.raises(ValueError, match="43-128"):
        pkce.challenge_s256("short")


@pytest.fixture
async def browser() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def registered(idp: FakeIdP) -> FakeIdP:
    idp.redirect_uris.add(REDIRECT)
    return idp


async def _authorize(
    browser: aiohttp.ClientSession, idp: FakeIdP, **overrides: str | None
) -> tuple[int, dict[str, str]]:
    verifier = overrides.pop("verifier", None) or pkce.new_verifier()
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": idp.client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid profile",
        "state": "st",
        "code_challenge": pkce.challenge_s256(verifier),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    query = urlencode({k: v for k, v in params.items() if v is not None})
    async with browser.get(f"{idp.url}{AUTHORIZE_PATH}?{query}", allow_redirects=False) as response:
        location = response.headers.get("Location", "")
        return response.status, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def _token(browser: aiohttp.ClientSession, idp: FakeIdP, **form: str) -> tuple[int, dict[str, Any]]:
    async with browser.post(f"{idp.url}{TOKEN_PATH}", data=form) as response:
        return response.status, await response.json()


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"state": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "profile"}, "invalid_scope"),
    ],
)
async def test_authorize_enforces_the_rules(
    browser: aiohttp.ClientSession, registered: FakeIdP, overrides: dict[str, str | None], error: str
) -> None:
    status, answer = await _authorize(browser, registered, **overrides)
    assert status == 302
    assert answer["error"] == error
    assert "code" not in answer


async def test_authorize_refuses_unknown_client_and_unregistered_redirect(
    browser: aiohttp.ClientSession, registered: FakeIdP
) -> None:
    assert (await _authorize(browser, registered, client_id="nope"))[0] == 400
    assert (await _authorize(browser, registered, redirect_uri=REDIRECT + "/x"))[0] == 400


async def test_code_is_single_use_and_bound(browser: aiohttp.ClientSession, registered: FakeIdP) -> None:
    verifier = pkce.new_verifier()
    status, answer = await _authorize(browser, registered, verifier=verifier)
    assert status == 302
    assert answer["state"] == "st"
    good = {
        "grant_type": "authorization_code",
        "code": answer["code"],
        "redirect_uri": REDIRECT,
        "client_id": registered.client_id,
        "code_verifier": verifier,
    }
    assert (await _token(browser, registered, **{**good, "redirect_uri": REDIRECT + "?x"}))[1] == {
        "error": "invalid_grant"
    }
    # that attempt burned the code: even the correct request fails now
    assert (await _token(browser, registered, **good))[1] == {"error": "invalid_grant"}

    _, answer = await _authorize(browser, registered, verifier=verifier)
    good["code"] = answer["code"]
    status, body = await _token(browser, registered, **good)
    assert status == 200
    assert body["token_type"] == "Bearer"
    assert "refresh_token" not in body
    assert (await _token(browser, registered, **good))[1] == {"error": "invalid_grant"}  # replay

    # userinfo needs the bearer token
    async with browser.get(f"{registered.url}{USERINFO_PATH}") as response:
        assert response.status == 401
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    async with browser.get(f"{registered.url}{USERINFO_PATH}", headers=headers) as response:
        assert await response.json() == {
            "sub": "1001",
            "preferred_username": "A49",
            "name": "A49",
            "cc.neverlose.login": "A49",
            "cc.neverlose.user_id": 1001,
            "cc.neverlose.reg_date": "2021-04-05",
        }


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_verifier": ""}, "invalid_request"),
        ({"code_verifier": "x" * 43}, "invalid_grant"),
        ({"client_id": "other"}, "invalid_client"),
    ],
)
async def test_token_checks_verifier_and_client(
    browser: aiohttp.ClientSession, registered: FakeIdP, change: dict[str, str], error: str
) -> None:
    verifier = pkce.new_verifier()
    _, answer = await _authorize(browser, registered, verifier=verifier)
    form = {
        "grant_type": "authorization_code",
        "code": answer["code"],
        "redirect_uri": REDIRECT,
        "client_id": registered.client_id,
        "code_verifier": verifier,
        **change,
    }
    assert (await _token(browser, registered, **form))[1] == {"error": error}


async def test_token_checks_the_client_secret_when_configured(
    browser: aiohttp.ClientSession, registered: FakeIdP
) -> None:
    registered.client_secret = "s3cret"
    verifier = pkce.new_verifier()
    _, answer = await _authorize(browser, registered, verifier=verifier)
    form = {
        "grant_type": "authorization_code",
        "code": answer["code"],
        "redirect_uri": REDIRECT,
        "client_id": registered.client_id,
        "code_verifier": verifier,
    }
    assert await _token(browser, registered, **form) == (401, {"error": "invalid_client"})
    assert (await _token(browser, registered, **form, client_secret="s3cret"))[0] == 200


async def test_id_token_is_rs256_with_a_published_key_nonce_and_at_hash(
    browser: aiohttp.ClientSession, registered: FakeIdP
) -> None:
    """The fake's id_token verifies with PyJWT against its own discovery and JWKS (real RSA keys)."""
    async with browser.get(f"{registered.url}{DISCOVERY_PATH}") as response:
        document = await response.json()
    assert document["issuer"] == registered.url
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]

    async def id_token() -> tuple[str, str, dict[str, Any]]:
        verifier = pkce.new_verifier()
        _, answer = await _authorize(browser, registered, verifier=verifier, nonce="n-0123456789")
        form = {
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": REDIRECT,
            "client_id": registered.client_id,
            "code_verifier": verifier,
        }
        status, body = await _token(browser, registered, **form)
        assert status == 200
        async with browser.get(document["jwks_uri"]) as response:
            jwks = await response.json()
        return body["id_token"], body["access_token"], jwks

    token, access_token, jwks = await id_token()
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    (published,) = jwks["keys"]
    assert published["kid"] == header["kid"] == "key-1"
    assert "d" not in published  # public part only
    claims = jwt.decode(
        token, jwt.PyJWK(published).key, algorithms=["RS256"], audience=registered.client_id, issuer=registered.url
    )
    assert claims["sub"] == "1001"
    assert claims["nonce"] == "n-0123456789"
    assert claims["at_hash"] == at_hash_of(access_token)
    assert claims["exp"] - claims["iat"] == 3600

    registered.rotate()  # a new key, published beside the old one, signs from now on
    token, _, jwks = await id_token()
    assert jwt.get_unverified_header(token)["kid"] == "key-2"
    assert [key["kid"] for key in jwks["keys"]] == ["key-1", "key-2"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, jwt.PyJWK(jwks["keys"][0]).key, algorithms=["RS256"], audience=registered.client_id)
