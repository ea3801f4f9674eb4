"""Every way an ``nl_purchase`` token is refused, and what a good one yields (tokens signed with PyJWT)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import warnings
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import jwt
import pytest

from bot.market.models import Plan, Product
from bot.orders.token import (
    EXPIRED_LINK,
    INVALID_LINK,
    MAX_TOKEN_BYTES,
    MISSING_LINK,
    UNSUPPORTED,
    TokenRejected,
    token_hash,
    verify_purchase_token,
)
from bot.shop.catalog import ProductKey
from tests.orders.conftest import INTEGRATION_ID, SECRET, purchase_claims, sign


def verify(token: str | None) -> Any:
    return verify_purchase_token(token, secret=SECRET, integration_id=INTEGRATION_ID)


def rejected(token: str | None) -> TokenRejected:
    with pytest.raises(TokenRejected) as info:
        verify(token)
    assert info.value.code
    return info.value


def b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_valid_product_token() -> None:
    signed = purchase_claims()
    token = sign(signed)
    claims = verify(token)
    assert claims.login == "darth"
    assert claims.email == "darth.vader@example.com"
    assert claims.product_key == ProductKey.for_plan(Product.CS2, Plan.DAYS_30)
    assert claims.nle is None
    assert claims.token_hash == hashlib.sha256(token.encode()).hexdigest() == token_hash(token)
    assert claims.expires_at.timestamp() - claims.issued_at.timestamp() == 3600
    assert claims.issued_at == datetime.fromtimestamp(signed["iat"], UTC)  # aware UTC (a naive one is unequal)
    assert claims.expires_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("cnt", "days", "plan"),
    [(0, 30, Plan.DAYS_30), (1, 90, Plan.DAYS_90), (2, 180, Plan.DAYS_180), (3, 365, Plan.DAYS_365)],
)
def test_every_plan(cnt: int, days: int, plan: Plan) -> None:
    claims = verify(sign(purchase_claims(product="csgo", cnt=cnt, days=days)))
    assert claims.product_key == ProductKey.for_plan(Product.CSGO, plan)


def test_a_valid_marketplace_token() -> None:
    claims = verify(sign(purchase_claims(product="marketplace", market=True, cnt=None, days=..., nle="12.50")))
    assert claims.product_key.is_marketplace
    assert claims.nle == Decimal("12.50")


def test_integration_id_as_text_is_the_same_id() -> None:
    assert verify(sign(purchase_claims(integration_id=str(INTEGRATION_ID)))).login == "darth"


def test_the_sandbox_short_secret_is_accepted_without_a_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        token = jwt.encode(purchase_claims(), "short", algorithm="HS256")
    claims = verify_purchase_token(token, secret="short", integration_id=INTEGRATION_ID)
    assert claims.login == "darth"


def test_missing_token() -> None:
    for token in (None, ""):
        exc = rejected(token)
        assert (exc.code, exc.message, exc.status) == ("missing", MISSING_LINK, 400)


def test_too_large_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded")

    monkeypatch.setattr(jwt, "decode", explode)
    exc = rejected("a" * (MAX_TOKEN_BYTES + 1))
    assert (exc.code, exc.status, exc.message) == ("too_large", 400, INVALID_LINK)


def test_a_token_just_under_4_kib_is_decoded() -> None:
    claims = purchase_claims(pad="")
    size = 0
    while len(sign({**claims, "pad": "x" * (size + 1)})) <= MAX_TOKEN_BYTES:
        size += 1
    token = sign({**claims, "pad": "x" * size})
    assert MAX_TOKEN_BYTES - 4 <= len(token) <= MAX_TOKEN_BYTES
    assert verify(token).login == "darth"
    assert rejected(sign({**claims, "pad": "x" * (size + 3)})).code == "too_large"


def test_expired_says_start_again() -> None:
    now = int(time.time())
    exc = rejected(sign(purchase_claims(iat=now - 7200, exp=now - 61)))
    assert (exc.code, exc.status, exc.message, exc.expired) == ("expired", 410, EXPIRED_LINK, True)
    assert "start again from Neverlose's site" in exc.message


def test_expiry_leeway_is_60_seconds() -> None:
    now = int(time.time())
    assert verify(sign(purchase_claims(iat=now - 7200, exp=now - 50))).login == "darth"
    assert rejected(sign(purchase_claims(iat=now - 7200, exp=now - 70))).code == "expired"


def test_issued_in_the_future() -> None:
    now = int(time.time())
    assert rejected(sign(purchase_claims(iat=now + 120, exp=now + 3600))).code == "issued_in_future"
    assert verify(sign(purchase_claims(iat=now + 30, exp=now + 3600))).login == "darth"


@pytest.mark.parametrize("claim", ["exp", "iat", "iss"])
def test_required_claims(claim: str) -> None:
    assert rejected(sign(purchase_claims(**{claim: ...}))).code == f"missing_{claim}"


def test_bad_signature() -> None:
    exc = rejected(sign(purchase_claims(), key="another-secret-that-is-long-enough-32"))
    assert (exc.code, exc.status, exc.message) == ("bad_signature", 400, INVALID_LINK)


def test_alg_none_is_refused() -> None:
    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(purchase_claims())}."
    assert rejected(token).code == "bad_algorithm"


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_other_hmac_algorithms_are_refused(alg: str) -> None:
    assert rejected(sign(purchase_claims(), algorithm=alg)).code == "bad_algorithm"


PUBLIC_PEM = (
    b"-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA0Z3VS5JJcds3xfn/ygWy\n"
    b"-----END PUBLIC KEY-----\n"
)


def hs256(key: bytes, header: dict[str, Any], claims: dict[str, Any]) -> str:
    signing_input = f"{b64(header)}.{b64(claims)}"
    return f"{signing_input}.{b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())}"


def test_rs256_is_refused() -> None:
    header, payload = b64({"alg": "RS256", "typ": "JWT"}), b64(purchase_claims())
    assert rejected(f"{header}.{payload}.{b64(bytes(256))}").code == "bad_algorithm"


def test_algorithm_confusion_public_key_as_hmac_secret() -> None:
    """An attacker signs HS256 with a (public) key text as the HMAC secret: the signature does not verify."""
    token = hs256(PUBLIC_PEM, {"alg": "HS256", "typ": "JWT"}, purchase_claims())
    assert rejected(token).code == "bad_signature"


def test_alg_header_rs256_with_a_valid_hmac_signature_is_refused() -> None:
    token = hs256(SECRET.encode(), {"alg": "RS256", "typ": "JWT"}, purchase_claims())
    assert rejected(token).code == "bad_algorithm"


def test_the_right_hmac_with_the_right_header_passes() -> None:
    assert verify(hs256(SECRET.encode(), {"alg": "HS256", "typ": "JWT"}, purchase_claims())).login == "darth"


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "a.b", "....", "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln"])
def test_malformed(token: str) -> None:
    assert rejected(token).code in {"malformed", "bad_signature"}


@pytest.mark.parametrize(
    "times",
    [
        {"exp": 10**30},  # signed, yet beyond a datetime: was an OverflowError, a 500 on the checkout page
        {"exp": 1e308},
        {"iat": -(10**30)},
        {"iat": -62135596900},  # the year 0
    ],
)
def test_times_beyond_a_datetime_are_malformed(times: dict[str, Any]) -> None:
    refusal = rejected(sign(purchase_claims(**times)))
    assert (refusal.code, refusal.message, refusal.status) == ("malformed", INVALID_LINK, 400)


def test_payload_not_an_object_is_refused() -> None:
    header, payload = b64({"alg": "HS256", "typ": "JWT"}), b64(b"[1, 2]")
    signature = hmac.new(SECRET.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert rejected(f"{header}.{payload}.{b64(signature)}").code == "malformed"


def test_wrong_issuer() -> None:
    assert rejected(sign(purchase_claims(iss="NLRX"))).code == "bad_issuer"


@pytest.mark.parametrize("value", [8, "8", None, True, "7 ", 7.0, [7]])
def test_wrong_integration(value: object) -> None:
    claims = purchase_claims(integration_id=value)
    assert rejected(sign(claims)).code == "wrong_integration"


def test_missing_integration() -> None:
    assert rejected(sign(purchase_claims(integration_id=...))).code == "wrong_integration"


@pytest.mark.parametrize("login", ["", " darth", "darth ", "da rth", "d" * 65, "dárth", 5, None, "a/b"])
def test_implausible_login(login: object) -> None:
    assert rejected(sign(purchase_claims(login=login))).code == "bad_login"


def test_missing_login() -> None:
    assert rejected(sign(purchase_claims(login=...))).code == "bad_login"


def test_longest_plausible_login() -> None:
    assert verify(sign(purchase_claims(login="d" * 64))).login == "d" * 64


@pytest.mark.parametrize(
    "email",
    ["", "nobody", "a@b", "a@@b.com", "a b@c.com", "@c.com", "a@-c.com", "a@c-.com", None, 3, "x" * 250 + "@a.io"],
)
def test_bad_email(email: object) -> None:
    assert rejected(sign(purchase_claims(email=email))).code == "bad_email"


def test_longest_email() -> None:
    email = "x" * 64 + "@" + "a" * 63 + "." + "b" * 63 + "." + "c" * 58 + ".io"
    assert len(email) == 254
    assert verify(sign(purchase_claims(email=email))).email == email
    assert rejected(sign(purchase_claims(email="y" + email))).code == "bad_email"


def test_unknown_product() -> None:
    exc = rejected(sign(purchase_claims(product="valorant")))
    assert (exc.code, exc.message) == ("unknown_product", UNSUPPORTED)
    assert rejected(sign(purchase_claims(product=None))).code == "unknown_product"
    assert rejected(sign(purchase_claims(product="CS2"))).code == "unknown_product"


@pytest.mark.parametrize("market", [None, "false", 0, 1])
def test_market_must_be_a_boolean(market: object) -> None:
    assert rejected(sign(purchase_claims(market=market))).code == "bad_market"


def test_market_true_with_a_product() -> None:
    assert rejected(sign(purchase_claims(market=True))).code == "market_mismatch"


def test_marketplace_with_market_false() -> None:
    claims = purchase_claims(product="marketplace", market=False, cnt=None, days=None, nle="5")
    assert rejected(sign(claims)).code == "market_mismatch"


@pytest.mark.parametrize(("cnt", "days"), [(0, None), (None, 30), (0, 30)])
def test_marketplace_with_a_plan(cnt: object, days: object) -> None:
    claims = purchase_claims(product="marketplace", market=True, cnt=cnt, days=days, nle="5")
    assert rejected(sign(claims)).code == "plan_on_marketplace"


def test_product_with_nle() -> None:
    assert rejected(sign(purchase_claims(nle="5"))).code == "nle_on_product"


@pytest.mark.parametrize(("cnt", "days"), [(4, 30), (-1, 30), (None, 30), ("0", 30), (True, 30), (0.0, 30), (0, "30")])
def test_bad_plan(cnt: object, days: object) -> None:
    assert rejected(sign(purchase_claims(cnt=cnt, days=days))).code == "bad_plan"


@pytest.mark.parametrize(("cnt", "days"), [(0, 90), (1, 30), (3, 180), (2, 31)])
def test_plan_and_days_disagree(cnt: int, days: int) -> None:
    assert rejected(sign(purchase_claims(cnt=cnt, days=days))).code == "plan_mismatch"


def test_missing_days() -> None:
    assert rejected(sign(purchase_claims(days=...))).code == "bad_plan"


@pytest.mark.parametrize(
    "nle", ["0", "0.00", "-1", "1.234", "1e3", "abc", "", " 5", "5 ", 5, 5.5, None, "NaN", "1000000.01", "12345678"]
)
def test_bad_nle(nle: object) -> None:
    claims = purchase_claims(product="marketplace", market=True, cnt=None, days=None, nle=nle)
    assert rejected(sign(claims)).code == "bad_nle"


@pytest.mark.parametrize(("nle", "value"), [("0.01", "0.01"), ("1", "1"), ("1000000", "1000000"), ("99.9", "99.9")])
def test_good_nle(nle: str, value: str) -> None:
    claims = purchase_claims(product="marketplace", market=True, cnt=None, days=None, nle=nle)
    assert verify(sign(claims)).nle == Decimal(value)


def test_one_verifier_serves_many_tokens_with_a_short_secret_too() -> None:
    from bot.orders.token import PurchaseTokenVerifier

    for secret in ("short", SECRET):
        verifier = PurchaseTokenVerifier(secret=secret, integration_id=INTEGRATION_ID)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tokens = [jwt.encode(purchase_claims(login=f"buyer{n}"), secret, algorithm="HS256") for n in range(3)]
            forged = jwt.encode(purchase_claims(), secret + "x", algorithm="HS256")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # PyJWT's key-length advice never reaches the caller
            assert [verifier.verify(token).login for token in tokens] == ["buyer0", "buyer1", "buyer2"]
            with pytest.raises(TokenRejected) as caught:
                verifier.verify(forged)
        assert caught.value.code == "bad_signature"


def test_the_secret_is_prepared_once_not_for_every_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """PyJWT checks for every token that an HMAC key does not look like an asymmetric key; the verifier has that
    done once for its secret."""
    from bot.orders.token import PurchaseTokenVerifier

    checked: list[bytes] = []
    real = jwt.algorithms.is_pem_format

    def counting(key: bytes) -> bool:
        checked.append(key)
        return real(key)

    monkeypatch.setattr(jwt.algorithms, "is_pem_format", counting)
    verifier = PurchaseTokenVerifier(secret=SECRET, integration_id=INTEGRATION_ID)
    tokens = [sign(purchase_claims(login=f"buyer{n}")) for n in range(3)]
    checked.clear()  # signing them checked the key too
    assert [verifier.verify(token).login for token in tokens] == ["buyer0", "buyer1", "buyer2"]
    assert checked == [SECRET.encode()]
    with pytest.raises(TokenRejected) as caught:
        verifier.verify(hs256(PUBLIC_PEM, {"alg": "HS256", "typ": "JWT"}, purchase_claims()))
    assert caught.value.code == "bad_signature"
    # any other key still gets PyJWT's own check, on every use
    with pytest.raises(jwt.InvalidKeyError):
        verifier._decoder().decode(tokens[0], PUBLIC_PEM, algorithms=["HS256"])
    assert checked == [SECRET.encode(), PUBLIC_PEM]


SEGMENTS = [
    b"",
    b"e30",  # {}
    b"eyJhIjoxfQ",  # {"a":1}
    b"eyJhIjoxfQ=",
    b"eyJhIjoxfQ==",
    b"eyJhIjoxfQ===",
    b"eyJhIjoxfR",  # non-canonical: the last character carries bits that decoding drops
    b"eyJhIjoxfR==",
    b"QQ",
    b"QR",
    b"QUI",
    b"QUJ",
    b"QUJD",
    b"Q",
    b"QUJDR",
    b"=",
    b"==",
    b"QQ=",
    b"Q===",
    b"QU=I",
    b"QUJD+/",
    b"QUJD!!!!",
    b"QUJD QQ",
    b"QUJD\nQQ",
    b"-_-_",
    b"-_-",
    "QUJDé".encode(),
]


@pytest.mark.parametrize("segment", SEGMENTS)
def test_segments_are_decoded_or_refused_exactly_as_pyjwt_does(segment: bytes) -> None:
    """The verifier checks a token's base64url segments with one pattern match (PyJWT: byte by byte); for every
    kind of segment the outcome is PyJWT's: the same bytes, or the same error."""
    from bot.orders.token import PurchaseTokenVerifier

    decoder = PurchaseTokenVerifier(secret=SECRET, integration_id=INTEGRATION_ID)._decoder()

    def outcome(decode: Any) -> object:
        try:
            return decode(segment, "payload")
        except jwt.DecodeError as exc:
            return ("refused", str(exc))

    ours = outcome(decoder._jws._decode_base64url_segment)
    assert ours == outcome(jwt.PyJWS._decode_base64url_segment)
    assert ours != outcome(lambda s, n: None)  # the decoder answered (the pattern did not swallow anything)


BASE64URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def test_every_last_character_is_decoded_or_refused_as_pyjwt_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """Canonical or not is told by the last character alone: at each length a base64 text can have, every
    character in the last place gives PyJWT's outcome, and only the non-canonical ones are handed to PyJWT."""
    from bot.orders.token import PurchaseTokenVerifier

    real = jwt.PyJWS._decode_base64url_segment
    seen: list[bytes] = []

    def counting(segment: bytes, name: str) -> bytes:
        seen.append(segment)
        result: bytes = real(segment, name)
        return result

    def outcome(decode: Any, segment: bytes) -> object:
        try:
            return decode(segment, "payload")
        except jwt.DecodeError as exc:
            return ("refused", str(exc))

    monkeypatch.setattr(jwt.PyJWS, "_decode_base64url_segment", staticmethod(counting))
    decoder = PurchaseTokenVerifier(secret=SECRET, integration_id=INTEGRATION_ID)._decoder()
    handed_over: dict[int, int] = {}
    for prefix in (b"QUJD", b"QUJDQ", b"QUJDQU", b"QUJDQUJ"):
        for last in BASE64URL:
            segment = prefix + bytes([last])
            seen.clear()
            ours = outcome(decoder._jws._decode_base64url_segment, segment)
            handed = seen == [segment]
            assert ours == outcome(real, segment)
            canonical = isinstance(ours, bytes) and base64.urlsafe_b64encode(ours).rstrip(b"=") == segment
            assert handed is not canonical, segment
            handed_over[len(segment) % 4] = handed_over.get(len(segment) % 4, 0) + handed
    # length 4k+1 is never base64; 4k+2 leaves 4 bits unused (4 canonical endings), 4k+3 two (16), 4k all used
    assert handed_over == {1: 64, 2: 60, 3: 48, 0: 0}


def test_plain_segments_skip_pyjwts_byte_by_byte_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """A token's segments are decoded without PyJWT's own segment function (a generator over every byte); a
    padded one still goes through it, and is accepted or refused by it."""
    from bot.orders.token import PurchaseTokenVerifier

    seen: list[bytes] = []
    real = jwt.PyJWS._decode_base64url_segment

    def counting(segment: bytes, name: str) -> bytes:
        seen.append(segment)
        result: bytes = real(segment, name)
        return result

    monkeypatch.setattr(jwt.PyJWS, "_decode_base64url_segment", staticmethod(counting))
    verifier = PurchaseTokenVerifier(secret=SECRET, integration_id=INTEGRATION_ID)
    tokens = [sign(purchase_claims(login=f"buyer{n}")) for n in range(3)]
    seen.clear()
    assert [verifier.verify(token).login for token in tokens] == ["buyer0", "buyer1", "buyer2"]
    assert seen == []
    header, payload, signature = tokens[0].split(".")
    padded = signature + "=" * (-len(signature) % 4)
    assert padded != signature  # a 32-byte HMAC is 43 characters: one '=' of padding
    assert verifier.verify(f"{header}.{payload}.{padded}").login == "buyer0"  # PyJWT accepts the padding
    assert seen == [padded.encode()]
    assert rejected(f"{header}.{payload}.{signature}!").code == "malformed"
