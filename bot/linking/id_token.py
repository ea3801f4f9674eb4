"""Verifying the id_token of the token response (OpenID Connect Core §3.1.3.7) with PyJWT.

PyJWT (``jwt.decode``) checks the signature, ``iss`` and ``aud`` and that the required claims are present;
the key comes from the provider's JWKS (:mod:`bot.linking.signing_keys`, built with ``jwt.PyJWK``). The bot
itself checks, before PyJWT sees the token, that the header's ``alg`` is one the discovery lists *and* a
public-key algorithm (so ``none`` and HS256 — e.g. "signed" with the public key as the HMAC secret — are
refused whatever the header says) and that the key's type fits it; and after, with its own clock (PyJWT
has no clock to inject): ``exp`` and ``iat`` with at most 60 s leeway, ``azp`` when there are several
audiences, the ``nonce`` of this authorization request, and ``at_hash`` when present.

Every refusal is an :class:`IdTokenRejected` carrying an :class:`IdTokenProblem`; no token (nor any part of
it) goes into a message or a log line.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.linking.discovery import ProviderMetadata
from bot.linking.sessions import secret_digest
from bot.linking.signing_keys import KeysInvalid, SigningKeys

LEEWAY = timedelta(seconds=60)
REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "iat"]
_USER_ID = re.compile(r"^[1-9][0-9]{0,18}$")
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
_AT_HASH = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}


class IdTokenProblem(StrEnum):
    """Why an id_token was refused (also the ``reason=`` in log lines)."""

    MISSING = "id_token_missing"
    MALFORMED = "id_token_malformed"
    ALGORITHM = "id_token_algorithm"
    KEY_UNKNOWN = "id_token_key_unknown"
    SIGNATURE = "id_token_signature"
    ISSUER = "id_token_issuer"
    AUDIENCE = "id_token_audience"
    EXPIRED = "id_token_expired"
    NOT_YET_VALID = "id_token_not_yet_valid"
    SUBJECT = "id_token_subject"
    NONCE_MISSING = "nonce_missing"
    NONCE_MISMATCH = "nonce_mismatch"
    NONCE_REPLAYED = "nonce_replayed"
    AT_HASH = "at_hash_mismatch"


class IdTokenRejected(Exception):
    def __init__(self, problem: IdTokenProblem, *, detail: str | None = None, nonce_hash: str | None = None) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.detail = detail
        self.nonce_hash = nonce_hash  # the token's nonce (hashed) when it did not match: for the replay check


@dataclass(frozen=True, slots=True)
class IdTokenClaims:
    sub: str  # a Neverlose user id (digits); the link reads the number from it (``links.user_id_of``)


def at_hash(access_token: str, algorithm: str) -> str:
    """OIDC Core §3.1.3.6: the left half of the hash of the access token (the alg's hash), base64url."""
    digest = (hashlib.sha512 if algorithm == "EdDSA" else _AT_HASH[algorithm[2:]])(access_token.encode("ascii"))
    half = digest.digest()[: digest.digest_size // 2]
    return base64.urlsafe_b64encode(half).rstrip(b"=").decode("ascii")


def _number(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IdTokenRejected(IdTokenProblem.MALFORMED, detail=f"{name}_not_a_number")
    return float(value)


class IdTokenVerifier:
    def __init__(
        self, keys: SigningKeys, *, client_id: str, clock: Callable[[], datetime], leeway: timedelta = LEEWAY
    ) -> None:
        self._keys = keys
        self._client_id = client_id
        self._clock = clock
        self._leeway = leeway.total_seconds()

    async def verify(
        self,
        token: str,
        provider: ProviderMetadata,
        *,
        nonce_hash: str | None,
        access_token: str,
        current: Callable[[], ProviderMetadata | None],
    ) -> IdTokenClaims:
        """Verify ``token``; raise :class:`IdTokenRejected`. ``current`` reads the metadata again (after a
        key refresh). ``KeysUnavailable`` (JWKS unreachable) passes through."""
        if provider.issuer is None or provider.jwks_uri is None:  # pragma: no cover - callers check
            raise IdTokenRejected(IdTokenProblem.MALFORMED, detail="no_issuer")
        import jwt  # imported on first use, not at start-up (PyJWT + cryptography: ~10 MB)

        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise IdTokenRejected(IdTokenProblem.MALFORMED, detail="header") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in provider.signing_algorithms:
            raise IdTokenRejected(IdTokenProblem.ALGORITHM, detail=_safe_alg(algorithm))
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise IdTokenRejected(IdTokenProblem.MALFORMED, detail="kid")

        def jwks_uri() -> str | None:
            now = current()
            return None if now is None else now.jwks_uri

        try:
            jwk = await self._keys.find(provider.jwks_uri, kid, current_uri=jwks_uri)
        except KeysInvalid:
            raise IdTokenRejected(IdTokenProblem.KEY_UNKNOWN, detail="jwks_invalid") from None
        if jwk is None:
            raise IdTokenRejected(IdTokenProblem.KEY_UNKNOWN)
        key = self._key(jwk, algorithm)
        claims = self._decode(token, key, algorithm, provider.issuer)
        self._check_times(claims)
        self._check_azp(claims)
        self._check_nonce(claims, nonce_hash)
        if "at_hash" in claims:
            expected = at_hash(access_token, algorithm)
            if not isinstance(claims["at_hash"], str) or not hmac.compare_digest(claims["at_hash"], expected):
                raise IdTokenRejected(IdTokenProblem.AT_HASH)
        sub = claims["sub"]
        if not isinstance(sub, str) or not _USER_ID.match(sub):
            raise IdTokenRejected(IdTokenProblem.SUBJECT)
        return IdTokenClaims(sub=sub)

    @staticmethod
    def _key(jwk: dict[str, Any], algorithm: str) -> Any:
        declared = jwk.get("alg")
        if declared is not None and declared != algorithm:
            raise IdTokenRejected(IdTokenProblem.ALGORITHM, detail="key_alg")
        if jwk.get("kty") != _KEY_TYPES.get(algorithm[:2]):
            raise IdTokenRejected(IdTokenProblem.ALGORITHM, detail="key_type")
        import jwt  # imported on first use, not at start-up (PyJWT + cryptography: ~10 MB)

        try:
            return jwt.PyJWK(jwk, algorithm=algorithm).key
        except (jwt.PyJWKError, jwt.InvalidKeyError):
            raise IdTokenRejected(IdTokenProblem.KEY_UNKNOWN, detail="key_unusable") from None

    def _decode(self, token: str, key: Any, algorithm: str, issuer: str) -> dict[str, Any]:
        import jwt  # imported on first use, not at start-up (PyJWT + cryptography: ~10 MB)

        try:
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self._client_id,
                issuer=issuer,
                options={
                    "require": REQUIRED_CLAIMS,
                    "verify_signature": True,
                    "verify_exp": False,  # checked below with the bot's clock
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise IdTokenRejected(IdTokenProblem.SIGNATURE) from None
        except jwt.InvalidIssuerError:
            raise IdTokenRejected(IdTokenProblem.ISSUER) from None
        except jwt.InvalidAudienceError:
            raise IdTokenRejected(IdTokenProblem.AUDIENCE) from None
        except jwt.MissingRequiredClaimError as exc:
            raise IdTokenRejected(IdTokenProblem.MALFORMED, detail=f"missing_{_safe_alg(exc.claim)}") from None
        except jwt.InvalidAlgorithmError:
            raise IdTokenRejected(IdTokenProblem.ALGORITHM) from None
        except jwt.InvalidTokenError as exc:
            raise IdTokenRejected(IdTokenProblem.MALFORMED, detail=type(exc).__name__) from None

    def _check_times(self, claims: dict[str, Any]) -> None:
        now = self._clock().timestamp()
        if _number(claims, "exp") <= now - self._leeway:
            raise IdTokenRejected(IdTokenProblem.EXPIRED)
        if _number(claims, "iat") > now + self._leeway:
            raise IdTokenRejected(IdTokenProblem.NOT_YET_VALID, detail="iat")
        if "nbf" in claims and _number(claims, "nbf") > now + self._leeway:
            raise IdTokenRejected(IdTokenProblem.NOT_YET_VALID, detail="nbf")

    def _check_azp(self, claims: dict[str, Any]) -> None:
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        azp = claims.get("azp")
        if len(audiences) > 1 and azp is None:
            raise IdTokenRejected(IdTokenProblem.AUDIENCE, detail="azp_missing")
        if azp is not None and azp != self._client_id:
            raise IdTokenRejected(IdTokenProblem.AUDIENCE, detail="azp")

    @staticmethod
    def _check_nonce(claims: dict[str, Any], expected_hash: str | None) -> None:
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not nonce:
            raise IdTokenRejected(IdTokenProblem.NONCE_MISSING)
        got = secret_digest(nonce)
        if expected_hash is None or not hmac.compare_digest(got, expected_hash):
            raise IdTokenRejected(IdTokenProblem.NONCE_MISMATCH, nonce_hash=got)


def _safe_alg(value: object) -> str:
    if not isinstance(value, str):
        return "missing"
    return "".join(ch for ch in value[:20] if ch.isalnum()) or "?"
