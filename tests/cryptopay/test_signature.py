"""The webhook signature: vectors computed here independently (hashlib/hmac by hand), never by the module."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from bot.payments.cryptopay.signature import SIGNATURE_HEADER, sign, verify, webhook_key

TOKEN = "12345:AAzQcZWQqQAbsfgPnOLr4FHC8Doa4L7KryC"
BODY = b'{"update_id":1,"update_type":"invoice_paid","request_date":"2026-12-07T03:00:00.000Z","payload":{}}'


def _expected(token: str, body: bytes) -> str:
    """Crypto Pay's rule written out: key = SHA-256(token) as raw bytes; hex HMAC-SHA-256(key, body)."""
    key = hashlib.sha256(token.encode()).digest()
    return hmac.new(key, body, "sha256").hexdigest()


def test_header_name_is_the_documented_one() -> None:
    assert SIGNATURE_HEADER == "crypto-pay-api-signature"


def test_key_is_the_raw_sha256_of_the_token() -> None:
    assert webhook_key(TOKEN) == hashlib.sha256(TOKEN.encode()).digest()
    assert len(webhook_key(TOKEN)) == 32
    # a fixed vector: SHA-256("abc") from FIPS 180-2
    assert webhook_key("abc").hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_sign_matches_the_independent_computation() -> None:
    assert sign(BODY, webhook_key(TOKEN)) == _expected(TOKEN, BODY)


def test_fixed_vectors_computed_with_openssl() -> None:
    # printf '{}' | openssl dgst -sha256 -mac HMAC -macopt hexkey:$(printf abc | openssl dgst -sha256 -r)
    assert sign(b"{}", webhook_key("abc")) == "451409e6c6e8c9031867630dfb787822a1b507c6e89ac2697d5c028b79d5d613"
    assert webhook_key(TOKEN).hex() == "1f9caa71b19721138ebe7678ffa9819b98b45359a469b3daf6b5ecf1502c4d16"
    assert sign(BODY, webhook_key(TOKEN)) == "2dd1ce369eca85bc5a8b8f3933fecafc169cbdb197f0de62794112b35015bca7"


def test_verify_accepts_the_right_signature_in_either_case() -> None:
    key = webhook_key(TOKEN)
    good = _expected(TOKEN, BODY)
    assert verify(BODY, good, key) is True
    assert verify(BODY, good.upper(), key) is True
    assert verify(BODY, f"  {good}\n", key) is True


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "0" * 64,
        _expected(TOKEN, BODY)[:-1],  # one digit short
        _expected(TOKEN, BODY) + "0",  # one digit long
        _expected(TOKEN, BODY)[:-1] + "g",  # not hex
        _expected("other-token", BODY),  # another app's token
        hmac.new(TOKEN.encode(), BODY, "sha256").hexdigest(),  # the token itself as key (a common mistake)
        hashlib.sha256(BODY).hexdigest(),  # a plain hash
        "é" * 64,  # the right length, not hex (and not ASCII: compare_digest would raise)
        "é" * 63,
    ],
)
def test_verify_refuses_anything_else(header: str | None) -> None:
    assert verify(BODY, header, webhook_key(TOKEN)) is False


def test_verify_covers_every_byte_of_the_raw_body() -> None:
    key = webhook_key(TOKEN)
    good = _expected(TOKEN, BODY)
    assert verify(BODY + b" ", good, key) is False
    assert verify(BODY.replace(b'"update_id":1', b'"update_id": 1'), good, key) is False
    assert verify(BODY[:-1], good, key) is False
