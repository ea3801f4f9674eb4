"""Every id_token rejection, over real HTTP: our routes, the fake IdP with real RSA keys, a real database.

Each refusal must end the attempt with a clear page, be logged at WARNING as ``link rejected reason=…``
without any token, and link nothing.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest

from bot.linking.id_token import at_hash
from tests.linking.conftest import Harness
from tests.linking.fake_idp import REMOVE, SigningKey, at_hash_of

pytestmark = pytest.mark.usefixtures("harness")


def _now(harness: Harness) -> int:
    return int(harness.clock.now.timestamp())


async def _refused(
    harness: Harness, caplog: pytest.LogCaptureFixture, reason: str, *, words: str, status: int = 502
) -> None:
    """Run the whole flow once and check it was refused for ``reason`` the way every refusal must be."""
    caplog.set_level(logging.DEBUG, logger="bot")
    page_status, html = await harness.link(harness.browser(), 42)
    assert page_status == status, html
    assert words in html
    assert "Nothing was linked" in html
    assert await harness.links() == []
    rejected = [r for r in caplog.records if "link rejected" in r.getMessage()]
    assert len(rejected) == 1
    assert rejected[0].levelno == logging.WARNING
    assert f"reason={reason} " in rejected[0].getMessage()
    text = "\n".join(r.getMessage() for r in caplog.records)
    for token in [*harness.idp.id_tokens, *harness.idp.tokens]:
        assert token not in text
        for part in token.split("."):
            assert not part or part not in text


async def test_a_genuine_id_token_links(harness: Harness) -> None:
    status, html = await harness.link(harness.browser(), 42)
    assert status == 200, html
    assert await harness.links() == [(42, "1001", "A49")]
    assert harness.idp.jwks_requests == 1
    assert harness.idp.discovery_requests == 1


async def test_bad_signature(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.forge = "bad_signature"
    await _refused(harness, caplog, "id_token_signature", words="signature of the signed identity is not valid")


async def test_key_not_in_the_jwks(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.forge = "unknown_key"  # a real RSA key with a kid the JWKS does not publish
    await _refused(harness, caplog, "id_token_key_unknown", words="a key Neverlose does not publish")


async def test_alg_none(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.forge = "none"
    await _refused(harness, caplog, "id_token_algorithm", words="signature method the bot does not accept")
    assert harness.idp.jwks_requests == 0  # refused before any key is looked up


async def test_hs256_signed_with_the_public_key(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.forge = "hs256"
    await _refused(harness, caplog, "id_token_algorithm", words="signature method the bot does not accept")


async def test_hs256_is_refused_even_when_discovery_lists_it(
    make_harness: Any, caplog: pytest.LogCaptureFixture
) -> None:
    harness: Harness = await make_harness()
    harness.idp.discovery_changes["id_token_signing_alg_values_supported"] = ["HS256", "none", "RS256"]
    assert await harness.service.discovery.refresh()
    metadata = harness.service.discovery.metadata
    assert metadata is not None
    assert metadata.signing_algorithms == frozenset({"RS256"})
    harness.idp.forge = "hs256"
    await _refused(harness, caplog, "id_token_algorithm", words="signature method")


async def test_an_algorithm_discovery_does_not_list(make_harness: Any, caplog: pytest.LogCaptureFixture) -> None:
    harness: Harness = await make_harness()
    harness.idp.discovery_changes["id_token_signing_alg_values_supported"] = ["ES256"]
    assert await harness.service.discovery.refresh()
    await _refused(harness, caplog, "id_token_algorithm", words="signature method")  # the IdP signs RS256


async def test_wrong_issuer(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.id_token_claims["iss"] = "https://neverlose.cc.evil.example"
    await _refused(harness, caplog, "id_token_issuer", words="not issued by Neverlose")


async def test_wrong_audience(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.id_token_claims["aud"] = "another-client"
    await _refused(harness, caplog, "id_token_audience", words="issued for another application")


async def test_several_audiences_without_azp(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.id_token_claims["aud"] = [harness.idp.client_id, "another-client"]
    await _refused(harness, caplog, "id_token_audience", words="issued for another application")


async def test_azp_naming_another_client(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.id_token_claims["aud"] = [harness.idp.client_id, "another-client"]
    harness.idp.id_token_claims["azp"] = "another-client"
    await _refused(harness, caplog, "id_token_audience", words="issued for another application")


async def test_several_audiences_with_our_azp_link(harness: Harness) -> None:
    harness.idp.id_token_claims["aud"] = [harness.idp.client_id, "another-client"]
    harness.idp.id_token_claims["azp"] = harness.idp.client_id
    assert (await harness.link(harness.browser(), 42))[0] == 200
    assert await harness.links() == [(42, "1001", "A49")]


async def test_expired(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.id_token_claims["exp"] = _now(harness) - 60  # exp <= now - 60 s leeway
    await _refused(harness, caplog, "id_token_expired", words="has expired")


async def test_expired_within_the_leeway_is_accepted(harness: Harness) -> None:
    harness.idp.id_token_claims["exp"] = _now(harness) - 59
    assert (await harness.link(harness.browser(), 42))[0] == 200


async def test_iat_in_the_future(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.id_token_claims["iat"] = _now(harness) + 61
    await _refused(harness, caplog, "id_token_not_yet_valid", words="dated in the future")


async def test_iat_within_the_leeway_is_accepted(harness: Harness) -> None:
    harness.idp.id_token_claims["iat"] = _now(harness) + 60
    assert (await harness.link(harness.browser(), 42))[0] == 200


async def test_nbf_in_the_future(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.id_token_claims["nbf"] = _now(harness) + 61
    await _refused(harness, caplog, "id_token_not_yet_valid", words="dated in the future")


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "aud", "iss"])
async def test_a_required_claim_missing(harness: Harness, caplog: pytest.LogCaptureFixture, claim: str) -> None:
    harness.idp.id_token_claims[claim] = REMOVE
    await _refused(harness, caplog, "id_token_malformed", words="malformed")


async def test_a_time_claim_that_is_not_a_number(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.id_token_claims["exp"] = True
    await _refused(harness, caplog, "id_token_malformed", words="malformed")


async def test_a_subject_that_is_not_a_user_id(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.id_token_claims["sub"] = "A49"
    await _refused(harness, caplog, "id_token_subject", words="names no valid Neverlose account")


async def test_nonce_missing(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.id_token_claims["nonce"] = REMOVE
    await _refused(harness, caplog, "nonce_missing", words="not bound to this sign-in")


async def test_nonce_wrong(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.id_token_claims["nonce"] = "a-nonce-this-bot-never-sent-0123456789abcdefghij"
    await _refused(harness, caplog, "nonce_mismatch", words="belongs to a different sign-in")


async def test_nonce_replayed(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    assert (await harness.link(harness.browser(), 7))[0] == 200
    first_nonce = harness.idp.authorize_requests[0]["nonce"]
    await harness.service.links.unlink(7)
    caplog.clear()
    harness.idp.id_token_claims["nonce"] = first_nonce  # an id_token of the earlier sign-in, played again
    await _refused(harness, caplog, "nonce_replayed", words="already used by an earlier sign-in")
    assert harness.idp.authorize_requests[1]["nonce"] != first_nonce  # each attempt sends a fresh nonce


async def test_a_pending_attempt_without_a_stored_nonce_is_refused(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # an attempt started before the nonce column existed (migration 0011) cannot be bound to its id_token
    browser = harness.browser()
    callback_url = await harness.to_callback(browser, 42)
    await harness.db.execute("UPDATE oauth_states SET nonce_hash = NULL")
    async with browser.get(callback_url) as page:
        assert page.status == 502
        assert "different sign-in" in await page.text()
    assert await harness.links() == []


async def test_at_hash_mismatch(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.id_token_claims["at_hash"] = at_hash_of("some-other-access-token")
    await _refused(harness, caplog, "at_hash_mismatch", words="does not belong to the access token")


async def test_without_at_hash_the_token_is_accepted(harness: Harness) -> None:
    harness.idp.id_token_claims["at_hash"] = REMOVE
    assert (await harness.link(harness.browser(), 42))[0] == 200


async def test_userinfo_naming_another_sub(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.userinfo_sub = "2002"
    await _refused(harness, caplog, "userinfo_sub_mismatch", words="named two different accounts")


@pytest.mark.parametrize("user_id", [2002, "1001", True])
async def test_userinfo_naming_another_user_id(
    harness: Harness, caplog: pytest.LogCaptureFixture, user_id: object
) -> None:
    """``cc.neverlose.user_id`` must be the integer of ``sub``: another number, a string or a boolean is refused."""
    harness.idp.userinfo_user_id = user_id
    await _refused(harness, caplog, "provider_protocol", words="answered in a way we do not understand")


async def test_no_id_token_in_the_token_response(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.forge = "omit"
    await _refused(harness, caplog, "id_token_missing", words="carried no signed identity")


async def test_jwks_unreachable(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.jwks_status = 503
    page_status, html = await harness.link(harness.browser(), 42)
    assert page_status == 502
    assert "could not be reached" in html
    assert await harness.links() == []
    assert any("reason=provider_unavailable" in r.getMessage() for r in caplog.records)


async def test_an_empty_jwks(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.unpublished.add(harness.idp.signing_kid)
    await _refused(harness, caplog, "id_token_key_unknown", words="a key Neverlose does not publish")


async def test_a_jwks_answer_that_is_not_a_key_set(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.jwks_status = 404
    await _refused(harness, caplog, "id_token_key_unknown", words="a key Neverlose does not publish")


# ------------------------------------------------------------------ key rotation
async def test_key_rotation_fetches_the_jwks_once_more_and_then_refuses_unknown_keys(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    idp = harness.idp
    assert (await harness.link(harness.browser(), 1))[0] == 200
    assert (idp.jwks_requests, idp.discovery_requests) == (1, 1)
    assert (await harness.link(harness.browser(), 2))[0] == 409  # same account: refused, but verified
    assert idp.jwks_requests == 1  # a known key: the cached JWKS is used

    idp.rotate()  # key-2 published and used from now on
    harness.clock.advance(timedelta(minutes=2))
    await harness.service.links.unlink(1)
    assert (await harness.link(harness.browser(), 1))[0] == 200
    assert idp.jwks_requests == 2  # the new kid fetched the JWKS once more
    assert idp.discovery_requests == 2  # and discovery, in case jwks_uri moved

    caplog.clear()
    await harness.service.links.unlink(1)
    idp.forge = "unknown_key"
    await _refused(harness, caplog, "id_token_key_unknown", words="a key Neverlose does not publish")
    assert idp.jwks_requests == 2  # fetched a moment ago: an unknown key is refused without another fetch

    harness.clock.advance(timedelta(minutes=2))
    caplog.clear()
    await _refused(harness, caplog, "id_token_key_unknown", words="a key Neverlose does not publish")
    assert idp.jwks_requests == 3  # later: one more look, and still refused


async def test_a_key_whose_type_does_not_fit_the_algorithm_is_refused(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    original = harness.idp.keys[0]

    class ECLabelled(SigningKey):
        def public_jwk(self) -> dict[str, Any]:
            return {**super().public_jwk(), "kty": "EC"}

    harness.idp.keys = [ECLabelled(original.kid, original.private)]
    await _refused(harness, caplog, "id_token_algorithm", words="signature method")


def test_at_hash_matches_the_oidc_definition() -> None:
    # OIDC Core §3.1.3.6: left-most half of SHA-256 of the ASCII access token, base64url without padding
    assert at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNU3YCUZ5B9Ab1K2Yzgk", "RS256") == at_hash_of(
        "jHkWEdUXMU1BwAsC4vtUsZwnNU3YCUZ5B9Ab1K2Yzgk"
    )
    assert len(at_hash("x", "RS256")) == 22
    assert len(at_hash("x", "RS384")) == 32
    assert len(at_hash("x", "RS512")) == 43
    assert len(at_hash("x", "EdDSA")) == 43


async def test_a_new_key_while_discovery_turned_invalid_is_refused(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    idp = harness.idp
    assert (await harness.link(harness.browser(), 1))[0] == 200
    await harness.service.links.unlink(1)
    idp.rotate()
    idp.issuer = "https://elsewhere.example"  # the refresh a new kid triggers now finds an unacceptable document
    harness.clock.advance(timedelta(minutes=2))
    caplog.clear()
    await _refused(harness, caplog, "id_token_key_unknown", words="a key Neverlose does not publish")
    assert idp.jwks_requests == 1  # no key is fetched from a provider whose discovery was refused
    assert not harness.service.available


# ------------------------------------------------------------------ header and key edge cases
async def test_a_token_that_is_not_a_jwt(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.forge = "garbage"
    await _refused(harness, caplog, "id_token_malformed", words="malformed")


async def test_a_kid_that_is_not_a_string(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.id_token_header["kid"] = 5
    await _refused(harness, caplog, "id_token_malformed", words="malformed")


async def test_without_a_kid_the_only_key_is_used(harness: Harness) -> None:
    harness.idp.id_token_header["kid"] = REMOVE
    assert (await harness.link(harness.browser(), 42))[0] == 200


async def test_without_a_kid_and_several_keys_it_is_refused(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.idp.rotate()  # two keys published
    harness.idp.id_token_header["kid"] = REMOVE
    await _refused(harness, caplog, "id_token_key_unknown", words="a key Neverlose does not publish")


async def test_a_key_published_for_another_algorithm(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    original = harness.idp.keys[0]

    class ForRS512(SigningKey):
        def public_jwk(self) -> dict[str, Any]:
            return {**super().public_jwk(), "alg": "RS512"}

    harness.idp.keys = [ForRS512(original.kid, original.private)]
    await _refused(harness, caplog, "id_token_algorithm", words="signature method")


async def test_an_unusable_published_key(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    original = harness.idp.keys[0]

    class WithoutModulus(SigningKey):
        def public_jwk(self) -> dict[str, Any]:
            return {k: v for k, v in super().public_jwk().items() if k != "n"}

    harness.idp.keys = [WithoutModulus(original.kid, original.private)]
    await _refused(harness, caplog, "id_token_key_unknown", words="a key Neverlose does not publish")


async def test_a_jwks_larger_than_256_kib_is_not_used(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    original = harness.idp.keys[0]

    class Padded(SigningKey):
        def public_jwk(self) -> dict[str, Any]:
            return {**super().public_jwk(), "x5c": ["A" * 300_000]}

    harness.idp.keys = [Padded(original.kid, original.private)]
    await _refused(harness, caplog, "id_token_key_unknown", words="a key Neverlose does not publish")
