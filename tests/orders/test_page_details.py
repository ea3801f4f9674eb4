"""What the order pages say and answer, exactly: the Russian page's every part, the refusal pages' titles,
sentences and ways back, the answers to an unknown order and an asset, the route each failure is logged under,
a reference sent as a file, and the rate limit the pages make for themselves. (Mutation testing of
bot/orders/web.py found each of these unchecked.)"""

from __future__ import annotations

import re

import aiohttp
import aiosqlite
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.i18n import date_time, t
from bot.orders.service import OrderService
from bot.shop.catalog import PaymentMethod
from bot.storage import Database
from bot.storage.write_health import RETRY_AFTER
from tests.orders.conftest import pages_app, purchase_claims, sign
from tests.orders.test_pages import Client, form_token, open_order, same_site

RU = {"Accept-Language": "ru"}


async def test_the_russian_order_page_part_by_part(checkout: Client, orders: OrderService) -> None:
    order_id, _ = await open_order(checkout, orders)
    html = await (await checkout.get(f"/orders/{order_id}", headers=RU)).text()
    order = await orders.get(order_id)
    assert f'<span class="mono">{order_id[:8]}</span>' in html
    for step in ("order.step.created", "order.step.paid", "order.step.delivered"):
        assert f'<span class="step">{t("ru", step)}</span>' in html
    created = order.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert f'<time datetime="{created}">{date_time(order.created_at, "ru")}</time>' in html  # the step's time
    expires = order.expires_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert f'<time datetime="{expires}">{date_time(order.expires_at, "ru")}</time> (' in html
    assert re.search(f'<time datetime="{expires}">[^<]+</time> \\([^)]*(назад|через)[^)]*\\)', html)
    assert "Оплата вручную" in html  # the method's label in Russian
    assert '<span lang="ru" aria-current="true">Русский</span>' in html  # the switcher marks the page's language


async def test_refusal_pages_say_what_and_lead_back(checkout: Client, orders: OrderService) -> None:
    order_id, html = await open_order(checkout, orders)
    junk = await checkout.post(
        f"/orders/{order_id}/method",
        data={"form_token": form_token(html), "method": "gold"},
        headers=same_site(checkout),
    )
    text = await junk.text()
    assert junk.status == 400
    assert f"<h1>{t('en', 'order.error.method.title')}</h1>" in text
    assert t("en", "order.error.method.text") in text
    assert f'href="/orders/{order_id}"' in text

    await orders.confirm_payment(order_id, PaymentMethod.MANUAL, None, "staff:1")
    paid = await checkout.post(
        f"/orders/{order_id}/paid", data={"form_token": form_token(html)}, headers={**same_site(checkout), **RU}
    )
    text = await paid.text()
    assert paid.status == 409
    assert f"<h1>{t('ru', 'order.error.refused.title')}</h1>" in text
    assert '<html lang="ru">' in text
    assert f'href="/orders/{order_id}"' in text
    assert "can no longer" not in text  # the refusal's own words are Russian too


async def test_not_found_and_refused_links_say_what(checkout: Client) -> None:
    missing = await checkout.get("/orders/" + "A" * 29)
    text = await missing.text()
    assert t("en", "order.error.not_found.text") in text
    assert "https://neverlose.cc" not in text  # no "start again at Neverlose" on an error that is not a link's
    refused = await checkout.get("/checkout", params={"nl_purchase": sign(purchase_claims(iss="X"))})
    text = await refused.text()
    assert re.search(r"<h1>[^<]+</h1>", text)
    assert "<h1>None</h1>" not in text
    assert 'href="https://neverlose.cc"' in text


async def test_the_answers_to_an_unknown_order_status_and_an_asset(checkout: Client) -> None:
    status = await checkout.get("/orders/" + "A" * 29 + "/status")
    assert (status.status, await status.json()) == (404, {"error": "not found"})
    css = await checkout.get("/orders-assets/orders.css")
    assert css.headers["Content-Type"] == "text/css; charset=utf-8"


async def test_a_refused_link_is_logged_with_the_clients_address(
    checkout: Client, caplog: pytest.LogCaptureFixture
) -> None:
    await checkout.get("/checkout", params={"nl_purchase": sign(purchase_claims(iss="X"))})
    [line] = [r.getMessage() for r in caplog.records if "checkout link refused" in r.getMessage()]
    assert line == "checkout link refused reason=bad_issuer client=127.0.0.1"


async def test_each_route_is_named_in_the_log_when_the_database_fails_under_it(
    checkout: Client, orders: OrderService, market_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """The orders table gone (renamed by another connection): SQLite's "no such table", a fault of the database on
    reads and writes alike. Each route answers 503 (the status JSON as JSON) and names itself in its one line."""
    order_id, html = await open_order(checkout, orders)
    async with aiosqlite.connect(market_db.path) as other:
        await other.execute("ALTER TABLE orders RENAME TO orders_away")
        await other.commit()
    try:
        page = await checkout.get(f"/orders/{order_id}")
        status = await checkout.get(f"/orders/{order_id}/status")
        posts = {
            name: await checkout.post(
                f"/orders/{order_id}/{name}",
                data={"form_token": form_token(html), "method": "manual"},
                headers=same_site(checkout),
            )
            for name in ("method", "paid", "check")
        }
    finally:
        async with aiosqlite.connect(market_db.path) as other:
            await other.execute("ALTER TABLE orders_away RENAME TO orders")
            await other.commit()
    assert (page.status, page.content_type) == (503, "text/html")
    assert (status.status, await status.json()) == (503, {"error": "temporarily unavailable"})
    assert status.headers["Retry-After"] == RETRY_AFTER
    assert {name: (r.status, r.content_type) for name, r in posts.items()} == dict.fromkeys(posts, (503, "text/html"))
    routes = [m.split("route=")[1].split()[0] for m in (r.getMessage() for r in caplog.records) if "unavailable" in m]
    assert routes == ["order", "status", "method", "paid", "check"]


async def test_a_reference_sent_as_a_file_is_not_stored(checkout: Client, orders: OrderService) -> None:
    order_id, html = await open_order(checkout, orders)
    form = aiohttp.FormData()
    form.add_field("form_token", form_token(html))
    form.add_field("reference", b"not text", filename="ref.txt")
    response = await checkout.post(
        f"/orders/{order_id}/paid", data=form, headers=same_site(checkout), allow_redirects=False
    )
    assert response.status == 303
    order = await orders.get(order_id)
    assert order.payment_claimed_at is not None
    assert order.claim_reference is None


async def test_pages_without_a_limiter_of_their_own_make_one(orders: OrderService) -> None:
    """Production builds the pages without a limiter: they make the default one (a burst of 10 forms)."""
    app, pages = pages_app(orders, None)
    assert pages.limiter is not None
    async with TestClient(TestServer(app)) as client:
        order_id, html = await open_order(client, orders)
        statuses = [
            (
                await client.post(
                    f"/orders/{order_id}/check",
                    data={"form_token": form_token(html)},
                    headers=same_site(client),
                    allow_redirects=False,
                )
            ).status
            for _ in range(11)
        ]
    assert statuses[-1] == 429
    assert 429 not in statuses[:10]


async def test_i_have_paid_on_a_blocked_order_says_why(checkout: Client, orders: OrderService) -> None:
    """A form still open on an order the pre-checks blocked (no such Neverlose account): the service's own reason
    (choose manual payment first), not the generic refusal."""
    order_id, _ = await open_order(checkout, orders, login="ghost")
    token = (await orders.get(order_id)).form_token  # the form as the page showed it before the checks ended
    response = await checkout.post(f"/orders/{order_id}/paid", data={"form_token": token}, headers=same_site(checkout))
    text = await response.text()
    assert response.status == 409
    assert "Choose manual payment first." in text
    assert t("en", "order.error.refused.generic") not in text
    assert (await orders.get(order_id)).payment_claimed_at is None
