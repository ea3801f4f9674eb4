"""Market API signatures, made exactly as the server makes them.

The server signs ``sha256_hex("".join(key + str(value) for key in sorted(body)) + secret)`` over the JSON
body *as parsed by Python* (so ``2.0`` → ``"2.0"``, ``true`` → ``"True"``), leaving out ``signature``.
Senders must therefore sign exactly the values they serialize; receivers verify over the parsed body.

Webhook events are accepted in two forms (see ``docs/market-api.md``):

* the documented one: every field but ``signature``, ``kind`` included;
* the one the published test vectors show: without ``kind`` and with ``amount`` signed as
  ``str(float(amount))`` (the server signs the float although the JSON shows ``1``).

Both still need the secret. Every comparison is constant time; the second form is only computed when the
first does not match (which reveals nothing about the secret: the sender knows which form it used).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

SIGNATURE_FIELD = "signature"


def canonical_string(fields: Mapping[str, object]) -> str:
    """The signed text without the secret: sorted ``key + str(value)``, ``signature`` left out."""
    return "".join([key + str(fields[key]) for key in sorted(fields) if key != SIGNATURE_FIELD])


def sign(fields: Mapping[str, object], secret: str) -> str:
    """Hex sha256 over every key except ``signature`` (sorted, ``key + str(value)``) followed by the secret."""
    return hashlib.sha256((canonical_string(fields) + secret).encode()).hexdigest()  # UTF-8


def signed_body(fields: dict[str, object], secret: str) -> dict[str, object]:
    """A copy of ``fields`` with its ``signature`` added (any existing one is replaced)."""
    body = {key: value for key, value in fields.items() if key != SIGNATURE_FIELD}
    body[SIGNATURE_FIELD] = sign(body, secret)
    return body


def _same(expected: str, given: object) -> bool:
    if not isinstance(given, str):
        return False
    # UTF-8 both; a lone surrogate (JSON can carry "\ud800") becomes "?" and simply does not match.
    return hmac.compare_digest(expected.encode(), given.encode(errors="replace"))


def verify(body: Mapping[str, object], secret: str) -> bool:
    """True when ``body["signature"]`` signs every other field of ``body`` exactly (the request form)."""
    return _same(sign(body, secret), body.get(SIGNATURE_FIELD))


def _legacy_form(body: Mapping[str, object]) -> dict[str, object] | None:
    """The published-vector form: no ``kind``, ``amount`` as ``str(float(amount))``; None if inapplicable."""
    legacy = {key: value for key, value in body.items() if key not in ("kind", SIGNATURE_FIELD)}
    if "amount" in legacy:
        amount = legacy["amount"]
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            return None
        try:
            legacy["amount"] = str(float(amount))
        except OverflowError:  # an integer beyond a float's range: no float was signed
            return None
    return legacy


def verify_event(body: Mapping[str, object], secret: str) -> bool:
    """Verify a webhook event over the fields as parsed, in constant time.

    Accepts the documented form (every field but ``signature``) and the published-vector variant (without
    ``kind``, ``amount`` as ``str(float(amount))``), the latter only tried when the former does not match.
    """
    given = body.get(SIGNATURE_FIELD)
    if _same(sign(body, secret), given):
        return True
    legacy_fields = _legacy_form(body)
    return legacy_fields is not None and _same(sign(legacy_fields, secret), given)
