"""The linking pages in a real browser (Chromium through Playwright): the whole flow through the fake IdP's
redirects, at phone and desktop width; the strict CSP still lets the page's own stylesheet apply."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from tests.linking.conftest import Harness

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


async def _open(browser: Browser, size: str, url: str) -> tuple[Page, int]:
    context = await browser.new_context(viewport=SIZES[size])  # type: ignore[arg-type]
    page = await context.new_page()
    response = await page.goto(url)
    assert response is not None
    return page, response.status


@pytest.mark.parametrize("size", ["phone", "desktop"])
async def test_linked_and_refused_pages(browser: Browser, harness: Harness, tmp_path: Path, size: str) -> None:
    page, status = await _open(browser, size, await harness.start_url(42))
    assert status == 200
    await page.get_by_role("heading", name="Account linked").wait_for()
    assert "Neverlose account A49" in await page.inner_text("main")
    # the inline stylesheet is allowed by its hash: the green success border applies
    colour = await page.eval_on_selector("main", "e => getComputedStyle(e).borderTopColor")
    assert colour == "rgb(59, 165, 93)"
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= SIZES[size]["width"]  # nothing overflows sideways on a phone
    await page.screenshot(path=str(tmp_path / f"linked-{size}.png"))
    assert await harness.links() == [(42, "1001", "A49")]

    await harness.service.links.unlink(42)
    harness.idp.forge = "bad_signature"
    page, status = await _open(browser, size, await harness.start_url(42))
    assert status == 502
    await page.get_by_role("heading", name="Sign-in could not be verified").wait_for()
    text = await page.inner_text("main")
    assert "signature of the signed identity is not valid" in text
    assert "Nothing was linked" in text
    colour = await page.eval_on_selector("main", "e => getComputedStyle(e).borderTopColor")
    assert colour == "rgb(237, 66, 69)"
    await page.screenshot(path=str(tmp_path / f"refused-{size}.png"))
    assert await harness.links() == []


async def test_unavailable_page(browser: Browser, harness: Harness, tmp_path: Path) -> None:
    start_url = await harness.start_url(42)
    harness.idp.discovery_status = 404
    assert not await harness.service.discovery.refresh()
    page, status = await _open(browser, "phone", start_url)
    assert status == 503
    await page.get_by_role("heading", name="Linking is unavailable").wait_for()
    assert "try again later" in await page.inner_text("main")
    await page.screenshot(path=str(tmp_path / "unavailable-phone.png"))


async def test_the_pages_in_russian_and_the_switcher(browser: Browser, harness: Harness, tmp_path: Path) -> None:
    """A Russian browser gets Russian pages; the switcher's link remembers English in a cookie."""
    context = await browser.new_context(viewport=SIZES["phone"], locale="ru-RU")  # type: ignore[arg-type]
    page = await context.new_page()
    response = await page.goto(await harness.start_url(42))
    assert response is not None
    assert response.status == 200
    await page.get_by_role("heading", name="Аккаунт привязан").wait_for()
    assert "привязан к аккаунту Neverlose A49" in await page.inner_text("main")
    assert await page.get_attribute("html", "lang") == "ru"
    await page.screenshot(path=str(tmp_path / "linked-ru-phone.png"))
    await page.get_by_role("link", name="English").click()
    await page.get_by_role("heading", name="English").wait_for()
    assert "in English" in await page.inner_text("main")
    assert [c["value"] for c in await context.cookies() if c["name"] == "lang"] == ["en"]
    await harness.service.links.unlink(42)
    response = await page.goto(await harness.start_url(42))  # the cookie wins over Accept-Language
    await page.get_by_role("heading", name="Account linked").wait_for()
    await context.close()


async def test_the_discord_language_carried_by_the_start_link(
    browser: Browser, harness: Harness, tmp_path: Path
) -> None:
    """``/link start`` in a Russian Discord client gives a link with ``?lang=ru``: the result page is Russian
    in an English browser too."""
    context = await browser.new_context(viewport=SIZES["desktop"], locale="en-US")  # type: ignore[arg-type]
    page = await context.new_page()
    harness.idp.forge = "bad_signature"
    response = await page.goto(await harness.start_url(42, "ru"))
    assert response is not None
    assert response.status == 502
    await page.get_by_role("heading", name="Вход не удалось проверить").wait_for()
    text = await page.inner_text("main")
    assert "подпись удостоверения недействительна" in text
    await page.screenshot(path=str(tmp_path / "refused-ru-desktop.png"))
    await context.close()
