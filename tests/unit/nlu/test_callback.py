"""After hours, a request for a person becomes a callback request in the console's inbox:
reading the details as people type them, what the assistant says, what it records."""

from __future__ import annotations

import datetime as dt

import pytest
from rasa_sdk import Tracker

from actions.faq import ActionFallback, ActionHandoff, ActionOutOfScope
from clinic.knowledge.kb import knowledge
from clinic.nlu.callback import (
    ASK_KEY,
    ASKED,
    RECORDED,
    asked_for_contact,
    asks_for_callback,
    read_contact,
)
from clinic.nlu.guard import guard_decision
from clinic.rules import hours
from tests.support.actions import make_tracker, run_action, texts

K = knowledge()
SAM = "I'm Sam, my number is 415 555 0123 if someone can call me tomorrow"


@pytest.mark.parametrize("text, name, phone, email", [
    (SAM, "Sam", "+14155550123", None),
    ("Sam 415 555 0123", "Sam", "+14155550123", None),
    ("Jessica Tran here, call me on (415) 555-0199", "Jessica Tran", "+14155550199", None),
    ("my name is sam lee and my email is Sam.Lee@Example.com", "Sam Lee", None,
     "sam.lee@example.com"),
    ("sam@example.org", None, None, "sam@example.org"),
    ("I'm free after 5, 415-555-0123", None, "+14155550123", None),
    ("call me at +44 7911 123456", None, "+447911123456", None),
    ("what is microneedling", None, None, None),
    ("call me on 555 0123", None, None, None),  # too short to be a number
])
def test_contact_details_are_read_as_people_type_them(text, name, phone, email) -> None:
    contact = read_contact(text)
    assert (contact.name, contact.phone_e164, contact.email) == (name, phone, email)


def test_a_request_to_be_called_is_a_request_for_a_person_but_a_bare_number_is_not() -> None:
    # "didn't understand", twice, was the answer to Sam's message.
    assert guard_decision(SAM, "nlu_fallback", 0.3, ()) == ("human_handoff", None)
    assert asks_for_callback("can someone call me back on 4155550199")
    # The booking form asks for a number: giving it is details, not a request for a person.
    assert not asks_for_callback("my number is 415 555 0123")
    assert guard_decision("my number is 415 555 0123", "inform", 0.5, ())[0] == "inform"
    assert guard_decision("Sam, 415 555 0123", "greet", 0.4, ())[0] == "inform"


def _at(monkeypatch, local: str) -> None:
    from clinic.config.settings import settings

    moment = dt.datetime.fromisoformat(local).replace(tzinfo=settings().tz)
    monkeypatch.setattr(hours, "now", lambda: moment)


def _after(offer_metadata: dict, answer: str, intent: str, channel: str = "socketio",
           sender: str = "a" * 32) -> Tracker:
    """The person's ``answer`` to an assistant message with ``offer_metadata``."""
    tracker = make_tracker(answer, intent=intent, confidence=0.4, channel=channel,
                           sender=sender)
    earlier = [{"event": "user", "text": "can I talk to someone", "input_channel": channel},
               {"event": "bot", "text": "offer", "metadata": offer_metadata}]
    tracker.events[:0] = earlier
    return tracker


def _open_callbacks():
    from clinic.services.inbox_store import callbacks

    return callbacks()


def test_after_hours_the_widget_offers_a_call_back_not_a_reply_here(monkeypatch,
                                                                     clinic_db) -> None:
    _at(monkeypatch, "2026-12-02T20:00")  # Wednesday evening: next opening tomorrow 9 am
    _, dispatcher = run_action(ActionHandoff(), make_tracker(
        "can I talk to someone", intent="human_handoff", channel="socketio"))
    text = texts(dispatcher)
    assert "call back" in text and "tomorrow at 9 am" in text
    assert "reply here" not in text
    assert dispatcher.messages[0][ASK_KEY] == ASKED  # the next message may hold the details
    assert _open_callbacks() == []


def test_the_details_typed_after_the_offer_make_a_callback_item(monkeypatch, clinic_db) -> None:
    _at(monkeypatch, "2026-12-02T20:00")
    tracker = _after({ASK_KEY: ASKED}, "Sam, 415 555 0123", "inform")
    assert asked_for_contact(tracker.events)
    events, dispatcher = run_action(ActionFallback(), tracker)
    text = texts(dispatcher)
    assert "Thank you, Sam" in text and "(415) 555-0123" in text
    assert "from tomorrow at 9 am" in text and "don't need to keep this chat open" in text
    assert events == []  # not reverted: the message was understood
    [item] = _open_callbacks()
    assert (item.name, item.phone_e164, item.channel) == ("Sam", "+14155550123", "socketio")
    assert item.call_from is not None and item.call_from.hour == 17  # 9 am Pacific in UTC
    # Typed again (or twice): the same item, not a second one.
    run_action(ActionOutOfScope(), _after({ASK_KEY: ASKED}, "Sam Lee 415 555 0123",
                                          "out_of_scope"))
    [again] = _open_callbacks()
    assert again.id == item.id and again.name == "Sam Lee"


def test_no_details_after_the_offer_says_what_is_missing(monkeypatch, clinic_db) -> None:
    _at(monkeypatch, "2026-12-02T20:00")
    _, dispatcher = run_action(ActionFallback(), _after({ASK_KEY: ASKED}, "tomorrow is fine",
                                                        "nlu_fallback"))
    assert "couldn't find a phone number or e-mail" in texts(dispatcher)
    assert _open_callbacks() == []
    # Without the offer before it, the fallback is the usual one.
    _, dispatcher = run_action(ActionFallback(), _after({}, "tomorrow is fine", "nlu_fallback"))
    assert "couldn't find a phone number" not in texts(dispatcher)


def test_one_message_with_name_number_and_request_is_enough_at_any_hour(monkeypatch,
                                                                         clinic_db) -> None:
    _at(monkeypatch, "2026-12-02T11:00")  # open: someone will call today
    _, dispatcher = run_action(ActionHandoff(), make_tracker(SAM, intent="human_handoff",
                                                             channel="socketio"))
    assert "call you on (415) 555-0123 as soon as someone is free today" in texts(dispatcher)
    [item] = _open_callbacks()
    assert item.call_from is None


def test_by_text_message_the_number_is_already_known(monkeypatch, clinic_db) -> None:
    _at(monkeypatch, "2026-12-05T20:00")  # Saturday evening: next opening Monday
    _, dispatcher = run_action(ActionHandoff(), make_tracker(
        "talk to a person", intent="human_handoff", channel="twilio", sender="+14155550142"))
    text = texts(dispatcher)
    assert "call you back on this number from Monday at 9 am" in text
    assert dispatcher.messages[0][ASK_KEY] == RECORDED  # not an offer: nothing to wait for
    [item] = _open_callbacks()
    assert (item.phone_e164, item.channel) == ("+14155550142", "twilio")


def test_handled_callbacks_leave_the_open_list(clinic_db) -> None:
    from clinic.console.accounts import add_staff
    from clinic.nlu.callback import Contact
    from clinic.services.inbox_store import add_callback, assign_callback, callbacks, mark_callback_handled

    staff = add_staff("mia@clinic.example", "a long enough password 1", "Mia Chen")
    first = add_callback("s1", "socketio", Contact("Sam", "+14155550123", None), None)
    add_callback("s2", "socketio", Contact(None, None, "jo@example.org"), None)
    assert assign_callback(first, staff.id)
    assert [c.assigned_to for c in callbacks()] == ["Mia Chen", ""]
    assert mark_callback_handled(first, staff.id)
    assert not mark_callback_handled(first, staff.id)  # once
    assert [c.email for c in callbacks()] == ["jo@example.org"]
    assert [c.handled for c in callbacks(open_only=False)] == [True, False]


def test_erasure_and_retention_remove_call_back_requests(tracker_store) -> None:
    from clinic.nlu.callback import Contact
    from clinic.services.erase import erase_person
    from clinic.services.inbox_store import add_callback, callbacks, presence, record_presence
    from clinic.services.retention import purge

    add_callback("s1", "socketio", Contact("Sam", "+14155550123", None), None)
    add_callback("s2", "socketio", Contact("Jo", None, "jo@example.org"), None)
    record_presence("s1", +1)
    erase_person(phone="+14155550123", tracker_url=tracker_store)
    assert [c.name for c in callbacks(open_only=False)] == ["Jo"]
    # Past the retention period, the rest goes too.
    purge(now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=400),
          tracker_url=tracker_store)
    assert callbacks(open_only=False) == []
    assert presence(["s1"]) == {}


def test_insights_count_as_not_understood_only_what_the_assistant_did_not_understand(
        clinic_db, tmp_path, monkeypatch) -> None:
    import time

    from rasa.shared.core.events import BotUttered

    from clinic.console import inbox, insights
    from clinic.store import rasa_events as tracker
    from dev.bench.console_seed import Conversation, write

    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    monkeypatch.setenv("CLINIC_TRACKER_STORE_URL", url)
    from clinic.config import settings as settings_module

    settings_module.settings.cache_clear()
    tracker.dispose()
    start = time.time() - 600
    # The classifier was unsure, but the screening form took the answer: understood.
    form = Conversation("form", start=start).user("am I a candidate", "check_eligibility") \
        .loop("screening_form").user("nah ill be inside", "nlu_fallback") \
        .action("screening_form").bot("Next question").action("action_listen") \
        .user("its jess, jessica tran", "nlu_fallback").action("booking_form")
    # The details of a call back, answered by the fallback action with the confirmation.
    details = Conversation("call", start=start).user("Sam, 415 555 0123", "inform") \
        .action("action_fallback")
    details.events.append(BotUttered("Thank you, Sam.", metadata={ASK_KEY: RECORDED},
                                     timestamp=start + 100))
    # Really not understood.
    lost = Conversation("lost", start=start).turn("do you sell gift vouchers", "nlu_fallback",
                                                  "action_fallback")
    write(url, [form, details, lost])
    today = dt.date.today()
    period = insights.DateRange(today - dt.timedelta(days=1), today + dt.timedelta(days=1))
    groups = insights.unanswered(period)
    assert [g.example for g in groups] == ["do you sell gift vouchers"]
    events = tracker.load_events(["form"])["form"]
    assert inbox.NOT_UNDERSTOOD not in inbox.reasons(events)
    tracker.dispose()


def test_in_opening_hours_staff_answer_here_and_a_number_typed_next_is_still_taken(
        monkeypatch, clinic_db) -> None:
    _at(monkeypatch, "2026-12-02T11:00")
    _, dispatcher = run_action(ActionHandoff(), make_tracker(
        "can I talk to someone", intent="human_handoff", channel="socketio"))
    assert "stay in this chat" in texts(dispatcher)
    assert dispatcher.messages[0][ASK_KEY] == ASKED
    _, dispatcher = run_action(ActionFallback(), _after({ASK_KEY: ASKED}, "jo@example.org",
                                                        "inform"))
    assert "email you at jo@example.org as soon as someone is free today" in texts(dispatcher)
    assert [c.email for c in _open_callbacks()] == ["jo@example.org"]
