"""Choosing a visit time after the booking request is saved: the actions, run directly,
against the real local CalDAV server and a real clinic database."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from actions import visits as visit_actions
from actions.booking import ActionSubmitBooking
from actions.visits import ActionAskVisitChoice, ActionVisitChosen, ValidateVisitForm
from clinic.config import settings as settings_module
from clinic.store.caldav_calendar import CalDAVCalendar
from tests.support.actions import ALL_NO, form_turn, make_tracker, run_action, slot_events, texts
from tests.support.calendar import TEST_PASSWORD, free_port

DETAILS = {
    "booking_name": "Ana Test", "booking_phone": "+14155550132", "booking_email": "none",
    "booking_treatment": "facial_microneedling", "booking_times": "friday afternoon",
    "booking_sms_consent": "yes", "booking_sms_consent_at": "2026-11-24T10:00:00+00:00",
    "booking_confirm": "yes",
}


def _configure(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("CLINIC_CALDAV_URL", url)
    monkeypatch.setenv("CLINIC_CALDAV_USER", "clinic")
    monkeypatch.setenv("CLINIC_CALDAV_PASSWORD", TEST_PASSWORD)
    monkeypatch.setenv("CLINIC_CALDAV_TIMEOUT_SECONDS", "2")
    settings_module.settings.cache_clear()
    visit_actions.scheduler.cache_clear()


@pytest.fixture
def calendar(clinic_db: str, clinic_calendar: CalDAVCalendar,
             monkeypatch: pytest.MonkeyPatch) -> CalDAVCalendar:
    _configure(monkeypatch, clinic_calendar.url)
    yield clinic_calendar
    visit_actions.scheduler.cache_clear()


def submit() -> tuple[list[dict[str, Any]], str, dict[str, Any]]:
    events, dispatcher = run_action(ActionSubmitBooking(), make_tracker(
        "/affirm", "affirm", slots={**ALL_NO, **DETAILS}, channel="socketio", sender="conv-v"))
    slots = {**ALL_NO, **DETAILS, **slot_events(events)}
    return events, texts(dispatcher), slots


def turn(text: str, slots: dict[str, Any], intent: str | None = None
         ) -> tuple[list[dict[str, Any]], str, dict[str, Any]]:
    return form_turn(ValidateVisitForm(), ActionAskVisitChoice(), text, intent, slots,
                     "visit_form", "visit_choice")


def offered(slots: dict[str, Any]) -> list[dt.datetime]:
    return [dt.datetime.fromisoformat(v) for v in slots["visit_offers"]]


def test_free_times_are_offered_after_saving_and_a_typed_pick_is_held(
        calendar: CalDAVCalendar) -> None:
    events, said, slots = submit()
    assert {"event": "followup", "name": "visit_form"} in [
        {k: e.get(k) for k in ("event", "name")} for e in events]
    assert "The clinic will contact you to confirm" not in said  # a real time is offered
    times = offered(slots)
    assert len(times) == 3 and all(t.weekday() == 4 and t.hour >= 12 for t in times)
    _, dispatcher = run_action(ActionAskVisitChoice(), make_tracker(slots=slots,
                                                                    active_loop="visit_form"))
    buttons = dispatcher.messages[0]["buttons"]
    assert [b["payload"] for b in buttons] == slots["visit_offers"]
    assert buttons[0]["title"].startswith("Friday ")
    events, said, slots = turn("the second one", slots)
    assert slots["visit_choice"] == f"held:{times[1].isoformat()}"
    [event] = calendar.events()
    assert event["status"] == "TENTATIVE" and "Ana" not in str(event)
    _, dispatcher = run_action(ActionVisitChosen(), make_tracker(slots=slots))
    assert "reserved" in texts(dispatcher) and slots["booking_reference"] in texts(dispatcher)


def test_another_day_none_and_unclear(calendar: CalDAVCalendar) -> None:
    _, _, slots = submit()
    _, said, after = turn("tuesday morning instead", slots)
    assert after["visit_choice"] is None
    assert all(t.weekday() == 1 and t.hour < 12 for t in offered(after))
    _, said, after = turn("blue", slots)
    assert after["visit_choice"] is None and "didn't catch" in said
    _, _, after = turn("none of them", slots)
    assert after["visit_choice"] == "skipped"
    assert calendar.events() == []


def test_a_time_taken_meanwhile_offers_the_next_ones(calendar: CalDAVCalendar) -> None:
    _, _, slots = submit()
    first = offered(slots)[0]
    calendar.hold("MN-OTHER1", "Facial microneedling", first, first + dt.timedelta(hours=1))
    _, said, after = turn("1", slots)
    assert after["visit_choice"] is None
    assert "was just taken" in said and first not in offered(after)


def test_calendar_down_keeps_todays_booking_request(clinic_db: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _configure(monkeypatch, f"http://127.0.0.1:{free_port()}/clinic/practitioner/")
    events, said, slots = submit()
    assert slots["booking_reference"] in said
    assert "The clinic will contact you to confirm" in said
    assert not any(e.get("event") == "followup" for e in events)
    visit_actions.scheduler.cache_clear()


def test_the_forms_activation_is_no_reply_to_the_offer(calendar: CalDAVCalendar) -> None:
    """Rasa validates the slots set since the last message when the form starts: the
    "yes, send it" that submitted the booking request is no unclear pick of a time."""
    from rasa_sdk import Tracker

    events, _, slots = submit()
    latest = {"text": "yes, send it", "intent": {"name": "affirm", "confidence": 1.0},
              "entities": []}
    history = [{"event": "user", "text": "yes, send it", "parse_data": latest},
               *[e for e in events if e.get("event") == "slot"]]
    tracker = Tracker("conv-v", {**slots, "requested_slot": None}, latest, history, False,
                      None, {"name": "visit_form"}, "action_submit_booking")
    validation, _ = run_action(ValidateVisitForm(), tracker)
    after = {**slots, **slot_events(validation)}
    assert after.get("visit_note") != "unclear" and after["visit_choice"] is None
    _, dispatcher = run_action(ActionAskVisitChoice(), make_tracker(
        slots={**after, "requested_slot": "visit_choice"}, active_loop="visit_form"))
    assert "didn't catch" not in texts(dispatcher) and dispatcher.messages[0]["buttons"]
