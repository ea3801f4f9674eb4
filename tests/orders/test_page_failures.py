"""The order pages when something fails under them: a page in the reader's language, never the server's JSON.

A fault of the database (here SQLite's own "database or disk is full": the connection may not grow the file, as
on a full disk) is a 503 page with ``Retry-After``, nothing recorded, one WARNING line; the link works again once
there is room. Any other unexpected error is a 500 page with a reference that the ERROR line (with its traceback)
carries. Found with a full filesystem: the checkout link answered ``500 {"error": "internal error"}``."""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.orders.service import OrderService
from bot.orders.web_security import RateLimiter
from bot.storage import Database
from bot.storage.write_health import RETRY_AFTER
from tests.orders.conftest import pages_app, purchase_claims, sign
from tests.orders.test_pages import Client, assert_secure

RU = {"Accept-Language": "ru"}


async def test_a_full_database_is_a_503_page_in_the_readers_language_then_the_link_works(
    checkout: Client, orders: OrderService, market_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    pages = await market_db.fetchone("PRAGMA page_count")
    assert pages is not None
    await market_db.execute(f"PRAGMA max_page_count = {int(pages[0])}")
    created = 0
    for n in range(300):  # distinct orders until the last page's free room is used up
        token = sign(purchase_claims(login=f"buyer{n}"))
        response = await checkout.get("/checkout", params={"nl_purchase": token}, headers=RU, allow_redirects=False)
        if response.status != 303:
            break
        created += 1
    assert response.status == 503
    assert response.headers["Retry-After"] == RETRY_AFTER
    assert_secure(response)
    html = await response.text()
    assert "<title>Попробуйте через минуту" in html
    assert "не можем ничего сохранить" in html
    assert len(await orders.find()) == created  # nothing of the refused one
    [line] = [r for r in caplog.records if r.name == "bot.orders.web" and r.levelno >= logging.WARNING]
    assert line.levelno == logging.WARNING
    assert line.getMessage() == (
        "order page unavailable route=checkout method=GET fault='OperationalError: database or disk is full'"
    )
    assert token not in caplog.text

    await market_db.execute("PRAGMA max_page_count = 1000000")  # room again
    again = await checkout.get("/checkout", params={"nl_purchase": token}, allow_redirects=False)
    assert again.status == 303
    assert len(await orders.find()) == created + 1


@pytest.fixture
async def failing(orders: OrderService, limiter: RateLimiter) -> AsyncIterator[Client]:
    """The pages with two routes of the test's own behind the same guard as the real ones: one raising a fault
    of the database, one a bug (a real unexpected error cannot be made to happen on purpose)."""
    app, pages = pages_app(orders, limiter)

    async def disk(request: web.Request) -> web.Response:
        raise sqlite3.OperationalError("disk I/O error")

    async def bug(request: web.Request) -> web.Response:
        raise KeyError("a bug")

    async def expected(request: web.Request) -> web.Response:
        raise web.HTTPNotModified()  # aiohttp's own answers go through untouched

    for name, json in (("page", False), ("json", True)):
        app.router.add_get(f"/test-{name}/disk", pages._guarded("disk", disk, json=json))
        app.router.add_get(f"/test-{name}/bug", pages._guarded("bug", bug, json=json))
    app.router.add_get("/test-page/expected", pages._guarded("expected", expected))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def test_a_bug_is_a_500_page_with_the_reference_of_its_log_line(
    failing: Client, caplog: pytest.LogCaptureFixture
) -> None:
    response = await failing.get("/test-page/bug", headers=RU)
    assert response.status == 500
    assert_secure(response)
    html = await response.text()
    assert "<title>Что-то пошло не так" in html
    [line] = [r for r in caplog.records if r.name == "bot.orders.web"]
    assert (line.levelno, line.exc_info is not None) == (logging.ERROR, True)
    reference = line.getMessage().split("ref=")[1].split()[0]
    assert re.fullmatch(r"[0-9a-f]{8}", reference)  # short enough to read out to support, random
    assert line.getMessage() == f"order page failed ref={reference} route=bug method=GET"
    assert f"(код {reference})" in html

    response = await failing.get("/test-json/bug")
    assert response.status == 500
    body = await response.json()
    assert body == {"error": "internal error", "reference": body["reference"]}
    assert re.fullmatch(r"[0-9a-f]{8}", body["reference"])
    assert_secure(response)


async def test_a_fault_of_the_database_is_a_503_page_or_json_and_aiohttps_answers_pass(failing: Client) -> None:
    response = await failing.get("/test-page/disk")
    assert (response.status, response.headers["Retry-After"]) == (503, RETRY_AFTER)
    assert "<title>Please try again in a minute" in await response.text()
    response = await failing.get("/test-json/disk")
    assert (response.status, response.headers["Retry-After"]) == (503, RETRY_AFTER)
    assert await response.json() == {"error": "temporarily unavailable"}
    assert_secure(response)
    assert (await failing.get("/test-page/expected")).status == 304
