"""Orders in Discord, end to end: a real ResellerBot (all cogs, shop on) against the fake Discord and the Market
simulator: the card in the orders channel (posted once, edited), its staff-only buttons, the daily limit and
the two-person rule, /orders, /order, /buy, /orders mine and the DM receipt."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from bot.core import ResellerBot
from bot.guild_config import ChannelKind
from bot.linking.links import LinkRepository
from bot.market.retry import RetryPolicy
from bot.market.simulator.runner import RunningSimulator
from bot.orders.discord_feature import OrdersDiscord
from bot.orders.models import Order, OrderState
from bot.payments.enabled import set_manual_instructions
from bot.shop.price_table import PriceEntry, PriceTable
from bot.staff.audit import AuditQuery
from bot.staff.models import AuditEvent
from tests.fake_discord import FakeDiscord
from tests.plugins.bot import StartBot
from tests.staff.conftest import Env
from tests.staff.test_rendering_and_limits import _check_named, _check_options

BASE = "https://shop.example"
NOT_STAFF = "Only staff can use this"


@dataclass
class Shop(Env):
    """The staff tests' bot and fake Discord (``run``, ``answered``) with the shop on and an orders channel."""

    @property
    def feature(self) -> OrdersDiscord:
        assert self.bot.order_discord is not None
        return self.bot.order_discord

    @property
    def channel_id(self) -> int:
        return self.fake.channels["general"].id

    async def claimed_order(self, login: str = "darth", *, nle: Decimal | None = None, user: int = 4242) -> Order:
        """A manual order the customer says they paid (what puts a card in the channel)."""
        service = self.feature.service
        order = await service.create_for_discord_user(user, login, "marketplace" if nle else "cs2-30", nle)
        assert order.check_status == "ok", order.check_reason
        return await service.claim_manual_payment(order.id, "bank ref 77")

    def cards(self, order_id: str) -> list[dict[str, Any]]:
        return [m for m in self.fake.messages("general") if m["embeds"] and order_id in m["embeds"][0]["title"]]

    async def card(self, order_id: str, needle: str = "") -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            found = self.cards(order_id)
            return found[0] if found and needle in str(found[0]) else None

        return await self.fake.wait_for(find, timeout=5)  # type: ignore[no-any-return]

    def edits(self, message: dict[str, Any]) -> int:
        return len(self.fake.calls_to("PATCH", f"/channels/{self.channel_id}/messages/{message['id']}"))

    async def state(self, order_id: str, state: OrderState) -> Order:
        await self.feature.service.drain()
        order = await self.feature.service.get(order_id)
        assert order.state is state, (order.state, order.last_error)
        return order


@pytest.fixture
async def shop(
    start_bot: StartBot, fake_discord: FakeDiscord, market_sim: RunningSimulator, market_retry: RetryPolicy
) -> Shop:
    bot = await start_bot(
        MARKET_INTEGRATION_ID="1",
        PUBLIC_BASE_URL=BASE,
        AUDIT_CHANNEL_ID=str(fake_discord.channels["audit"].id),
        STAFF_DAILY_LIMIT="200",
        TRANSFER_APPROVAL_THRESHOLD="100",
    )
    return await ready_shop(
        bot,
        fake_discord,
        market_sim,
        market_retry,
        cs2_30="20.00",
        instructions=f"{IBAN}; put the order number in the comment.",
    )


IBAN = "IBAN DE00 1234"


async def ready_shop(
    bot: ResellerBot,
    fake_discord: FakeDiscord,
    market_sim: RunningSimulator,
    market_retry: RetryPolicy,
    *,
    cs2_30: str,
    instructions: str = IBAN,
) -> Shop:
    """A started bot made ready for orders: quick Market retries, EUR prices for CS2 30 days and 1 NLE, the
    manual method with ``instructions``, the orders channel."""
    bot.market.retry = market_retry
    bot.journal.retry = market_retry
    table = PriceTable(bot.db)
    for entry in (PriceEntry("cs2-30", "EUR", Decimal(cs2_30)), PriceEntry("marketplace", "EUR", Decimal("1.10"))):
        await table.put(entry, updated_by=None)
    await set_manual_instructions(bot.db, instructions)
    await bot.guild_config.set_channel(ChannelKind.ORDERS, fake_discord.channels["general"].id, updated_by=None)
    return Shop(fake_discord, bot, market_sim)


# ---------------------------------------------------------------- commands
async def test_order_commands_within_discord_limits(shop: Shop) -> None:
    payloads = [command.to_dict(shop.bot.tree) for command in shop.bot.tree.get_commands()]
    names = [p["name"] for p in payloads]
    assert len(set(names)) == len(names)
    assert {"orders", "order", "buy"} <= set(names)
    problems: list[str] = []
    for payload in payloads:
        _check_named(payload, f"/{payload['name']}", problems)
        _check_options(payload.get("options") or [], f"/{payload['name']}", problems)
    assert problems == []
    order = next(p for p in payloads if p["name"] == "order")
    assert int(order["default_member_permissions"]) == 32  # Manage Server: hidden from customers
    assert {o["name"] for o in order["options"]} == {"show", "retry", "cancel", "refund"}
    shop.fake.assert_no_violations()


async def test_setup_notifications_offers_the_orders_channel(shop: Shop) -> None:
    rec = await shop.run(
        "setup", {"kind": "orders", "channel": shop.fake.channels["audit"]}, user="owner", subcommand="notifications"
    )
    await shop.answered(rec, "Orders notifications now go to")
    assert await shop.bot.guild_config.channel_id(ChannelKind.ORDERS) == shop.fake.channels["audit"].id


async def test_the_cog_declines_without_the_shop(start_bot: StartBot) -> None:
    bot = await start_bot()
    assert bot.order_discord is None
    assert "cogs.orders" in bot.extension_report.declined
    assert "MARKET_INTEGRATION_ID" in bot.extension_report.declined["cogs.orders"]


# ---------------------------------------------------------------- the card and its buttons
async def test_confirmation_delivers_once_and_the_card_is_edited_not_reposted(shop: Shop) -> None:
    order = await shop.claimed_order()
    card = await shop.card(order.id, "order:confirm:")
    buttons = [c["custom_id"] for row in card["components"] for c in row["components"]]
    assert buttons == [f"order:confirm:{order.id}", f"order:reject:{order.id}"]
    assert "bank ref 77" in str(card["embeds"])

    stranger = await shop.fake.click_button(card, f"order:confirm:{order.id}", user="member")
    await stranger.wait_response()
    assert stranger.ephemeral
    assert NOT_STAFF in stranger.all_text()
    assert (await shop.feature.service.get(order.id)).state is OrderState.AWAITING_PAYMENT

    press = await shop.fake.click_button(card, f"order:confirm:{order.id}", user="staff")
    assert "confirmed" in await shop.answered(press, "confirmed")
    assert press.ephemeral
    delivered = await shop.state(order.id, OrderState.DELIVERED)
    assert delivered.paid_by == shop.fake.staff.id
    assert len(shop.sim.state.effects("gift-product")) == 1
    card = await shop.card(order.id, "Delivered")
    assert card["components"] == []
    assert len(shop.cards(order.id)) == 1  # one message, edited
    assert shop.edits(card) >= 1
    posts = [c for c in shop.fake.calls_to("POST", f"/channels/{shop.channel_id}/messages") if c.status == 200]
    assert len(posts) == 1

    events = [(r.entry.action, r.entry.event) for r in await shop.bot.staff.audit.query(AuditQuery())]  # type: ignore[union-attr]
    assert ("order confirm", AuditEvent.REQUESTED) in events
    assert ("order confirm", AuditEvent.REFUSED) in events  # the non-staff press
    shop.fake.assert_no_violations()


async def test_reject_button(shop: Shop) -> None:
    order = await shop.claimed_order()
    card = await shop.card(order.id, "order:reject:")
    press = await shop.fake.click_button(card, f"order:reject:{order.id}", user="staff")
    assert "rejected" in await shop.answered(press, "rejected")
    await shop.state(order.id, OrderState.CANCELLED)
    card = await shop.card(order.id, "Cancelled")
    assert card["components"] == []
    assert shop.sim.state.effects() == []


async def test_daily_limit_refuses_a_confirmation(shop: Shop) -> None:
    await shop.bot.guild_config.set_daily_limit(Decimal("20"), updated_by=None)
    first, second = await shop.claimed_order(), await shop.claimed_order()
    card = await shop.card(first.id, "order:confirm:")
    await shop.answered(await shop.fake.click_button(card, f"order:confirm:{first.id}", user="staff"), "confirmed")
    card = await shop.card(second.id, "order:confirm:")
    press = await shop.fake.click_button(card, f"order:confirm:{second.id}", user="staff")
    text = await shop.answered(press, "Daily limit")
    assert "you have used 17.10 of 20.00 NLE" in text
    await shop.state(first.id, OrderState.DELIVERED)
    assert (await shop.feature.service.get(second.id)).state is OrderState.AWAITING_PAYMENT
    assert len(shop.sim.state.effects("gift-product")) == 1


async def test_above_the_threshold_a_second_staff_member_approves(shop: Shop) -> None:
    order = await shop.claimed_order("a49", nle=Decimal("150"))
    card = await shop.card(order.id, "order:confirm:")
    press = await shop.fake.click_button(card, f"order:confirm:{order.id}", user="staff")
    assert "different staff member" in await shop.answered(press, "above the approval threshold")
    card = await shop.card(order.id, "order:approve:")
    assert "Waiting for a second staff member" in str(card["embeds"])
    assert shop.sim.state.effects() == []

    self_approve = await shop.fake.click_button(card, f"order:approve:{order.id}", user="staff")
    await shop.answered(self_approve, "cannot approve your own confirmation")
    stranger = await shop.fake.click_button(card, f"order:approve:{order.id}", user="member")
    await shop.answered(stranger, NOT_STAFF)
    assert shop.sim.state.effects() == []

    approve = await shop.fake.click_button(card, f"order:approve:{order.id}", user="owner")
    assert "Approved" in await shop.answered(approve, "Approved")
    delivered = await shop.state(order.id, OrderState.DELIVERED)
    assert delivered.paid_by == shop.fake.staff.id  # spent in the requester's name, like /transfer
    assert len(shop.sim.state.effects("transfer-money")) == 1
    assert len(shop.cards(order.id)) == 1


async def test_needs_attention_retry_and_refund_buttons(shop: Shop) -> None:
    order = await shop.claimed_order()
    card = await shop.card(order.id, "order:confirm:")
    shop.sim.state.user("darth").invited.clear()  # type: ignore[union-attr]
    await shop.answered(await shop.fake.click_button(card, f"order:confirm:{order.id}", user="staff"), "confirmed")
    await shop.state(order.id, OrderState.NEEDS_ATTENTION)
    card = await shop.card(order.id, "order:retry:")
    assert "order:refund:" in str(card["components"])
    retry = await shop.fake.click_button(card, f"order:retry:{order.id}", user="staff")
    assert "refused again" in await shop.answered(retry, "retried")
    card = await shop.card(order.id, "order:refund:")  # needs attention again, once the card caught up
    refund = await shop.fake.click_button(card, f"order:refund:{order.id}", user="staff")
    await refund.wait_response()
    submitted = await shop.fake.submit_modal(refund, {"note": "sent back by bank transfer"}, user="staff")
    assert "marked refunded" in await shop.answered(submitted, "refunded")
    await shop.state(order.id, OrderState.REFUNDED)
    card = await shop.card(order.id, "Refunded")
    assert card["components"] == []
    assert shop.sim.state.effects("gift-product") == []


# ---------------------------------------------------------------- commands
async def test_orders_list_filters_and_pagination(shop: Shop) -> None:
    service = shop.feature.service
    ids = [(await service.create_for_discord_user(7, "darth", "cs2-30")).id for _ in range(12)]
    other = await service.create_for_discord_user(8, "a49", "marketplace", Decimal("5"))
    await service.cancel(ids[0], "system", "test")
    rec = await shop.run("orders", {}, subcommand="list")
    text = await shop.answered(rec, "page 1")
    assert "More on the next page" in text
    message = rec.original_message()
    assert message is not None
    assert text.count("`darth`") + text.count("`a49`") == 10
    nxt = await shop.fake.click_button(message, "orders:next", user="staff")
    await nxt.wait_response()
    await shop.fake.wait_for(lambda: "page 2" in str(shop.fake.state_message(int(message["id"]))))
    page_two = str(shop.fake.state_message(int(message["id"])))
    assert ids[0] in page_two
    assert "More on the next page" not in page_two

    by_login = await shop.run("orders", {"login": "a49"}, subcommand="list")
    text = await shop.answered(by_login, "page 1")
    assert other.id in text
    assert ids[1] not in text
    by_state = await shop.run("orders", {"state": "cancelled", "days": 1}, subcommand="list")
    text = await shop.answered(by_state, "page 1")
    assert ids[0] in text
    assert ids[1] not in text
    assert "Filters: state cancelled, last 1 day" in text

    refused = await shop.run("orders", {}, user="member", subcommand="list")
    await shop.answered(refused, NOT_STAFF)


async def test_order_show_cancel_refund_commands(shop: Shop) -> None:
    order = await shop.claimed_order()
    show = await shop.run("order", {"id": order.id}, subcommand="show")
    text = await shop.answered(show, "Timeline")
    assert "payment claimed" in text
    assert "awaiting_payment" in text
    missing = await shop.run("order", {"id": "nope"}, subcommand="show")
    await shop.answered(missing, "No order `nope`")
    typed = await shop.run("order", {"id": "no`**pe**"}, subcommand="show")
    await shop.answered(typed, "No order `no'**pe**`")
    refund_early = await shop.run("order", {"id": order.id, "note": "paid back"}, subcommand="refund")
    await shop.answered(refund_early, "cannot be marked refunded")
    cancel = await shop.run("order", {"id": order.id, "reason": "duplicate"}, subcommand="cancel")
    await shop.answered(cancel, "cancelled (duplicate)")
    await shop.state(order.id, OrderState.CANCELLED)
    retry = await shop.run("order", {"id": order.id}, subcommand="retry")
    await shop.answered(retry, "cannot be retried")
    stranger = await shop.run("order", {"id": order.id}, user="member", subcommand="show")
    await shop.answered(stranger, NOT_STAFF)
    actions = {(r.entry.action, r.entry.event) for r in await shop.bot.staff.audit.query(AuditQuery())}  # type: ignore[union-attr]
    assert ("order cancel", AuditEvent.SUCCEEDED) in actions
    assert ("order refund", AuditEvent.REFUSED) in actions


async def test_buy_for_linked_and_unlinked_members_and_orders_mine(shop: Shop) -> None:
    unlinked = await shop.run("buy", {"product": "cs2", "plan": 30}, user="member", subcommand="product")
    await shop.answered(unlinked, "Link your Neverlose account first")
    assert await shop.feature.service.find() == []

    await LinkRepository(shop.bot.db).link(shop.fake.member.id, "sub-darth", "darth")
    rec = await shop.run("buy", {"product": "cs2", "plan": 30}, user="member", subcommand="product")
    text = await shop.answered(rec, f"{BASE}/orders/")
    assert rec.ephemeral
    (order,) = await shop.feature.service.find()
    assert order.login == "darth"
    assert order.discord_user_id == shop.fake.member.id
    assert f"{BASE}/orders/{order.id}" in text

    nle = await shop.run("buy", {"amount": "12,50"}, user="member", subcommand="nle")
    await shop.answered(nle, "12.50 NLE")
    bad = await shop.run("buy", {"amount": "lots"}, user="member", subcommand="nle")
    await shop.answered(bad, "not an amount")
    zero = await shop.run("buy", {"amount": "0"}, user="member", subcommand="nle")
    await shop.answered(zero, "cannot be placed")

    mine = await shop.run("orders", {}, user="member", subcommand="mine")
    text = await shop.answered(mine, "Your orders")
    assert f"[{order.id}]({BASE}/orders/{order.id})" in text
    final = mine.final_message()
    assert final is not None
    assert str(final["embeds"]).count("**Awaiting payment**") == 2
    nobody = await shop.run("orders", {}, user="owner", subcommand="mine")
    await shop.answered(nobody, "no orders yet")


async def test_a_refund_note_submitted_after_a_restart_is_answered(
    shop: Shop, start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    """The note's modal lived in the first process: its submission reaches no modal. It is answered at once
    (not Discord's "Something went wrong"), and the order stays as it was, its card's Refund button still there."""
    order = await shop.claimed_order()
    card = await shop.card(order.id, "order:confirm:")
    shop.sim.state.user("darth").invited.clear()  # type: ignore[union-attr]
    await shop.answered(await shop.fake.click_button(card, f"order:confirm:{order.id}", user="staff"), "confirmed")
    await shop.state(order.id, OrderState.NEEDS_ATTENTION)
    card = await shop.card(order.id, "order:refund:")
    refund = await shop.fake.click_button(card, f"order:refund:{order.id}", user="staff")
    await refund.wait_response()
    await shop.bot.close()

    bot = await start_bot(MARKET_INTEGRATION_ID="1", PUBLIC_BASE_URL=BASE)  # same database file
    submitted = await fake_discord.submit_modal(refund, {"note": "sent back by bank transfer"}, user="staff")
    await submitted.wait_response()
    assert submitted.ephemeral
    assert "This press did nothing; check the message (and `/audit`)" in (submitted.response or {})["data"]["content"]
    assert bot.orders is not None
    assert (await bot.orders.service.get(order.id)).state is OrderState.NEEDS_ATTENTION
    fake_discord.assert_no_violations()


async def test_a_bad_nle_amount_is_echoed_without_breaking_its_code_span(shop: Shop) -> None:
    """The member's own text comes back inside backticks: a backtick or a line break of theirs must not end the
    code span (markdown of theirs rendered in the bot's answer) and nothing is ordered."""
    await LinkRepository(shop.bot.db).link(shop.fake.member.id, "sub-darth", "darth")
    bad = await shop.run("buy", {"amount": "**5**`@everyone\n"}, user="member", subcommand="nle")
    text = await shop.answered(bad, "not an amount")
    assert "`**5**'@everyone ` is not an amount" in text
    assert await shop.feature.service.find() == []


async def test_receipt_by_dm_when_delivered(shop: Shop) -> None:
    await LinkRepository(shop.bot.db).link(shop.fake.member.id, "sub-a49", "a49")
    order = await shop.claimed_order("a49", nle=Decimal("5"), user=shop.fake.member.id)
    card = await shop.card(order.id, "order:confirm:")
    await shop.answered(await shop.fake.click_button(card, f"order:confirm:{order.id}", user="staff"), "confirmed")
    await shop.state(order.id, OrderState.DELIVERED)
    dm = await shop.fake.wait_for_dm("member", lambda m: "Receipt" in str(m["embeds"]))
    assert order.id in str(dm["embeds"])
    assert f"{BASE}/orders/{order.id}" in str(dm["embeds"])
    assert len(shop.fake.dm_messages("member")) == 1


async def test_a_deleted_card_is_posted_again(shop: Shop) -> None:
    order = await shop.claimed_order()
    card = await shop.card(order.id, "order:confirm:")
    await shop.bot.http.delete_message(shop.channel_id, int(card["id"]))  # someone deleted the card
    assert shop.cards(order.id) == []
    await shop.feature.service.cancel(order.id, "customer", "changed my mind")
    again = await shop.card(order.id, "Cancelled")
    assert again["id"] != card["id"]
    assert len(shop.cards(order.id)) == 1


async def test_cards_and_buttons_survive_a_restart(
    start_bot: StartBot, fake_discord: FakeDiscord, market_sim: RunningSimulator
) -> None:
    variables = {"MARKET_INTEGRATION_ID": "1", "PUBLIC_BASE_URL": BASE}
    first = await start_bot(**variables)
    await PriceTable(first.db).put(PriceEntry("cs2-30", "EUR", Decimal("20.00")), updated_by=None)
    await set_manual_instructions(first.db, "IBAN DE00 1234")
    await first.guild_config.set_channel(ChannelKind.ORDERS, fake_discord.channels["general"].id, updated_by=None)
    shop = Shop(fake_discord, first, market_sim)
    order = await shop.claimed_order()
    card = await shop.card(order.id, "order:confirm:")
    await first.close()  # the bot restarts between the card and the press

    shop.bot = await start_bot(**variables)  # same database file
    press = await fake_discord.click_button(card, f"order:confirm:{order.id}", user="staff")
    await shop.answered(press, "confirmed")
    await shop.state(order.id, OrderState.DELIVERED)
    card = await shop.card(order.id, "Delivered")
    assert len(shop.cards(order.id)) == 1  # edited after the restart, not posted again
    assert len(market_sim.state.effects("gift-product")) == 1


async def test_buy_says_why_an_order_cannot_be_paid(shop: Shop) -> None:
    await LinkRepository(shop.bot.db).link(shop.fake.member.id, "sub-ghost", "ghost")
    rec = await shop.run("buy", {"product": "cs2", "plan": 30}, user="member", subcommand="product")
    text = await shop.answered(rec, "cannot be paid right now")
    assert "We could not find this Neverlose account." in text
    (order,) = await shop.feature.service.find()
    assert order.check_status == "blocked"
