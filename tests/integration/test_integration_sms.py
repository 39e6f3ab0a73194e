"""SMS through the real Rasa server: signed webhooks, answers, HELP, STOP, aftercare texts."""

from __future__ import annotations

import datetime as dt
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET

import pytest
from twilio.request_validator import RequestValidator

from clinic.knowledge.kb import knowledge
from tests.conftest import TEST_TWILIO_TOKEN

pytestmark = pytest.mark.integration
K = knowledge()


def new_phone() -> str:
    return f"+1415555{uuid.uuid4().int % 10000:04d}"


def post_sms(servers, phone: str, body: str, signature: str | None = "sign") -> tuple[int, list[str]]:
    url = f"{servers.rasa_url}/webhooks/twilio/webhook"
    params = {"From": phone, "To": "+14155550100", "Body": body,
              "MessageSid": f"SM{uuid.uuid4().hex}", "AccountSid": "AC" + "0" * 32}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature == "sign":
        headers["X-Twilio-Signature"] = RequestValidator(TEST_TWILIO_TOKEN).compute_signature(url, params)
    elif signature:
        headers["X-Twilio-Signature"] = signature
    request = urllib.request.Request(url, data=urllib.parse.urlencode(params).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            root = ET.fromstring(response.read())
            return response.status, [m.text or "" for m in root.iter("Message")]
    except urllib.error.HTTPError as error:
        return error.code, []


def test_text_question_help_and_stop(assistant_servers) -> None:
    phone = new_phone()
    status, replies = post_sms(assistant_servers, phone, "can I wear makeup yet?")
    assert status == 200
    assert "24 hours" in " ".join(replies)

    status, replies = post_sms(assistant_servers, phone, "HELP")
    assert status == 200
    assert K.clinic.name in replies[0] and K.clinic.phone in replies[0]

    status, replies = post_sms(assistant_servers, phone, "STOP")
    assert status == 200 and len(replies) == 1

    status, replies = post_sms(assistant_servers, phone, "what is microneedling?")
    assert status == 200 and replies == []


def test_warning_signs_by_text_get_urgent_answer(assistant_servers) -> None:
    _, replies = post_sms(assistant_servers, new_phone(), "my face is red and the redness is spreading")
    assert "urgent medical care" in " ".join(replies)


@pytest.mark.parametrize("signature", [None, "forged", "c2lnbmF0dXJl"])
def test_unsigned_or_forged_requests_are_refused(assistant_servers, signature) -> None:
    status, replies = post_sms(assistant_servers, new_phone(), "hello", signature=signature)
    assert status == 403 and replies == []


def daytime_zone() -> str:
    """A fixed-offset time zone where it is now around noon, so quiet hours don't apply."""
    offset = 12 - dt.datetime.now(dt.timezone.utc).hour
    offset = max(-12, min(14, offset))
    return "UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def test_treated_patient_gets_aftercare_text_in_outbox(assistant_servers) -> None:
    s = assistant_servers
    who, phone_typed = f"sms-{uuid.uuid4().hex[:8]}", "(415) 555-0177"
    s.texts(who, "I want to book")
    for _ in K.screening.contraindications:
        s.texts(who, "/deny")
    for message in ("Grace Lee", phone_typed, "skip", '/inform{"treatment": "facial_microneedling"}',
                    "monday morning", "/affirm"):
        s.texts(who, message)
    reference = re.search(r"reference is ([A-Z0-9-]+)", s.texts(who, "/affirm")).group(1)

    env = {**s.env, "CLINIC_TIMEZONE": daytime_zone()}
    treated = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=4)).isoformat()

    def cli(*args: str) -> str:
        import subprocess

        from tests.conftest import ROOT, VENV_BIN

        done = subprocess.run([str(VENV_BIN / "clinic"), *args], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli("bookings", "mark", reference, "treated", "--at", treated)
    assert "same_evening" in cli("followups", "list", "--booking", reference)
    cli("sms", "send-due")
    outbox = " ".join(cli("outbox", "list").split())
    assert "make-up" in outbox and "+14155550177" in outbox
    assert "NOT" in outbox.upper()
