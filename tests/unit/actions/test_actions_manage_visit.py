"""A patient's own visit, through the actions run directly, against the real local CalDAV
server and a real clinic database: when, move, cancel, what next, running late, in the widget
(the conversation that booked, or the reference with the mobile number) and over SMS (the
number on the booking). Nobody sees or changes someone else's visit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from actions.manage_visit import (
    ActionAskManageReply,
    ActionManageVisit,
    ValidateManageVisitForm,
)
from clinic.store.caldav_calendar import CalDAVCalendar
from clinic.store.db import read_scope
from clinic.store.models import Appointment, VisitEvent
from tests.support.actions import form_turn, make_tracker, run_action, slot_events, texts
from tests.unit.actions.test_actions_visits import _configure, submit
from tests.unit.actions.test_actions_visits import turn as visit_turn

PHONE = "+14155550132"  # the booking's number (tests.unit.actions.test_actions_visits)
WIDGET = {"channel": "socketio", "sender": "conv-v"}  # the conversation that booked
STRANGER = {"channel": "socketio", "sender": "someone-else"}
SMS = {"channel": "twilio", "sender": PHONE}


@pytest.fixture
def booked(clinic_db: str, clinic_calendar: CalDAVCalendar,
           monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A booking from the widget conversation conv-v with its first offered time held."""
    from actions import visits as visit_actions

    _configure(monkeypatch, clinic_calendar.url)
    _, _, slots = submit()
    _, _, slots = visit_turn("1", slots)
    assert slots["visit_choice"].startswith("held:")
    yield {"reference": slots["booking_reference"], "calendar": clinic_calendar,
           "start": dt.datetime.fromisoformat(slots["visit_choice"][5:])}
    visit_actions.scheduler.cache_clear()


def ask(text: str, who: dict[str, str], slots: dict[str, Any] | None = None,
        entities: list[dict[str, Any]] | None = None) -> tuple[str, dict[str, Any]]:
    """The person asks; if the action needs a reply, the form's first question is asked."""
    slots = dict(slots or {})
    events, dispatcher = run_action(ActionManageVisit(), make_tracker(
        text, "manage_visit", slots=slots, entities=entities, **who))
    slots.update(slot_events(events))
    said = texts(dispatcher)
    if slots.get("manage_next") == "ask":
        slots["requested_slot"] = "manage_reply"
        ask_events, ask_dispatcher = run_action(ActionAskManageReply(), make_tracker(
            slots=slots, active_loop="manage_visit_form", **who))
        slots.update(slot_events(ask_events))
        said += "\n" + texts(ask_dispatcher)
    return said, slots


def reply(text: str, who: dict[str, str], slots: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    _, said, after = form_turn(ValidateManageVisitForm(), ActionAskManageReply(), text, None,
                               slots, "manage_visit_form", "manage_reply", **who)
    return said, after


def states(url: str) -> list[str]:
    with read_scope(url) as session:
        return [str(a.state) for a in session.execute(
            select(Appointment).order_by(Appointment.id)).scalars()]


def patient_events(url: str) -> list[str]:
    with read_scope(url) as session:
        return [str(e.kind) for e in session.execute(
            select(VisitEvent).where(VisitEvent.actor == "patient")
            .order_by(VisitEvent.id)).scalars()]


def test_when_and_what_next_from_the_conversation_that_booked(booked: dict[str, Any]) -> None:
    said, slots = ask("when is my appointment?", WIDGET)
    assert booked["reference"] in said and "reserved" in said
    assert booked["start"].strftime("%A") in said and slots["manage_next"] == "done"
    said, _ = ask("what happens next?", WIDGET)
    assert "What happens next" in said and "microneedling is" not in said.lower()


def test_cancel_asks_first_then_removes_the_event_and_tells_staff(
        booked: dict[str, Any], clinic_db: str) -> None:
    said, slots = ask("how do I cancel my appointment", WIDGET)
    assert "Cancel your" in said and booked["reference"] in said
    assert "safety questions" not in said  # never the screening
    # "?" and "ok?"-like noise re-ask; "no" keeps it
    said, after = reply("?", WIDGET, slots)
    assert "yes or no" in said and after["manage_reply"] is None
    said, after = reply("no", WIDGET, slots)
    assert "stays as it is" in said and states(clinic_db) == ["held"]
    assert len(booked["calendar"].events()) == 1
    said, slots = ask("cancel my appointment", WIDGET)
    said, after = reply("yes", WIDGET, slots)
    assert "is cancelled" in said and after["manage_reply"] == "done"
    assert states(clinic_db) == ["cancelled"] and booked["calendar"].events() == []
    assert patient_events(clinic_db) == ["cancelled"]  # the Visits page shows it
    said, _ = ask("when is my appointment?", WIDGET)
    assert booked["reference"] not in said  # nothing left to find: asks for the reference


def test_move_to_another_day_holds_the_new_time_and_frees_the_old(
        booked: dict[str, Any], clinic_db: str) -> None:
    said, slots = ask("can I move it to tuesday?", WIDGET)
    offers = [dt.datetime.fromisoformat(v) for v in slots["manage_offers"]]
    assert offers and all(o.weekday() == 1 for o in offers)
    assert "These times are free" in said and booked["start"] not in offers
    said, after = reply("the second one", WIDGET, slots)
    assert "moved to" in said and after["manage_reply"] == "done"
    assert states(clinic_db) == ["cancelled", "held"]
    [event] = booked["calendar"].events()
    assert dt.datetime.fromisoformat(event["start"]) == offers[1] and event["status"] == "TENTATIVE"
    assert patient_events(clinic_db) == ["moved"]


def test_move_without_a_day_asks_which_and_short_replies_do_something(
        booked: dict[str, Any], clinic_db: str) -> None:
    said, slots = ask("I need to reschedule", WIDGET)
    assert "Which day or time" in said and slots["manage_step"] == "move_when"
    said, after = reply("ok", WIDGET, slots)
    assert "didn't catch a day" in said and after["manage_step"] == "move_when"
    said, after = reply("friday afternoon", WIDGET, slots)
    assert after["manage_step"] == "move_pick"
    said, after = reply("stop", WIDGET, after)
    assert "stays as it is" in said and states(clinic_db) == ["held"]


def test_running_late_tells_staff_and_gives_the_phone(booked: dict[str, Any],
                                                      clinic_db: str) -> None:
    from clinic.knowledge.kb import knowledge

    said, _ = ask("I'm running 10 minutes late", WIDGET)
    assert knowledge().clinic.phone in said
    assert states(clinic_db) == ["held"] and patient_events(clinic_db) == ["running_late"]


def test_another_conversation_needs_the_reference_and_the_number_together(
        booked: dict[str, Any], clinic_db: str) -> None:
    said, slots = ask("cancel my appointment", STRANGER)
    assert booked["reference"] not in said and "reference" in said
    assert slots["manage_step"] == "verify"
    # the reference alone, then the reference with another number, then a made-up one
    said, after = reply(booked["reference"], STRANGER, slots)
    assert "both" in said and after["manage_step"] == "verify"
    wrong, after = reply(f"{booked['reference']} 415 555 0199", STRANGER, slots)
    made_up, after2 = reply("MN-ZZZZZZ 415 555 0132", STRANGER, after)
    # a wrong pair reveals nothing: the same answer as a reference that does not exist
    assert wrong == made_up and booked["start"].strftime("%A") not in wrong
    assert states(clinic_db) == ["held"]
    said, after3 = reply("MN-ZZZZZY 415 555 0132", STRANGER, after2)
    assert "stop looking" in said and after3["manage_attempts"] == 3
    # after three wrong pairs, even the right pair is not looked at in this conversation
    said, _ = ask("cancel my appointment", STRANGER, {"manage_attempts": 3})
    assert "stop looking" in said and states(clinic_db) == ["held"]


def test_the_right_pair_finds_the_visit_and_then_acts(booked: dict[str, Any],
                                                      clinic_db: str) -> None:
    said, slots = ask("cancel my appointment", STRANGER)
    said, after = reply(f"my ref is {booked['reference'].lower()} and number (415) 555-0132",
                        STRANGER, slots)
    assert "Cancel your" in said and after["manage_ref"] == booked["reference"]
    said, after = reply("yes", STRANGER, after)
    assert "is cancelled" in said and states(clinic_db) == ["cancelled"]


def test_sms_finds_the_visit_by_the_number_only(booked: dict[str, Any], clinic_db: str) -> None:
    said, _ = ask("when is my appointment?", SMS)
    assert booked["reference"] in said
    other = {"channel": "twilio", "sender": "+14155550199"}
    said, slots = ask("cancel my appointment", other)
    assert booked["reference"] not in said and "can't find an upcoming visit" in said
    assert slots["manage_next"] == "done"
    # over SMS a typed reference is never a way in: only the number texting
    said, _ = ask(f"when is {booked['reference']}", other)
    assert booked["reference"] not in said and states(clinic_db) == ["held"]


def test_slots_naming_someone_elses_visit_change_nothing(booked: dict[str, Any],
                                                         clinic_db: str) -> None:
    with read_scope(clinic_db) as session:
        visit_id = session.execute(select(Appointment.id)).scalar_one()
    forged = {"manage_step": "confirm_cancel", "manage_visit_id": visit_id,
              "manage_request": "cancel"}
    said, after = reply("yes", STRANGER, forged)
    assert "is cancelled" not in said and after["manage_reply"] == "done"
    assert states(clinic_db) == ["held"] and len(booked["calendar"].events()) == 1


def test_reminder_replies_confirm_and_cancel_over_sms(booked: dict[str, Any],
                                                      clinic_db: str) -> None:
    said, _ = ask('/manage_visit{"visit_request": "confirm"}', SMS,
                  entities=[{"entity": "visit_request", "value": "confirm"}])
    assert "Thank you" in said and patient_events(clinic_db) == ["patient_confirmed"]
    said, slots = ask('/manage_visit{"visit_request": "cancel"}', SMS,
                      entities=[{"entity": "visit_request", "value": "cancel"}])
    assert "Cancel your" in said
    said, _ = reply("/affirm", SMS, slots)
    assert "is cancelled" in said and states(clinic_db) == ["cancelled"]


def test_the_forms_activation_answers_nothing(booked: dict[str, Any], clinic_db: str) -> None:
    """Rasa validates the slots action_manage_visit set when the form starts (the reply
    cleared to None): that is no answer, and nothing is said or changed."""
    _, slots = ask("can I move it to tuesday?", WIDGET)
    tracker = make_tracker("can I move it to tuesday?", "manage_visit",
                           slots={**slots, "requested_slot": None}, **WIDGET)
    tracker.events.append({"event": "slot", "name": "manage_reply", "value": None})
    events, dispatcher = run_action(ValidateManageVisitForm(), tracker)
    assert texts(dispatcher) == "" and states(clinic_db) == ["held"]
    assert slot_events(events).get("manage_reply") is None


def test_guessing_one_reference_from_many_conversations_is_limited(booked: dict[str, Any],
                                                                    clinic_db: str) -> None:
    """A new conversation per guess does not get round the limit: after five pairs with the
    reference that matched nothing, even the right pair is not looked up for a while."""
    for guess in range(5):
        who = {"channel": "socketio", "sender": f"guesser-{guess}"}
        _, slots = ask("when is my appointment?", who)
        said, _ = reply(f"{booked['reference']} 415 555 01{guess:02d}", who, slots)
        assert "couldn't find an upcoming visit" in said
    who = {"channel": "socketio", "sender": "guesser-right"}
    _, slots = ask("when is my appointment?", who)
    said, _ = reply(f"{booked['reference']} 415 555 0132", who, slots)
    assert "stop looking" in said and booked["reference"] not in said
    # the conversation that booked is not affected
    said, _ = ask("when is my appointment?", WIDGET)
    assert booked["reference"] in said
