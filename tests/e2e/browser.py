"""Playwright on Debian's chromium (scripts/setup.sh installs both; no browser is ever downloaded).

``chromium_page`` opens a headless page at a locale; ``screenshot_on_failure`` saves what the page looked like when a
step failed and names the file in the failure. A missing browser is an error, never a skip: the console tests are
part of the acceptance of the console.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from playwright.async_api import Page, async_playwright

CHROMIUM = Path("/usr/bin/chromium")


@contextlib.asynccontextmanager
async def chromium_page(locale: str = "en-US", width: int = 1280, height: int = 800) -> AsyncIterator[Page]:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium package"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            context = await browser.new_context(
                locale=locale, viewport={"width": width, "height": height}, accept_downloads=True
            )
            page = await context.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def screenshot_on_failure(page: Page, name: str) -> AsyncIterator[None]:
    try:
        yield
    except BaseException as failure:
        path = Path(tempfile.mkdtemp(prefix="console-failure-")) / f"{name}.png"
        with contextlib.suppress(Exception):
            await page.screenshot(path=str(path), full_page=True)
        raise AssertionError(f"{failure!r}; screenshot of the page: {path}") from failure
