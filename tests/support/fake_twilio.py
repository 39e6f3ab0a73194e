"""A local stand-in for Twilio's REST API (Messages resource) on a loopback port.

It answers ``POST /2010-04-01/Accounts/{sid}/Messages.json`` the way Twilio does: HTTP
basic auth with the account SID and auth token, form fields ``To``, ``From``, ``Body``,
a JSON message resource with an ``SM...`` sid on success, and Twilio's JSON error body
(``code``, ``message``, ``status``) on failure. Everything accepted is recorded so tests
can assert what a patient would have received, and when.

Point the project at it with ``CLINIC_TWILIO_API_BASE=<fake.base_url>`` (or pass
``api_base`` to :class:`clinic.sms.transport.TwilioTransport`). Used by the SMS tests and
by integration tests that start the real servers.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "fake-twilio-auth-token"

# Twilio's documented error codes and messages for the cases tests provoke.
ERRORS = {
    21211: (400, "The 'To' number is not a valid phone number."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21614: (400, "'To' number is not a valid mobile number"),
    20429: (429, "Too Many Requests"),
    20500: (500, "An internal server error has occurred"),
    20503: (503, "Service unavailable"),
}


@dataclass
class SentMessage:
    """One message the fake accepted."""

    sid: str
    to: str
    from_: str
    body: str
    account_sid: str
    accepted_at: float  # the fake's clock (time.time() unless a clock is given)


@dataclass
class FakeTwilio:
    """Run the fake API in a background thread: ``with FakeTwilio() as fake: ...``.

    - ``sent``: accepted messages, in order.
    - ``fail_always[number] = code``: every message to ``number`` fails with that Twilio
      error code (e.g. 21610 unsubscribed, 21211 invalid number).
    - ``fail_next[number] = [code, ...]``: the next messages to ``number`` fail with these
      codes, one per attempt (e.g. ``[20503]`` for one transient outage), then succeed.
    - ``requests``: every request seen (path, status), accepted or not.
    - ``delay``: seconds to wait before answering each request.
    """

    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    clock: Callable[[], float] | None = None
    sent: list[SentMessage] = field(default_factory=list)
    fail_always: dict[str, int] = field(default_factory=dict)
    fail_next: dict[str, list[int]] = field(default_factory=dict)
    requests: list[tuple[str, int]] = field(default_factory=list)
    delay: float = 0.0  # seconds to wait before answering (widens race windows)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeTwilio:
        """Listen on 127.0.0.1 on a free port."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's naming
                fake._handle_post(self)

            def do_GET(self) -> None:
                fake._reply(self, 404, _error_body(20404, 404, "The requested resource "
                                                   "was not found"))

            def log_message(self, *args: Any) -> None:
                pass  # keep test output quiet (and phone numbers out of it)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """What to use as the Twilio API base URL, e.g. ``http://127.0.0.1:40123``."""
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # ------------------------------------------------------------------ queries
    def bodies_to(self, number: str) -> list[str]:
        """Bodies of the messages accepted for ``number``, in order."""
        with self._lock:
            return [m.body for m in self.sent if m.to == number]

    # ------------------------------------------------------------------ handling
    def _handle_post(self, handler: BaseHTTPRequestHandler) -> None:
        if self.delay:
            time.sleep(self.delay)
        path = handler.path.split("?")[0]
        length = int(handler.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(handler.rfile.read(length).decode()).items()}
        prefix = f"/2010-04-01/Accounts/{self.account_sid}/"
        if not self._authorised(handler.headers.get("Authorization", "")):
            self._record(path, 401)
            self._reply(handler, 401, _error_body(20003, 401, "Authenticate"))
            return
        if path != prefix + "Messages.json":
            self._record(path, 404)
            self._reply(handler, 404, _error_body(20404, 404, "The requested resource "
                                                  "was not found"))
            return
        to, from_, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        if not to or not body or not (from_ or form.get("MessagingServiceSid")):
            self._record(path, 400)
            self._reply(handler, 400, _error_body(21604, 400, "A 'To' phone number, a 'From' "
                                                  "number and a 'Body' are required."))
            return
        code = self._failure_for(to)
        if code is not None:
            status, message = ERRORS.get(code, (400, "Error"))
            self._record(path, status)
            self._reply(handler, status, _error_body(code, status, message))
            return
        sid = "SM" + uuid.uuid4().hex
        with self._lock:
            self.sent.append(SentMessage(sid, to, from_, body, self.account_sid, self._now()))
            self.requests.append((path, 201))
        self._reply(handler, 201, {
            "sid": sid, "account_sid": self.account_sid, "to": to, "from": from_,
            "body": body, "status": "queued", "num_segments": "1", "direction": "outbound-api",
            "api_version": "2010-04-01", "error_code": None, "error_message": None,
            "uri": f"{prefix}Messages/{sid}.json",
        })

    def _authorised(self, header: str) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return header == f"Basic {expected}"

    def _failure_for(self, to: str) -> int | None:
        with self._lock:
            if to in self.fail_always:
                return self.fail_always[to]
            queue = self.fail_next.get(to)
            if queue:
                return queue.pop(0)
        return None

    def _record(self, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((path, status))

    def _now(self) -> float:
        return self.clock() if self.clock is not None else time.time()

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


def _error_body(code: int, status: int, message: str) -> dict:
    return {"code": code, "message": message, "status": status,
            "more_info": f"https://www.twilio.com/docs/errors/{code}"}
