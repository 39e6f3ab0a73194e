"""Helpers of the browser tests: the demo site server and browser contexts that see it at
http://localhost:8000 (the origin the Rasa server accepts by default)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from dev.web.serve import build_server

SITE = "http://localhost:8000"


def serve_demo(rasa_url: str) -> tuple[str, Callable[[], None]]:
    """Start the demo site server for ``rasa_url``; returns its base URL and a stop function."""
    server = build_server("127.0.0.1", 0, rasa_url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return f"http://127.0.0.1:{server.server_address[1]}", stop


@dataclass
class Visit:
    """One browser context on the demo site, with what happened in it."""

    context: object
    page: object
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def open_context(browser, demo_url: str, **options) -> Visit:
    """A fresh browser context (own storage) whose http://localhost:8000 is the demo site."""
    # The forwarded pages have no network address of their own, so Chromium treats them
    # as public pages reaching into the loopback network (Local Network Access) and blocks
    # their socket.io requests to the loopback Rasa server unless this is granted. A
    # clinic's site and its Rasa server on public addresses never meet that check.
    options.setdefault("permissions", ["local-network-access"])
    context = browser.new_context(**options)
    context.set_default_timeout(15_000)

    def forward(route) -> None:
        target = demo_url + route.request.url[len(SITE):]
        route.fulfill(response=route.fetch(url=target))

    context.route(f"{SITE}/**", forward)
    page = context.new_page()
    visit = Visit(context, page)

    def on_dialog(dialog) -> None:
        visit.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: visit.errors.append(str(error)))
    page.on("console", lambda message: message.type == "error"
            and visit.errors.append(message.text))
    return visit
