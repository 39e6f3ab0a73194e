"""The security boundary's pieces, one by one: secrets, log scrubbing, the action server,
the REST channel's checks and the Rasa server's start-up rules."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from clinic.config import secrets as clinic_secrets
from clinic.config.log_privacy import REDACTED, scrub, structlog_anonymizer
from clinic.rasa.action_server import TOKEN_HEADER, BodyTooLarge, inflate
from clinic.rasa.channels import rest
from clinic.rasa.server import StartupRefused, check_environment
from tests.support import BAD_REST_BODIES

STRONG = "a-strong-secret-4f8a2c7e1b9d0e3f"


# ------------------------------------------------------------------------- secrets
@pytest.mark.parametrize("value, problem", [
    ("", "not set"), ("${CLINIC_ACTIONS_TOKEN}", "placeholder"), ("short-secret", "shorter"),
    ("a" * 40, "too easy"), ("abababababababababababababab", "too easy"),
])
def test_weak_secrets_are_refused(value: str, problem: str) -> None:
    with pytest.raises(clinic_secrets.SecretError) as refused:
        clinic_secrets.require_secret("CLINIC_ACTIONS_TOKEN", {"CLINIC_ACTIONS_TOKEN": value})
    assert problem in str(refused.value)
    assert "CLINIC_ACTIONS_TOKEN" in str(refused.value)


def test_a_strong_secret_is_returned() -> None:
    assert clinic_secrets.require_secret("X", {"X": f"  {STRONG} "}) == STRONG


def test_ensure_creates_missing_secrets_once_with_mode_600(tmp_path: Path) -> None:
    path = tmp_path / "var" / "secrets.env"
    created = clinic_secrets.ensure(path, environ={"CLINIC_SESSION_SECRET": STRONG})
    assert created == ["CLINIC_RASA_API_TOKEN", "CLINIC_ACTIONS_TOKEN",
                       "CLINIC_CONSOLE_JWT_SECRET"]
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    values = clinic_secrets.read_env_file(path)
    assert set(values) == {"CLINIC_RASA_API_TOKEN", "CLINIC_ACTIONS_TOKEN",
                           "CLINIC_CONSOLE_JWT_SECRET"}
    assert all(clinic_secrets.weakness(v) is None for v in values.values())
    assert clinic_secrets.ensure(path, environ={"CLINIC_SESSION_SECRET": STRONG}) == []
    assert clinic_secrets.read_env_file(path) == values


# ------------------------------------------------------------------------- logs
@pytest.mark.parametrize("line, secret", [
    ("Circuit breaker tripped. Stopped predicting more actions for sender '+14155550132'.",
     "+14155550132"),
    ("Could not find tracker for conversation ID 'c0ffee0123456789'.", "c0ffee0123456789"),
    ("Message handling timed out for user message 'I am on accutane'.", "accutane"),
    ("booking for jane.doe@example.com saved", "jane.doe@example.com"),
    ("call me at (415) 555-0132 please", "555-0132"),
    ("call me at 415 555 0132 please", "555 0132"),
    ("GET /conversations/x/tracker?token=supersecretvalue&x=1", "supersecretvalue"),
])
def test_scrub_removes_personal_data(line: str, secret: str) -> None:
    cleaned = scrub(line)
    assert secret not in cleaned
    assert REDACTED in cleaned


@pytest.mark.parametrize("line", [
    "Action server on http://127.0.0.1:5055 (port 5055)",
    "Starting to train component 'DIETClassifier' at 2026-12-01 19:00:00",
    "Sent 3 follow-ups, 0 failed",
])
def test_scrub_leaves_operational_lines_alone(line: str) -> None:
    assert scrub(line) == line


def test_every_log_record_is_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    from clinic.config.log_privacy import install_log_scrubbing

    install_log_scrubbing()
    with caplog.at_level(logging.WARNING):
        logging.getLogger("rasa.core.processor").warning(
            "Circuit breaker tripped. Stopped predicting more actions for sender '%s'.",
            "+14155550132")
    assert "+14155550132" not in caplog.text
    assert "Circuit breaker tripped" in caplog.text


def test_structlog_events_lose_their_message_and_conversation_id() -> None:
    event = structlog_anonymizer(None, "error", {
        "event": "rest.message.received.timeout", "text": "I'm pregnant",
        "sender_id": "+14155550132", "slot_values": {"name": "Jane"}})
    assert event == {"event": "rest.message.received.timeout", "text": REDACTED,
                     "sender_id": REDACTED, "slot_values": REDACTED}


def test_rasa_uses_the_clinic_anonymiser() -> None:
    import rasa.utils.log_utils as log_utils

    assert log_utils._anonymizer is structlog_anonymizer  # noqa: SLF001 - the patched private name


# ------------------------------------------------------------------------- action server
@dataclass
class Reply:
    status: int
    text: str

    @property
    def json(self):
        return json.loads(self.text)


@pytest.fixture(scope="module")
def action_client():
    """The real action server (``python -m clinic.rasa.action_server``) on a free loopback port."""
    from tests.conftest import ROOT, free_port

    port = free_port()
    env = {**os.environ, "CLINIC_ACTIONS_TOKEN": STRONG, "CLINIC_SECRETS_FILE": "/nonexistent"}
    process = subprocess.Popen([sys.executable, "-m", "clinic.rasa.action_server", "--port",
                                str(port)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"action server did not start: {process.stderr.read()[-2000:]}")
            time.sleep(0.3)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def _call(base: str, body: bytes | None = None, headers: dict | None = None, path="/webhook",
          method="post") -> Reply:
    request = urllib.request.Request(base + path, data=body if method == "post" else None,
                                     headers=headers or {}, method=method.upper())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Reply(response.status, response.read().decode())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.read().decode())


def _action_call(name: str = "action_faq") -> dict:
    return {"next_action": name, "sender_id": "t", "version": "3.6.21", "domain": {},
            "tracker": {"sender_id": "t", "slots": {}, "latest_message": {}, "events": [],
                        "paused": False, "latest_event_time": None, "followup_action": None,
                        "active_loop": {}, "latest_action_name": None}}


@pytest.mark.parametrize("headers", [{}, {TOKEN_HEADER: ""}, {TOKEN_HEADER: "wrong"},
                                     {TOKEN_HEADER: STRONG + "x"}])
def test_action_server_refuses_calls_without_the_secret(action_client, headers) -> None:
    response = _call(action_client, json.dumps(_action_call("action_save_booking")).encode(),
                     headers)
    assert response.status == 401
    assert response.json == {"error": "not authorised"}
    assert _call(action_client, None, headers, path="/actions", method="get").status == 401


def test_action_server_health_needs_no_secret(action_client) -> None:
    assert _call(action_client, None, {}, path="/health", method="get").status == 200


def test_action_server_runs_an_action_with_the_secret(action_client) -> None:
    response = _call(action_client, json.dumps(_action_call("action_clinic_contact")).encode(),
                     {TOKEN_HEADER: STRONG})
    assert response.status == 200
    assert response.json["responses"]


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b"\xff\xfe"])
def test_action_server_bad_bodies_get_400(action_client, body: bytes) -> None:
    response = _call(action_client, body, {TOKEN_HEADER: STRONG})
    assert response.status == 400
    assert "request_body" not in response.json


def test_action_server_errors_never_echo_the_request(action_client) -> None:
    call = _action_call("action_faq")
    call["tracker"]["events"] = "not a list: Jane Doe +14155550132"
    response = _call(action_client, json.dumps(call).encode(), {TOKEN_HEADER: STRONG})
    assert response.status >= 400
    assert "Jane" not in response.text and "4155550132" not in response.text


def test_action_server_refuses_a_zip_bomb(action_client) -> None:
    bomb = zlib.compress(b"{" + b" " * (50 * 1024 * 1024) + b"}", 9)
    assert len(bomb) < 200 * 1024
    response = _call(action_client, bomb, {TOKEN_HEADER: STRONG, "Content-Encoding": "deflate"})
    assert response.status == 413


def test_inflate_stops_at_its_limit() -> None:
    assert inflate(zlib.compress(b"x" * 100), limit=100) == b"x" * 100
    with pytest.raises(BodyTooLarge):
        inflate(zlib.compress(b"x" * 101), limit=100)


def test_action_server_refuses_to_start_without_a_strong_secret(monkeypatch) -> None:
    from clinic.rasa import action_server

    monkeypatch.setenv("CLINIC_ACTIONS_TOKEN", "weak")
    with pytest.raises(SystemExit) as stopped:
        action_server.main(["--port", "0"])
    assert stopped.value.code == 2


# ------------------------------------------------------------------------- REST channel
def _request(ip: str = "127.0.0.1", headers: dict | None = None, body: bytes = b"{}"):
    return SimpleNamespace(ip=ip, headers={k.lower(): v for k, v in (headers or {}).items()},
                           body=body)


def test_rest_without_token_answers_loopback_only() -> None:
    rest.check_caller(_request("127.0.0.1"), api_token="")
    rest.check_caller(_request("::1"), api_token="")
    for request in (_request("192.0.2.10"),
                    _request("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"})):
        with pytest.raises(rest.Refusal) as refused:
            rest.check_caller(request, api_token="")
        assert refused.value.status == 403


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic " + STRONG, STRONG])
def test_rest_with_token_needs_it_from_everyone(header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    with pytest.raises(rest.Refusal) as refused:
        rest.check_caller(_request("127.0.0.1", headers), api_token=STRONG)
    assert refused.value.status == 401
    rest.check_caller(_request("192.0.2.10", {"Authorization": f"Bearer {STRONG}"}),
                      api_token=STRONG)


@pytest.mark.parametrize("body, reason", BAD_REST_BODIES)
def test_rest_bad_bodies_get_a_clear_400(body: bytes, reason: str) -> None:
    with pytest.raises(rest.Refusal) as refused:
        rest.parse_body(_request(body=body))
    assert refused.value.status == 400
    assert reason in refused.value.reason


def test_rest_body_is_read_without_the_input_channel() -> None:
    sender, text, metadata = rest.parse_body(_request(body=json.dumps(
        {"sender": "me", "message": "hi", "input_channel": "twilio"}).encode()))
    assert (sender, text, metadata) == ("me", "hi", None)


@pytest.mark.parametrize(("typed", "read"), [
    ("/restart", "restart"), ("/session_start", "session start"), ("/back", "back"),
    ("/RESTART", "RESTART"), ('/restart{"a": 1}', 'restart{"a": 1}'), ("  /back", "  back"),
    ("/affirm", "/affirm"), ("/backpack", "/backpack"), ("restart", "restart"),
    ("go /back", "go /back")])
def test_rasas_control_payloads_are_never_passed_on(typed: str, read: str) -> None:
    # Typed, "/restart" wiped the conversation with no reply (and Rasa lets a restart
    # through a staff take-over's pause); "/back" and "/session_start" rewound it silently.
    from clinic.rasa.channels.blueprint import typed_text

    assert typed_text(typed) == read
    _, text, _ = rest.parse_body(_request(body=json.dumps(
        {"sender": "me", "message": typed}).encode()))
    assert text == read


@pytest.mark.parametrize("sender", ["+14155550132", "14155550132", "(415) 555-0132"])
def test_rest_refuses_phone_number_senders(sender: str) -> None:
    import asyncio

    channel = rest.ClinicRestInput()
    request = SimpleNamespace(app=SimpleNamespace(ctx=SimpleNamespace()))
    with pytest.raises(rest.Refusal) as refused:
        asyncio.run(channel.check_sender(request, sender))
    assert refused.value.status == 403


def test_rest_refuses_a_conversation_of_another_channel() -> None:
    import asyncio

    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    store = InMemoryTrackerStore(Domain.empty())
    for sender, channel in (("widgetsession01", "socketio"), ("restsession01", "rest")):
        asyncio.run(store.save(DialogueStateTracker.from_events(
            sender, [UserUttered("hi", input_channel=channel)])))
    def request(headers: dict[str, str]) -> SimpleNamespace:
        return SimpleNamespace(headers=headers, app=SimpleNamespace(ctx=SimpleNamespace(
            agent=SimpleNamespace(tracker_store=store))))

    ours = rest.ClinicRestInput()
    # A REST conversation goes on only with the token its first reply carried...
    token = rest.conversation_token("loopback", "restsession01")
    asyncio.run(ours.check_sender(request({"x-conversation-token": token}), "restsession01"))
    with pytest.raises(rest.Refusal, match="another caller"):
        asyncio.run(ours.check_sender(request({}), "restsession01"))
    with pytest.raises(rest.Refusal, match="another caller"):
        asyncio.run(ours.check_sender(request({"x-conversation-token": "guess"}),
                                      "restsession01"))
    asyncio.run(ours.check_sender(request({}), "brandnew"))
    # ...and never in another channel's conversation.
    with pytest.raises(rest.Refusal, match="another channel"):
        asyncio.run(ours.check_sender(request({"x-conversation-token": token}),
                                      "widgetsession01"))


# ------------------------------------------------------------------------- Rasa start-up
def _env(**overrides: str) -> dict[str, str]:
    env = {"CLINIC_RASA_API_TOKEN": STRONG, "CLINIC_ACTIONS_TOKEN": STRONG + "a",
           "CLINIC_SESSION_SECRET": STRONG + "b"}
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def test_rasa_start_up_returns_the_api_token() -> None:
    assert check_environment(_env(), "127.0.0.1") == STRONG


@pytest.mark.parametrize("name", ["CLINIC_RASA_API_TOKEN", "CLINIC_ACTIONS_TOKEN",
                                  "CLINIC_SESSION_SECRET"])
def test_rasa_refuses_to_start_without_each_secret(name: str) -> None:
    for value in ("", "weak"):
        with pytest.raises(StartupRefused) as refused:
            check_environment(_env(**{name: value}), "127.0.0.1")
        assert name in str(refused.value)


def test_rasa_beyond_loopback_needs_the_rest_token() -> None:
    with pytest.raises(StartupRefused) as refused:
        check_environment(_env(), "0.0.0.0")
    assert "CLINIC_API_TOKEN" in str(refused.value)
    assert check_environment(_env(CLINIC_API_TOKEN=STRONG), "0.0.0.0") == STRONG


def test_rasa_launcher_refuses_a_token_on_the_command_line(capsys) -> None:
    from clinic.rasa.server import main

    assert main(["--auth-token", "x"]) == 2
    assert "CLINIC_RASA_API_TOKEN" in capsys.readouterr().err


def test_everything_binds_loopback_by_default(monkeypatch) -> None:
    from clinic.config.settings import load_settings

    monkeypatch.delenv("CLINIC_BIND", raising=False)
    assert load_settings().bind == "127.0.0.1"
    assert os.environ.get("RASA_TELEMETRY_ENABLED") == "false"


def test_rest_strips_control_characters_before_anything_is_stored() -> None:
    _, text, metadata = rest.parse_body(_request(body=json.dumps(
        {"sender": "me", "message": "hi\u0000 there\u001b[31m", "metadata": {"a": "x\u0000"}}
    ).encode()))
    assert text == "hi there[31m"
    assert metadata == {"a": "x"}
