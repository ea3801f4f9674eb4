"""Hypothesis fuzz of the webhook route: random bodies and headers never get a 5xx, and nothing whose
signature is invalid is ever accepted (or quarantined). Correctly signed bodies with values of every JSON type
(null, booleans, integers of any size, floats, strings, arrays, objects, nested) in every field, ``kind``
included, signed in both accepted forms (the documented one over every field, and the published-vector one
without ``kind`` and with ``str(float(amount))``), are always answered 200: accepted when well shaped,
quarantined otherwise."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.market.signing import sign, signed_body, verify_event
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


# ------------------------------------------------------------------------------------------ signed odd shapes
EDGE_NUMBERS = st.sampled_from(
    [0, -1, 1, 2**63 - 1, 2**63, -(2**63), 2**64, 10**30, 10**400, 10**4299, 0.0, -0.0, 1e9, 1e9 + 1, 5e-324, 1e308]
)
"""Integers past 64 bits and past a float's range (10**400), the longest one ``int()`` still converts
(4,300 digits), the amount bounds, the smallest float."""
ANY_JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        EDGE_NUMBERS,
        st.text(max_size=20),
        st.sampled_from(["purchase", "transfer", "refund", "", "A49", "E3yugw"]),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=10,
)
"""A value of any JSON type, nested ones included."""
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "amount": st.one_of(st.floats(min_value=0.01, max_value=1e6), st.integers(1, 10**6)),
    "username": st.sampled_from(["A49", "bob_1", "a.b-c"]),
    "unique_id": st.integers(min_value=1, max_value=10**6),
    "item_id": st.sampled_from(["E3yugw", "x_1-Y"]),
}
FIELD_NAMES = {
    "purchase": ["kind", "amount", "username", "unique_id", "item_id"],
    "transfer": ["kind", "amount", "username", "unique_id"],
}


def published_form(body: dict[str, Any]) -> dict[str, Any] | None:
    """What the published test vectors sign: no ``kind``, ``amount`` as ``str(float(amount))``; ``None`` when
    the amount is no number a float can hold (then only the documented form can sign the body)."""
    fields = {key: value for key, value in body.items() if key not in ("kind", "signature")}
    if "amount" in fields:
        amount = fields["amount"]
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            return None
        try:
            fields["amount"] = str(float(amount))
        except OverflowError:
            return None
    return fields


@st.composite
def signed_odd_shapes(draw: st.DrawFn) -> tuple[bytes, str]:
    """(a correctly signed body, the form that signed it): the fields of a purchase or transfer, each either
    plausible or a value of any JSON type (``kind`` too), sometimes one missing or one extra."""
    shape = draw(st.sampled_from(["purchase", "transfer"]))
    fields: dict[str, Any] = {}
    for name in FIELD_NAMES[shape]:
        if draw(st.integers(0, 2)) == 0:
            fields[name] = draw(ANY_JSON)
        else:
            fields[name] = shape if name == "kind" else draw(PLAUSIBLE[name])
    change = draw(st.sampled_from(["none", "none", "drop", "add"]))
    if change == "drop":
        fields.pop(draw(st.sampled_from(FIELD_NAMES[shape])))
    elif change == "add":
        fields[draw(st.sampled_from(["item_id", "x", "", "signature_", "kind2"]))] = draw(ANY_JSON)
    raw = json.dumps(fields)
    body: dict[str, Any] = json.loads(raw)  # the values exactly as the receiver will parse them
    legacy = published_form(body)
    form = draw(st.sampled_from(["documented", "published"])) if legacy is not None else "documented"
    body["signature"] = sign(legacy if form == "published" and legacy is not None else body, SECRET)
    return json.dumps(body).encode(), form


def well_shaped(body: dict[str, Any]) -> bool:
    """The documented event shapes, written out independently of bot/webhooks/validation.py."""
    kind = body.get("kind")
    if kind not in ("purchase", "transfer") or set(body) != {*FIELD_NAMES[str(kind)], "signature"}:
        return False
    uid, amount, username = body["unique_id"], body["amount"], body["username"]
    if type(uid) is not int or not 1 <= uid <= 2**63 - 1:
        return False
    if type(amount) not in (int, float) or not 0 < amount <= 10**9:
        return False
    if type(username) is not str or not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", username):
        return False
    return kind == "transfer" or (
        type(body["item_id"]) is str and bool(re.fullmatch(r"[A-Za-z0-9_-]{1,32}", body["item_id"]))
    )


@settings(
    max_examples=800,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(signed=signed_odd_shapes())
async def test_fuzz_signed_bodies_of_any_shape_are_accepted_or_quarantined(
    fuzz_receiver: Receiver, signed: tuple[bytes, str]
) -> None:
    raw, form = signed
    body = json.loads(raw)
    shaped = well_shaped(body)
    event(f"{form} form, {'well shaped' if shaped else 'odd shape'}")
    event(f"kind is {type(body.get('kind')).__name__}")
    assert verify_event(body, SECRET)
    status, answer = await fuzz_receiver.post(raw)
    assert status == 200, answer
    if shaped:
        assert answer["status"] in {"accepted", "duplicate"}, body
    else:
        assert answer["status"] == "quarantined", body


WRONG_SHAPES: list[dict[str, Any]] = [
    {"kind": {}, "amount": 1.0, "username": "Repro", "unique_id": 777},
    {"kind": [], "amount": 1.0, "username": "Repro", "unique_id": 777},
    {"kind": ["purchase"], "amount": 1.0, "username": "Repro", "unique_id": 777},
    {"kind": {"purchase": 1}, "amount": 1.0, "username": "Repro", "unique_id": 777, "item_id": "E3yugw"},
    {"kind": "refund", "amount": 1.0, "username": "Repro", "unique_id": 777},
    {"kind": None, "amount": 1.0, "username": "Repro", "unique_id": 777},
    {"kind": True, "amount": 1.0, "username": "Repro", "unique_id": 777},
    {"kind": 1.5, "amount": 1.0, "username": "Repro", "unique_id": 777},
    {"kind": "transfer", "amount": True, "username": "Repro", "unique_id": 777},
    {"kind": "transfer", "amount": 10**400, "username": "Repro", "unique_id": 777},
    {"kind": "transfer", "amount": 1.0, "username": "Repro", "unique_id": 10**4299},
    {"kind": "transfer", "amount": 1.0, "username": "Repro", "unique_id": 2**63},
    {"kind": "transfer", "amount": 1.0, "username": {"a": [1, {"b": None}]}, "unique_id": 777},
    {"kind": "purchase", "amount": 1.0, "username": "Repro", "unique_id": 777, "item_id": ["E3yugw"]},
]


@pytest.mark.parametrize(
    ("fields", "form"),
    [
        (fields, form)
        for fields in WRONG_SHAPES
        for form in ("documented", "published")
        if form == "documented" or published_form(fields) is not None  # no float: only the documented form signs
    ],
    ids=lambda value: (
        value if isinstance(value, str) else "-".join(f"{k}={type(v).__name__}" for k, v in value.items())
    ),
)
async def test_signed_bodies_of_the_wrong_shape_are_quarantined(
    receiver: Receiver, fields: dict[str, Any], form: str
) -> None:
    """The issue's repros (``kind`` an object or an array was a 500) and their neighbours, in both forms."""
    legacy = published_form(fields)
    body = {**fields, "signature": sign(legacy if form == "published" and legacy is not None else fields, SECRET)}
    status, answer = await receiver.post(body)
    assert (status, answer) == (200, {"status": "quarantined"})
    assert await receiver.events() == []


@pytest.mark.parametrize(
    "raw",
    [
        b'{"kind": "transfer", "amount": NaN, "username": "A49", "unique_id": 1, "signature": "x"}',
        b'{"kind": "transfer", "amount": Infinity, "username": "A49", "unique_id": 1, "signature": "x"}',
        b'{"kind": "transfer", "amount": 1, "username": "A49", "unique_id": 1' + b"0" * 4400 + b', "signature": "x"}',
        b'{"kind": "transfer", "amount": 1' + b"0" * 400 + b', "username": "A49", "unique_id": 1, "signature": "x"}',
        b'{"kind": "transfer", "amount": 1e400, "username": "A49", "unique_id": 1, "signature": "x"}',
    ],
    ids=["nan", "infinity", "int-too-long-to-parse", "amount-beyond-float", "float-overflow"],
)
async def test_odd_numbers_with_a_wrong_signature_are_refused_not_crashed(receiver: Receiver, raw: bytes) -> None:
    status, answer = await receiver.post(raw)
    assert status in {400, 401}, answer
