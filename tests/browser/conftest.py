"""Fixtures for the chat widget's browser tests: headless Chromium and the demo clinic site.

The browser is Debian's Chromium (``/usr/bin/chromium``); Playwright's own browser download
is not used. The demo site is served by the real ``dev.web.serve`` on a free loopback
port, but the browser sees it at http://localhost:8000 (requests to that origin are
forwarded to the test server), so pages have the origin the Rasa server accepts by default
and a running ``make run`` on port 8000 does not get in the way.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from demo_browser import Visit, open_context, serve_demo

from clinic.knowledge.kb import PROJECT_ROOT
from dev.web.serve import DIST_DIR

CHROMIUM = os.environ.get("CLINIC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = PROJECT_ROOT / "results" / "browser"


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Headless Debian Chromium driven by Playwright.

    Module-scoped on purpose: Playwright's sync API keeps an asyncio loop running in this
    thread while it is open, and later tests of the session that call ``asyncio.run`` would
    fail if it stayed open until the end of the session.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package "
                    "(`apt-get install chromium`).")
    if not (DIST_DIR / "clinic-chat.js").is_file():
        pytest.fail("widget/dist/clinic-chat.js is missing: run `npm ci && npm run build` "
                    "in widget/.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                              headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Folder for the screenshots (results/browser/)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def demo_site(assistant_servers) -> Iterator[str]:
    """The demo site's test server, its widget talking to the real Rasa server."""
    url, stop = serve_demo(assistant_servers.rasa_url)
    try:
        yield url
    finally:
        stop()


@pytest.fixture
def visit(browser, demo_site) -> Iterator[Visit]:
    """A desktop-sized visit of the demo site with the assistant running."""
    current = open_context(browser, demo_site, viewport={"width": 1280, "height": 800})
    try:
        yield current
    finally:
        current.context.close()
