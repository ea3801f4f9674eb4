"""The webhook signature, exactly as Crypto Pay documents it.

Every update carries a ``crypto-pay-api-signature`` header: the hex HMAC-SHA-256 of the raw request body,
keyed with the SHA-256 digest (raw bytes) of the app's API token. It is checked on the bytes as received,
in constant time, before anything is parsed.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "crypto-pay-api-signature"
_HEX_DIGITS = frozenset("0123456789abcdef")


def webhook_key(token: str) -> bytes:
    """The HMAC key: SHA-256 of the token (UTF-8), as 32 raw bytes."""
    return hashlib.sha256(token.encode()).digest()  # UTF-8


def sign(body: bytes, key: bytes) -> str:
    """The signature Crypto Pay sends for ``body`` (lower-case hex)."""
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, key: bytes) -> bool:
    """Whether ``header`` is the signature of ``body`` (case of the hex digits ignored; constant time)."""
    if header is None:
        return False
    candidate = header.strip().lower()
    if len(candidate) != 64 or not set(candidate) <= _HEX_DIGITS:
        return False
    return hmac.compare_digest(sign(body, key), candidate)
