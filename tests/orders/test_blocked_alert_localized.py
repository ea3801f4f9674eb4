"""The audit alert of an order blocked before payment, written in English by bot/orders/service.py (a
mutation-tested money module), shown in the audit channel's language when the outbox reads it for delivery
(bot/notifications/alerts.py). Its English catalog text must stay what the service writes: a drift fails here.
"""

from __future__ import annotations

import pytest

from bot.i18n.english import match
from bot.notifications.outbox import Outbox
from bot.orders.service import OrderService
from bot.storage import Database
from tests.i18n.leaks import english_in
from tests.orders.test_service import checked


async def _alert(db: Database, locale: str) -> dict[str, object]:
    [row] = await Outbox(db, locale=lambda: locale).pending(target="channel:audit")
    [embed] = row.embeds
    return dict(embed)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"product": "csgo", "cnt": 1, "days": 90}, "no_price"),
        ({"login": "ghost"}, "user_not_found"),
        ({"login": "a49"}, "not_invited"),
    ],
)
async def test_the_blocked_alert_is_a_catalog_sentence_and_shown_in_russian(
    orders: OrderService, market_db: Database, overrides: dict[str, object], reason: str
) -> None:
    await checked(orders, **overrides)
    english = await _alert(market_db, "en")
    assert match(str(english["title"]), "alerts.title.") == ("alerts.title.order_blocked", {})
    found = match(str(english["description"]), "alerts.text.")
    assert found is not None
    assert found[0] == "alerts.text.order_blocked"
    assert match(found[1]["reason"], "orders.staff_block.") == (f"orders.staff_block.{reason}", {})
    russian = await _alert(market_db, "ru")
    assert russian["title"] == "Заказ заблокирован до оплаты"
    assert russian["color"] == english["color"]
    assert english_in(f"{russian['title']} {russian['description']}") == []


async def test_the_blocked_alert_in_russian_exactly_and_in_english_as_written(
    orders: OrderService, market_db: Database
) -> None:
    order = await checked(orders, login="a49")
    english = await _alert(market_db, "en")
    assert english["description"] == (
        f"Order `{order.id}` for `a49` ({order.description}) cannot be offered: "
        "the login is not invited to this product."
    )
    russian = await _alert(market_db, "ru")
    assert russian["description"] == (
        f"Заказ `{order.id}` для `a49` (CS2, 30 дней) нельзя предложить к оплате: логин не приглашён к этому продукту."
    )
