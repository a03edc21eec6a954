"""A real headless Chromium (Debian's ``chromium``) driven by Playwright, against a real server.

Skipped with a reason when Playwright or Chromium is missing; failed instead when
``TASKFLOW_REQUIRE_SERVICES=1`` (as CI sets; ``.ci/run`` installs Chromium when it is missing).
Screenshots go to ``build/screenshots/`` (``TASKFLOW_SCREENSHOT_DIR`` overrides it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from api_server import ApiServer, api_server
from services import service_unavailable

from taskflow.api import ApiSettings

CHROMIUM = os.environ.get("TASKFLOW_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(
    os.environ.get("TASKFLOW_SCREENSHOT_DIR", Path(__file__).parents[2] / "build" / "screenshots")
)
WIDE = {"width": 1280, "height": 800}
NARROW = {"width": 390, "height": 844}


@pytest.fixture
async def api(sqlite_url: str) -> AsyncIterator[ApiServer]:
    settings = ApiSettings(read_rate=1000, write_rate=1000)
    async with api_server(sqlite_url, settings) as server:
        yield server


def _chromium_installed() -> bool:
    return os.path.exists(CHROMIUM) or shutil.which(CHROMIUM) is not None


def _screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        service_unavailable("Playwright", "pip install playwright (the dev extra has it)")
    if not _chromium_installed():
        service_unavailable("Chromium", f"no browser at {CHROMIUM} (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            await launched.close()


class Page:
    """A signed-in page of the dashboard, failing the test on any script error."""

    def __init__(self, page: Any, api: ApiServer) -> None:
        self.page = page
        self.api = api
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        # The browser logs every non-2xx response too (a refused key is one the tests ask
        # for); what must not happen is a script error.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    async def sign_in(self, who: str = "ann") -> None:
        await self.page.goto(self.api.url + "/")
        await self.page.fill("#api-key", self.api.keys[who])
        await self.page.click("#sign-in button[type=submit]")
        await self.page.wait_for_selector("#trees")

    async def open_tree(self, tree_id: str) -> None:
        await self.page.goto(f"{self.api.url}/#/trees/{tree_id}")
        await self.page.wait_for_selector("#view[data-ready=true]")

    async def shot(self, name: str) -> Path:
        path = _screenshot_path(name)
        await self.page.screenshot(path=str(path))
        return path


@pytest.fixture
async def page(browser: Any, api: ApiServer) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport=WIDE)
    shown = Page(await context.new_page(), api)
    try:
        yield shown
    finally:
        await context.close()
    assert shown.errors == [], f"errors in the page: {shown.errors}"
