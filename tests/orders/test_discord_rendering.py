"""The orders' Discord texts (bot/orders/rendering.py), the card hook (bot/orders/discord_cards.py) and the sandbox
checkout link (bot/orders/sandbox_link.py): exact values, every branch."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from bot.linking.links import LinkRepository
from bot.notifications.cards import check_components
from bot.notifications.embeds import check_message
from bot.orders import rendering
from bot.orders.discord_cards import OrderCards
from bot.orders.models import Order, OrderState, Transition
from bot.orders.prechecks import BlockReason
from bot.orders.sandbox_link import SANDBOX_INTEGRATION_ID, sample_checkout_link
from bot.orders.service import OrderService
from bot.orders.token import verify_purchase_token
from bot.shop.catalog import PaymentMethod
from bot.storage import Database
from tests.orders.conftest import INTEGRATION_ID, SECRET, purchase_claims, sign

S = OrderState
WHEN = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ORDER = Order(
    id="abc_DEF-123",
    login="darth",
    email="d@example.com",
    product_key="cs2-30",
    nle=None,
    currency="EUR",
    method=PaymentMethod.MANUAL,
    amount=Decimal("20.00"),
    nle_cost=Decimal("17.10"),
    state=S.AWAITING_PAYMENT,
    check_status="ok",
    check_reason=None,
    payment_reference=None,
    payment_claimed_at=None,
    claim_reference=None,
    paid_by=None,
    fulfil_attempt=0,
    request_id=None,
    auto_retry=False,
    last_error=None,
    discord_user_id=None,
    created_at=WHEN,
    updated_at=WHEN,
    expires_at=WHEN,
    form_token="t",
    seq=1,
)


def ids(components: list[dict[str, object]]) -> list[str]:
    return [str(b["custom_id"]) for row in components for b in row["components"]]  # type: ignore[attr-defined]


def fields(embed: dict[str, object]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed["fields"]}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("state", "claimed", "wanted"),
    [
        (S.AWAITING_PAYMENT, False, False),
        (S.AWAITING_PAYMENT, True, True),
        (S.EXPIRED, False, False),
        (S.EXPIRED, True, True),
        (S.CANCELLED, False, False),
        (S.CANCELLED, True, True),
        (S.PAID, False, True),
        (S.PAID, True, True),
        (S.FULFILLING, False, True),
        (S.DELIVERED, False, True),
        (S.NEEDS_ATTENTION, False, True),
        (S.REFUNDED, False, True),
    ],
)
def test_which_orders_want_a_card(state: OrderState, claimed: bool, wanted: bool) -> None:
    order = replace(ORDER, state=state, payment_claimed_at=WHEN if claimed else None)
    assert rendering.wants_card(order) is wanted


def test_buttons_by_state() -> None:
    oid = ORDER.id
    assert ids(rendering.card_components(ORDER)) == [f"order:confirm:{oid}", f"order:reject:{oid}"]
    assert ids(rendering.card_components(ORDER, requested_by=5)) == [f"order:approve:{oid}", f"order:reject:{oid}"]
    expired = replace(ORDER, state=S.EXPIRED)
    assert ids(rendering.card_components(expired)) == [f"order:confirm:{oid}"]
    assert ids(rendering.card_components(expired, requested_by=5)) == [f"order:approve:{oid}"]
    assert rendering.card_components(replace(ORDER, method=None)) == []
    assert rendering.card_components(replace(ORDER, method=PaymentMethod.CRYPTOPAY)) == []
    attention = replace(ORDER, state=S.NEEDS_ATTENTION)
    assert ids(rendering.card_components(attention)) == [f"order:retry:{oid}", f"order:refund:{oid}"]
    for state in (S.PAID, S.FULFILLING, S.DELIVERED, S.CANCELLED, S.REFUNDED):
        assert rendering.card_components(replace(ORDER, state=state), requested_by=5) == []
    check_components(rendering.card_components(attention))
    assert rendering.awaiting_second(replace(ORDER, state=S.PAID), 5) is False
    assert rendering.awaiting_second(ORDER, None) is False
    assert rendering.awaiting_second(expired, 5) is True


def test_custom_ids_match_the_buttons_template() -> None:
    import re

    for action in rendering.ACTIONS:
        match = re.fullmatch(rendering.CUSTOM_ID_PATTERN, rendering.custom_id(action, "x" * 64))
        assert match is not None
        assert match["action"] == action
    assert re.fullmatch(rendering.CUSTOM_ID_PATTERN, "order:delete:abc") is None
    assert re.fullmatch(rendering.CUSTOM_ID_PATTERN, "order:confirm:" + "x" * 65) is None


def test_the_card() -> None:
    card = rendering.card_embed(ORDER)
    assert card["title"] == "Order abc_DEF-123: Awaiting payment"
    assert "press **Confirm payment**" in card["description"]
    assert fields(card) == {
        "Product": "CS2, 30 days",
        "Recipient": "`darth`",
        "State": "awaiting_payment",
        "Price": "20.00 EUR (manual payment)",
        "Market cost": "17.10 NLE",
        "Created": f"<t:{int(WHEN.timestamp())}:f>",
    }
    assert card["color"] == 0xF1C40F
    full = replace(
        ORDER,
        state=S.NEEDS_ATTENTION,
        discord_user_id=42,
        payment_claimed_at=WHEN,
        claim_reference="ref 9",
        paid_by=7,
        request_id="ord-abc-1",
        last_error="user is not invited",
        auto_retry=True,
    )
    shown = fields(rendering.card_embed(full))
    assert shown["Ordered by"] == "<@42>"
    assert shown["Customer says paid"] == f"<t:{int(WHEN.timestamp())}:f> — reference `ref 9`"
    assert shown["Payment confirmed by"] == "<@7>"
    assert shown["Request id"] == "`ord-abc-1`"
    assert shown["Neverlose refused"] == "user is not invited Retried automatically when the balance allows."
    assert "Mark refunded" in rendering.card_embed(full)["description"]
    blocked = fields(rendering.card_embed(replace(ORDER, check_status="blocked", check_reason="low_balance")))
    assert blocked["Cannot be offered"] == "the Market balance is too low"
    odd = fields(rendering.card_embed(replace(ORDER, check_status="blocked", check_reason="other")))
    assert odd["Cannot be offered"] == "other"
    waiting = fields(rendering.card_embed(ORDER, requested_by=5))
    assert waiting["Waiting for a second staff member"].startswith("<@5> confirmed the payment")
    assert "Waiting for a second staff member" not in fields(
        rendering.card_embed(replace(ORDER, state=S.PAID), requested_by=5)
    )
    nle = replace(ORDER, product_key="marketplace", nle=Decimal("12.5"), amount=None, currency=None)
    assert fields(rendering.card_embed(nle))["Price"] == "not chosen yet"
    assert fields(rendering.card_embed(nle))["Product"] == "12.50 NLE"  # money per locale (bot.i18n.money)
    for state in S:
        card = rendering.card_embed(replace(full, state=state), requested_by=5)
        check_message([card])
        assert card["title"] == f"Order abc_DEF-123: {state.label}"
        assert card["description"]


def test_next_steps_by_state() -> None:
    texts = {state: rendering.card_embed(replace(ORDER, state=state))["description"] for state in S}
    assert "expired meanwhile" in texts[S.EXPIRED]
    assert "expired" not in texts[S.AWAITING_PAYMENT]
    assert texts[S.PAID] == texts[S.FULFILLING] == "Paid; the bot is delivering it through the spending journal."
    assert texts[S.DELIVERED] == "Delivered. Nothing left to do."
    assert texts[S.REFUNDED] == "Refunded by hand."
    assert texts[S.CANCELLED] == "Closed without payment."
    assert rendering.card_embed(replace(ORDER, method=None))["description"] == "Waiting for the customer's payment."


def test_lists_details_and_receipts() -> None:
    page = rendering.list_embed([ORDER], title="Orders", page=1, has_more=True, filters="state paid")
    assert page["title"] == "Orders — page 2"
    lines = page["description"].split("\n")
    assert lines[0] == "Filters: state paid"
    assert lines[1].startswith("`abc_DEF-123` **awaiting_payment** CS2, 30 days → `darth` (20.00 EUR (manual payment))")
    assert lines[2] == "More on the next page."
    empty = rendering.list_embed([], title="Orders", page=0, has_more=False)
    assert empty["description"] == "No orders match."
    assert empty["title"] == "Orders — page 1"
    many = rendering.list_embed([ORDER] * 200, title="Orders", page=0, has_more=False)
    check_message([many])

    history = [
        Transition(ORDER.id, 1, None, S.AWAITING_PAYMENT, WHEN, "discord:42", None),
        Transition(ORDER.id, 2, S.AWAITING_PAYMENT, S.AWAITING_PAYMENT, WHEN, "customer", "payment claimed"),
        Transition(ORDER.id, 3, S.AWAITING_PAYMENT, S.PAID, WHEN, "staff:7", None),
    ]
    timeline = fields(rendering.detail_embed(ORDER, history))["Timeline"].split("\n")
    stamp = f"<t:{int(WHEN.timestamp())}:f>"
    assert timeline == [
        f"{stamp} awaiting_payment by <@42>",
        f"{stamp} awaiting_payment by customer — payment claimed",
        f"{stamp} awaiting_payment → paid by <@7> (staff)",
    ]
    check_message([rendering.detail_embed(ORDER, history * 20)])

    receipt = rendering.receipt_embed(replace(ORDER, state=S.DELIVERED), url="https://x/orders/abc")
    assert receipt["url"] == "https://x/orders/abc"
    assert receipt["description"] == "**CS2, 30 days** was delivered to your Neverlose account `darth`."
    assert fields(receipt) == {"Order": "[abc_DEF-123](https://x/orders/abc)", "Paid": "20.00 EUR (manual payment)"}
    assert rendering.actor_text("staff:x") == "staff:x"
    assert rendering.actor_text("provider:cryptopay") == "provider:cryptopay"
    assert rendering.format_nle(Decimal("1234.5")) == "1,234.50 NLE"


def test_command_answers_filters_mine_and_placed() -> None:
    assert rendering.filters_text(None, None, None) == ""
    assert rendering.filters_text("paid", None, None) == "state paid"
    assert rendering.filters_text(None, "darth", None) == "login darth"
    assert rendering.filters_text(None, None, 7) == "last 7 days"
    assert rendering.filters_text("cancelled", "a49", 1) == "state cancelled, login a49, last 1 day"

    mine = rendering.mine_embed([ORDER], url_of=lambda order_id: f"https://x/orders/{order_id}")
    assert mine == {
        "title": "Your orders",
        "description": "[abc_DEF-123](https://x/orders/abc_DEF-123) **Awaiting payment** CS2, 30 days → `darth`",
        "color": 0x3498DB,
    }
    check_message([rendering.mine_embed([ORDER] * 200, url_of=lambda order_id: "https://x/" + "o" * 200)])

    url = "https://x/orders/abc_DEF-123"
    placed = rendering.placed_text(ORDER, url=url)
    assert placed == f"Your order for **CS2, 30 days** to `darth`: {url}\nOpen it to pay."
    blocked = replace(ORDER, check_status="blocked", check_reason=BlockReason.USER_NOT_FOUND.value)
    assert rendering.placed_text(blocked, url=url) == (
        f"Your order {url} cannot be paid right now: {BlockReason.USER_NOT_FOUND.customer_text}"
    )
    unchecked = replace(ORDER, check_status="blocked", check_reason=None)
    assert rendering.placed_text(unchecked, url=url).startswith("Your order for **CS2, 30 days**")


# ---------------------------------------------------------------- the hook
async def card_rows(db: Database, order_id: str) -> list[str]:
    rows = await db.fetchall(
        "SELECT dedupe_key FROM notification_outbox WHERE target = ? ORDER BY id", (f"card:orders:{order_id}",)
    )
    return [str(r[0]) for r in rows]


async def test_cards_start_at_the_claim_and_follow_every_change(orders: OrderService, market_db: Database) -> None:
    woken: list[int] = []
    cards = OrderCards(order_url=orders.order_url, wake=lambda: woken.append(1))
    orders.add_transition_hook(cards.on_transition)
    abandoned = await orders.create_for_discord_user(9, "darth", "cs2-30")
    await orders.cancel(abandoned.id, "customer", "changed my mind")
    assert await card_rows(market_db, abandoned.id) == []

    order = await orders.create_for_discord_user(9, "darth", "cs2-30")
    assert await card_rows(market_db, order.id) == []
    claimed = await orders.claim_manual_payment(order.id, "ref")
    assert await card_rows(market_db, order.id) == [f"card:orders:{order.id}:{claimed.seq}"]
    await orders.confirm_payment(order.id, PaymentMethod.MANUAL, None, "staff:1")
    await orders.drain()
    rows = await card_rows(market_db, order.id)
    assert rows == [f"card:orders:{order.id}:{seq}" for seq in range(claimed.seq, claimed.seq + 4)]
    assert woken
    # no receipt: ordered by Discord user 9, who gets it
    dms = await market_db.fetchall("SELECT target, dedupe_key FROM notification_outbox WHERE target LIKE 'dm:%'")
    assert [(str(r[0]), str(r[1])) for r in dms] == [("dm:9", f"order-receipt:{order.id}")]


async def test_the_card_hook_writes_nothing_for_a_new_order(orders: OrderService, market_db: Database) -> None:
    """Why the orders channel's hook is registered for changes only (``OrdersDiscord.attach``): whichever way an
    order is created, its creation has no card and no receipt to queue."""
    cards = OrderCards(order_url=orders.order_url)
    created = [
        await orders.create_for_discord_user(9, "darth", "cs2-30"),
        await orders.create_for_discord_user(9, "darth", "marketplace", Decimal("5")),
        (
            await orders.create_from_token(
                verify_purchase_token(sign(purchase_claims()), secret=SECRET, integration_id=INTEGRATION_ID)
            )
        )[0],
    ]
    for order in created:
        creation = (await orders.history(order.id))[0]
        assert creation.seq == 1
        async with market_db.transaction() as conn:
            await cards.on_transition(conn, order, creation)
    assert await market_db.fetchall("SELECT id FROM notification_outbox") == []


async def test_receipts_go_to_the_linked_recipient_or_nobody(orders: OrderService, market_db: Database) -> None:
    cards = OrderCards(order_url=orders.order_url)
    orders.add_transition_hook(cards.on_transition)
    await LinkRepository(market_db).link(555, "sub-a49", "A49")
    for login in ("a49", "darth"):
        order = await orders.create_for_discord_user(1, login, "marketplace", Decimal("5"))
        await market_db.execute("UPDATE orders SET discord_user_id = NULL WHERE id = ?", (order.id,))
        await orders.confirm_payment(order.id, PaymentMethod.MANUAL, None, "staff:1")
    await orders.drain()
    dms = await market_db.fetchall("SELECT target FROM notification_outbox WHERE target LIKE 'dm:%'")
    assert [str(r[0]) for r in dms] == ["dm:555"]  # darth is not linked: no receipt


def test_the_sandbox_link_verifies_as_neverlose_would() -> None:
    now = datetime.now(UTC)
    link = sample_checkout_link(
        "http://127.0.0.1:8080/", "/checkout", "sandbox-secret", SANDBOX_INTEGRATION_ID, now=now
    )
    prefix = "http://127.0.0.1:8080/checkout?nl_purchase="
    assert link.startswith(prefix)
    claims = verify_purchase_token(
        link.removeprefix(prefix), secret="sandbox-secret", integration_id=SANDBOX_INTEGRATION_ID
    )
    assert claims.login == "darth"
    assert str(claims.product_key) == "cs2-30"
    import jwt

    payload = jwt.decode(link.removeprefix(prefix), options={"verify_signature": False})
    assert payload["iss"] == "NLRI"
    assert payload["exp"] - payload["iat"] == 3600
    assert payload["iat"] == int(now.timestamp())
    assert jwt.get_unverified_header(link.removeprefix(prefix))["alg"] == "HS256"


async def test_a_card_discord_would_refuse_never_holds_the_order_back(
    orders: OrderService, market_db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    orders.add_transition_hook(OrderCards(order_url=orders.order_url).on_transition)
    monkeypatch.setattr(rendering, "card_embed", lambda order, requested_by=None, locale="en": {"title": "x" * 300})
    order = await orders.create_for_discord_user(9, "darth", "cs2-30")
    claimed = await orders.claim_manual_payment(order.id, None)
    assert claimed.payment_claimed_at is not None  # the change happened
    assert await card_rows(market_db, order.id) == []
    assert f"order card not queued order_id={order.id}" in caplog.text


async def test_a_claimed_order_keeps_its_card_when_it_expires_or_is_cancelled(
    orders: OrderService, market_db: Database, clock: Any
) -> None:
    from datetime import timedelta

    orders.add_transition_hook(OrderCards(order_url=orders.order_url).on_transition)
    expiring = await orders.claim_manual_payment((await orders.create_for_discord_user(9, "darth", "cs2-30")).id, None)
    cancelled = await orders.claim_manual_payment((await orders.create_for_discord_user(9, "darth", "cs2-30")).id, None)
    await orders.cancel(cancelled.id, "staff:1", "no money")
    clock.advance(timedelta(hours=2))
    await orders.expire_due()
    assert len(await card_rows(market_db, expiring.id)) == 2  # claimed, expired
    assert len(await card_rows(market_db, cancelled.id)) == 2  # claimed, cancelled
