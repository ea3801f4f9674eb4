"""The ``nl_purchase`` token Neverlose puts on the Redirect URL: verified strictly, or refused with a reason.

Rules (``docs/checkout.md``): at most 4 KiB (checked before any decoding); a JWT signed with HS256 and the
Market API secret (no other algorithm, ``none`` included); ``iss`` = ``NLRI``; ``exp`` and ``iat`` present and
valid with at most 60 s of leeway; ``integration_id`` = ``MARKET_INTEGRATION_ID``; then the payload: ``login``
a plausible Neverlose login, ``email`` an address, ``product`` a known product or ``marketplace``, ``market``
true exactly for ``marketplace``, products: ``cnt`` an existing plan and ``days`` its length; marketplace:
``nle`` a positive decimal string of at most two places.

A refusal is a :class:`TokenRejected` carrying a short code for the log and the customer's sentence; the
token itself is never part of either.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from bot.market.errors import MarketValidationError
from bot.market.models import MAX_AMOUNT, Plan, Product
from bot.market.validation import validate_username
from bot.shop.catalog import MARKETPLACE, ProductKey

if TYPE_CHECKING:  # PyJWT (with cryptography under it, ~10 MB) is imported when the first link is verified
    import jwt

MAX_TOKEN_BYTES = 4096
ISSUER = "NLRI"
LEEWAY_SECONDS = 60
ALGORITHM = "HS256"
EMAIL_MAX_LENGTH = 254
_EMAIL = re.compile(
    r"[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+"
)
_NLE = re.compile(r"[0-9]{1,7}(?:\.[0-9]{1,2})?")
_PRODUCTS = frozenset(p.value for p in Product)
_BASE64URL = re.compile(rb"[A-Za-z0-9_-]*")
_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_PADDING = (b"", b"", b"==", b"=")
"""By the length of an unpadded base64 text modulo 4 (1 is never a base64 length)."""
_CANONICAL_LAST: tuple[frozenset[int], ...] = (
    frozenset(),
    frozenset(),
    frozenset(b"AQgw"),
    frozenset(b"AEIMQUYcgkosw048"),
)
"""By the length modulo 4: the last characters whose bits below the decoded bytes are all zero (2: the last 4 of
its 6 bits, 3: the last 2), that is the ones encoding the decoded bytes again gives back."""

INVALID_LINK = "This checkout link is not valid. Please start again from Neverlose's site."
EXPIRED_LINK = "This checkout link has expired. Please start again from Neverlose's site."
MISSING_LINK = "This page needs a checkout link from Neverlose's site. Please start again from there."
UNSUPPORTED = "This purchase cannot be paid here. Please start again from Neverlose's site and choose another way."


class TokenRejected(Exception):
    """Why a token was refused: ``code`` for the log, ``message`` for the customer, the HTTP ``status``."""

    def __init__(self, code: str, message: str = INVALID_LINK, *, status: int = 400) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.status = status

    @property
    def expired(self) -> bool:
        return self.code == "expired"


@dataclass(frozen=True, slots=True)
class PurchaseClaims:
    """A verified token's content."""

    login: str
    email: str
    product_key: ProductKey
    nle: Decimal | None
    issued_at: datetime
    expires_at: datetime
    token_hash: str
    """sha256 (hex) of the token text: the order's idempotency key."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class PurchaseTokenVerifier:
    """Verifies tokens signed with one secret for one integration (see the module docstring).

    Built once per secret: the PyJWT object and its options are made here, not for every token, and whether
    PyJWT would warn about the key's length is found out here too, so that a key long enough (the usual case)
    verifies without setting up a warnings filter each time."""

    def __init__(self, *, secret: str, integration_id: int) -> None:
        self._key = secret.encode("utf-8")
        self._integration_id = integration_id
        self._jwt: jwt.PyJWT | None = None  # made on first use (PyJWT is imported then)
        self._short_key = False

    def _decoder(self) -> jwt.PyJWT:
        if self._jwt is None:
            import jwt  # first use: the bot needs PyJWT only once a checkout link is opened

            decoder = jwt.PyJWT(options={"require": ["exp", "iat", "iss"], "verify_signature": True})
            _prepare_key_once(decoder, self._key)
            _check_segments_at_once(decoder)
            self._short_key = self._warns_about_key(decoder)
            self._jwt = decoder
        return self._jwt

    def _warns_about_key(self, decoder: jwt.PyJWT) -> bool:
        """Whether PyJWT warns (:class:`InsecureKeyLengthWarning`) when it verifies with this key."""
        from jwt.warnings import InsecureKeyLengthWarning

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", InsecureKeyLengthWarning)
            probe = decoder.encode({"iss": ISSUER}, self._key, algorithm=ALGORITHM)
            decoder.decode(probe, self._key, algorithms=[ALGORITHM], options={"require": []})
        return any(issubclass(w.category, InsecureKeyLengthWarning) for w in caught)

    def verify(self, token: str | None) -> PurchaseClaims:
        """The claims of ``token``; :class:`TokenRejected` for anything wrong."""
        if not token:
            raise TokenRejected("missing", MISSING_LINK)
        if len(token.encode("utf-8")) > MAX_TOKEN_BYTES:
            raise TokenRejected("too_large")
        decoder = self._decoder()
        import jwt  # already imported by _decoder(): a lookup in sys.modules

        try:
            if self._short_key:
                from jwt.warnings import InsecureKeyLengthWarning

                with warnings.catch_warnings():
                    # The key is the Market secret Neverlose issued, whatever its length: PyJWT's advice is not
                    # ours to take.
                    warnings.simplefilter("ignore", InsecureKeyLengthWarning)
                    payload = self._decode(decoder, token)
            else:
                payload = self._decode(decoder, token)
        except jwt.ExpiredSignatureError:
            raise TokenRejected("expired", EXPIRED_LINK, status=410) from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("bad_signature") from None
        except jwt.InvalidAlgorithmError:
            raise TokenRejected("bad_algorithm") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("bad_issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected(f"missing_{exc.claim}") from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("issued_in_future") from None
        except jwt.InvalidTokenError:
            raise TokenRejected("malformed") from None
        if not isinstance(payload, dict):  # pragma: no cover - PyJWT only returns objects
            raise TokenRejected("malformed")
        return _claims(payload, self._integration_id, token_hash(token))

    def _decode(self, decoder: jwt.PyJWT, token: str) -> object:
        return decoder.decode(token, self._key, algorithms=[ALGORITHM], issuer=ISSUER, leeway=LEEWAY_SECONDS)


def _prepare_key_once(decoder: jwt.PyJWT, key: bytes) -> None:
    """Make ``decoder`` verify HS256 with ``key`` prepared once instead of on every token.

    For every token PyJWT's HMAC algorithm "prepares" the key: it checks that the bytes do not look like an
    asymmetric key (PEM, SSH, DER, a JWK), about 25 us, with the same answer every time for the same secret.
    Its algorithm registry (the :class:`jwt.PyJWS` the decoder holds) takes an HS256 algorithm of our own that
    runs that check once, here, and answers with the result for this key (any other key: PyJWT's own check);
    signing and verifying stay PyJWT's. A key the check refuses, or a PyJWT without that registry, is left to
    PyJWT as it is."""
    import jwt
    from jwt.algorithms import HMACAlgorithm

    jws = getattr(decoder, "_jws", None)
    if not isinstance(jws, jwt.PyJWS):  # pragma: no cover - PyJWT 2.x keeps its PyJWS there
        return
    try:
        prepared = HMACAlgorithm(HMACAlgorithm.SHA256).prepare_key(key)
    except jwt.InvalidKeyError:
        return  # refused on every verification, as PyJWT does

    class PreparedKeyHS256(HMACAlgorithm):
        def prepare_key(self, candidate: str | bytes) -> bytes:
            return prepared if candidate == key else super().prepare_key(candidate)

    jws.unregister_algorithm(ALGORITHM)
    jws.register_algorithm(ALGORITHM, PreparedKeyHS256(HMACAlgorithm.SHA256))


def _check_segments_at_once(decoder: jwt.PyJWT) -> None:
    """Make ``decoder`` check a token's base64url segments with one pattern match instead of byte by byte.

    PyJWT checks that each segment holds only base64url characters with a generator over its bytes (about 25 us
    for a checkout token, a third of the whole verification), then decodes it and checks that encoding it again
    gives the same text. Here a segment that plainly passes (only base64url characters, no padding, a length a
    base64 text can have, and canonical) is decoded at once; anything else is handed to PyJWT's own function,
    which accepts or refuses it exactly as before (padding, junk, non-canonical bits). Canonical without encoding
    again: the bits of the last character below the decoded bytes are zero (:data:`_CANONICAL_LAST`). A PyJWT
    without that function is left as it is."""
    import jwt

    jws = getattr(decoder, "_jws", None)
    original = getattr(jwt.PyJWS, "_decode_base64url_segment", None)
    if not isinstance(jws, jwt.PyJWS) or original is None:  # pragma: no cover - PyJWT 2.10+ has both
        return

    def decode_segment(segment: bytes, name: str) -> bytes:
        rest = len(segment) % 4
        if rest != 1 and _BASE64URL.fullmatch(segment) and (rest == 0 or segment[-1] in _CANONICAL_LAST[rest]):
            return binascii.a2b_base64(segment.translate(_URLSAFE_TO_STANDARD) + _PADDING[rest])
        result: bytes = original(segment, name)
        return result

    setattr(jws, "_decode_base64url_segment", decode_segment)  # noqa: B010 - mypy: no assigning to a method


def verify_purchase_token(token: str | None, *, secret: str, integration_id: int) -> PurchaseClaims:
    """Verify ``token`` (see the module docstring); :class:`TokenRejected` for anything wrong. Builds a
    :class:`PurchaseTokenVerifier` each time: a server keeps one instead."""
    return PurchaseTokenVerifier(secret=secret, integration_id=integration_id).verify(token)


def _claims(payload: Mapping[str, object], integration_id: int, digest: str) -> PurchaseClaims:
    raw_integration = payload.get("integration_id")
    if isinstance(raw_integration, bool) or str(raw_integration) != str(integration_id):
        raise TokenRejected("wrong_integration")
    login = payload.get("login")
    try:
        login = validate_username(login)
    except MarketValidationError:
        raise TokenRejected("bad_login") from None
    if login != payload.get("login"):
        raise TokenRejected("bad_login")
    email = payload.get("email")
    if not isinstance(email, str) or len(email) > EMAIL_MAX_LENGTH or not _EMAIL.fullmatch(email):
        raise TokenRejected("bad_email")
    product = payload.get("product")
    market = payload.get("market")
    if not isinstance(market, bool):
        raise TokenRejected("bad_market")
    if product == MARKETPLACE:
        if not market:
            raise TokenRejected("market_mismatch")
        if payload.get("cnt") is not None or payload.get("days") is not None:
            raise TokenRejected("plan_on_marketplace")
        key, nle = ProductKey.marketplace(), _nle(payload.get("nle"))
    else:
        if not isinstance(product, str) or product not in _PRODUCTS:
            raise TokenRejected("unknown_product", UNSUPPORTED)
        if market:
            raise TokenRejected("market_mismatch")
        if payload.get("nle") is not None:
            raise TokenRejected("nle_on_product")
        key, nle = ProductKey.for_plan(Product(product), _plan(payload.get("cnt"), payload.get("days"))), None
    return PurchaseClaims(
        login=login,
        email=email,
        product_key=key,
        nle=nle,
        issued_at=_time(payload["iat"]),
        expires_at=_time(payload["exp"]),
        token_hash=digest,
    )


def _plan(cnt: object, days: object) -> Plan:
    if isinstance(cnt, bool) or not isinstance(cnt, int) or isinstance(days, bool) or not isinstance(days, int):
        raise TokenRejected("bad_plan")
    try:
        plan = Plan(cnt)
    except ValueError:
        raise TokenRejected("bad_plan") from None
    if plan.days != days:
        raise TokenRejected("plan_mismatch")
    return plan


def _nle(value: object) -> Decimal:
    if not isinstance(value, str) or not _NLE.fullmatch(value):
        raise TokenRejected("bad_nle")
    try:
        amount = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        raise TokenRejected("bad_nle") from None
    if amount <= 0 or amount > MAX_AMOUNT:
        raise TokenRejected("bad_nle")
    return amount


def _time(value: object) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):  # pragma: no cover - PyJWT checked them
        raise TokenRejected("malformed")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, ValueError, OSError):  # signed, yet beyond the years a datetime holds (exp 1e30)
        raise TokenRejected("malformed") from None
