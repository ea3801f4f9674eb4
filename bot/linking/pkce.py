"""PKCE (RFC 7636) with the ``S256`` method only — the one Neverlose accepts — and ``state`` values."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

CHALLENGE_METHOD = "S256"

# RFC 7636 §4.1: 43..128 characters from the unreserved set [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def new_verifier() -> str:
    """A fresh high-entropy code verifier: 64 URL-safe characters (384 random bits)."""
    return secrets.token_urlsafe(48)


def is_valid_verifier(verifier: str) -> bool:
    return bool(_VERIFIER.match(verifier))


def challenge_s256(verifier: str) -> str:
    """``BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))`` without padding (RFC 7636 §4.2)."""
    if not is_valid_verifier(verifier):
        raise ValueError("code verifier must be 43-128 unreserved characters")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_state() -> str:
    """An unguessable, URL-safe ``state`` value (256 random bits)."""
    return secrets.token_urlsafe(32)
