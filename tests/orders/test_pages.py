"""The checkout pages over HTTP: the entry (refusals and idempotent creation), the order page, the status JSON,
headers on every answer, CSRF (form token and origin), per-address rate limits, 404s and what is logged."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.i18n import t
from bot.market.simulator.runner import RunningSimulator
from bot.orders.models import OrderState
from bot.orders.prechecks import BlockReason
from bot.orders.service import OrderService
from bot.orders.web_security import CONTENT_SECURITY_POLICY, RateLimiter, same_origin
from bot.payments.registry import PaymentRegistry
from bot.shop.catalog import PaymentMethod
from bot.storage import Database
from tests.orders.conftest import RedirectProvider, pages_app, purchase_claims, sign

Client = TestClient[web.Request, web.Application]
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


def assert_secure(response: Any) -> None:
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, name
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


async def open_order(checkout: Client, orders: OrderService, **overrides: Any) -> tuple[str, str]:
    """Follow a checkout link; (order id, page HTML) once the pre-checks ran."""
    response = await checkout.get(
        "/checkout", params={"nl_purchase": sign(purchase_claims(**overrides))}, allow_redirects=False
    )
    assert response.status == 303
    assert_secure(response)
    location = response.headers["Location"]
    assert re.fullmatch(r"/orders/[A-Za-z0-9_-]{29}", location)
    first = await checkout.get(location)  # the first view starts the pre-checks
    assert first.status == 200
    await orders.drain()
    page = await checkout.get(location)
    assert page.status == 200
    return location.rsplit("/", 1)[1], await page.text()


def form_token(html: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def same_site(checkout: Client) -> dict[str, str]:
    return {"Origin": str(checkout.make_url("")).rstrip("/"), "Sec-Fetch-Site": "same-origin"}


# ---------------------------------------------------------------------------------------------- entry
async def test_checkout_creates_once_and_redirects(checkout: Client, orders: OrderService) -> None:
    token = sign(purchase_claims())
    first = await checkout.get("/checkout", params={"nl_purchase": token}, allow_redirects=False)
    second = await checkout.get("/checkout", params={"nl_purchase": token}, allow_redirects=False)
    assert first.status == second.status == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert len(await orders.find()) == 1


@pytest.mark.parametrize(
    ("make", "status", "words", "code"),
    [
        (lambda: None, 400, "needs a checkout link", "missing"),
        (lambda: "x" * 5000, 400, "not valid", "too_large"),
        (
            lambda: sign(purchase_claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 100)),
            410,
            "has expired",
            "expired",
        ),
        (lambda: sign(purchase_claims(), key="wrong-key-" + "x" * 64), 400, "not valid", "bad_signature"),
        (lambda: sign(purchase_claims(iss="X")), 400, "not valid", "bad_issuer"),
        (lambda: sign(purchase_claims(integration_id=8)), 400, "not valid", "wrong_integration"),
        (lambda: sign(purchase_claims(login="bad login")), 400, "not valid", "bad_login"),
        (lambda: sign(purchase_claims(product="valorant")), 400, "cannot be paid here", "unknown_product"),
        (lambda: "e30.e30.", 400, "not valid", "bad_algorithm"),
    ],
)
async def test_refused_links(
    checkout: Client,
    orders: OrderService,
    caplog: pytest.LogCaptureFixture,
    make: Callable[[], str | None],
    status: int,
    words: str,
    code: str,
) -> None:
    token = make()
    params = {} if token is None else {"nl_purchase": token}
    with caplog.at_level(logging.DEBUG):
        response = await checkout.get("/checkout", params=params, allow_redirects=False)
    assert response.status == status
    assert_secure(response)
    html = await response.text()
    assert words in html
    assert "start again from" in html.lower() or "Please start again" in html
    assert 'href="https://neverlose.cc"' in html
    assert await orders.find() == []
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage().split(" client=")[0] for r in warnings] == [f"checkout link refused reason={code}"]
    if token:
        assert all(token[-30:] not in r.getMessage() for r in ours(caplog))


def ours(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The bot's records and the HTTP server's (aiosqlite's DEBUG lines are the library's, off in production)."""
    return [r for r in caplog.records if r.name.startswith(("bot", "aiohttp"))]


async def test_nothing_secret_is_logged(
    checkout: Client, orders: OrderService, caplog: pytest.LogCaptureFixture
) -> None:
    token = sign(purchase_claims())
    with caplog.at_level(logging.DEBUG):
        order_id, _ = await open_order(checkout, orders)
        await checkout.get("/checkout", params={"nl_purchase": token})
    text = "\n".join(r.getMessage() for r in ours(caplog))
    assert order_id in text
    assert "darth.vader" not in text
    assert "example.com" not in text
    assert token.split(".")[1][:20] not in text


# ---------------------------------------------------------------------------------------------- the page
async def test_the_order_page(checkout: Client, orders: OrderService) -> None:
    order_id, html = await open_order(checkout, orders)
    assert "CS2, 30 days" in html
    assert "darth" in html
    assert "d•••@e•••.com" in html
    assert "darth.vader@example.com" not in html
    assert "20.00 EUR" in html
    assert "Send the amount to IBAN" in html
    assert "I have paid" in html
    assert '<label for="reference">' in html
    assert "https://discord.gg/example" in html
    assert "Awaiting payment" in html
    assert "/orders-assets/orders.js" in html
    assert '<noscript><meta http-equiv="refresh" content="30"></noscript>' in html  # waiting for a payment
    order = await orders.get(order_id)
    assert (
        f'data-status-url="/orders/{order_id}/status" data-state="awaiting_payment" '
        f'data-updated="{order.updated_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}"'
    ) in html  # what orders.js polls and compares
    assert html.count('class="done"') == 1  # created; not paid, not delivered
    assert "<script>" not in html  # no inline script: the CSP holds
    assert "https://" not in re.sub(
        r'href="https://(neverlose\.cc|discord\.gg/example)"', "", html
    )  # no external assets


async def test_templates_escape(checkout: Client, orders: OrderService, market_db: Database) -> None:
    from bot.payments.enabled import set_manual_instructions

    await set_manual_instructions(market_db, "<script>alert(1)</script> & pay")
    _, html = await open_order(checkout, orders)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; pay" in html


async def test_status_json(checkout: Client, orders: OrderService) -> None:
    order_id, _ = await open_order(checkout, orders)
    response = await checkout.get(f"/orders/{order_id}/status")
    assert response.status == 200
    assert_secure(response)
    order = await orders.get(order_id)
    assert await response.json() == {
        "state": "awaiting_payment",
        "updated_at": order.updated_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


@pytest.mark.parametrize(
    "order_id", ["A" * 22, "A" * 29, "A" * 23, "A" * 30, "short", "x" * 200, "..%2f..%2fetc", "A" * 21 + "!"]
)
async def test_unknown_orders_are_404_with_the_same_page(checkout: Client, order_id: str) -> None:
    response = await checkout.get(f"/orders/{order_id}")
    assert response.status == 404
    assert_secure(response)
    html = await response.text()
    assert order_id not in html
    reference = await (await checkout.get("/orders/" + "B" * 22)).text()
    assert html == reference
    status = await checkout.get(f"/orders/{order_id}/status")
    assert status.status == 404
    assert_secure(status)


async def test_an_order_made_before_the_time_ordered_ids_keeps_its_page(checkout: Client, orders: OrderService) -> None:
    """Ids were 22 random characters before new_order_id() put the creation time first: those pages still open."""
    order, created = await orders.repo.insert(
        {
            "id": "Old_" + "x" * 18,
            "form_token": "t",
            "login": "darth",
            "product_key": "cs2-30",
            "nle_cost": Decimal("17.10"),
            "expires_at": datetime.now(UTC) + timedelta(hours=1),
        },
        actor="customer",
    )
    assert created
    page = await checkout.get(f"/orders/{order.id}")
    assert page.status == 200
    assert "CS2, 30 days" in await page.text()
    status = await checkout.get(f"/orders/{order.id}/status")
    assert (await status.json())["state"] == "awaiting_payment"
    for other in (order.id[:-1], order.id + "x", "x" * 7 + order.id[:-1] + "!"):  # no other length, no other alphabet
        assert (await checkout.get(f"/orders/{other}")).status == 404


async def test_assets(checkout: Client) -> None:
    css = await checkout.get("/orders-assets/orders.css")
    assert (css.status, css.content_type) == (200, "text/css")
    assert_secure(css)
    js = await checkout.get("/orders-assets/orders.js")
    assert (js.status, js.content_type) == (200, "text/javascript")
    assert "/status" not in (await js.text()) or "data-status-url" in (await js.text())
    script = await js.text()
    assert 'getAttribute("data-status-url")' in script  # the address comes from the page, not the script
    assert "s.state !== state || s.updated_at !== updated" in script  # reloads when the status JSON changes
    missing = await checkout.get("/orders-assets/secret.txt")
    assert missing.status == 404
    assert_secure(missing)


async def test_the_page_follows_the_order(checkout: Client, orders: OrderService) -> None:
    order_id, _ = await open_order(checkout, orders)
    await orders.confirm_payment(order_id, PaymentMethod.MANUAL, None, "staff:1")
    await orders.drain()
    html = await (await checkout.get(f"/orders/{order_id}")).text()
    assert "Delivered" in html
    assert "I have paid" not in html
    assert html.count('class="done"') == 3


# ---------------------------------------------------------------------------------------------- forms
async def test_i_have_paid(checkout: Client, orders: OrderService) -> None:
    order_id, html = await open_order(checkout, orders)
    response = await checkout.post(
        f"/orders/{order_id}/paid",
        data={"form_token": form_token(html), "reference": "TX-77"},
        headers=same_site(checkout),
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == f"/orders/{order_id}"
    assert_secure(response)
    order = await orders.get(order_id)
    assert order.claim_reference == "TX-77"
    page = await (await checkout.get(f"/orders/{order_id}")).text()
    assert "We are checking your payment" in page
    assert "TX-77" in page
    assert '<noscript><meta http-equiv="refresh" content="10"></noscript>' in page  # claimed: looks sooner
    assert f'data-status-url="/orders/{order_id}/status"' in page


async def test_choose_method_form(checkout: Client, orders: OrderService) -> None:
    order_id, html = await open_order(checkout, orders)
    ok = await checkout.post(
        f"/orders/{order_id}/method",
        data={"form_token": form_token(html), "method": "manual"},
        headers=same_site(checkout),
        allow_redirects=False,
    )
    assert ok.status == 303
    bad = await checkout.post(
        f"/orders/{order_id}/method",
        data={"form_token": form_token(html), "method": "cryptopay"},
        headers=same_site(checkout),
    )
    assert bad.status == 409
    assert "not available" in await bad.text()
    junk = await checkout.post(
        f"/orders/{order_id}/method",
        data={"form_token": form_token(html), "method": "gold"},
        headers=same_site(checkout),
    )
    assert junk.status == 400
    assert_secure(junk)


async def test_check_again_form(checkout: Client, orders: OrderService, market_sim: RunningSimulator) -> None:
    from decimal import Decimal

    market_sim.state.balance = Decimal("1.00")
    order_id, html = await open_order(checkout, orders)
    assert "We cannot deliver this right now" in html
    assert "Nothing has been charged" in html
    assert "I have paid" not in html
    assert f'<form method="post" action="/orders/{order_id}/check">' in html  # the balance may come back
    market_sim.state.balance = Decimal("100.00")
    response = await checkout.post(
        f"/orders/{order_id}/check", data={"form_token": form_token(html)}, headers=same_site(checkout)
    )
    assert response.status == 200
    assert "I have paid" in await response.text()


async def test_a_block_of_the_orders_own_has_no_check_again(checkout: Client, orders: OrderService) -> None:
    order_id, html = await open_order(checkout, orders, login="ghost")  # no such Neverlose account
    assert BlockReason.USER_NOT_FOUND.customer_text.replace("'", "&#39;") in html  # autoescaped
    assert "Nothing has been charged" in html
    assert f"/orders/{order_id}/check" not in html  # checking again would not change the answer
    assert "I have paid" not in html


async def test_claim_on_a_paid_order_is_409(checkout: Client, orders: OrderService) -> None:
    order_id, html = await open_order(checkout, orders)
    await orders.confirm_payment(order_id, PaymentMethod.MANUAL, None, "staff:1")
    response = await checkout.post(
        f"/orders/{order_id}/paid", data={"form_token": form_token(html)}, headers=same_site(checkout)
    )
    assert response.status == 409
    assert "can no longer be changed" in await response.text()


@pytest.mark.parametrize(
    ("headers", "token_ok", "accepted"),
    [
        ({"Origin": "SELF", "Sec-Fetch-Site": "same-origin"}, True, True),
        ({"Origin": "SELF"}, True, True),
        ({"Origin": "null", "Sec-Fetch-Site": "same-origin"}, True, True),
        ({"Sec-Fetch-Site": "same-origin"}, True, True),
        ({}, True, True),  # not a browser: the form token decides
        ({}, False, False),
        ({"Origin": "SELF", "Sec-Fetch-Site": "same-origin"}, False, False),
        ({"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, True, False),
        ({"Origin": "https://evil.example"}, True, False),
        ({"Origin": "null"}, True, False),
        ({"Origin": "null", "Sec-Fetch-Site": "cross-site"}, True, False),
        ({"Sec-Fetch-Site": "same-site"}, True, False),
        ({"Sec-Fetch-Site": "none"}, True, False),
        ({"Origin": "SELF", "Sec-Fetch-Site": "cross-site"}, True, False),
        ({"Origin": "SELF/path"}, True, False),
        ({"Origin": "ftp://HOST"}, True, False),
    ],
)
async def test_csrf(
    checkout: Client, orders: OrderService, headers: dict[str, str], token_ok: bool, accepted: bool
) -> None:
    order_id, html = await open_order(checkout, orders)
    self_origin = str(checkout.make_url("")).rstrip("/")
    host = self_origin.split("://", 1)[1]
    sent = {k: v.replace("SELF", self_origin).replace("HOST", host) for k, v in headers.items()}
    token = form_token(html) if token_ok else "forged-token"
    response = await checkout.post(
        f"/orders/{order_id}/paid", data={"form_token": token}, headers=sent, allow_redirects=False
    )
    assert_secure(response)
    claimed = (await orders.get(order_id)).payment_claimed_at is not None
    if accepted:
        assert (response.status, claimed) == (303, True)
    else:
        assert (response.status, claimed) == (403, False)
        assert "Reload the order page" in await response.text()


async def test_a_token_of_another_order_is_refused(checkout: Client, orders: OrderService) -> None:
    _first, html = await open_order(checkout, orders)
    second, _ = await open_order(checkout, orders, email="other@example.com")
    response = await checkout.post(
        f"/orders/{second}/paid", data={"form_token": form_token(html)}, headers=same_site(checkout)
    )
    assert response.status == 403


def test_public_origin_is_accepted() -> None:
    from aiohttp.test_utils import make_mocked_request

    request = make_mocked_request(
        "POST", "/orders/x/paid", headers={"Host": "127.0.0.1:8080", "Origin": "https://shop.example"}
    )
    assert same_origin(request, public_origin="https://shop.example")
    assert not same_origin(request, public_origin="https://other.example")
    assert not same_origin(request, public_origin=None)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_an_origin_naming_this_host_is_accepted_on_either_scheme(scheme: str) -> None:
    from aiohttp.test_utils import make_mocked_request

    request = make_mocked_request(
        "POST", "/orders/x/paid", headers={"Host": "shop.example", "Origin": f"{scheme}://shop.example"}
    )
    assert same_origin(request, public_origin=None)


async def test_post_to_unknown_order_is_404(checkout: Client) -> None:
    response = await checkout.post("/orders/" + "Z" * 22 + "/paid", data={"form_token": "x"})
    assert response.status == 404
    assert_secure(response)


async def test_large_form_is_refused(checkout: Client, orders: OrderService) -> None:
    order_id, html = await open_order(checkout, orders)
    response = await checkout.post(
        f"/orders/{order_id}/paid",
        data={"form_token": form_token(html), "reference": "r" * 5000},
        headers=same_site(checkout),
    )
    assert response.status == 413
    assert (await orders.get(order_id)).payment_claimed_at is None


async def test_rate_limit_per_address(checkout: Client, orders: OrderService, limiter: RateLimiter) -> None:
    order_id, html = await open_order(checkout, orders)
    statuses = []
    for _ in range(limiter.burst + 1):
        response = await checkout.post(
            f"/orders/{order_id}/method",
            data={"form_token": form_token(html), "method": "manual"},
            headers=same_site(checkout),
            allow_redirects=False,
        )
        statuses.append(response.status)
    assert statuses == [303] * limiter.burst + [429]
    assert_secure(response)
    assert response.headers["Retry-After"] == "3"
    assert "Too many tries" in await response.text()


def test_rate_limiter_refills() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert [limiter.allow("a"), limiter.allow("a")] == [0.0, 0.0]
    assert limiter.allow("a") == pytest.approx(1.0)
    assert limiter.allow("b") == 0.0
    now[0] = 0.5
    assert limiter.allow("a") == pytest.approx(0.5)
    now[0] = 1.0
    assert limiter.allow("a") == 0.0
    assert limiter.allow("a") == pytest.approx(1.0)
    now[0] = 100.0
    assert [limiter.allow("a"), limiter.allow("a"), limiter.allow("a") > 0] == [0.0, 0.0, True]


def test_rate_limiter_bounds_its_memory() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=1, clock=lambda: now[0], max_keys=3)
    for key in "abc":
        limiter.allow(key)
    now[0] = 10.0  # everyone refilled: pruned
    limiter.allow("d")
    assert len(limiter._buckets) == 1
    for key in "efg":
        limiter.allow(key)
    assert len(limiter._buckets) <= 3


async def test_the_page_states(checkout: Client, orders: OrderService) -> None:
    order_id, _ = await open_order(checkout, orders)
    await orders.cancel(order_id, "staff:1", "duplicate order")
    html = await (await checkout.get(f"/orders/{order_id}")).text()
    assert "This order was cancelled. If you paid for it, please contact support" in html
    assert "duplicate order" not in html  # staff notes stay with staff
    assert "data-status-url" not in html  # final: no polling
    other, _ = await open_order(checkout, orders, email="q@example.com")
    await orders.repo.move(other, OrderState.EXPIRED, actor="system")
    html = await (await checkout.get(f"/orders/{other}")).text()
    assert "was not paid in time" in html
    assert "data-status-url" not in html  # expired: no polling either
    assert 'http-equiv="refresh"' not in html


async def test_the_real_server_logs_no_url(
    orders: OrderService, caplog: pytest.LogCaptureFixture, unused_tcp_port: int
) -> None:
    """The bot's own server (``bot/http/server.py``) keeps no access log, so the checkout URL is never logged."""
    import aiohttp

    from bot.http.health import HealthCheck
    from bot.http.server import WebServer
    from bot.orders.web import CheckoutPages
    from bot.settings import ServerSettings
    from tests.orders.conftest import INTEGRATION_ID, SECRET

    server = WebServer(ServerSettings.model_construct(host="127.0.0.1", port=0), HealthCheck())
    CheckoutPages(
        orders, secret=SECRET, integration_id=INTEGRATION_ID, checkout_path="/checkout", support_url=None
    ).setup(server.app)
    await server.start()
    token = sign(purchase_claims())
    try:
        with caplog.at_level(logging.DEBUG):
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{server.local_url}/checkout", params={"nl_purchase": token}) as response:
                    assert response.status == 200
                    assert "Order" in await response.text()
                async with session.get(f"{server.local_url}/checkout", params={"nl_purchase": "junk"}) as response:
                    assert response.status == 400
    finally:
        await server.stop()
        await orders.close()
    text = "\n".join(r.getMessage() for r in ours(caplog))
    assert "/checkout" not in text
    assert token.split(".")[2] not in text
    assert "example.com" not in text


@pytest.mark.parametrize("cryptopay_enabled", [True])
async def test_choosing_between_two_methods(
    checkout: Client, orders: OrderService, shop: Any, cryptopay_enabled: bool
) -> None:
    from decimal import Decimal

    from bot.payments.registry import PaymentRegistry
    from bot.shop.price_table import PriceEntry

    provider = RedirectProvider()
    assert isinstance(orders.providers, PaymentRegistry)
    orders.providers.add(provider)
    await shop.put(PriceEntry("cs2-30", "EUR", Decimal("19.00"), PaymentMethod.CRYPTOPAY), updated_by=None)
    order_id, html = await open_order(checkout, orders)
    order = await orders.get(order_id)
    assert (order.method, order.amount, order.currency) == (None, None, "EUR")
    assert "Choose how to pay" in html
    assert 'value="manual"' in html
    assert 'value="cryptopay"' in html
    assert "Manual payment — <strong>20.00 EUR</strong>" in html
    assert "Crypto Pay — <strong>19.00 EUR</strong>" in html
    assert re.findall(r'name="method" value="(\w+)" checked', html) == []  # no method chosen yet: none selected
    assert 'class="problem"' not in html  # nothing could go wrong before a method is chosen
    russian = await (await checkout.get(f"/orders/{order_id}", headers={"Accept-Language": "ru"})).text()
    assert "Оплата вручную — <strong>20,00\N{NO-BREAK SPACE}EUR</strong>" in russian  # labels and prices in Russian
    assert "I have paid" not in html
    response = await checkout.post(
        f"/orders/{order_id}/method",
        data={"form_token": form_token(html), "method": "cryptopay"},
        headers=same_site(checkout),
    )
    assert response.status == 200
    page = await response.text()
    assert 'href="https://pay.example/19.00"' in page
    assert "Pay 19.00 EUR" in page
    chosen = await orders.get(order_id)
    assert (chosen.method, chosen.amount) == (PaymentMethod.CRYPTOPAY, Decimal("19.00"))
    switched = await orders.choose_method(order_id, PaymentMethod.MANUAL)
    assert (switched.method, switched.amount) == (PaymentMethod.MANUAL, Decimal("20.00"))
    page = await (await checkout.get(f"/orders/{order_id}")).text()
    assert "I have paid" in page
    assert "Prefer another way to pay?" in page
    assert re.findall(r'name="method" value="(\w+)" checked', page) == ["manual"]  # the order's own method
    await orders.cancel(order_id, "staff:1", "test")
    assert provider.cancelled == []  # manual was the chosen method: Crypto Pay had nothing to withdraw
    other, _ = await open_order(checkout, orders, email="c@example.com")
    await orders.choose_method(other, PaymentMethod.CRYPTOPAY)
    await orders.cancel(other, "staff:1", "test")
    assert provider.cancelled == [other]


class FailingManual(RedirectProvider):
    """The manual method's place in the registry, failing to start with ``error``."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    @property
    def method(self) -> PaymentMethod:
        return PaymentMethod.MANUAL

    async def start(self, request: Any) -> Any:
        raise self.error


def start_logs(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("payment start")]


async def test_a_withdrawn_manual_method_says_so_in_plain_words(
    checkout: Client, orders: OrderService, market_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.payments.enabled import set_manual_instructions

    order_id, html = await open_order(checkout, orders)
    assert "I have paid" in html
    await set_manual_instructions(market_db, "")  # the operator removed the instructions meanwhile
    with caplog.at_level(logging.DEBUG):
        page = await checkout.get(f"/orders/{order_id}")
    assert page.status == 200
    text = await page.text()
    expected = "Payment by hand is not available any more. Choose another way to pay, or contact support."
    assert f'<p class="problem">{expected}</p>' in text
    assert "I have paid" not in text
    records = start_logs(caplog)
    assert [(r.levelno, r.getMessage(), r.exc_info) for r in records] == [
        (
            logging.WARNING,
            f"payment start refused order_id={order_id} method=manual error=ManualPaymentUnavailable",
            None,
        )
    ]
    russian = await (await checkout.get(f"/orders/{order_id}", headers={"Accept-Language": "ru"})).text()
    assert '<p class="problem">' in russian
    assert expected not in russian  # the refusal in the reader's language


async def test_a_crypto_pay_refusal_shows_its_customer_text(
    checkout: Client, orders: OrderService, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.payments.cryptopay.provider import PaymentNotStarted

    assert isinstance(orders.providers, PaymentRegistry)
    order_id, _ = await open_order(checkout, orders)
    orders.providers.add(FailingManual(PaymentNotStarted("Crypto Pay did not answer. Reload this page in a moment.")))
    with caplog.at_level(logging.DEBUG):
        text = await (await checkout.get(f"/orders/{order_id}")).text()
    assert '<p class="problem">Crypto Pay did not answer. Reload this page in a moment.</p>' in text
    records = start_logs(caplog)
    assert [(r.levelno, r.getMessage(), r.exc_info) for r in records] == [
        (logging.WARNING, f"payment start refused order_id={order_id} method=manual error=PaymentNotStarted", None)
    ]


async def test_an_unexpected_start_failure_is_logged_with_a_reference(
    checkout: Client, orders: OrderService, caplog: pytest.LogCaptureFixture
) -> None:
    assert isinstance(orders.providers, PaymentRegistry)
    order_id, _ = await open_order(checkout, orders)
    orders.providers.add(FailingManual(RuntimeError("secret internals")))
    with caplog.at_level(logging.DEBUG):
        page = await checkout.get(f"/orders/{order_id}")
    assert page.status == 200
    text = await page.text()
    records = start_logs(caplog)
    assert len(records) == 1
    assert records[0].levelno == logging.ERROR
    assert records[0].exc_info is not None
    match = re.fullmatch(
        rf"payment start failed order_id={order_id} method=manual ref=([0-9a-f]{{8}})", records[0].getMessage()
    )
    assert match
    russian = await (await checkout.get(f"/orders/{order_id}", headers={"Accept-Language": "ru"})).text()
    reference = start_logs(caplog)[-1].getMessage().rsplit("ref=", 1)[1]
    assert f'<p class="problem">{t("ru", "order.error.start_failed", reference=reference)}</p>' in russian
    assert (
        '<p class="problem">This payment could not be started because of a problem on our side. Please try '
        f"again later, or contact support (reference {match.group(1)}).</p>"
    ) in text
    assert "secret internals" not in text


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data; boundary=zz", b"form_token=x"),  # no boundary in the body
        ("application/x-www-form-urlencoded; charset=klingon", b"form_token=x"),  # an encoding Python does not know
        ("application/x-www-form-urlencoded", b"form_token=\xff\xfe"),  # not UTF-8
    ],
)
async def test_a_form_body_no_browser_sends_is_a_400_page_in_the_readers_language(
    checkout: Client, orders: OrderService, content_type: str, body: bytes
) -> None:
    """Each was an unhandled exception (a 500); the page now says what the CSRF refusal says, in Russian here."""
    order_id, _ = await open_order(checkout, orders)
    response = await checkout.post(
        f"/orders/{order_id}/paid",
        data=body,
        headers={"Content-Type": content_type, "Accept-Language": "ru", **same_site(checkout)},
        allow_redirects=False,
    )
    assert response.status == 400
    assert_secure(response)
    html = await response.text()
    assert '<html lang="ru">' in html
    assert "Обновите страницу заказа" in html
    assert (await orders.get(order_id)).payment_claimed_at is None


async def test_an_origin_that_is_not_a_url_is_refused_as_cross_site(checkout: Client, orders: OrderService) -> None:
    order_id, html = await open_order(checkout, orders)
    response = await checkout.post(
        f"/orders/{order_id}/paid",
        data={"form_token": form_token(html)},
        headers={"Origin": "http://[::1"},  # urlsplit raises ValueError: was a 500
        allow_redirects=False,
    )
    assert response.status == 403
    assert (await orders.get(order_id)).payment_claimed_at is None


async def test_a_chunked_form_over_aiohttps_limit_is_the_pages_413(checkout: Client, orders: OrderService) -> None:
    """Without a Content-Length aiohttp counts the body itself; its refusal was its own English text."""
    order_id, html = await open_order(checkout, orders)

    async def chunks() -> Any:
        yield f"form_token={form_token(html)}&reference=".encode()
        for _ in range(300):
            yield b"r" * 4096

    response = await checkout.post(
        f"/orders/{order_id}/paid",
        data=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept-Language": "ru", **same_site(checkout)},
        allow_redirects=False,
    )
    assert response.status == 413
    assert_secure(response)
    assert "Слишком большая форма" in await response.text()
    assert (await orders.get(order_id)).payment_claimed_at is None


async def assert_refusal_page(response: Any, status: int, title: str, text: str, back: str | None) -> None:
    """A refusal page in Russian (the request asked for it): its status, title, sentence and the way back."""
    from bot.i18n import t

    assert response.status == status
    assert_secure(response)
    html = await response.text()
    assert '<html lang="ru">' in html
    assert f"<h1>{t('ru', title)}</h1>" in html
    assert f'<p class="lead">{t("ru", text)}</p>' in html
    if back is None:
        assert t("ru", "order.error.back") not in html
    else:
        assert f'<a href="{back}">{t("ru", "order.error.back")}</a>' in html


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.orders.web"]


async def test_each_form_refusal_page_and_log_line(
    checkout: Client, orders: OrderService, limiter: RateLimiter, caplog: pytest.LogCaptureFixture
) -> None:
    """The rate limit, a form too large (by Content-Length, and chunked), one no browser sends, and a forged
    token: each its own page in the reader's language with the way back to the order, and one WARNING line
    naming the order and the client (the refusal pages of ``CheckoutPages._form``, mutation-tested)."""
    order_id, html = await open_order(checkout, orders)
    token = form_token(html)
    back = f"/orders/{order_id}"
    ru = {"Accept-Language": "ru", **same_site(checkout)}
    form = {**ru, "Content-Type": "application/x-www-form-urlencoded"}
    caplog.set_level(logging.WARNING, logger="bot.orders.web")

    exactly = f"form_token={token}&reference=".encode()
    exactly += b"r" * (4096 - len(exactly))
    too_large = await checkout.post(f"{back}/check", data=exactly + b"r", headers=form, allow_redirects=False)
    await assert_refusal_page(too_large, 413, "order.error.too_large.title", "order.error.too_large.text", back)

    async def chunks() -> Any:
        yield exactly
        for _ in range(300):
            yield b"r" * 4096

    chunked = await checkout.post(f"{back}/check", data=chunks(), headers=form, allow_redirects=False)
    await assert_refusal_page(chunked, 413, "order.error.too_large.title", "order.error.too_large.text", back)

    broken = await checkout.post(
        f"{back}/check", data=b"x", headers={**ru, "Content-Type": "multipart/form-data; boundary=zz"}
    )
    await assert_refusal_page(broken, 400, "order.error.csrf.title", "order.error.csrf.text", back)

    forged = await checkout.post(f"{back}/check", data={"form_token": "forged"}, headers=ru)
    await assert_refusal_page(forged, 403, "order.error.csrf.title", "order.error.csrf.text", back)

    accepted = await checkout.post(f"{back}/check", data=exactly, headers=form, allow_redirects=False)
    assert accepted.status == 303  # 4096 bytes is the most a form may be
    assert refusals(caplog) == [
        f"order form refused reason=malformed order_id={order_id} client=127.0.0.1",
        f"order form refused reason=csrf order_id={order_id} client=127.0.0.1",
    ]

    caplog.clear()
    for _ in range(limiter.burst):
        await checkout.post(f"{back}/check", data={"form_token": token}, headers=ru, allow_redirects=False)
    limited = await checkout.post(f"{back}/check", data={"form_token": token}, headers=ru, allow_redirects=False)
    await assert_refusal_page(limited, 429, "order.error.rate.title", "order.error.rate.text", None)
    assert 1 <= int(limited.headers["Retry-After"]) <= 3  # 20 a minute: one more within 3 s
    assert refusals(caplog)[-1] == "order form rate limited client=127.0.0.1"


async def test_a_form_from_the_public_address_is_accepted(
    orders: OrderService, limiter: RateLimiter, unused_tcp_port: int
) -> None:
    """Behind a proxy the browser's Origin is ``PUBLIC_BASE_URL``'s, not the Host the bot sees."""
    app, _ = pages_app(orders, limiter, support_url=None, public_base_url="https://shop.example/path")
    async with TestClient(TestServer(app)) as client:
        order_id, html = await open_order(client, orders)
        response = await client.post(
            f"/orders/{order_id}/paid",
            data={"form_token": form_token(html)},
            headers={"Origin": "https://shop.example"},
            allow_redirects=False,
        )
        assert response.status == 303
        assert (await orders.get(order_id)).payment_claimed_at is not None


@pytest.mark.parametrize("tail", ["", "/", "/ID/", "/ID/paid", "/ID/status/", "/ID/x/y", "/ID//status"])
async def test_any_other_address_under_orders_is_the_pages_404_in_the_readers_language(
    checkout: Client, orders: OrderService, tail: str
) -> None:
    """Was aiohttp's plain-text "404: Not Found" / "405: Method Not Allowed" in English (a trailing slash, a
    reload of a form's address)."""
    from bot.i18n import t

    order_id, _ = await open_order(checkout, orders)
    response = await checkout.get("/orders" + tail.replace("ID", order_id), headers={"Accept-Language": "ru"})
    assert response.status == 404
    assert_secure(response)
    html = await response.text()
    assert '<html lang="ru">' in html
    assert f"<h1>{t('ru', 'order.error.not_found.title')}</h1>" in html
    assert (await checkout.get(f"/orders/{order_id}")).status == 200  # the order's own page is untouched


async def test_the_form_limit_is_per_client_behind_a_trusted_proxy(orders: OrderService, limiter: RateLimiter) -> None:
    """One buyer using up the burst does not limit another (each ``X-Forwarded-For`` client its own bucket)."""
    import ipaddress

    from bot.http.forwarded import forwarded_middleware

    proxy = forwarded_middleware([ipaddress.ip_network("127.0.0.1/32")])
    app, _ = pages_app(orders, limiter, middlewares=[proxy], support_url=None)
    async with TestClient(TestServer(app)) as client:
        order_id, html = await open_order(client, orders)

        async def post(client_address: str) -> int:
            response = await client.post(
                f"/orders/{order_id}/check",
                data={"form_token": form_token(html)},
                headers={"X-Forwarded-For": client_address},
                allow_redirects=False,
            )
            return response.status

        first = [await post("203.0.113.7") for _ in range(limiter.burst + 1)]
        assert first[-1] == 429
        assert await post("198.51.100.9") == 303
