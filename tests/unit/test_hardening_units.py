"""Pure rules behind the hardening of issue 24 (the probes attack the running servers)."""

from __future__ import annotations

import json
import logging

import pytest

from clinic.config.hosts import host_allowed
from clinic.config.log_privacy import redacted_traceback, scrub
from clinic.console.throttle import LoginThrottle
from clinic.rasa.channels.blueprint import api_body_problem, jwt_request_allowed

PATIENT_WORDS = "I take isotretinoin"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle(clock: Clock) -> LoginThrottle:
    return LoginThrottle(per_address_and_email=3, per_address=5, per_email=4, window_s=60,
                         clock=clock)


def test_the_throttle_stops_one_address_not_the_person_at_another() -> None:
    clock = Clock()
    limits = throttle(clock)
    assert all(limits.reserve("6.6.6.6", "anna@clinic") for _ in range(3))
    assert limits.reserve("6.6.6.6", "anna@clinic") is None
    assert limits.reserve("10.0.0.2", "anna@clinic") is not None  # Anna at her desk
    clock.now += 61
    assert limits.reserve("6.6.6.6", "anna@clinic") is not None  # the window passed


def test_a_success_frees_its_reservation_and_the_addresses_failures() -> None:
    clock = Clock()
    limits = throttle(clock)
    limits.reserve("10.0.0.2", "anna@clinic")
    limits.reserve("10.0.0.2", "anna@clinic")
    mark = limits.reserve("10.0.0.2", "anna@clinic")
    assert mark is not None
    limits.succeeded("10.0.0.2", "anna@clinic", mark)
    assert limits.failures("10.0.0.2", "anna@clinic") == 0
    assert all(limits.reserve("10.0.0.2", "anna@clinic") for _ in range(2))


def test_per_address_and_per_email_limits_apply_to_unknown_emails_alike() -> None:
    limits = throttle(Clock())
    for index in range(5):
        assert limits.reserve("6.6.6.6", f"guess{index}@clinic") is not None
    assert limits.reserve("6.6.6.6", "another@clinic") is None  # per address
    spread = throttle(Clock())
    for index in range(4):
        assert spread.reserve(f"10.0.0.{index}", "nobody@clinic") is not None
    assert spread.reserve("10.0.0.9", "nobody@clinic") is None  # per e-mail


@pytest.mark.parametrize("host, allowed", [
    ("127.0.0.1:5005", True), ("localhost:8001", True), ("[::1]:5005", True), (None, True),
    ("assistant.example-clinic.com", True), ("rebind.example", False),
    ("127.0.0.1.rebind.example", False), ("assistant.example-clinic.com.evil", False),
])
def test_host_headers(host: str | None, allowed: bool) -> None:
    assert host_allowed(host, frozenset({"assistant.example-clinic.com"})) is allowed


@pytest.mark.parametrize("method, path, headers, token, allowed", [
    ("POST", "/conversations/abc/tracker/events", {"authorization": "Bearer x"}, None, True),
    ("GET", "/conversations/abc/tracker", {"authorization": "Bearer x"}, None, False),
    ("PUT", "/model", {"authorization": "Bearer x"}, None, False),
    ("POST", "/conversations/abc/messages", {"authorization": "Bearer x"}, None, False),
    ("GET", "/conversations/abc/tracker", {}, "api-token", True),  # Rasa checks the token
    ("POST", "/webhooks/rest/webhook", {"authorization": "Bearer x"}, None, True),
])
def test_a_jwt_may_only_append_events(method: str, path: str, headers: dict,
                                      token: str | None, allowed: bool) -> None:
    assert jwt_request_allowed(method, path, headers, token) is allowed


@pytest.mark.parametrize("path, body, problem", [
    ("/model/parse", b'{"text": "hi"}', False),
    ("/model/parse", b'{"text": 7}', True),
    ("/model/parse", b"[" * 100_000 + b"]" * 100_000, True),
    ("/model/parse", b'{"text": "\xff"}', True),
    ("/conversations/a/tracker/events", b'[{"event": "pause"}]', False),
    ("/conversations/a/tracker/events", b'[{"text": "x"}]', True),
    ("/conversations/a/messages", b'{"text": "hi", "sender": "user"}', False),
    ("/conversations/a/execute", b'{"name": ["x"]}', True),
])
def test_rasa_api_bodies(path: str, body: bytes, problem: bool) -> None:
    assert (api_body_problem(path, body) is not None) is problem


def test_patient_words_inside_json_and_url_paths_are_scrubbed() -> None:
    line = ('POST /conversations/+14155550132/tracker/events {"event": "user", '
            '"text": "I take warfarin", "metadata": {"name": "Ada"}}')
    scrubbed = scrub(line)
    assert "warfarin" not in scrubbed and "14155550132" not in scrubbed
    assert '"event": "user"' in scrubbed  # the structure stays readable


def test_tracebacks_keep_their_frames_but_not_the_exception_text() -> None:
    # Patient words come from data, never from the source lines a traceback quotes.
    said, dose = " ".join(["I am", "pregnant"]), " ".join(["warfarin", "5 mg"])
    try:
        try:
            raise KeyError(said)
        except KeyError as inner:
            raise ValueError(dose) from inner
    except ValueError as error:
        text = redacted_traceback((type(error), error, error.__traceback__))
    assert "pregnant" not in text and "warfarin" not in text
    assert "ValueError" in text and "KeyError" in text and "test_hardening_units" in text


def test_a_logged_exception_carries_no_patient_words(caplog) -> None:
    from clinic.config.log_privacy import install_log_scrubbing

    install_log_scrubbing()
    with caplog.at_level(logging.ERROR):
        try:
            raise RuntimeError(json.dumps({"text": PATIENT_WORDS}))
        except RuntimeError:
            logging.getLogger("probe").exception("saving failed")
    assert "isotretinoin" not in caplog.text
