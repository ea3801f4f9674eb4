"""Hypothesis fuzz of the webhook route: random bodies and headers never get a 5xx, and nothing whose
signature is invalid is ever accepted (or quarantined)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.market.signing import signed_body, verify_event
from tests.webhooks.helpers import SECRET, Receiver, open_db, running_receiver

KEYS = st.sampled_from(["kind", "amount", "username", "unique_id", "item_id", "signature", "x", "", "amoun"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["purchase", "transfer", "A49", "E3yugw", "0" * 64]),
)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


@st.composite
def event_like(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly-plausible events: sometimes validly signed, sometimes mutated after signing."""
    fields: dict[str, Any] = draw(st.dictionaries(KEYS, SCALARS, max_size=7))
    if draw(st.booleans()):
        fields.update(
            kind=draw(st.sampled_from(["purchase", "transfer", "refund"])),
            amount=draw(st.one_of(st.floats(min_value=0.01, max_value=1e6), st.integers(1, 10**6))),
            username=draw(st.sampled_from(["A49", "bob_1", "x y", ""])),
            unique_id=draw(st.integers(min_value=1, max_value=50)),
        )
    fields.pop("signature", None)
    mode = draw(st.sampled_from(["signed", "mutated", "random_sig", "unsigned"]))
    if mode in ("signed", "mutated"):
        fields = signed_body(fields, SECRET)
        if mode == "mutated" and len(fields) > 1:
            key = draw(st.sampled_from(sorted(k for k in fields if k != "signature")))
            fields[key] = draw(SCALARS)
    elif mode == "random_sig":
        fields["signature"] = draw(st.one_of(st.text(max_size=70), st.sampled_from(["0" * 64, "f" * 64])))
    return fields


BODIES = st.one_of(
    st.binary(max_size=300),
    JSONISH.map(lambda v: json.dumps(v).encode()),
    event_like().map(lambda v: json.dumps(v).encode()),
    event_like().map(lambda v: json.dumps(v).encode()[:-1]),
)
CONTENT_TYPES = st.one_of(
    st.just("application/json"),
    st.just("application/json"),
    st.just("application/json"),
    st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", "", "application/*"]),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30),
)
EXTRA_HEADERS = st.dictionaries(
    st.sampled_from(["X-Signature", "X-Forwarded-For", "Accept", "User-Agent", "X-Kind"]),
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30),
    max_size=3,
)


@pytest.fixture
async def fuzz_receiver(tmp_path: Path) -> AsyncIterator[Receiver]:
    async with open_db(tmp_path / "fuzz.sqlite3") as db, running_receiver(db) as receiver:
        yield receiver


def _validly_signed(raw: bytes) -> bool:
    try:
        body = json.loads(raw.decode("utf-8"))
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("signature"), str) and verify_event(body, SECRET)


@settings(
    max_examples=1200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=BODIES, content_type=CONTENT_TYPES, headers=EXTRA_HEADERS)
async def test_fuzz_never_5xx_never_accepts_a_bad_signature(
    fuzz_receiver: Receiver, raw: bytes, content_type: str, headers: dict[str, str]
) -> None:
    status, answer = await fuzz_receiver.post(raw, content_type=content_type, headers=headers)
    event(f"status {status}")
    assert status < 500, answer
    if status == 200:
        assert _validly_signed(raw)
        assert answer["status"] in {"accepted", "duplicate", "quarantined"}
    else:
        assert status in {400, 401, 413, 415}
