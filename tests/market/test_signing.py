"""Signatures: the published vectors, both accepted event forms, and what must be refused."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.market.signing import canonical_string, sign, signed_body, verify, verify_event

PURCHASE = {
    "kind": "purchase",
    "amount": 0.9,
    "username": "A49",
    "unique_id": 89968,
    "item_id": "E3yugw",
    "signature": "dc20a4d73447ac51689d6e03115aa135a8d734e610352dda818e830e70a60560",
}
TRANSFER = {
    "kind": "transfer",
    "amount": 1,
    "username": "A49",
    "unique_id": 22,
    "signature": "51a6c1c281c4cd8c4e020f89cc3bdca6aa6c0747fc33f7112ef041064bd864a2",
}


def test_sign_matches_documented_purchase_vector_without_kind() -> None:
    fields = {k: v for k, v in PURCHASE.items() if k not in ("kind", "signature")}
    assert canonical_string(fields) == "amount0.9item_idE3yugwunique_id89968usernameA49"
    assert sign(fields, "key") == PURCHASE["signature"]


@pytest.mark.parametrize("event", [PURCHASE, TRANSFER], ids=["purchase", "transfer"])
def test_published_vectors_verify_with_secret_key(event: dict[str, object]) -> None:
    assert verify_event(event, "key")
    # As parsed from the JSON the server sent, too.
    assert verify_event(json.loads(json.dumps(event)), "key")


@pytest.mark.parametrize("event", [PURCHASE, TRANSFER], ids=["purchase", "transfer"])
def test_published_vectors_fail_with_another_secret(event: dict[str, object]) -> None:
    assert not verify_event(event, "other")
    assert not verify_event(event, "")


def test_documented_form_with_kind_verifies() -> None:
    body = signed_body({"kind": "transfer", "amount": 5, "username": "darth", "unique_id": 7}, "s3cret")
    assert verify_event(body, "s3cret")
    assert verify(body, "s3cret")


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 10},
        {"username": "a49"},
        {"unique_id": 23},
        {"kind": "purchase"},
        {"item_id": "x"},
    ],
)
def test_tampered_event_is_refused(change: dict[str, object]) -> None:
    body = signed_body({"kind": "transfer", "amount": 5, "username": "darth", "unique_id": 7}, "s3cret")
    assert not verify_event({**body, **change}, "s3cret")
    if "kind" not in change:
        assert not verify_event({**TRANSFER, **change}, "key")


def test_published_vector_form_does_not_cover_kind() -> None:
    # The published vectors predate ``kind``: a receiver must check that the fields match the kind.
    assert verify_event({**TRANSFER, "kind": "purchase"}, "key")


@pytest.mark.parametrize("signature", [None, 5, "", "zz", "é" * 64, TRANSFER["signature"].upper()])
def test_missing_or_malformed_signature_is_refused(signature: object) -> None:
    body: dict[str, object] = {k: v for k, v in TRANSFER.items() if k != "signature"}
    if signature is not None:
        body["signature"] = signature
    assert not verify_event(body, "key")


def test_legacy_form_requires_numeric_amount() -> None:
    body = {**TRANSFER, "amount": "1"}
    assert not verify_event(body, "key")
    assert not verify_event({**TRANSFER, "amount": True}, "key")


def test_an_amount_beyond_a_float_is_no_legacy_form_and_no_crash() -> None:
    fields = {"kind": "transfer", "amount": 10**400, "username": "A49", "unique_id": 1}
    assert not verify_event({**fields, "signature": "0" * 64}, "key")  # was OverflowError (a 500 upstream)
    assert verify_event(signed_body(fields, "key"), "key")  # the documented form still signs it


def test_request_form_signs_python_str_of_values() -> None:
    body = signed_body({"user_id": 1, "id": "x1", "username": "a49", "amount": 2.0}, "key")
    assert canonical_string(body) == "amount2.0idx1user_id1usernamea49"
    assert verify(body, "key")
    assert not verify({**body, "amount": 2}, "key")  # "2" is not "2.0": sign what you send


def test_signed_body_replaces_old_signature_and_keeps_input() -> None:
    fields: dict[str, object] = {"a": 1, "signature": "old"}
    body = signed_body(fields, "k")
    assert body["signature"] != "old"
    assert fields["signature"] == "old"
    assert body["signature"] == sign({"a": 1}, "k")


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=8).filter(lambda k: k != "signature"),
        st.one_of(st.integers(), st.floats(allow_nan=False), st.text(), st.booleans(), st.none()),
        max_size=6,
    ),
    st.text(min_size=1, max_size=12),
)
def test_any_signed_json_body_verifies_after_a_json_round_trip(fields: dict[str, object], secret: str) -> None:
    body = signed_body(fields, secret)
    parsed = json.loads(json.dumps(body))
    assert verify(parsed, secret)
    assert verify_event(parsed, secret)


@pytest.mark.parametrize("signature", ["\ud800", "\udfff" * 64, TRANSFER["signature"][:-1] + "\ud800"])
def test_a_signature_with_a_lone_surrogate_is_refused_not_raised(signature: str) -> None:
    # JSON can carry "\ud800"; Python parses it into a str that UTF-8 cannot encode strictly.
    body = json.loads(json.dumps({**TRANSFER, "signature": signature}))
    assert body["signature"] == signature
    assert verify_event(body, "key") is False
    assert verify(body, "key") is False


def test_verify_is_the_request_form_only() -> None:
    # verify() checks every field as sent: the published-vector form (no kind, float amount) is not enough.
    assert verify({k: v for k, v in TRANSFER.items() if k != "kind"}, "key") is False
    assert verify(TRANSFER, "key") is False
    body = signed_body({"kind": "transfer", "amount": 1, "username": "A49", "unique_id": 22}, "key")
    assert verify(body, "key") is True
    assert verify(body, "kez") is False


def test_legacy_form_signs_the_amount_as_a_float_and_leaves_out_kind() -> None:
    # Signed over "amount1.0unique_id22usernameA49": the JSON may show 1 or 1.0, kind or not.
    legacy = {k: v for k, v in TRANSFER.items() if k != "kind"}
    assert verify_event(legacy, "key") is True
    assert verify_event({**legacy, "amount": 1.0}, "key") is True
    assert verify_event({**legacy, "kind": "anything"}, "key") is True
    assert verify_event({**legacy, "amount": 1.5}, "key") is False
    assert verify_event({**legacy, "amount": None}, "key") is False
    assert verify_event({**legacy, "amount": [1]}, "key") is False


def test_legacy_form_without_an_amount_is_signed_over_the_other_fields() -> None:
    fields = {"unique_id": 5, "username": "A49"}
    body = {**fields, "kind": "transfer", "signature": sign(fields, "key")}
    assert verify_event(body, "key") is True
    assert verify_event({**body, "username": "A48"}, "key") is False


def test_sign_is_sha256_hex_of_the_canonical_text_and_the_secret() -> None:
    import hashlib

    fields = {"b": 2, "a": "x", "signature": "ignored"}
    assert canonical_string(fields) == "axb2"
    assert sign(fields, "s") == hashlib.sha256(b"axb2s").hexdigest()
    assert sign({"b": 2, "a": "x"}, "s") == sign(fields, "s")
    assert signed_body({"a": "é"}, "s")["signature"] == hashlib.sha256("aés".encode()).hexdigest()
