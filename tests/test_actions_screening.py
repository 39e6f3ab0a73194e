"""The screening form, outcome, free-text contraindications and urgent warning signs."""

from __future__ import annotations

import pytest

from actions.booking import ActionBookingGate
from actions.safety import ActionHandleContraindication, ActionUrgentCare
from actions.screening import (
    ASK_ACTIONS,
    ActionScreeningOutcome,
    ActionStopForm,
    ValidateScreeningForm,
)
from clinic.kb import knowledge
from tests.actions_support import (
    ALL_NO,
    entity,
    make_tracker,
    run_action,
    slot_events,
    texts,
)

K = knowledge()
FORM = "screening_form"
FIRST = K.screening.contraindications[0].slot


def answer(text: str, intent: str | None, requested: str = FIRST, slots=None, **kw):
    tracker = make_tracker(text, intent=intent, active_loop=FORM,
                           slots={"requested_slot": requested, **(slots or {})}, **kw)
    return run_action(ValidateScreeningForm(), tracker)


def test_activation_introduces_and_asks_first_question_in_knowledge_order() -> None:
    events, dispatcher = run_action(ValidateScreeningForm(),
                                    make_tracker("am I a good candidate", "check_eligibility",
                                                 active_loop=FORM))
    assert slot_events(events) == {"requested_slot": FIRST}
    assert K.clinic.disclaimer in texts(dispatcher)


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [
        ("/affirm", "affirm", "yes"),
        ("/deny", "deny", "no"),
        ("/unsure", "unsure", "unsure"),
        ("nope", "deny", "no"),
        ("yeah I am", "affirm", "yes"),
        ("not that I know of", "deny", "no"),
        ("not sure", "unsure", "unsure"),
        ("I don't know", "unsure", "unsure"),
        ("No", None, "no"),
    ],
)
def test_typed_and_button_answers(text: str, intent: str | None, expected: str) -> None:
    events, _ = answer(text, intent, requested="screen_blood_thinners")
    slots = slot_events(events)
    assert slots["screen_blood_thinners"] == expected
    assert slots["requested_slot"] == FIRST  # the first unanswered question comes next


def test_words_and_classifier_disagreeing_is_asked_again() -> None:
    events, dispatcher = answer("no", "affirm", requested="screen_keloids")
    assert slot_events(events)["screen_keloids"] is None
    assert "Yes, No or Not sure" in texts(dispatcher)


def test_question_asked_midway_is_answered_then_resumed() -> None:
    events, dispatcher = answer("how long is recovery?", "ask_recovery", confidence=0.93,
                                requested="screen_keloids")
    slots = slot_events(events)
    assert slots["screen_keloids"] is None
    assert slots["requested_slot"] == FIRST
    assert "Aust et al., 2008" in texts(dispatcher)
    assert "back to the safety questions" in texts(dispatcher)


def test_stop_and_urgent_hand_over_to_rules() -> None:
    assert answer("never mind", "stop", confidence=0.9)[0] == []
    assert answer("my throat is closing", "report_urgent_symptoms")[0] == []


def test_contraindication_in_own_words_is_counted_not_asked_again() -> None:
    events, dispatcher = answer(
        "no but I take warfarin", "report_contraindication", requested="screen_pregnancy",
        entities=[entity("contraindication", "blood_thinners", start=14, end=22)])
    slots = slot_events(events)
    assert slots["screen_blood_thinners"] == "yes"
    assert slots["screen_pregnancy"] == "no"
    assert K.screening.by_id("blood_thinners").explanation in texts(dispatcher)
    assert slots["requested_slot"] == "screen_cystic_acne_or_wound"


def test_statement_about_another_condition_is_no_answer_to_the_open_question() -> None:
    events, _ = answer(
        "I'm not on accutane", "deny", requested="screen_pregnancy",
        entities=[entity("contraindication", "isotretinoin", "negated", start=9, end=19)])
    slots = slot_events(events)
    assert slots.get("screen_pregnancy") is None
    assert "screen_isotretinoin" not in slots
    assert slots["requested_slot"] == "screen_pregnancy"


def test_not_suitable_now_answer_ends_the_questions() -> None:
    events, _ = answer("yes", "affirm", requested="screen_pregnancy")
    assert slot_events(events)["requested_slot"] is None


@pytest.mark.parametrize("rule", K.screening.contraindications, ids=lambda r: r.id)
def test_each_question_is_asked_from_knowledge_with_buttons(rule) -> None:
    _, dispatcher = run_action(ASK_ACTIONS[rule.id](), make_tracker(active_loop=FORM))
    message = dispatcher.messages[0]
    assert rule.question in message["text"]
    assert [b["title"] for b in message["buttons"]] == ["Yes", "No", "Not sure"]


def test_all_clear_is_eligible_and_offers_booking() -> None:
    events, dispatcher = run_action(ActionScreeningOutcome(), make_tracker(slots=ALL_NO))
    slots = slot_events(events)
    assert slots == {"screening_outcome": "eligible", "booking_next": "none",
                     "pending_offer": "book"}
    assert "practitioner will confirm" in texts(dispatcher)
    assert any(m.get("response") == "utter_ask_book" for m in dispatcher.messages)


def test_eligible_person_who_asked_to_book_goes_to_booking() -> None:
    events, _ = run_action(ActionScreeningOutcome(),
                           make_tracker(slots={**ALL_NO, "booking_wanted": True}))
    assert slot_events(events)["booking_next"] == "booking"


@pytest.mark.parametrize("rule", K.screening.contraindications, ids=lambda r: r.id)
@pytest.mark.parametrize("value", ["yes", "unsure"])
def test_each_contraindication_branch_is_refused_kindly(rule, value) -> None:
    slots = {**ALL_NO, rule.slot: value, "booking_wanted": True}
    events, dispatcher = run_action(ActionScreeningOutcome(), make_tracker(slots=slots))
    result = slot_events(events)
    expected = rule.outcome if value == "yes" else "practitioner_review"
    assert result["screening_outcome"] == expected
    assert result["booking_next"] == "refused"
    text = texts(dispatcher)
    assert rule.explanation in text
    assert K.clinic.phone in text
    assert "FACIAL50" not in text and "$50" not in text


@pytest.mark.parametrize(
    ("slots", "expected"),
    [({}, "screening"), (ALL_NO, "booking"), ({**ALL_NO, "screen_keloids": "yes"}, "refused"),
     ({**ALL_NO, "screen_keloids": None}, "screening")],
)
def test_booking_gate(slots, expected) -> None:
    events, _ = run_action(ActionBookingGate(), make_tracker("book", "book", slots=slots))
    assert slot_events(events)["booking_next"] == expected


@pytest.mark.parametrize(
    ("role", "recorded"),
    [("affirmed", "yes"), ("uncertain", "unsure"), ("third_party", None),
     ("hypothetical", None)],
)
def test_free_text_contraindication_outside_the_form(role, recorded) -> None:
    tracker = make_tracker("I'm on acutane", "report_contraindication",
                           entities=[entity("contraindication", "isotretinoin", role)])
    events, dispatcher = run_action(ActionHandleContraindication(), tracker)
    assert slot_events(events).get("screen_isotretinoin") == recorded
    assert texts(dispatcher)


def test_free_text_contraindication_while_booking_stops_the_booking() -> None:
    tracker = make_tracker("I had lip filler last week", "report_contraindication",
                           slots={**ALL_NO, "booking_name": "Ana", "requested_slot": "booking_phone"},
                           entities=[entity("contraindication", "recent_facial_procedure")],
                           active_loop="booking_form")
    events, dispatcher = run_action(ActionHandleContraindication(), tracker)
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)
    slots = slot_events(events)
    assert slots["screen_recent_facial_procedure"] == "yes"
    assert slots["booking_name"] is None
    assert "nothing was saved" in texts(dispatcher)


@pytest.mark.parametrize(
    ("sign", "must_say"),
    [("breathing_or_allergy", K.clinic.emergency_number), ("infection_signs", "urgent medical")],
)
def test_urgent_signs_get_seek_care_message_and_end_forms(sign, must_say) -> None:
    tracker = make_tracker("help", "report_urgent_symptoms", active_loop=FORM,
                           entities=[entity("urgent_sign", sign)])
    events, dispatcher = run_action(ActionUrgentCare(), tracker)
    assert must_say in texts(dispatcher)
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)


def test_stop_keeps_screening_answers_but_drops_booking_details() -> None:
    events, dispatcher = run_action(
        ActionStopForm(), make_tracker("stop", "stop", active_loop=FORM,
                                       slots={"screen_pregnancy": "no"}))
    assert "screen_pregnancy" not in slot_events(events)
    assert "pause" in texts(dispatcher)
    events, dispatcher = run_action(
        ActionStopForm(), make_tracker("cancel", "stop", active_loop="booking_form",
                                       slots={"booking_name": "Ana"}))
    assert slot_events(events)["booking_name"] is None
    assert "nothing was saved" in texts(dispatcher)
