"""A tiny static server for the demo clinic website with the chat widget.

``python -m dev.web.serve --port 8000 [--rasa-url http://localhost:5005]`` serves the pages
of ``widget/demo/`` and the built widget ``widget/dist/clinic-chat.js`` (``npm ci && npm run
build`` in ``widget/``). The pages embed the widget with one script tag; the server points
its ``data-server-url`` at ``--rasa-url`` and sends a strict Content-Security-Policy, which the
widget works under (no inline script or style).

Only for the demo and tests: a clinic puts ``clinic-chat.js`` on its own website.
"""

from __future__ import annotations

import argparse
import html
import logging
import mimetypes
import os
import sys
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from clinic.config.private_files import private_files
from clinic.config.settings import settings
from clinic.knowledge.kb import PROJECT_ROOT

logger = logging.getLogger(__name__)

DEMO_DIR = PROJECT_ROOT / "widget" / "demo"
DIST_DIR = PROJECT_ROOT / "widget" / "dist"
WIDGET_FILES = frozenset({"clinic-chat.js", "clinic-chat.js.map"})
DEFAULT_RASA_URL = "http://localhost:5005"
# The Rasa URL written in the demo pages; replaced by the server's --rasa-url.
PAGE_RASA_URL = 'data-server-url="http://localhost:5005"'
# The site only serves files: a request announcing a larger body is refused (413).
MAX_BODY_BYTES = 64 * 1024


def rasa_origin(rasa_url: str) -> str:
    """``scheme://host[:port]`` of an http(s) URL; ValueError for anything else."""
    parts = urlsplit(rasa_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {rasa_url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(rasa_url: str) -> str:
    """The demo pages' CSP: only this site's script and styles, socket.io only to Rasa."""
    origin = rasa_origin(rasa_url)
    socket_origin = origin.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        f"connect-src 'self' {origin} {socket_origin}",
        "base-uri 'none'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self' https:",
    ])


def resolve(path: str) -> Path | None:
    """The file a URL path names, or None; never a file outside the two served folders."""
    name = unquote(urlsplit(path).path).lstrip("/") or "index.html"
    if "\x00" in name:
        return None  # the file system refuses a NUL byte (ValueError): no such file
    if name in WIDGET_FILES:
        return DIST_DIR / name
    if "/" in name or "\\" in name or name.startswith("."):
        return None  # the demo site is flat: no sub-folders, no dot files
    candidate = (DEMO_DIR / name).resolve()
    if candidate.parent != DEMO_DIR.resolve() or not candidate.is_file():
        return None
    return candidate


class DemoSiteHandler(BaseHTTPRequestHandler):
    """Serves the demo pages and the widget bundle (GET and HEAD only)."""

    server_version = "ClinicDemo"

    def __init__(self, *args: Any, rasa_url: str, **kwargs: Any) -> None:
        self.rasa_url = rasa_url
        super().__init__(*args, **kwargs)

    def version_string(self) -> str:
        """The Server header: no Python version."""
        return self.server_version

    def do_GET(self) -> None:  # name fixed by BaseHTTPRequestHandler
        if self._body_refused():
            return
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        if self._body_refused(send_body=False):
            return
        self._serve(send_body=False)

    def _refuse_method(self) -> None:
        """Any other method: 405, without reading what was sent."""
        self.close_connection = True
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"Only GET and HEAD\n",
                   "text/plain; charset=utf-8", True, extra={"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_method  # noqa: N815

    def _body_refused(self, send_body: bool = True) -> bool:
        """True (and 413 sent) if the request announces a body over MAX_BODY_BYTES."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = MAX_BODY_BYTES + 1
        if length <= MAX_BODY_BYTES:
            return False
        self.close_connection = True
        self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"Request too large\n",
                   "text/plain; charset=utf-8", send_body)
        return True

    def _serve(self, send_body: bool) -> None:
        target = resolve(self.path)
        if target is None:
            self._send(HTTPStatus.NOT_FOUND, b"Not found\n", "text/plain; charset=utf-8", send_body)
            return
        if not target.is_file():
            message = (b"The chat widget is not built yet: run `npm ci && npm run build` "
                       b"in widget/.\n")
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, message, "text/plain; charset=utf-8",
                       send_body)
            return
        body = target.read_bytes()
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if target.suffix == ".html":
            value = html.escape(self.rasa_url, quote=True)
            body = body.replace(PAGE_RASA_URL.encode(), f'data-server-url="{value}"'.encode())
        if content_type.startswith("text/") or target.suffix in (".js", ".map"):
            content_type += "; charset=utf-8"
        self._send(HTTPStatus.OK, body, content_type, send_body, html_page=target.suffix == ".html")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, send_body: bool,
              html_page: bool = False, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "strict-origin-when-cross-origin")
        # The demo is edited and rebuilt while running: always revalidate.
        self.send_header("Cache-Control", "no-cache")
        if html_page:
            self.send_header("Content-Security-Policy", content_security_policy(self.rasa_url))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base
        # Request lines go to debug only: INFO logs stay free of visitors' details.
        logger.debug("%s " + format, self.address_string(), *args)


def build_server(host: str, port: int, rasa_url: str = DEFAULT_RASA_URL) -> ThreadingHTTPServer:
    """A server for the demo site (not started); port 0 picks a free port."""
    rasa_origin(rasa_url)  # fail early on a malformed URL
    handler = partial(DemoSiteHandler, rasa_url=rasa_url.rstrip("/"))
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    """Command line: serve the demo site until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=None,
                        help="interface (default: the bind setting, 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--rasa-url", default=os.environ.get("CLINIC_RASA_URL", DEFAULT_RASA_URL),
                        help="Rasa server the widget talks to (default %(default)s)")
    args = parser.parse_args(argv)
    private_files()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    try:
        server = build_server(args.host or settings().bind, args.port, args.rasa_url)
    except ValueError as error:
        parser.error(str(error))
    if not (DIST_DIR / "clinic-chat.js").is_file():
        logger.warning("widget/dist/clinic-chat.js is missing: run `npm ci && npm run build` "
                       "in widget/ first.")
    host, port = server.server_address[:2]
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    logger.info("Demo clinic site on http://%s:%s/ (chat server %s)", shown, port, args.rasa_url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
