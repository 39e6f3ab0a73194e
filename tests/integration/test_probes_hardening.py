"""Probes of issue 24 (hardening), each an attack on the running servers started as
`make run` starts them (tests/conftest.py: the same commands, on free loopback ports).

One probe (or a small group) per item: private file modes, REST conversations that belong
to their caller, REST refusing browsers and unknown Host headers, erasure of an SMS
conversation found by content, the console's sessions / audit / compressed bodies /
lock-out / narrow Rasa credential, logs without patients' words, the webhook that never
follows a redirect, widget tokens that expire and are revoked by "Start over", HAProxy's
headers and chunked bodies, and malformed bodies on every port.
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import json
import os
import re
import shutil
import sqlite3
import subprocess
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from clinic.rasa.action_server import TOKEN_HEADER
from tests.conftest import ROOT, TEST_SECRETS, Servers, free_port, wait_for
from tests.integration.test_integration_sms import post_sms
from tests.support.console_server import STAFF_PASSWORD, Console, StaffClient, hidden, start_console

pytestmark = pytest.mark.integration
API_TOKEN = TEST_SECRETS["CLINIC_RASA_API_TOKEN"]
ORIGIN = "http://localhost:8000"
# Words of a patient that the probes send; none may reach a log.
CONDITION = "isotretinoin"
PROBE_EMAIL = "probe.patient@example.net"
PROBE_PHONE = "+14155550166"


# ----------------------------------------------------------------------------- helpers
def request(url: str, method: str = "GET", body: bytes | None = None,
            headers: dict[str, str] | None = None, source: str | None = None,
            ) -> tuple[int, dict[str, str], str]:
    """One HTTP request with exactly these headers (Host included, if given)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=90,
                                            source_address=(source, 0) if source else None)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = dict(headers or {})
        skip_host = any(k.lower() == "host" for k in headers)
        connection.putrequest(method, path or "/", skip_host=skip_host,
                              skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        if body is not None and not any(k.lower() in ("content-length", "transfer-encoding")
                                        for k in headers):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return (response.status, {k.lower(): v for k, v in response.getheaders()},
                response.read().decode("utf-8", "replace"))
    finally:
        connection.close()


def rest_post(servers: Servers, payload: object, headers: dict[str, str] | None = None,
              ) -> tuple[int, dict[str, str], str]:
    return request(f"{servers.rasa_url}/webhooks/rest/webhook", "POST",
                   json.dumps(payload).encode(),
                   {"Content-Type": "application/json", **(headers or {})})


def events_of(servers: Servers, sender: str) -> list[dict]:
    status, _, body = request(f"{servers.rasa_url}/conversations/{sender}/tracker"
                              f"?token={API_TOKEN}")
    assert status == 200, body
    return json.loads(body)["events"]


def no_traceback(text: str) -> bool:
    return "Traceback" not in text and 'File "' not in text


@pytest.fixture(scope="module")
def servers(assistant_servers: Servers) -> Servers:
    done = subprocess.run([str(Path(os.sys.executable)), "-m", "clinic.store.db"],
                          env=assistant_servers.env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return assistant_servers


@pytest.fixture(scope="module")
def console(servers: Servers) -> Iterator[Console]:
    """The console as `make run` starts it: without Rasa's API token (only the JWT secret)."""
    env = {k: v for k, v in servers.env.items() if k != "CLINIC_RASA_API_TOKEN"}
    started = start_console(SimpleNamespace(env=env, rasa_url=servers.rasa_url,
                                            workdir=servers.workdir))
    try:
        yield started
    finally:
        started.stop()


# ----------------------------------------------------------------------------- file modes
def test_databases_and_their_journals_are_the_users_only(servers: Servers) -> None:
    servers.chat(f"modes-{uuid.uuid4().hex[:8]}", "hello")
    files = [p for p in servers.workdir.iterdir()
             if p.name.startswith(("clinic.db", "tracker.db"))]
    assert {"clinic.db", "tracker.db"} <= {p.name for p in files}
    for path in files:
        assert path.stat().st_mode & 0o077 == 0, f"{path.name} is {oct(path.stat().st_mode)}"


def test_relative_database_folders_are_created_private(tmp_path: Path) -> None:
    """var/ of `make run` (a relative SQLite URL): the folder is made 0700, and an existing
    0755 one is tightened, by the same code every server uses."""
    from clinic.config.private_files import private_folder

    loose = tmp_path / "var"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)
    private_folder(loose)
    assert loose.stat().st_mode & 0o777 == 0o700
    fresh = private_folder(tmp_path / "new" / "var")
    assert fresh.stat().st_mode & 0o777 == 0o700


def test_run_script_and_systemd_units_create_private_files() -> None:
    assert re.search(r"^umask 077$", (ROOT / "tools" / "run.sh").read_text(), re.M)
    for unit in (ROOT / "deploy" / "systemd").glob("*.service"):
        text = unit.read_text()
        for line in ("UMask=0077", "NoNewPrivileges=yes", "ProtectSystem=strict",
                     "ProtectHome=yes", "PrivateTmp=yes", "ReadWritePaths=/opt/clinic/var"):
            assert re.search(rf"^{re.escape(line)}", text, re.M), (unit.name, line)


# ----------------------------------------------------------------------------- REST
def test_a_rest_conversation_belongs_to_the_caller_that_started_it(servers: Servers) -> None:
    victim = f"victim-{uuid.uuid4().hex[:8]}"
    servers.chat(victim, "what is microneedling?")
    servers.chat(victim, f"I take {CONDITION}")
    before = len(events_of(servers, victim))
    for headers in ({}, {"X-Conversation-Token": "guessed-token-0123456789"}):
        status, _, body = rest_post(servers, {"sender": victim, "message": "yes"}, headers)
        assert status == 403 and "another caller" in body, (status, body)
        assert "microneedling" not in body.lower()
    assert len(events_of(servers, victim)) == before  # nothing processed
    # The owner goes on as before.
    assert servers.chat(victim, "thanks")


@pytest.mark.parametrize("headers, status", [
    ({"Content-Type": "text/plain"}, 415),
    ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
    ({"Content-Type": "multipart/form-data; boundary=x"}, 415),
    ({}, 415),
    ({"Content-Type": "application/json", "Origin": "http://evil.example"}, 403),
    ({"Content-Type": "application/json", "Origin": "null"}, 403),
])
def test_rest_refuses_what_a_web_page_could_send(servers: Servers, headers: dict,
                                                 status: int) -> None:
    sender = f"page-{uuid.uuid4().hex[:8]}"
    got, _, body = request(f"{servers.rasa_url}/webhooks/rest/webhook", "POST",
                           json.dumps({"sender": sender, "message": "hi"}).encode(), headers)
    assert got == status, body
    assert not [e for e in events_of(servers, sender) if e.get("event") == "user"]


@pytest.mark.parametrize("path", ["/webhooks/rest/webhook", f"/status?token={API_TOKEN}",
                                  "/socket.io/?EIO=4&transport=polling", "/"])
def test_rasa_refuses_unknown_host_headers(servers: Servers, path: str) -> None:
    """DNS rebinding: a page on rebind.example (resolving to 127.0.0.1) reaches nothing."""
    method = "POST" if "rest" in path else "GET"
    body = json.dumps({"sender": "rebind-1", "message": "hi"}).encode() if method == "POST" \
        else None
    status, _, text = request(servers.rasa_url + path, method, body,
                              {"Host": "rebind.example:5005",
                               "Content-Type": "application/json"})
    assert status == 421, (status, text)
    # Loopback names are answered.
    status, _, _ = request(f"{servers.rasa_url}/status?token={API_TOKEN}", "GET", None,
                           {"Host": f"localhost:{servers.rasa_url.rsplit(':', 1)[1]}"})
    assert status == 200


def test_the_console_refuses_unknown_host_headers(console: Console) -> None:
    status, _, _ = request(f"{console.url}/login", headers={"Host": "rebind.example"})
    assert status == 421
    assert request(f"{console.url}/login")[0] == 200


# ----------------------------------------------------------------------------- erasure
def test_erase_by_email_removes_an_sms_conversation_found_by_content(servers: Servers) -> None:
    number = "+14155550" + str(100 + int(uuid.uuid4().int % 800))
    email = f"erase.{uuid.uuid4().hex[:6]}@example.org"
    status, _ = post_sms(servers, number, f"hi, it's me, my email is {email}")
    assert status == 200
    done = servers.run_cli("erase", "--email", email, "--yes")
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(servers.workdir / "clinic.db") as db:
        assert db.execute("SELECT COUNT(*) FROM sms_messages WHERE phone_e164 = ?",
                          (number,)).fetchone()[0] == 0
    with sqlite3.connect(servers.workdir / "tracker.db") as db:
        left = db.execute("SELECT COUNT(*) FROM events WHERE sender_id = ? OR data LIKE ?",
                          (number, f"%{email}%")).fetchone()[0]
    assert left == 0


# ----------------------------------------------------------------------------- console
def _staff(console: Console, name: str) -> str:
    return console.add_staff(f"{name}-{uuid.uuid4().hex[:6]}@clinic.example", name)


def _audit_count(servers: Servers, detail_like: str = "%") -> int:
    with sqlite3.connect(servers.workdir / "clinic.db") as db:
        return db.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'view' AND detail "
                          "LIKE ?", (detail_like,)).fetchone()[0]


def test_a_new_password_or_a_disabled_account_ends_every_session(console: Console) -> None:
    email = _staff(console, "Pat")
    client = StaffClient(console, email)
    assert "Inbox" in client.get("/")
    done = subprocess.run([str(Path(os.sys.executable).parent / "clinic"), "staff", "password",
                           "--email", email, "--password-stdin"],
                          input=STAFF_PASSWORD + " new\n", env=console.env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Log in" in client.get("/") or "password" in client.get("/").lower()
    assert "Inbox" not in client.get("/")


def test_every_response_with_patient_text_is_audited(servers: Servers,
                                                     console: Console) -> None:
    who = f"audit-{uuid.uuid4().hex[:8]}"
    servers.chat(who, "I want to talk to a person")
    client = StaffClient(console, _staff(console, "Ann"))
    before = _audit_count(servers)
    links = client.conversation_links("recent")
    assert links
    assert _audit_count(servers, "inbox recent%") >= 1
    link = links[0][0]
    lines = json.loads(client.get(f"{link}/events?after=0"))["lines"]
    assert lines
    assert _audit_count(servers, "%new lines after event 0") >= 1
    # A poll that brings nothing new is not audited (it runs every 2 s).
    last = json.loads(client.get(f"{link}/events?after=0"))["lines"][-1]["id"]
    quiet = _audit_count(servers)
    assert json.loads(client.get(f"{link}/events?after={last}"))["lines"] == []
    assert _audit_count(servers) == quiet
    client.get("/insights")
    assert _audit_count(servers, "insights %") >= 1
    assert _audit_count(servers) > before


def test_compressed_bodies_are_refused_before_they_are_inflated(console: Console) -> None:
    bomb = gzip.compress(b"email=" + b"a" * (16 * 1024 * 1024))
    assert len(bomb) < 64 * 1024
    status, _, text = request(f"{console.url}/login", "POST", bomb,
                              {"Content-Type": "application/x-www-form-urlencoded",
                               "Content-Encoding": "gzip"})
    assert status == 415 and no_traceback(text)


def _login(console: Console, email: str, password: str, source: str = "127.0.0.1",
           ) -> tuple[int, str]:
    status, headers, page = request(f"{console.url}/login", source=source)
    token = hidden(page, "csrf_token")
    cookie = headers["set-cookie"].split(";", 1)[0]
    body = urllib.parse.urlencode({"email": email, "password": password,
                                   "csrf_token": token}).encode()
    status, _, page = request(f"{console.url}/login", "POST", body, {
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}, source=source)
    message = re.search(r'role="alert">(.*?)<', page, re.S)
    return status, (message.group(1).strip() if message else page[:200])


def test_lock_out_answers_alike_and_cannot_lock_staff_out(console: Console) -> None:
    known = _staff(console, "Kim")
    unknown = f"nobody-{uuid.uuid4().hex[:6]}@clinic.example"
    attacker = "127.0.0.3"
    answers = {email: [_login(console, email, "wrong password 1234", attacker)
                       for _ in range(7)] for email in (known, unknown)}
    assert answers[known] == answers[unknown]  # no difference for a known address
    assert answers[known][0][0] == 401 and answers[known][-1][0] == 429
    # The member of staff, at their own desk, still logs in.
    status, _ = _login(console, known, STAFF_PASSWORD, "127.0.0.4")
    assert status == 303


def test_a_burst_of_simultaneous_attempts_does_not_pass_the_throttle(
        console: Console, servers: Servers) -> None:
    email = _staff(console, "Bo")
    source = "127.0.0.5"
    results: list[int] = []

    def attempt() -> None:
        results.append(_login(console, email, "wrong password 1234", source)[0])

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    checked = results.count(401)
    assert checked <= 5 and results.count(429) == 20 - checked, results
    with sqlite3.connect(servers.workdir / "clinic.db") as db:
        failed = db.execute("SELECT COUNT(*) FROM audit_log WHERE staff_email = ? AND action "
                            "IN ('login_failed', 'locked')", (email.lower(),)).fetchone()[0]
    assert failed == checked  # only the reserved attempts reached the password check


def test_the_console_holds_no_all_powers_rasa_token(servers: Servers, console: Console) -> None:
    assert "CLINIC_RASA_API_TOKEN" not in console.env
    who = "+1415555" + str(1000 + uuid.uuid4().int % 8000)
    status, _ = post_sms(servers, who, "I want to talk to a person")
    assert status == 200
    client = StaffClient(console, _staff(console, "Joe"))
    link = client.conversation_links("sms")[0][0]  # the newest SMS conversation: this one
    page = client.act(link, "take-over")
    notice = re.findall(r'role="status"[^>]*>(.*?)<', page, re.S)
    assert notice and "You have taken over" in notice[0], notice
    assert any(e.get("event") == "pause" for e in events_of(servers, who))
    client.act(link, "hand-back")
    # What the console's credential can do: append events to the conversation it names,
    # and nothing else of Rasa's API.
    from clinic.console.takeover import conversation_jwt

    jwt = conversation_jwt(who, TEST_SECRETS["CLINIC_CONSOLE_JWT_SECRET"])
    bearer = {"Authorization": f"Bearer {jwt}", "Content-Type": "application/json"}
    for method, path in (("GET", f"/conversations/{who}/tracker"), ("GET", "/status"),
                         ("PUT", "/model"), ("POST", f"/conversations/{who}/messages"),
                         ("POST", "/model/parse")):
        status, _, _ = request(servers.rasa_url + path, method, b"{}", bearer)
        assert status in (401, 403), (method, path, status)
    other = f"other-{uuid.uuid4().hex[:8]}"
    servers.chat(other, "hello")
    status, _, _ = request(f"{servers.rasa_url}/conversations/{other}/tracker/events", "POST",
                           json.dumps({"event": "pause"}).encode(), bearer)
    assert status == 403
    status, _, _ = request(f"{servers.rasa_url}/conversations/{who}/tracker/events", "POST",
                           json.dumps({"event": "resume"}).encode(), bearer)
    assert status == 200


# ----------------------------------------------------------------------------- webhook
class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []
    location = ""

    def do_POST(self) -> None:
        self.hits.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.location:
            self.send_response(307)
            self.send_header("Location", self.location)
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def test_the_booking_webhook_never_follows_a_redirect() -> None:
    import clinic.services.webhook as webhook

    class Elsewhere(_Recorder):
        hits: list[str] = []

    target = ThreadingHTTPServer(("127.0.0.1", 0), Elsewhere)

    class Redirecting(_Recorder):
        hits: list[str] = []
        location = f"http://127.0.0.1:{target.server_port}/stolen"

    first = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    for server in (target, first):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(Exception) as raised:
            webhook._post(f"http://127.0.0.1:{first.server_port}/hook", b"{}", 1,  # noqa: SLF001
                          "a-signing-secret-0123456789abcdef")
        assert "307" in str(raised.value)
        assert Redirecting.hits == ["/hook"] and Elsewhere.hits == []
    finally:
        for server in (target, first):
            server.shutdown()


# ----------------------------------------------------------------------------- widget
async def _widget_session(servers: Servers, session: tuple[str, str] | None,
                          end: bool = False) -> dict:
    import socketio

    client = socketio.AsyncClient(reconnection=False)
    confirmed: asyncio.Future = asyncio.get_running_loop().create_future()
    client.on("session_confirm", lambda data: confirmed.set_result(data))
    await client.connect(servers.rasa_url, headers={"Origin": ORIGIN}, transports=["polling"],
                         socketio_path="/socket.io", wait_timeout=10)
    try:
        await client.emit("session_request",
                          {"session_id": session[0], "session_token": session[1]} if session
                          else {"session_id": None})
        confirmation = await asyncio.wait_for(confirmed, 10)
        if end:
            await client.emit("session_end", {"session_id": confirmation["session_id"],
                                              "session_token": confirmation["session_token"]})
            await asyncio.sleep(1)
        return confirmation
    finally:
        await client.eio.disconnect(abort=True)


def test_widget_tokens_expire_and_start_over_revokes_them(servers: Servers,
                                                          monkeypatch) -> None:
    from clinic.rasa.channels import socketio as channel

    first = asyncio.run(_widget_session(servers, None))
    session = (first["session_id"], first["session_token"])
    again = asyncio.run(_widget_session(servers, session))
    assert again["session_id"] == session[0]  # a valid token rejoins
    # A token that expired a minute ago (signed with the server's secret) does not.
    monkeypatch.setenv("CLINIC_SESSION_SECRET", TEST_SECRETS["CLINIC_SESSION_SECRET"])
    stale = channel.session_token(session[0], now=time.time() - channel.SESSION_TOKEN_SECONDS
                                  - 60)
    assert asyncio.run(_widget_session(servers, (session[0], stale)))["session_id"] != session[0]
    # "Start over" revokes: the old, unexpired token no longer reopens the conversation.
    asyncio.run(_widget_session(servers, (session[0], again["session_token"]), end=True))
    after = asyncio.run(_widget_session(servers, (session[0], again["session_token"])))
    assert after["session_id"] != session[0]


# ----------------------------------------------------------------------------- HAProxy
class _Echo(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        self.seen.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def proxy(servers: Servers, tmp_path_factory) -> Iterator[str]:
    if not shutil.which("haproxy"):
        pytest.fail("haproxy is missing: `make cluster-deps` installs it (make test does).")
    echo = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    rasa = servers.rasa_url.removeprefix("http://")
    actions = servers.actions_url.removeprefix("http://")
    port = free_port()
    env = {**os.environ, "CLINIC_PROXY_BIND": f"127.0.0.1:{port}", "CLINIC_RASA_1": rasa,
           "CLINIC_RASA_2": rasa, "CLINIC_WEB": f"127.0.0.1:{echo.server_port}",
           "CLINIC_ACTIONS_BIND": f"127.0.0.1:{free_port()}", "CLINIC_ACTIONS_1": actions,
           "CLINIC_ACTIONS_2": actions, "CLINIC_PROXY_STATS_BIND": f"127.0.0.1:{free_port()}",
           "CLINIC_API_TOKEN": "probe-api-token-0123456789abcdef",
           "CLINIC_RASA_API_TOKEN": API_TOKEN}
    log = tmp_path_factory.mktemp("proxy") / "haproxy.log"
    with log.open("w") as out:
        process = subprocess.Popen(["haproxy", "-db", "-f", str(ROOT / "deploy" / "haproxy.cfg")],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(f"http://127.0.0.1:{port}/", 30, process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        echo.shutdown()


def test_the_proxy_strips_client_forwarding_headers(proxy: str) -> None:
    _Echo.seen.clear()
    status, _, _ = request(proxy + "/", headers={
        "X-Forwarded-For": "203.0.113.66", "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.example", "Forwarded": "for=203.0.113.66", "X-Real-IP":
        "203.0.113.66"})
    assert status == 200
    seen = _Echo.seen[-1]
    assert "203.0.113.66" not in json.dumps(seen)
    assert seen.get("x-forwarded-for") == "127.0.0.1"
    assert seen.get("x-forwarded-proto") == "http"
    assert "x-forwarded-host" not in seen and "forwarded" not in seen


def test_the_proxy_bounds_chunked_bodies(proxy: str) -> None:
    def chunks() -> bytes:
        piece = b"x" * 8192
        return (f"{len(piece):x}\r\n".encode() + piece + b"\r\n") * 20 + b"0\r\n\r\n"

    status, _, _ = request(proxy + "/webhooks/rest/webhook", "POST", chunks(), {
        "Transfer-Encoding": "chunked", "Content-Type": "application/json",
        "Authorization": "Bearer probe-api-token-0123456789abcdef"})
    assert status == 411


def test_the_proxy_cookie_is_secure_behind_tls() -> None:
    config = (ROOT / "deploy" / "haproxy.cfg").read_text()
    assert re.search(r"http-after-response replace-header Set-Cookie '\^\(CLINIC_RASA=\.\*\)\$'"
                     r" '\\1; Secure' if \{ ssl_fc \}", config)


# ----------------------------------------------------------------------------- bodies
NESTED = b"[" * 200_000 + b"]" * 200_000
MALFORMED = {
    "deeply nested JSON": NESTED,
    "nested object": b'{"sender": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"}",
    "wrong types": b'{"sender": ["a"], "message": {"b": 1}, "metadata": 7}',
    "invalid UTF-8": b'{"sender": "probe-\xff", "message": "\xfe\xfd"}',
    "huge": b'{"sender": "probe-huge", "message": "' + b"x" * (3 * 1024 * 1024) + b'"}',
}


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_bodies_get_a_4xx_without_a_traceback_on_every_port(
        servers: Servers, console: Console, kind: str) -> None:
    body = MALFORMED[kind]
    json_headers = {"Content-Type": "application/json"}
    targets = [
        (f"{servers.rasa_url}/webhooks/rest/webhook", json_headers),
        (f"{servers.rasa_url}/conversations/probe-body/tracker/events?token={API_TOKEN}",
         json_headers),
        (f"{servers.rasa_url}/model/parse?token={API_TOKEN}", json_headers),
        (f"{servers.rasa_url}/webhooks/twilio/webhook",
         {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "x"}),
        (f"{servers.rasa_url}/socket.io/?EIO=4&transport=polling&sid=nope",
         {"Content-Type": "text/plain;charset=UTF-8", "Origin": ORIGIN}),
        (f"{servers.actions_url}/webhook",
         {**json_headers, TOKEN_HEADER: TEST_SECRETS["CLINIC_ACTIONS_TOKEN"]}),
        (f"{console.url}/login", {"Content-Type": "application/x-www-form-urlencoded"}),
    ]
    for url, headers in targets:
        try:
            status, _, text = request(url, "POST", body, headers)
        except (ConnectionResetError, BrokenPipeError):
            # A server may answer 413 and close while a 3 MB body is still being sent (a
            # race: the client then sees a reset). Refused either way, and nothing of it
            # processed; the server must go on serving.
            assert kind == "huge", (kind, url)
            parts = urllib.parse.urlsplit(url)
            assert request(f"{parts.scheme}://{parts.netloc}/", "GET")[0] < 500, url
            continue
        assert 400 <= status < 500, (kind, url, status, text[:300])
        assert no_traceback(text), (kind, url, text[:300])


def test_a_logged_in_console_form_with_a_malformed_body_gets_a_4xx(console: Console) -> None:
    client = StaffClient(console, _staff(console, "Max"))
    cookie = "; ".join(f"{c.name}={c.value}" for c in client.jar)
    for body in (b"csrf_token=\xff\xfe&text=\xfe", b"a" * (3 * 1024 * 1024), b"%%%%%"):
        status, _, text = request(f"{console.url}/logout", "POST", body, {
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
        assert 400 <= status < 500, (status, text[:300])
        assert no_traceback(text)


# ----------------------------------------------------------------------------- logs
def test_no_patient_words_in_any_log_after_the_probes(servers: Servers) -> None:
    """Runs last in this module: the words the probes sent, in JSON, in URL paths, in
    broken requests, appear in no log line of any server (the console's included)."""
    who = f"logs-{uuid.uuid4().hex[:8]}"
    servers.chat(who, f"I take {CONDITION}, email {PROBE_EMAIL}")
    # A conversation id that is a phone number, in a URL path; patient words inside JSON of
    # an invalid event (Rasa logs the failure).
    request(f"{servers.rasa_url}/conversations/{PROBE_PHONE}/tracker/events?token={API_TOKEN}",
            "POST", json.dumps({"event": "user", "text": f"{CONDITION} {PROBE_EMAIL}",
                                "timestamp": "not a time"}).encode(),
            {"Content-Type": "application/json"})
    request(f"{servers.actions_url}/webhook", "POST",
            json.dumps({"next_action": "action_save_booking", "tracker": {
                "sender_id": PROBE_PHONE, "events": [{"event": "user", "text": CONDITION}],
                "slots": "broken"}}).encode(),
            {"Content-Type": "application/json",
             TOKEN_HEADER: TEST_SECRETS["CLINIC_ACTIONS_TOKEN"]})
    time.sleep(1)
    logs = {p.name: p.read_text(errors="replace") for p in servers.workdir.glob("*.log")}
    assert "rasa.log" in logs and any(name.startswith("console-") for name in logs)
    for name, text in logs.items():
        for secret in (CONDITION, PROBE_EMAIL, PROBE_PHONE, PROBE_PHONE[2:]):
            assert secret.lower() not in text.lower(), f"{secret!r} is in {name}"
