"""The order pages in Russian and English: Accept-Language, the switcher's cookie, every state and refusal
page without an English catalog sentence when Russian was asked for (issue #19)."""

from __future__ import annotations

from decimal import Decimal

from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.market.simulator.runner import RunningSimulator
from bot.orders.models import OrderState
from bot.orders.service import OrderService
from tests.i18n.leaks import english_in, text_of
from tests.orders.conftest import purchase_claims, sign
from tests.orders.test_pages import form_token, open_order, same_site

Client = TestClient[web.Request, web.Application]
RU = {"Accept-Language": "ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}


async def page(checkout: Client, path: str, headers: dict[str, str] = RU) -> str:
    response = await checkout.get(path, headers=headers)
    return await response.text()


def assert_russian(html: str) -> None:
    assert '<html lang="ru">' in html
    assert english_in(text_of(html)) == []


async def test_the_order_page_follows_accept_language(checkout: Client, orders: OrderService) -> None:
    order_id, english = await open_order(checkout, orders)
    assert '<html lang="en">' in english
    assert "Awaiting payment" in english
    russian = await page(checkout, f"/orders/{order_id}")
    assert_russian(russian)
    assert "Ожидает оплаты" in russian
    assert "Как оплатить" in russian
    assert "Я оплатил(а)" in russian
    assert "20,00\N{NO-BREAK SPACE}EUR" in russian
    assert "CS2, 30 дней" in russian
    assert "Неоплаченный заказ истекает" in russian
    assert "Awaiting payment" in await page(checkout, f"/orders/{order_id}", EN)


async def test_the_switcher_remembers_the_choice_in_a_cookie(checkout: Client, orders: OrderService) -> None:
    order_id, html = await open_order(checkout, orders)
    assert f'href="/lang/ru?next=/orders/{order_id}"' in html
    chosen = await checkout.get(f"/lang/ru?next=/orders/{order_id}", headers=EN, allow_redirects=False)
    assert chosen.status == 303
    assert chosen.headers["Location"] == f"/orders/{order_id}"
    cookie = chosen.cookies["lang"]
    assert cookie.value == "ru"
    assert cookie["path"] == "/"
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    # The browser now sends the cookie: Russian although it prefers English.
    assert_russian(await page(checkout, f"/orders/{order_id}", EN))
    back = await checkout.get(f"/lang/en?next=/orders/{order_id}", allow_redirects=False)
    assert back.cookies["lang"].value == "en"
    assert "Awaiting payment" in await page(checkout, f"/orders/{order_id}", RU)


async def test_the_switcher_goes_back_only_to_this_server(checkout: Client) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "orders"):
        response = await checkout.get("/lang/ru", params={"next": target}, allow_redirects=False)
        assert response.status == 200, target
        assert "Location" not in response.headers
        assert "на русском" in await response.text()
    assert (await checkout.get("/lang/de", allow_redirects=False)).status == 404


async def test_forms_keep_their_csrf_check_in_russian(checkout: Client, orders: OrderService) -> None:
    order_id, html = await open_order(checkout, orders)
    await checkout.get("/lang/ru", allow_redirects=False)
    refused = await checkout.post(
        f"/orders/{order_id}/paid", data={"form_token": "forged"}, headers=same_site(checkout)
    )
    assert refused.status == 403
    body = await refused.text()
    assert_russian(body)
    assert "Форму не удалось принять" in body
    assert f'href="/lang/en?next=/orders/{order_id}"' in body  # back to the order, not to the form's address
    ok = await checkout.post(
        f"/orders/{order_id}/method",
        data={"form_token": form_token(html), "method": "manual"},
        headers=same_site(checkout),
        allow_redirects=False,
    )
    assert ok.status == 303
    manual = await page(checkout, f"/orders/{order_id}")
    assert_russian(manual)
    assert "Как оплатить" in manual
    assert "Я оплатил(а)" in manual
    bad = await checkout.post(
        f"/orders/{order_id}/method",
        data={"form_token": form_token(html), "method": "cryptopay"},
        headers=same_site(checkout),
    )
    assert bad.status == 409
    assert "Этот способ оплаты недоступен для этого заказа." in await bad.text()
    assert_russian(await bad.text())
    junk = await checkout.post(
        f"/orders/{order_id}/method",
        data={"form_token": form_token(html), "method": "gold"},
        headers=same_site(checkout),
    )
    assert junk.status == 400
    assert_russian(await junk.text())
    claimed = await checkout.post(
        f"/orders/{order_id}/paid",
        data={"form_token": form_token(html), "reference": "TX-1"},
        headers=same_site(checkout),
    )
    assert claimed.status == 200
    assert_russian(await claimed.text())
    assert "Спасибо." in await claimed.text()


async def test_every_state_and_refusal_in_russian(
    checkout: Client, orders: OrderService, market_sim: RunningSimulator
) -> None:
    await checkout.get("/lang/ru", allow_redirects=False)
    pages: dict[str, str] = {}
    order_id, _ = await open_order(checkout, orders)
    for state in (OrderState.PAID, OrderState.FULFILLING, OrderState.DELIVERED):
        await orders.repo.move(order_id, state, actor="system")
        pages[state.value] = await page(checkout, f"/orders/{order_id}")
    for state in (OrderState.EXPIRED, OrderState.CANCELLED, OrderState.NEEDS_ATTENTION, OrderState.REFUNDED):
        other, _ = await open_order(checkout, orders, email=f"{state.value}@example.com")
        path = {
            OrderState.EXPIRED: [OrderState.EXPIRED],
            OrderState.CANCELLED: [OrderState.CANCELLED],
            OrderState.NEEDS_ATTENTION: [OrderState.EXPIRED, OrderState.NEEDS_ATTENTION],
            OrderState.REFUNDED: [OrderState.PAID, OrderState.REFUNDED],
        }[state]
        for step in path:
            await orders.repo.move(other, step, actor="system")
        pages[state.value] = await page(checkout, f"/orders/{other}")
    _, pages["user_not_found"] = await open_order(checkout, orders, login="ghost")
    market_sim.state.balance = Decimal("1.00")
    _, pages["low_balance"] = await open_order(checkout, orders, email="poor@example.com")
    pages["not_found"] = await page(checkout, "/orders/" + "A" * 22)
    for name, claims in {
        "expired_link": purchase_claims(exp=1, iat=0),
        "bad_link": {**purchase_claims(), "iss": "someone"},
    }.items():
        pages[name] = await page(checkout, "/checkout?nl_purchase=" + sign(claims))
    pages["missing_link"] = await page(checkout, "/checkout")
    for name, html in pages.items():
        assert '<html lang="ru">' in html, name
        assert english_in(text_of(html)) == [], name
    assert "Выдано." in pages["delivered"]
    assert "Мы не нашли этот аккаунт Neverlose" in pages["user_not_found"]
    assert "Сейчас мы не можем выдать заказ" in pages["low_balance"]
    assert "Срок действия этой ссылки на оплату истёк" in pages["expired_link"]
