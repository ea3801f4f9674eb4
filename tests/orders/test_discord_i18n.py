"""Orders in Discord in Russian (issue #19): a member whose Discord is Russian gets /buy, /orders mine and the
DM receipt in Russian; a Russian staff member gets /order show and /orders list in Russian; the card in the
channel follows BOT_LOCALE. No English catalog text reaches them."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from bot.core import ResellerBot
from bot.i18n.preferences import member_key
from bot.linking.links import LinkRepository
from bot.market.retry import RetryPolicy
from bot.market.simulator.runner import RunningSimulator
from bot.orders.models import OrderState
from bot.staff.audit import AuditQuery
from tests.fake_discord import FakeDiscord
from tests.i18n.leaks import english_in
from tests.orders.test_discord import BASE, Shop, ready_shop
from tests.plugins.bot import StartBot


@pytest.fixture
async def shop_ru(
    start_bot: StartBot, fake_discord: FakeDiscord, market_sim: RunningSimulator, market_retry: RetryPolicy
) -> Shop:
    bot = await start_bot(
        MARKET_INTEGRATION_ID="1",
        PUBLIC_BASE_URL=BASE,
        AUDIT_CHANNEL_ID=str(fake_discord.channels["audit"].id),
        STAFF_DAILY_LIMIT="200",
        TRANSFER_APPROVAL_THRESHOLD="100",
        BOT_LOCALE="ru",
    )
    return await russian_shop(bot, fake_discord, market_sim, market_retry)


async def russian_shop(
    bot: ResellerBot, fake_discord: FakeDiscord, market_sim: RunningSimulator, market_retry: RetryPolicy
) -> Shop:
    """A started bot made ready for orders in Russian: prices, the manual method, the orders channel, and the
    member, staff and owner with a Russian Discord (also used by tests/i18n/test_everything_in_russian.py)."""
    shop = await ready_shop(bot, fake_discord, market_sim, market_retry, cs2_30="1234.50")
    for who in ("member", "staff", "owner"):
        fake_discord.user_locales[fake_discord.guild.members[who].id] = "ru"
    return shop


def _text(message: dict[str, Any] | None) -> str:
    assert message is not None
    return json.dumps({"content": message.get("content"), "embeds": message.get("embeds")}, ensure_ascii=False)


def assert_russian(text: str) -> None:
    assert english_in(text) == []


async def test_a_russian_member_buys_and_gets_a_russian_receipt(shop_ru: Shop) -> None:
    shop = shop_ru
    await LinkRepository(shop.bot.db).link(shop.fake.member.id, "sub-darth", "darth")
    unlinked = await shop.run("buy", {"product": "cs2", "plan": 30}, user="owner", subcommand="product")
    assert "Сначала привяжите аккаунт Neverlose" in await shop.answered(unlinked)
    bought = await shop.run("buy", {"product": "cs2", "plan": 30}, user="member", subcommand="product")
    text = await shop.answered(bought, "Ваш заказ")
    assert "**CS2, 30 дней**" in text
    assert_russian(_text(bought.final_message()))
    bad = await shop.run("buy", {"amount": "lots"}, user="member", subcommand="nle")
    assert "не сумма" in await shop.answered(bad)
    zero = await shop.run("buy", {"amount": "0"}, user="member", subcommand="nle")
    answer = await shop.answered(zero, "нельзя оформить")
    assert "укажите сумму NLE больше 0" in answer
    mine = await shop.run("orders", {}, user="member", subcommand="mine")
    await shop.answered(mine, "Ваши заказы")
    assert "**Ожидает оплаты**" in _text(mine.final_message())
    assert_russian(_text(mine.final_message()))
    # The member's language was remembered for the DM sent later.
    assert await shop.bot.guild_config.value(member_key(shop.fake.member.id)) == "ru"

    order = await shop.claimed_order("darth", nle=Decimal("5"), user=shop.fake.member.id)
    card = await shop.card(order.id, "order:confirm:")
    assert "Подтвердить оплату" in str(card["components"])  # BOT_LOCALE=ru: the card is Russian
    assert_russian(_text(card))
    pressed = await shop.fake.click_button(card, f"order:confirm:{order.id}", user="staff")
    answer = await shop.answered(pressed, "подтверждена; выдаём 5,00\N{NO-BREAK SPACE}NLE на `darth`")
    assert_russian(answer)
    assert shop.bot.staff is not None
    audited = [r.entry.result for r in await shop.bot.staff.audit.query(AuditQuery())]
    assert any("confirmed; delivering 5.00 NLE" in (result or "") for result in audited), "the audit stays English"
    await shop.state(order.id, OrderState.DELIVERED)
    dm = await shop.fake.wait_for_dm("member", lambda m: "Чек" in str(m["embeds"]))
    assert "5,00\N{NO-BREAK SPACE}NLE" in _text(dm)
    assert_russian(_text(dm))
    shop.fake.assert_no_violations()  # Discord's limits (embed sizes, components) hold in Russian too


async def test_a_russian_staff_member_reads_orders_in_russian(shop_ru: Shop) -> None:
    shop = shop_ru
    order = await shop.claimed_order()
    show = await shop.run("order", {"id": order.id}, subcommand="show")
    text = await shop.answered(show, "История")
    assert "Покупатель сообщил об оплате" in text
    assert "1\N{NO-BREAK SPACE}234,50\N{NO-BREAK SPACE}EUR" in text
    assert_russian(_text(show.final_message()))
    missing = await shop.run("order", {"id": "nope"}, subcommand="show")
    assert "Заказа `nope` нет." in await shop.answered(missing)
    listed = await shop.run("orders", {"state": "awaiting_payment", "days": 2}, subcommand="list")
    text = await shop.answered(listed, "Заказы — страница 1")
    assert "Фильтры: статус ожидает оплаты, последние 2 дня" in text
    assert_russian(_text(listed.final_message()))
    shop.fake.assert_no_violations()
