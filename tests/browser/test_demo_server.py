"""The demo site's static server (no browser needed)."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

import dev.web.serve as serve
from dev.web.serve import build_server, content_security_policy, resolve

RASA = "http://127.0.0.1:5999"


@pytest.fixture
def site() -> Iterator[str]:
    server = build_server("127.0.0.1", 0, RASA)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_pages_point_the_widget_at_the_configured_rasa_server(site: str) -> None:
    for path in ("/", "/about.html"):
        status, headers, body = get(site + path)
        assert status == 200
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        page = body.decode()
        assert page.count("<script") == 1 and 'src="/clinic-chat.js"' in page
        assert f'data-server-url="{RASA}"' in page
        assert "localhost:5005" not in page
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
        assert f"connect-src 'self' {RASA} ws://127.0.0.1:5999" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/../settings.yml", "/..%2fsettings.yml", "/%2e%2e/Makefile",
                                  "/.hidden", "/demo/index.html", "/nothing-here.html",
                                  # A NUL byte raised ValueError in Path.resolve(): the
                                  # connection dropped with no answer and a traceback.
                                  "/index.html%00.js", "/%00", "/clinic-chat.js%00"])
def test_nothing_outside_the_demo_site_is_served(site: str, path: str) -> None:
    status, _, body = get(site + path)
    assert status == 404
    assert b"Makefile" not in body and b"allowed_origins" not in body


def test_missing_bundle_says_how_to_build_it(site: str, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(serve, "DIST_DIR", tmp_path)
    status, _, body = get(site + "/clinic-chat.js")
    assert status == 503
    assert b"npm ci && npm run build" in body


def test_only_http_rasa_urls_are_accepted() -> None:
    with pytest.raises(ValueError):
        build_server("127.0.0.1", 0, "javascript:alert(1)")
    with pytest.raises(ValueError):
        content_security_policy("localhost:5005")
    assert "wss://chat.example.org" in content_security_policy("https://chat.example.org/")


def test_resolve_maps_only_known_names() -> None:
    assert resolve("/") == serve.DEMO_DIR.resolve() / "index.html"
    assert resolve("/clinic-chat.js?v=2") == serve.DIST_DIR / "clinic-chat.js"
    assert resolve("/sub/index.html") is None
