"""The booking form and submission, with a real SQLite clinic database."""

from __future__ import annotations

import pytest

from actions.booking import (
    PROBLEMS,
    ActionAskBookingConfirm,
    ActionAskBookingSmsConsent,
    ActionSubmitBooking,
    ValidateBookingForm,
)
from clinic.knowledge.kb import knowledge
from tests.support.actions import (
    ALL_NO,
    DOMAIN,
    entity,
    make_tracker,
    run_action,
    slot_events,
    texts,
)

K = knowledge()
FORM = "booking_form"
DETAILS = {
    "booking_name": "Ana Test", "booking_phone": "+14155550132", "booking_email": "none",
    "booking_treatment": "facial_microneedling", "booking_times": "Friday morning",
    "booking_sms_consent": "yes", "booking_sms_consent_at": "2026-11-24T10:00:00+00:00",
    "booking_confirm": "yes",
}


def fill(slot: str, text: str, intent: str | None = None, confidence: float = 0.9,
         slots: dict | None = None, **kw):
    order = list(DETAILS)
    earlier = {name: DETAILS[name] for name in order[:order.index(slot)]}
    tracker = make_tracker(text, intent=intent, confidence=confidence, active_loop=FORM,
                           slots={**ALL_NO, **earlier, **(slots or {}), "requested_slot": slot},
                           **kw)
    events, dispatcher = run_action(ValidateBookingForm(), tracker)
    return slot_events(events), texts(dispatcher)


@pytest.mark.parametrize(
    ("slot", "text", "intent", "expected"),
    [
        ("booking_name", "Ana María López", "greet", "Ana María López"),
        ("booking_name", "Jade", "ask_jade_roller", "Jade"),
        ("booking_name", "Ng Yi", None, "Ng Yi"),
        ("booking_name", "王伟", None, "王伟"),
        ("booking_name", "Mónica Nowak", None, "Mónica Nowak"),
        # the introduction was saved as part of the name
        ("booking_name", "my name is Ana Lee", None, "Ana Lee"),
        ("booking_name", "Hi, I'm Ana", "greet", "Ana"),
        ("booking_name", "it's Ana Lee", None, "Ana Lee"),
        ("booking_name", "this is Ana", None, "Ana"),
        ("booking_name", "Name: Ana Lee", None, "Ana Lee"),
        ("booking_name", "Isaac Imani", None, "Isaac Imani"),
        ("booking_phone", "(415) 555-0132", None, "+14155550132"),
        ("booking_phone", "+44 20 7946 0000", None, "+442079460000"),
        ("booking_email", "Ana@Example.com", None, "ana@example.com"),
        ("booking_email", "skip", "deny", "none"),
        ("booking_email", "/deny", "deny", "none"),
        # Addresses that begin like a "no" were saved as "no email".
        ("booking_email", "na.kim@example.com", None, "na.kim@example.com"),
        ("booking_email", "no.reply.ana@example.com", None, "no.reply.ana@example.com"),
        ("booking_email", "pass.ana@example.com", None, "pass.ana@example.com"),
        ("booking_email", "nah", "deny", "none"),
        ("booking_email", "n", "deny", "none"),
        ("booking_email", "not now", "deny", "none"),
        ("booking_treatment", "Facial microneedling", None, "facial_microneedling"),
        ("booking_treatment", "for my thinning hair on the scalp", None, "scalp_microneedling"),
        ("booking_treatment", "not sure yet", None, "not_sure"),
        ("booking_times", "  Tuesday   afternoons ", None, "Tuesday afternoons"),
        ("booking_sms_consent", "/affirm", "affirm", "yes"),
        ("booking_sms_consent", "no thanks", "deny", "no"),
        ("booking_confirm", "yes please", "affirm", "yes"),
    ],
)
def test_valid_answers_are_stored(slot, text, intent, expected) -> None:
    slots, _ = fill(slot, text, intent)
    assert slots[slot] == expected


@pytest.mark.parametrize(
    ("slot", "text", "message"),
    [
        ("booking_name", "<b>hi</b>", "name to book under"),
        ("booking_name", "12345", "name to book under"),
        # Typed at "What name should we book under?", these were taken as the name.
        ("booking_name", "y", "name to book under"),
        ("booking_name", "n", "name to book under"),
        ("booking_name", "not now", "name to book under"),
        ("booking_name", "restart", "name to book under"),
        ("booking_name", "menu", "name to book under"),
        ("booking_name", "bye", "name to book under"),
        ("booking_name", "cya", "name to book under"),
        ("booking_name", "aaaaaaa", "name to book under"),
        ("booking_name", "asdfgh", "name to book under"),
        ("booking_phone", "call me maybe", "doesn't look like a phone number"),
        ("booking_phone", "123", "doesn't look like a phone number"),
        ("booking_email", "ana@", "doesn't look like an email"),
        ("booking_treatment", "a massage", "choose one of the options"),
        ("booking_times", "x" * 600, "which days and times"),
        ("booking_sms_consent", "hmm", "Yes or No"),
    ],
)
def test_invalid_answers_are_asked_again_with_a_specific_message(slot, text, message) -> None:
    slots, said = fill(slot, text)
    assert slots[slot] is None
    assert slots["requested_slot"] == slot
    assert K.say(PROBLEMS[slot]) in said  # the slot's own message in knowledge/messages.yml
    assert message in K.say(PROBLEMS[slot])


@pytest.mark.parametrize("text", ["this number", "this one", "same", "use this number",
                                  "yes this number please", "the number I'm texting from",
                                  "my number", "same number"])
def test_by_sms_this_number_is_the_number_texting(text) -> None:
    # "What mobile number can the clinic reach you on?" answered "this number" by SMS got
    # "That doesn't look like a phone number I can use", again and again.
    slots, _ = fill("booking_phone", text, sender="+14155550171", channel="twilio")
    assert slots["booking_phone"] == "+14155550171"
    slots, said = fill("booking_phone", text)  # in the widget there is no such number
    assert slots["booking_phone"] is None and "phone number" in said


def test_a_safety_mention_is_no_name() -> None:
    # "I'm not pregnant" typed at the name question was saved as the name to book under.
    mention = entity("contraindication", "pregnancy", role="negated", start=8, end=16)
    slots, said = fill("booking_name", "I'm not pregnant", "deny", entities=[mention])
    assert slots["booking_name"] is None
    assert K.say(PROBLEMS["booking_name"]) in said


def test_consent_records_time() -> None:
    slots, _ = fill("booking_sms_consent", "yes", "affirm")
    assert slots["booking_sms_consent_at"].endswith("+00:00")


def test_consent_question_shows_exact_wording() -> None:
    _, dispatcher = run_action(ActionAskBookingSmsConsent(), make_tracker(active_loop=FORM))
    assert dispatcher.messages[0]["text"] == K.clinic.sms_consent_wording


def test_cancel_stops_the_form_without_saving() -> None:
    slots, _ = fill("booking_phone", "cancel", "stop", confidence=0.95)
    assert slots == {}


@pytest.mark.parametrize("slot", ["booking_name", "booking_phone", "booking_treatment",
                                  "booking_times"])
def test_skip_at_a_needed_question_asks_it_again(slot) -> None:
    # "skip" at "What's your mobile number?" cancelled the whole booking.
    slots, said = fill(slot, "skip", "stop", confidence=0.97)
    assert slot in slots and slots[slot] is None  # asked again, not cancelled ({})
    assert K.say(PROBLEMS[slot]) in said


@pytest.mark.parametrize(
    ("slot", "text", "expected"),
    [("booking_email", "skip", "none"), ("booking_sms_consent", "no thanks", "no"),
     ("booking_confirm", "no thank you", "no")],
)
def test_answers_the_classifier_reads_as_stop_are_answers(slot, text, expected) -> None:
    slots, _ = fill(slot, text, "stop", confidence=0.97)
    assert slots[slot] == expected


def test_question_during_booking_is_answered_and_step_repeated() -> None:
    slots, said = fill("booking_phone", "what are your opening hours?", "ask_contact")
    assert slots["booking_phone"] is None
    assert K.clinic.hours in said


@pytest.mark.parametrize("slot", ["booking_name", "booking_phone", "booking_email",
                                  "booking_treatment", "booking_times"])
def test_a_code_typed_at_any_question_is_checked_without_the_reply_as_that_answer(
        slot, clinic_db) -> None:
    # The SDK puts the reply in the slot being asked before validating it: "FACIAL50" typed
    # at "Which treatment?" was checked as a treatment called "FACIAL50" and told the
    # offer "doesn't apply to this treatment".
    slots, said = fill(slot, "FACIAL50", "enter_promo_code")
    assert slots[slot] is None
    assert slots["promo_code"] == "FACIAL50"
    assert "doesn't apply" not in said
    assert "FACIAL50" in said


@pytest.mark.parametrize(("times", "shown", "not_shown"), [
    ("Tuesday", "Preferred times: Tuesday (Tue ", "12:00 AM"),
    ("Friday 3 pm", "3:00 PM)", "12:00 AM"),
])
def test_summary_never_turns_a_day_into_midnight(times, shown, not_shown) -> None:
    # "Tuesday" was summarised as "Tuesday (Tue Dec 8, 12:00 AM)": a request for midnight.
    _, dispatcher = run_action(ActionAskBookingConfirm(), make_tracker(
        slots={**ALL_NO, **DETAILS, "booking_times": times}))
    said = texts(dispatcher)
    assert shown in said and not_shown not in said


def test_summary_names_the_promotion_for_an_eligible_facial() -> None:
    _, dispatcher = run_action(ActionAskBookingConfirm(),
                               make_tracker(slots={**ALL_NO, **DETAILS}))
    assert "FACIAL50" in texts(dispatcher)
    _, dispatcher = run_action(ActionAskBookingConfirm(), make_tracker(
        slots={**ALL_NO, **DETAILS, "booking_treatment": "scalp_microneedling"}))
    assert "FACIAL50" not in texts(dispatcher)


def test_submit_saves_with_reference_and_promotion(clinic_db) -> None:
    from clinic.store.db import read_scope
    from clinic.store.models import BookingRequest, SmsConsent

    events, dispatcher = run_action(ActionSubmitBooking(),
                                    make_tracker("/affirm", "affirm", slots={**ALL_NO, **DETAILS},
                                                 channel="socketio", sender="conv-42"))
    reference = slot_events(events)["booking_reference"]
    assert reference in texts(dispatcher)
    facial50 = K.promotion("FACIAL50")
    assert f"{facial50.description} with FACIAL50" in texts(dispatcher)
    with read_scope(clinic_db) as session:
        booking = session.query(BookingRequest).one()
        assert booking.reference == reference
        assert booking.channel == "socketio" and booking.conversation_id == "conv-42"
        assert booking.promotion_code == "FACIAL50"
        assert booking.screening_outcome == "eligible"
        assert set(booking.screening_answers.values()) == {"no"}
        consent = session.query(SmsConsent).one()
        assert consent.given and consent.wording == K.clinic.sms_consent_wording


def test_scalp_booking_gets_no_facial_promotion(clinic_db) -> None:
    slots = {**ALL_NO, **DETAILS, "booking_treatment": "scalp_microneedling"}
    _, dispatcher = run_action(ActionSubmitBooking(), make_tracker("/affirm", "affirm", slots=slots))
    assert "reference" in texts(dispatcher)
    assert "FACIAL50" not in texts(dispatcher)


def test_second_booking_by_same_person_gets_no_second_redemption(clinic_db) -> None:
    run_action(ActionSubmitBooking(), make_tracker("/affirm", "affirm", slots={**ALL_NO, **DETAILS}))
    _, dispatcher = run_action(ActionSubmitBooking(),
                               make_tracker("/affirm", "affirm", slots={**ALL_NO, **DETAILS}))
    assert "reference" in texts(dispatcher)
    assert "already" in texts(dispatcher)


def test_unreachable_database_tells_the_person_to_phone(tmp_path, monkeypatch) -> None:
    from clinic.config import settings as settings_module

    monkeypatch.setenv("CLINIC_DATABASE_URL", f"sqlite:///{tmp_path}/missing/dir/x.db")
    settings_module.settings.cache_clear()
    try:
        events, dispatcher = run_action(ActionSubmitBooking(), make_tracker(
            "/affirm", "affirm", slots={**ALL_NO, **DETAILS}))
    finally:
        settings_module.settings.cache_clear()
    assert K.clinic.phone in texts(dispatcher)
    assert "couldn't save" in texts(dispatcher)
    assert "booking_reference" not in slot_events(events)


@pytest.mark.parametrize("error", [
    "DatabaseUnavailable", "IntegrityError", "NotEligible", "InvalidBooking", "a bug",
])
def test_every_error_saving_can_raise_tells_the_person_to_phone(error, monkeypatch) -> None:
    from sqlalchemy.exc import IntegrityError

    from clinic.rules.booking import InvalidBooking, NotEligible
    from clinic.store.db import DatabaseUnavailable

    raised = {"DatabaseUnavailable": DatabaseUnavailable("down"),
              "IntegrityError": IntegrityError("INSERT", {}, Exception("unique")),
              "NotEligible": NotEligible("not_eligible"),
              "InvalidBooking": InvalidBooking("phone"),
              "a bug": RuntimeError("unexpected")}[error]

    def fail(*args, **kwargs):
        raise raised

    monkeypatch.setattr("actions.booking.save_booking", fail)
    events, dispatcher = run_action(ActionSubmitBooking(), make_tracker(
        "/affirm", "affirm", slots={**ALL_NO, **DETAILS}))
    assert "couldn't save" in texts(dispatcher)
    assert "booking_reference" not in slot_events(events)


def test_declined_confirmation_saves_nothing(clinic_db) -> None:
    events, dispatcher = run_action(ActionSubmitBooking(), make_tracker(
        "/deny", "deny", slots={**ALL_NO, **DETAILS, "booking_confirm": "no"}))
    assert "booking_reference" not in slot_events(events)


def test_treatment_button_sends_an_offered_treatment() -> None:
    _, dispatcher = run_action(
        __import__("actions.booking", fromlist=["x"]).ActionAskBookingTreatment(),
        make_tracker(active_loop=FORM))
    payloads = [b["payload"] for b in dispatcher.messages[0]["buttons"]]
    assert payloads[0] == '/inform{"treatment": "facial_microneedling"}'
    slots, _ = fill("booking_treatment", "/inform", "inform",
                    entities=[{"entity": "treatment", "value": "scalp_microneedling"}])
    assert slots["booking_treatment"] == "scalp_microneedling"
    slots, _ = fill("booking_treatment", "/inform", "inform",
                    entities=[{"entity": "treatment", "value": "massage"}])
    assert slots["booking_treatment"] is None


@pytest.mark.parametrize("value", [["facial_microneedling"], {"id": "facial_microneedling"}, 7])
def test_a_typed_treatment_payload_that_is_not_a_string_is_asked_again(value) -> None:
    # /inform{"treatment": [...]} gives any JSON value; a list or dict made `in` raise TypeError.
    slots, said = fill("booking_treatment", "/inform", "inform",
                       entities=[{"entity": "treatment", "value": value}])
    assert slots["booking_treatment"] is None
    assert K.say(PROBLEMS["booking_treatment"]) in said


def test_new_booking_reaches_the_clinic_webhook(clinic_db, monkeypatch) -> None:
    """With a booking webhook configured, the saved request is POSTed to it."""
    import json
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from clinic.config import settings as settings_module

    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # http.server's name
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("CLINIC_BOOKING_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/hook")
    settings_module.settings.cache_clear()
    try:
        events, _ = run_action(ActionSubmitBooking(),
                               make_tracker("/affirm", "affirm", slots={**ALL_NO, **DETAILS}))
        deadline = time.monotonic() + 20
        while not received and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.shutdown()
    assert received, "the webhook received nothing"
    assert slot_events(events)["booking_reference"] in json.dumps(received[0])


@pytest.mark.parametrize(("action", "name"), [
    ("ActionAskBookingName", "action_ask_booking_name"),
    ("ActionAskBookingPhone", "action_ask_booking_phone"),
    ("ActionAskBookingEmail", "action_ask_booking_email"),
    ("ActionAskBookingTreatment", "action_ask_booking_treatment"),
    ("ActionAskBookingTimes", "action_ask_booking_times"),
    ("ActionAskBookingSmsConsent", "action_ask_booking_sms_consent"),
    ("ActionAskBookingConfirm", "action_ask_booking_confirm"),
])
def test_every_booking_question_is_a_class_written_in_the_source(action, name) -> None:
    """A search for an action's name finds its class (no classes generated at import)."""
    import inspect

    import actions.booking

    cls = getattr(actions.booking, action)
    assert cls().name() == name
    assert f'return "{name}"' in inspect.getsource(actions.booking)
    assert name in DOMAIN["actions"]
    _, dispatcher = run_action(cls(), make_tracker(slots={**ALL_NO, **DETAILS}))
    assert dispatcher.messages and dispatcher.messages[0]["text"]


def test_the_form_is_validated_by_the_sdks_extract_and_validate_methods() -> None:
    """No run() if-chain: Rasa's FormValidationAction calls extract_/validate_<slot>."""
    for slot in DETAILS:
        if slot == "booking_sms_consent_at":
            continue
        assert callable(getattr(ValidateBookingForm, f"extract_{slot}"))
        assert callable(getattr(ValidateBookingForm, f"validate_{slot}"))
