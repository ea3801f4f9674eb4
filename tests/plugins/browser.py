"""A headless Chromium for the browser tests: checkout, Crypto Pay and linking pages (Playwright, system browser).

Without Chromium (Debian's ``chromium`` package at ``/usr/bin/chromium``) or the ``playwright`` package the
browser tests are skipped with the reason; under ``CI=true`` they fail instead (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "device_scale_factor": 1}
DOC_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def images_folder(tmp_path: Path) -> Path:
    """Where a test saves what it shows: ``docs/images/`` (the pictures the docs show) only when
    ``UPDATE_DOC_IMAGES=1``; otherwise the test's own temporary folder, so a test run leaves the work tree as it was."""
    if os.environ.get("UPDATE_DOC_IMAGES") == "1":
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        return DOC_IMAGES
    return tmp_path


@pytest.fixture
def images(tmp_path: Path) -> Path:
    return images_folder(tmp_path)


def _missing() -> str | None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run under CI: {reason}")
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()
