"""Attacks on the running servers, from outside the processes, as `make run` starts them.

Each test does what a stranger on the network (or a curious local user) would try: read a
patient's conversation without credentials, forge an action-server call, speak as an SMS
patient over REST, hijack a widget session, send huge or empty bodies. Each must fail with a
clear status and leave nothing behind. The last test reads every log line the servers wrote
and finds none of the personal data the conversations contained.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from clinic.knowledge.kb import knowledge
from clinic.rasa.action_server import TOKEN_HEADER
from tests.conftest import ROOT, TEST_SECRETS, Servers
from tests.integration.test_integration_sms import post_sms
from tests.support import BAD_REST_BODIES

pytestmark = pytest.mark.integration
K = knowledge()
API_TOKEN = TEST_SECRETS["CLINIC_RASA_API_TOKEN"]
ORIGIN = "http://localhost:8000"

# Personal data the conversations below contain; none of it may reach a log.
NAME = "Wilhelmina Quistgaard"
PHONE_TYPED = "(415) 555-0178"
PHONE_FORMS = ("4155550178", "555-0178", "555 0178", "+14155550178")
EMAIL = "wq.private@example.org"
CONDITION = "warfarin"
SMS_PHONE = "+14155550179"


def http(method: str, url: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def rest(servers: Servers, payload: object, raw: bytes | None = None) -> tuple[int, str]:
    body = raw if raw is not None else json.dumps(payload).encode()
    return http("POST", f"{servers.rasa_url}/webhooks/rest/webhook", body,
                {"Content-Type": "application/json"})


def tracker_events(servers: Servers, sender: str) -> list[dict]:
    status, body = http("GET", f"{servers.rasa_url}/conversations/{sender}/tracker"
                               f"?token={API_TOKEN}")
    assert status == 200, body
    return json.loads(body)["events"]


def rows(servers: Servers, table: str) -> int:
    path = servers.workdir / "clinic.db"
    with sqlite3.connect(path) as connection:
        return connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


@pytest.fixture(scope="module", autouse=True)
def clinic_database(assistant_servers: Servers) -> None:
    """The clinic database exists (as after `make run`), so "nothing written" is measurable."""
    done = subprocess.run([sys.executable, "-m", "clinic.store.db"], env=assistant_servers.env,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------------ listening
def listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on ``port`` (from /proc/net/tcp*)."""
    found: set[str] = set()
    for name in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{name}").read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_servers_listen_on_loopback_only(assistant_servers: Servers) -> None:
    for url in (assistant_servers.rasa_url, assistant_servers.actions_url):
        port = int(url.rsplit(":", 1)[1])
        addresses = listening_addresses(port)
        assert addresses == {"0100007F"}, f"port {port} listens on {addresses}"


# ------------------------------------------------------------------------ Rasa HTTP API
@pytest.mark.parametrize("method, path", [
    ("GET", "/conversations/{id}/tracker"),
    ("GET", "/conversations/{id}/story"),
    ("POST", "/conversations/{id}/tracker/events"),
    ("PUT", "/conversations/{id}/tracker/events"),
    ("POST", "/conversations/{id}/execute"),
    ("POST", "/conversations/{id}/trigger_intent"),
    ("POST", "/conversations/{id}/messages"),
    ("POST", "/model/parse"),
    ("PUT", "/model"),
    ("DELETE", "/model"),
    ("GET", "/status"),
    ("GET", "/domain"),
])
@pytest.mark.parametrize("token", [None, "", "wrong-token-0123456789abcdef"])
def test_rasa_api_needs_its_token(assistant_servers: Servers, method: str, path: str,
                                  token: str | None) -> None:
    who = f"victim-{uuid.uuid4().hex[:8]}"
    assistant_servers.chat(who, "hello")
    query = "" if token is None else f"?token={token}"
    body = json.dumps({"event": "slot", "name": "x", "value": "y", "name_": "utter_greet"}
                      ).encode() if method in ("POST", "PUT") else None
    status, text = http(method, f"{assistant_servers.rasa_url}{path.format(id=who)}{query}",
                        body, {"Content-Type": "application/json"})
    assert status == 401, (status, text)
    assert "hello" not in text


def test_reading_a_tracker_with_the_token_works(assistant_servers: Servers) -> None:
    who = f"staff-{uuid.uuid4().hex[:8]}"
    assistant_servers.chat(who, "hello")
    assert any(e.get("text") == "hello" for e in tracker_events(assistant_servers, who))


# ------------------------------------------------------------------------ action server
def forged_booking_call() -> dict:
    slots = {"screening_answers": {c.id: "no" for c in K.screening.contraindications}}
    slots.update({"booking_name": "Forged Person", "booking_phone": "+14155550111",
                  "booking_email": "forged@example.org", "booking_treatment":
                  "facial_microneedling", "booking_times": "monday", "sms_consent": True,
                  "booking_confirmed": True, "promo_code": "FACIAL50"})
    return {"next_action": "action_save_booking", "sender_id": "forged", "version": "3.6.21",
            "domain": {}, "tracker": {
                "sender_id": "forged", "slots": slots, "latest_message": {"text": "yes"},
                "events": [], "paused": False, "latest_event_time": None,
                "followup_action": None, "active_loop": {}, "latest_action_name": None}}


@pytest.mark.parametrize("headers", [{}, {TOKEN_HEADER: "guess-0123456789abcdefghij"},
                                     {"Authorization": "Bearer " + TEST_SECRETS[
                                         "CLINIC_ACTIONS_TOKEN"]}])
def test_a_forged_action_call_is_refused_and_writes_nothing(assistant_servers: Servers,
                                                            headers: dict) -> None:
    before = {t: rows(assistant_servers, t) for t in
              ("booking_requests", "sms_consents", "promotion_redemptions")}
    status, text = http("POST", f"{assistant_servers.actions_url}/webhook",
                        json.dumps(forged_booking_call()).encode(),
                        {"Content-Type": "application/json", **headers})
    assert status == 401
    assert json.loads(text) == {"error": "not authorised"}
    after = {t: rows(assistant_servers, t) for t in before}
    assert after == before


def test_action_server_refuses_a_2mb_body(assistant_servers: Servers) -> None:
    status, _ = http("POST", f"{assistant_servers.actions_url}/webhook", b"x" * (2 * 1024 * 1024),
                     {TOKEN_HEADER: TEST_SECRETS["CLINIC_ACTIONS_TOKEN"]})
    assert status == 413


# ------------------------------------------------------------------------ REST channel
def test_rest_cannot_speak_as_an_sms_patient(assistant_servers: Servers) -> None:
    status, replies = post_sms(assistant_servers, SMS_PHONE, "what is microneedling?")
    assert status == 200 and replies
    before = len(tracker_events(assistant_servers, SMS_PHONE))
    for sender in (SMS_PHONE, SMS_PHONE[1:], "(415) 555-0179"):
        status, text = rest(assistant_servers, {"sender": sender, "message": "I'm pregnant"})
        assert status == 403, (sender, status, text)
        assert "another channel" in text
    assert len(tracker_events(assistant_servers, SMS_PHONE)) == before


@pytest.mark.parametrize("raw, reason", BAD_REST_BODIES)
def test_rest_bad_bodies_get_400(assistant_servers: Servers, raw: bytes, reason: str) -> None:
    status, text = rest(assistant_servers, None, raw)
    assert status == 400
    assert reason in json.loads(text)["error"]


def test_no_sender_is_never_folded_into_a_default_conversation(assistant_servers) -> None:
    rest(assistant_servers, None, b'{"message": "my secret"}')
    status, body = http("GET", f"{assistant_servers.rasa_url}/conversations/default/tracker"
                               f"?token={API_TOKEN}")
    assert status == 200
    assert not [e for e in json.loads(body)["events"] if e.get("event") == "user"]


def test_rest_refuses_a_2mb_body(assistant_servers: Servers) -> None:
    status, _ = rest(assistant_servers, {"sender": "big-1", "message": "x" * (2 * 1024 * 1024)})
    assert status == 413


def test_rest_through_a_proxy_needs_the_token(assistant_servers: Servers) -> None:
    status, text = http("POST", f"{assistant_servers.rasa_url}/webhooks/rest/webhook",
                        json.dumps({"sender": "proxied-1", "message": "hi"}).encode(),
                        {"Content-Type": "application/json",
                         "X-Forwarded-For": "203.0.113.7"})
    assert status == 403
    assert "CLINIC_API_TOKEN" in text


# ------------------------------------------------------------------------ socket.io
async def _widget(servers: Servers, session: tuple[str, str] | None, text: str | None,
                  listen_s: float = 0.0) -> tuple[dict, list[dict]]:
    import socketio

    client = socketio.AsyncClient(reconnection=False)
    confirmed: asyncio.Future = asyncio.get_running_loop().create_future()
    heard: list[dict] = []
    client.on("session_confirm", lambda data: confirmed.set_result(data))
    client.on("bot_uttered", heard.append)
    await client.connect(servers.rasa_url, headers={"Origin": ORIGIN}, transports=["polling"],
                         socketio_path="/socket.io", wait_timeout=10)
    try:
        request = ({"session_id": session[0], "session_token": session[1]} if session
                   else {"session_id": None})
        await client.emit("session_request", request)
        confirmation = await asyncio.wait_for(confirmed, 10)
        if text is not None:
            await client.emit("user_uttered", {"message": text,
                                               "session_id": confirmation["session_id"]})
            for _ in range(300):
                if heard:
                    break
                await asyncio.sleep(0.1)
        await asyncio.sleep(listen_s)
        return confirmation, heard
    finally:
        await client.eio.disconnect(abort=True)


def test_a_second_client_cannot_hijack_a_widget_session(assistant_servers: Servers) -> None:
    owner, heard = asyncio.run(_widget(assistant_servers, None, "what is microneedling?"))
    assert heard, "the owner got no answer"
    victim = owner["session_id"]
    before = tracker_events(assistant_servers, victim)

    async def attack() -> tuple[dict, list[dict], list[dict]]:
        listener = asyncio.create_task(_widget(
            assistant_servers, (victim, owner["session_token"]), None, listen_s=6))
        await asyncio.sleep(1.5)
        attacker, attacker_heard = await _widget(assistant_servers, (victim, "forged"),
                                                 "I am pregnant, book me in")
        _, owner_heard = await listener
        return attacker, attacker_heard, owner_heard

    attacker, attacker_heard, owner_heard = asyncio.run(attack())
    assert attacker["session_id"] != victim
    # The owner's page, rejoining, gets again only what it had already (replayed from the
    # store, same ids): nothing of the attacker's conversation.
    assert {m.get("id") for m in owner_heard} <= {m.get("id") for m in heard}
    assert attacker_heard  # it talks, but only in a conversation of its own
    assert tracker_events(assistant_servers, victim) == before
    # Nor can REST write into the widget's conversation.
    status, _ = rest(assistant_servers, {"sender": victim, "message": "I am pregnant"})
    assert status == 403
    assert tracker_events(assistant_servers, victim) == before


# ------------------------------------------------------------------------ logs
def test_no_personal_data_in_any_log(assistant_servers: Servers) -> None:
    s = assistant_servers
    who = f"logs-{uuid.uuid4().hex[:8]}"
    # A whole booking with a name, a mobile number and an email address.
    s.texts(who, "I want to book")
    for _ in K.screening.contraindications:
        last = s.texts(who, "/deny")
    assert "looks suitable" in last
    s.texts(who, NAME)
    s.texts(who, PHONE_TYPED)
    s.texts(who, EMAIL)
    s.texts(who, '/inform{"treatment": "facial_microneedling"}')
    s.texts(who, "tuesday afternoons")
    s.texts(who, "/affirm")
    done = s.texts(who, "/affirm")
    assert "reference" in done
    # A contraindication in free text, over REST and by SMS.
    s.texts(f"logs-{uuid.uuid4().hex[:8]}", f"I'm taking {CONDITION} for my skin")
    post_sms(s, SMS_PHONE, f"I take {CONDITION}, my email is {EMAIL}")
    # Error paths: a signed action call whose tracker is broken, a request Rasa rejects.
    broken = forged_booking_call()
    broken["tracker"]["slots"]["booking_name"] = {"name": NAME, "email": EMAIL}
    broken["tracker"]["events"] = [{"event": "user", "text": f"{NAME} {EMAIL} {PHONE_TYPED}"}]
    http("POST", f"{s.actions_url}/webhook", json.dumps(broken).encode(),
         {TOKEN_HEADER: TEST_SECRETS["CLINIC_ACTIONS_TOKEN"]})
    rest(s, None, json.dumps({"sender": SMS_PHONE, "message": NAME}).encode())

    logs = {path.name: path.read_text(errors="replace") for path in s.workdir.glob("*.log")}
    assert {"rasa.log", "actions.log"} <= set(logs)
    secrets = [NAME, *NAME.split(), EMAIL, CONDITION, SMS_PHONE, *PHONE_FORMS, PHONE_TYPED]
    for name, text in logs.items():
        for secret in secrets:
            assert secret.lower() not in text.lower(), f"{secret!r} is in {name}"
        assert not re.search(r"telemetry.*enabled", text, re.IGNORECASE)
