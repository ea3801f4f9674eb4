"""Property tests: whatever the client sends verifies on the simulator; money survives the JSON edge."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.market.client import MarketClient
from bot.market.models import MAX_AMOUNT, amount_to_wire
from bot.market.signing import verify
from bot.market.simulator.state import Refusal, SimulatorState
from bot.market.validation import validate_amount

amounts = st.decimals(min_value=Decimal("0.01"), max_value=MAX_AMOUNT, places=2, allow_nan=False, allow_infinity=False)
usernames = st.from_regex(r"[A-Za-z0-9._-]{1,64}", fullmatch=True)
request_ids = st.from_regex(r"[A-Za-z0-9._-]{1,80}", fullmatch=True)
secrets_ = st.text(min_size=1, max_size=40)


@given(amounts)
def test_every_accepted_amount_round_trips_through_float(amount: Decimal) -> None:
    accepted = validate_amount(amount)
    wire = amount_to_wire(accepted)
    assert Decimal(str(wire)).quantize(Decimal("0.01")) == accepted
    assert Decimal(str(json.loads(json.dumps(wire)))) == accepted


@settings(max_examples=300)
@given(
    user_id=st.integers(min_value=1, max_value=2**53),
    secret=secrets_,
    username=usernames,
    request_id=request_ids,
    amount=amounts,
)
def test_any_body_the_client_sends_verifies_on_the_simulator(
    user_id: int, secret: str, username: str, request_id: str, amount: Decimal
) -> None:
    client = MarketClient(object(), base_url="http://sim/api/market", user_id=user_id, secret=secret)  # type: ignore[arg-type]
    raw = client.build_body({"id": request_id, "username": username, "amount": amount_to_wire(validate_amount(amount))})
    parsed = json.loads(raw)  # exactly what the server parses
    assert verify(parsed, secret)
    state = SimulatorState(user_id=user_id, secret=secret, balance=MAX_AMOUNT)
    state.add_user(username)
    state.process("transfer-money", parsed)  # raises Refusal on a signature or field problem
    assert state.balance == MAX_AMOUNT - amount
    with pytest.raises(Refusal, match=r"^Invalid id\.$"):
        state.process("transfer-money", parsed)
