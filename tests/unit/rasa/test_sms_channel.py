"""The inbound SMS channel: Twilio signatures, STOP/START/HELP, numbered buttons, the SMS log.

The channel's blueprint runs in a real Sanic server on a loopback port, with a stand-in
for the assistant (``on_new_message``) that answers through Rasa's output channel API and
keeps its conversation in a real Rasa tracker store, as the agent does. Requests are
signed with Twilio's own ``RequestValidator``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from clinic.config.settings import settings
from clinic.knowledge.kb import knowledge
from clinic.nlu import sms_keywords as keywords
from clinic.rasa.channels.twilio import TwilioVerifiedInput
from clinic.store.db import read_scope
from clinic.store.models import SmsMessage, SmsOptOut

TOKEN = "test-twilio-auth-token"
PHONE = "+15105550101"
PATH = "/webhooks/twilio/webhook"
YES_NO = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
_app_names = itertools.count()
_message_sids = itertools.count()


class FakeAssistant:
    """Stands in for the Rasa agent: answers and records the conversation."""

    def __init__(self) -> None:
        self.tracker_store = InMemoryTrackerStore(Domain.empty())
        self.received: list[UserMessage] = []

    async def on_new_message(self, message: UserMessage) -> None:
        self.received.append(message)
        if message.text == "quiz":
            reply = {"text": "Is your skin healing well?", "buttons": YES_NO}
        elif message.text == "crash":
            raise RuntimeError("model failure")
        else:
            reply = {"text": f"You said: {message.text}"}
        tracker = await self.tracker_store.retrieve(message.sender_id) or \
            DialogueStateTracker.from_events(message.sender_id, [])
        tracker.update(UserUttered(message.text))
        tracker.update(BotUttered(reply["text"], data={"buttons": reply.get("buttons")}))
        await self.tracker_store.save(tracker)
        await message.output_channel.send_response(message.sender_id, reply)

    def texts(self) -> list[str]:
        return [m.text for m in self.received]


class WebhookServer:
    """The channel's blueprint in a Sanic server on a loopback port (own thread and loop)."""

    def __init__(self, channel: TwilioVerifiedInput) -> None:
        self.channel = channel
        self.assistant = FakeAssistant()
        self.app = Sanic(f"sms_channel_test_{next(_app_names)}")
        self.app.ctx.agent = SimpleNamespace(tracker_store=self.assistant.tracker_store)
        self.app.blueprint(channel.blueprint(self.assistant.on_new_message),
                           url_prefix="/webhooks/twilio")
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self.port = 0

        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(self.app.create_server(
                host="127.0.0.1", port=_free_port(), return_asyncio_server=True,
                access_log=False))
            self.loop.run_until_complete(self.server.startup())
            self.port = self.server.server.sockets[0].getsockname()[1]
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        assert started.wait(30), "the webhook server did not start"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    def stop(self) -> None:
        async def close() -> None:
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def post(self, params: dict[str, str], signature: str | None,
             url: str | None = None) -> tuple[int, str]:
        data = urllib.parse.urlencode(params).encode()
        request = urllib.request.Request(url or self.url, data=data, method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        if signature is not None:
            request.add_header("X-Twilio-Signature", signature)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def text(self, body: str, phone: str = PHONE, token: str = TOKEN,
             signed_url: str | None = None) -> tuple[int, list[str]]:
        """Send a text as Twilio would (signed); return the status and the SMS replies."""
        params = sms_params(body, phone)
        signature = RequestValidator(token).compute_signature(signed_url or self.url, params)
        status, answer = self.post(params, signature)
        return status, replies(answer) if status == 200 else []


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sms_params(body: str, phone: str = PHONE) -> dict[str, str]:
    return {"MessageSid": f"SM{next(_message_sids):032d}", "AccountSid": "AC" + "1" * 32,
            "From": phone, "To": "+15550000000", "Body": body, "NumMedia": "0"}


def replies(twiml: str) -> list[str]:
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    return [message.text or "" for message in root.iter("Message")]


@pytest.fixture(scope="module", autouse=True)
def several_sanic_apps() -> Iterator[None]:
    """Let Sanic 21.12 start one app per test in this process (as sanic-testing does).

    Without it the second app's start-up "touch-up" recompiles methods that the first
    one already replaced, and fails.
    """
    before = Sanic.test_mode
    Sanic.test_mode = True
    yield
    Sanic.test_mode = before


@pytest.fixture
def server(sms_database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookServer]:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    running = WebhookServer(TwilioVerifiedInput.from_credentials(None))
    try:
        yield running
    finally:
        running.stop()


def sms_log() -> list[tuple[str, str, str]]:
    with read_scope() as session:
        return [tuple(row) for row in session.execute(
            select(SmsMessage.direction, SmsMessage.phone_e164, SmsMessage.body)
            .order_by(SmsMessage.id)).all()]


def opted_out(phone: str = PHONE) -> bool | None:
    with read_scope() as session:
        row = session.get(SmsOptOut, phone)
        return None if row is None else row.opted_out


# --------------------------------------------------------------------------- signatures


def test_signed_request_reaches_the_assistant(server: WebhookServer) -> None:
    status, answer = server.text("can I wear makeup yet?")
    assert (status, answer) == (200, ["You said: can I wear makeup yet?"])
    [message] = server.assistant.received
    assert (message.sender_id, message.input_channel) == (PHONE, "twilio")
    assert sms_log() == [("inbound", PHONE, "can I wear makeup yet?"),
                         ("outbound", PHONE, "You said: can I wear makeup yet?")]


def test_rasas_control_payloads_texted_are_words(server: WebhookServer) -> None:
    # A texted "/restart" wiped the conversation with no reply and ended a staff take-over.
    status, answer = server.text("/restart")
    assert (status, answer) == (200, ["You said: restart"])
    assert sms_log()[0] == ("inbound", PHONE, "/restart")  # the log keeps what was sent


def test_unsigned_request_is_refused(server: WebhookServer) -> None:
    status, _ = server.post(sms_params("hello"), signature=None)
    assert status == 403
    assert server.assistant.received == [] and sms_log() == []


def test_forged_signature_is_refused(server: WebhookServer) -> None:
    status, _ = server.text("hello", token="not-the-account-token")
    assert status == 403
    status, _ = server.post(sms_params("hello"), signature="bm90IGEgc2lnbmF0dXJl")
    assert status == 403
    assert server.assistant.received == [] and sms_log() == []


def test_tampered_parameters_are_refused(server: WebhookServer) -> None:
    params = sms_params("what does it cost?")
    signature = RequestValidator(TOKEN).compute_signature(server.url, params)
    for changed in ({"Body": "STOP"}, {"From": "+15105550199"}, {"Extra": "1"}):
        status, _ = server.post({**params, **changed}, signature)
        assert status == 403
    assert opted_out() is None and server.assistant.received == [] and sms_log() == []
    assert server.post(params, signature)[0] == 200  # the untouched request passes


def test_a_body_that_is_not_a_form_is_refused(server: WebhookServer) -> None:
    signature = RequestValidator(TOKEN).compute_signature(server.url, {})
    request = urllib.request.Request(server.url, data=b'{"From": "+15105550101"}',
                                     method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("X-Twilio-Signature", signature)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403 and server.assistant.received == []


def test_signature_for_another_url_is_refused(server: WebhookServer) -> None:
    status, _ = server.text("hello", signed_url=server.url.replace(PATH, "/other"))
    assert status == 403


def test_public_url_is_what_twilio_signs(server: WebhookServer,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    public = "https://clinic.example/webhooks/twilio/webhook"
    monkeypatch.setenv("CLINIC_TWILIO_WEBHOOK_PUBLIC_URL", public)
    settings.cache_clear()
    assert server.text("hello", signed_url=public)[0] == 200
    assert server.text("hello")[0] == 403  # signed for the local URL: not what Twilio does


def test_without_an_auth_token_everything_is_refused(
        sms_database: str, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    running = WebhookServer(TwilioVerifiedInput.from_credentials({}))
    try:
        with caplog.at_level(logging.ERROR, logger="clinic.rasa.channels.twilio"):
            for token in (TOKEN, ""):
                assert running.text("hello", token=token or "x")[0] == 403
        assert running.assistant.received == [] and sms_log() == []
        said = [r for r in caplog.records if "no auth token" in r.getMessage()]
        assert len(said) == 1  # said once, not per request
    finally:
        running.stop()


def test_token_from_credentials(sms_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    running = WebhookServer(TwilioVerifiedInput.from_credentials({"auth_token": "from-yml"}))
    try:
        assert running.text("hello", token="from-yml")[0] == 200
        assert running.text("hello", token=TOKEN)[0] == 403
    finally:
        running.stop()


# --------------------------------------------------------------------------- keywords


def test_stop_then_silence_until_start(server: WebhookServer) -> None:
    assert server.text("STOP") == (200, [keywords.opt_out_confirmation()])
    assert opted_out() is True
    assert server.text("Stop") == (200, [])  # confirmed once only
    assert server.text("can I wear makeup yet?") == (200, [])
    assert server.text("HELP") == (200, [])
    assert server.assistant.received == []
    assert server.text("START") == (200, [keywords.opt_in_confirmation()])
    assert opted_out() is False
    assert server.text("can I wear makeup yet?") == (200, ["You said: can I wear makeup yet?"])
    outbound = [body for direction, _, body in sms_log() if direction == "outbound"]
    assert outbound == [keywords.opt_out_confirmation(), keywords.opt_in_confirmation(),
                        "You said: can I wear makeup yet?"]
    inbound = [body for direction, _, body in sms_log() if direction == "inbound"]
    assert len(inbound) == 6  # every inbound text is logged, answered or not


def test_plain_language_stop_and_yes_to_resubscribe(server: WebhookServer) -> None:
    assert server.text("please stop texting me") == (200, [keywords.opt_out_confirmation()])
    assert opted_out() is True
    assert server.text("yes") == (200, [keywords.opt_in_confirmation()])
    assert opted_out() is False
    # Once subscribed, "yes" is an answer for the assistant again.
    assert server.text("yes") == (200, ["You said: yes"])


def test_help_names_the_clinic(server: WebhookServer) -> None:
    status, [answer] = server.text("HELP")
    clinic = knowledge().clinic
    assert status == 200 and clinic.name in answer and clinic.phone in answer
    assert "STOP" in answer
    assert server.assistant.received == []


def test_stop_only_for_the_number_that_sent_it(server: WebhookServer) -> None:
    server.text("STOP")
    assert server.text("hello", phone="+15105550102") == (200, ["You said: hello"])
    assert opted_out("+15105550102") is None


def test_a_question_about_stopping_goes_to_the_assistant(server: WebhookServer) -> None:
    assert server.text("can I stop using my serum?") == \
        (200, ["You said: can I stop using my serum?"])
    assert opted_out() is None


# --------------------------------------------------------------------------- buttons


def test_buttons_are_numbered_and_numbers_pick_them(server: WebhookServer) -> None:
    assert server.text("quiz") == (200, ["Is your skin healing well?\nReply 1 for Yes, 2 for No."])
    assert server.text("2") == (200, ["You said: /deny"])
    # The last turn had no buttons: a number is just text now.
    assert server.text("1") == (200, ["You said: 1"])
    assert server.assistant.texts() == ["quiz", "/deny", "1"]


def test_numbered_reply_reads_the_buttons_from_the_tracker_store(
        server: WebhookServer) -> None:
    # The question was asked earlier (e.g. before a restart): only the store knows it.
    tracker = DialogueStateTracker.from_events(PHONE, [
        UserUttered("hi"),
        BotUttered("How are you feeling?", data={"buttons": [
            {"title": "Fine", "payload": "/fine"}, {"title": "Worried", "payload": "/worried"},
        ]}),
        BotUttered("Or call us any time."),
    ])
    asyncio.run_coroutine_threadsafe(server.assistant.tracker_store.save(tracker),
                                     server.loop).result(10)
    assert server.text("2") == (200, ["You said: /worried"])
    assert server.text("3") == (200, ["You said: 3"])  # no third button


# --------------------------------------------------------------------------- robustness


def test_assistant_failure_gets_a_polite_answer(server: WebhookServer) -> None:
    status, [answer] = server.text("crash")
    assert status == 200 and knowledge().clinic.phone in answer


def test_a_redelivered_message_is_handled_once(server: WebhookServer) -> None:
    params = sms_params("hello again")
    signature = RequestValidator(TOKEN).compute_signature(server.url, params)
    first = server.post(params, signature)
    second = server.post(params, signature)
    assert replies(first[1]) == ["You said: hello again"] and replies(second[1]) == []
    assert server.assistant.texts() == ["hello again"]


def test_a_picture_without_words_gets_a_pointer_to_the_phone(server: WebhookServer) -> None:
    params = {**sms_params(""), "NumMedia": "1",
              "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/1"}
    signature = RequestValidator(TOKEN).compute_signature(server.url, params)
    status, answer = server.post(params, signature)
    assert status == 200 and replies(answer) == [keywords.media_only_reply()]
    assert knowledge().clinic.phone in keywords.media_only_reply()
    assert server.assistant.received == []


def test_health_route(server: WebhookServer) -> None:
    health = server.url[: -len("/webhook")]  # /webhooks/twilio, as Rasa mounts it
    with urllib.request.urlopen(health, timeout=10) as response:
        assert response.status == 200


# --------------------------------------------------------------------------- racing replicas


def test_a_message_another_replica_logged_first_gets_an_empty_reply(
        server: WebhookServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL two replicas can both pass the "already handled?" check; the
    unique index on the inbound MessageSid stops the second one."""
    from clinic.sms import store

    monkeypatch.setattr(store, "inbound_seen", lambda session, sid: False)
    params = sms_params("hello racing")
    signature = RequestValidator(TOKEN).compute_signature(server.url, params)
    first = server.post(params, signature)
    second = server.post(params, signature)
    assert replies(first[1]) == ["You said: hello racing"]
    assert second[0] == 200 and replies(second[1]) == []
    assert server.assistant.texts() == ["hello racing"]
    assert [row for row in sms_log() if row[0] == "inbound"] == [
        ("inbound", PHONE, "hello racing")]


def test_control_characters_never_reach_the_assistant_or_the_log(server: WebhookServer) -> None:
    status, _ = server.text("hi\x00 there\x1b[2J")
    assert status == 200
    assert server.assistant.texts() == ["hi there[2J"]
    assert ("inbound", PHONE, "hi there[2J") in sms_log()


# --------------------------------------------------------------------------- start-up


def test_without_a_public_url_the_channel_refuses_to_start_outside_loopback(
        sms_database: str, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    from clinic.rasa.channels.twilio import PublicUrlMissing

    monkeypatch.setenv("CLINIC_BIND", "0.0.0.0")
    with caplog.at_level(logging.ERROR, logger="clinic.rasa.channels.twilio"), \
            pytest.raises(PublicUrlMissing, match="twilio_webhook_public_url"):
        TwilioVerifiedInput.from_credentials(None)
    assert any("0.0.0.0" in r.getMessage() for r in caplog.records)
    with pytest.raises(PublicUrlMissing):
        TwilioVerifiedInput().blueprint(FakeAssistant().on_new_message)
    # A public URL in credentials.yml or the settings is enough.
    TwilioVerifiedInput.from_credentials({"public_url": "https://clinic.example/w"})
    monkeypatch.setenv("CLINIC_TWILIO_WEBHOOK_PUBLIC_URL", "https://clinic.example/w")
    settings.cache_clear()
    TwilioVerifiedInput.from_credentials(None)


@pytest.mark.parametrize("bind", ["127.0.0.1", "localhost", "::1", ""])
def test_on_loopback_the_request_url_is_used_with_a_warning(
        sms_database: str, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, bind: str) -> None:
    monkeypatch.setenv("CLINIC_BIND", bind)
    with caplog.at_level(logging.WARNING, logger="clinic.rasa.channels.twilio"):
        channel = TwilioVerifiedInput.from_credentials(None)
        channel.blueprint(FakeAssistant().on_new_message)
    warnings = [r for r in caplog.records if "local testing" in r.getMessage()]
    assert len(warnings) == 1


def test_the_interface_on_the_command_line_wins() -> None:
    from clinic.rasa.channels.twilio import server_bind

    assert server_bind(["run", "-i", "0.0.0.0", "--port", "5005"]) == "0.0.0.0"
    assert server_bind(["run", "--interface=10.0.0.2"]) == "10.0.0.2"
    assert server_bind(["run", "--port", "5005"]) in ("127.0.0.1", "localhost", "::1")


def test_without_a_public_url_a_proxied_request_is_refused_with_a_clear_error(
        server: WebhookServer, caplog: pytest.LogCaptureFixture) -> None:
    params = sms_params("hello")
    signature = RequestValidator(TOKEN).compute_signature(server.url, params)
    data = urllib.parse.urlencode(params).encode()
    request = urllib.request.Request(server.url, data=data, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature,
        "X-Forwarded-For": "203.0.113.7"})
    with caplog.at_level(logging.ERROR, logger="clinic.rasa.channels.twilio"), \
            pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403 and server.assistant.received == []
    assert any("twilio_webhook_public_url" in r.getMessage() for r in caplog.records)


# --------------------------------------------------------------------------- reminder replies


def _reminded(url: str, hours_ago: float) -> None:
    """A visit reminder sent to PHONE ``hours_ago`` hours ago (with its booking request)."""
    import datetime as dt

    from clinic.rules.booking import BookingDraft
    from clinic.services.booking import save_booking
    from clinic.store.db import session_scope
    from clinic.store.models import Followup, utcnow

    kb = knowledge()
    draft = BookingDraft(
        name="Ada Test", phone_e164=PHONE, treatment="facial_microneedling",
        preferred_times_text="friday", sms_consent=True,
        sms_consent_wording=kb.clinic.sms_consent_wording, conversation_id="conv-r",
        channel="socketio",
        screening_answers={rule.id: "no" for rule in kb.screening.contraindications})
    booking_id = save_booking(draft, kb, today=utcnow().date(), url=url).booking_id
    sent = utcnow() - dt.timedelta(hours=hours_ago)
    with session_scope() as session:
        session.add(Followup(booking_id=booking_id, phone_e164=PHONE, body="reminder",
                             message_id="visit-1-reminder", due_at=sent, status="sent",
                             attempts=1, sent_at=sent))


def test_replies_to_the_visit_reminder_reach_the_assistant_as_what_they_ask(
        server: WebhookServer, sms_database: str) -> None:
    _reminded(sms_database, hours_ago=2)
    server.text("C")
    server.text("yes")  # the reminder was the last text: "yes" confirms
    server.text("R")
    server.text("x")
    assert server.assistant.texts() == [
        '/manage_visit{"visit_request": "confirm"}', '/manage_visit{"visit_request": "confirm"}',
        '/manage_visit{"visit_request": "move"}', '/manage_visit{"visit_request": "cancel"}']
    # bare CANCEL keeps its carrier meaning: an opt-out, never seen by the assistant
    server.text("CANCEL")
    assert opted_out() is True and len(server.assistant.received) == 4


def test_yes_long_after_a_reminder_is_an_ordinary_yes(server: WebhookServer,
                                                      sms_database: str) -> None:
    _reminded(sms_database, hours_ago=72)
    server.text("yes")
    server.text("C")  # a bare letter of the reminder still means it
    assert server.assistant.texts() == ["yes", '/manage_visit{"visit_request": "confirm"}']
