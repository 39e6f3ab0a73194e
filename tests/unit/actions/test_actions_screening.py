"""The screening form, outcome, free-text contraindications and urgent warning signs."""

from __future__ import annotations

import pytest

from actions.booking import ActionBookingGate
from actions.safety import ActionHandleContraindication, ActionUrgentCare
from actions.screening import (
    ActionAskScreeningQuestion,
    ActionScreeningOutcome,
    ActionStopForm,
    ValidateScreeningForm,
)
from clinic.knowledge import messages as M
from clinic.knowledge.kb import knowledge
from clinic.rules.screening import ANSWERS_SLOT, question_to_ask
from tests.support.actions import (
    ALL_NO,
    all_no,
    answers_set,
    answers_slots,
    entity,
    form_turn,
    make_tracker,
    run_action,
    slot_events,
    texts,
)

K = knowledge()
FORM = "screening_form"
QUESTION = "screening_question"
RULES = K.screening.contraindications
FIRST = RULES[0]


def answered_before(rule) -> dict[str, str]:
    """A clear "no" to every question before ``rule``, so ``rule`` is the one asked."""
    return {r.id: "no" for r in RULES[:RULES.index(rule)]}


def answer(text: str, intent: str | None, asked: str = FIRST.id, answers=None, **kw):
    """The validation of a reply to question ``asked`` (every earlier one answered "no")."""
    given = {**answered_before(K.screening.by_id(asked)), **(answers or {})}
    tracker = make_tracker(text, intent=intent, active_loop=FORM,
                           slots={"requested_slot": QUESTION, **answers_slots(given)}, **kw)
    return run_action(ValidateScreeningForm(), tracker)


def asked_next(events, asked: str) -> str | None:
    """The id of the question the form asks after the validation events of a reply to
    question ``asked`` (None: the form ends)."""
    slots = slot_events(events)
    if "requested_slot" in slots and slots["requested_slot"] is None:
        return None
    assert slots[QUESTION] is None  # emptied, so the form asks again
    answers = answers_set(events) or answered_before(K.screening.by_id(asked))
    rule = question_to_ask(answers, K.screening)
    return rule.id if rule else None


def test_activation_introduces_and_asks_first_question_in_knowledge_order() -> None:
    events, said, slots = form_turn(ValidateScreeningForm(), ActionAskScreeningQuestion(),
                                    "am I a good candidate", "check_eligibility", {}, FORM, None)
    assert slot_events(events) == {QUESTION: None}
    assert slots["requested_slot"] == QUESTION
    assert K.clinic.disclaimer in said
    assert f"up to {len(RULES)} short safety questions" in said
    assert f"Question 1 of {len(RULES)}: {FIRST.question}" in said


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
    events, _ = answer(text, intent, asked="blood_thinners")
    assert answers_set(events)["blood_thinners"] == expected
    assert slot_events(events)["screen_last"] == "blood_thinners"
    # the first unanswered question comes next
    assert asked_next(events, "blood_thinners") == \
        RULES[RULES.index(K.screening.by_id("blood_thinners")) + 1].id


def test_words_and_classifier_disagreeing_is_asked_again() -> None:
    events, dispatcher = answer("no", "affirm", asked="keloids")
    assert ANSWERS_SLOT not in slot_events(events)
    assert asked_next(events, "keloids") == "keloids"
    assert "Yes, No or Not sure" in texts(dispatcher)


def test_question_asked_midway_is_answered_then_resumed() -> None:
    events, dispatcher = answer("how long is recovery?", "ask_recovery", confidence=0.93,
                                asked="keloids")
    assert ANSWERS_SLOT not in slot_events(events)
    assert asked_next(events, "keloids") == "keloids"
    assert "Aust et al., 2008" in texts(dispatcher)
    assert "back to the safety questions" in texts(dispatcher)


@pytest.mark.parametrize("code, says", [
    ("FACIAL50", "needs the short suitability questions first"),
    ("SAVE10", "I don't recognise the code SAVE10"),
])
def test_a_code_typed_mid_way_gets_an_answer_about_it(code: str, says: str) -> None:
    events, dispatcher = answer(code, "enter_promo_code", confidence=1.0, asked="keloids")
    assert ANSWERS_SLOT not in slot_events(events)
    assert asked_next(events, "keloids") == "keloids"
    assert says in texts(dispatcher)
    assert "back to the safety questions" in texts(dispatcher)
    assert "didn't catch" not in texts(dispatcher).lower()


def test_stop_and_urgent_hand_over_to_rules() -> None:
    assert answer("never mind", "stop", confidence=0.9)[0] == []
    assert answer("my throat is closing", "report_urgent_symptoms")[0] == []


def test_contraindication_in_own_words_is_counted_not_asked_again() -> None:
    events, dispatcher = answer(
        "no but I take warfarin", "report_contraindication", asked="pregnancy",
        entities=[entity("contraindication", "blood_thinners", start=14, end=22)])
    answers = answers_set(events)
    assert answers["blood_thinners"] == "yes"
    assert answers["pregnancy"] == "no"
    assert K.screening.by_id("blood_thinners").explanation in texts(dispatcher)
    assert asked_next(events, "pregnancy") == "cystic_acne_or_wound"


def test_statement_about_another_condition_is_no_answer_to_the_open_question() -> None:
    events, _ = answer(
        "I'm not on accutane", "deny", asked="pregnancy",
        entities=[entity("contraindication", "isotretinoin", "negated", start=9, end=19)])
    answers = answers_set(events)
    assert answers.get("pregnancy") is None
    assert answers.get("isotretinoin") is None
    assert asked_next(events, "pregnancy") == "pregnancy"


def test_not_suitable_now_answer_ends_the_questions() -> None:
    events, _ = answer("yes", "affirm", asked="pregnancy")
    assert slot_events(events)["requested_slot"] is None


def test_go_back_asks_the_last_answered_question_again() -> None:
    events, said, slots = form_turn(
        ValidateScreeningForm(), ActionAskScreeningQuestion(), "go back", "deny",
        {**answers_slots(answered_before(RULES[3])), "screen_last": RULES[2].id},
        FORM, QUESTION)
    assert answers_set(events)[RULES[2].id] is None
    assert slot_events(events)["screen_last"] is None
    assert f"Question 3 of {len(RULES)}: {RULES[2].question}" in said


def test_i_meant_yes_changes_the_last_answer() -> None:
    events, said, slots = form_turn(
        ValidateScreeningForm(), ActionAskScreeningQuestion(), "no, I meant yes", "affirm",
        {**answers_slots(answered_before(RULES[-1])), "screen_last": RULES[-2].id},
        FORM, QUESTION)
    assert answers_set(events)[RULES[-2].id] == "yes"
    assert "changed that answer" in said
    assert f"Question {len(RULES)} of {len(RULES)}" in said


def test_go_back_with_nothing_to_undo_asks_the_same_question() -> None:
    events, said, _ = form_turn(ValidateScreeningForm(), ActionAskScreeningQuestion(),
                                "go back", "deny", {}, FORM, QUESTION)
    assert slot_events(events) == {QUESTION: None}
    assert f"Question 1 of {len(RULES)}: {FIRST.question}" in said


@pytest.mark.parametrize("rule", K.screening.contraindications, ids=lambda r: r.id)
def test_each_question_is_asked_from_knowledge_with_buttons(rule) -> None:
    tracker = make_tracker(active_loop=FORM, slots=answers_slots(answered_before(rule)))
    _, dispatcher = run_action(ActionAskScreeningQuestion(), tracker)
    message = dispatcher.messages[0]
    assert rule.question in message["text"]
    assert message["text"].startswith(f"Question {RULES.index(rule) + 1} of {len(RULES)}: ")
    assert [b["title"] for b in message["buttons"]] == ["Yes", "No", "Not sure"]


def test_the_form_asks_every_question_once_then_ends() -> None:
    slots: dict = {}
    requested = None
    asked = []
    for _ in range(len(RULES) + 2):
        events, said, slots = form_turn(ValidateScreeningForm(), ActionAskScreeningQuestion(),
                                        "no" if requested else "am I a good candidate",
                                        "deny" if requested else "check_eligibility",
                                        slots, FORM, requested)
        requested = slots["requested_slot"]
        if requested is None:
            break
        asked.append(said.rsplit("Question ", 1)[1].split(":", 1)[0])
    assert asked == [f"{n} of {len(RULES)}" for n in range(1, len(RULES) + 1)]
    assert slots[ANSWERS_SLOT] == {rule.id: "no" for rule in RULES}


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
    slots = {**all_no(**{rule.id: value}), "booking_wanted": True}
    events, dispatcher = run_action(ActionScreeningOutcome(), make_tracker(slots=slots))
    result = slot_events(events)
    expected = rule.outcome if value == "yes" else "practitioner_review"
    assert result["screening_outcome"] == expected
    assert result["booking_next"] == "refused"
    text = texts(dispatcher)
    assert rule.explanation in text
    assert K.clinic.phone in text
    promotion = K.promotion("FACIAL50")
    assert promotion is not None
    assert promotion.code not in text and f"${promotion.amount_usd}" not in text


@pytest.mark.parametrize(
    ("slots", "expected"),
    [({}, "screening"), (ALL_NO, "booking"), (all_no(keloids="yes"), "refused"),
     (all_no(keloids=None), "screening")],
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
    assert answers_set(events).get("isotretinoin") == recorded
    assert texts(dispatcher)


def test_free_text_contraindication_while_booking_stops_the_booking() -> None:
    tracker = make_tracker("I had lip filler last week", "report_contraindication",
                           slots={**ALL_NO, "booking_name": "Ana", "requested_slot": "booking_phone"},
                           entities=[entity("contraindication", "recent_facial_procedure")],
                           active_loop="booking_form")
    events, dispatcher = run_action(ActionHandleContraindication(), tracker)
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)
    slots = slot_events(events)
    assert slots[ANSWERS_SLOT]["recent_facial_procedure"] == "yes"
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
                                       slots=answers_slots(pregnancy="no")))
    assert ANSWERS_SLOT not in slot_events(events)
    assert "pause" in texts(dispatcher)
    events, dispatcher = run_action(
        ActionStopForm(), make_tracker("cancel", "stop", active_loop="booking_form",
                                       slots={"booking_name": "Ana"}))
    assert slot_events(events)["booking_name"] is None
    assert "nothing was saved" in texts(dispatcher)


@pytest.mark.parametrize(("text", "intent"), [
    ("😀😀", "affirm"), ("👎", "deny"), ("🙏", "affirm"), ("?!", "deny"), ("...", "unsure"),
])
def test_an_emoji_or_punctuation_alone_is_no_answer(text, intent) -> None:
    """Found by typing "😀😀" to "Are you pregnant?": the classifier said affirm (0.9+) and
    the person was told microneedling isn't suitable. Such a reply is asked again."""
    events, said, slots = form_turn(ValidateScreeningForm(), ActionAskScreeningQuestion(),
                                    text, intent, {}, FORM, QUESTION,
                                    confidence=0.95)
    assert not answers_set(events)
    assert slots["requested_slot"] == QUESTION
    assert f"Question 1 of {len(RULES)}: {FIRST.question}" in said


@pytest.mark.parametrize("text", ["ok", "k", "Okay.", "sure", "fine", "alright", "kk",
                                  "sure!", "got it"])
def test_an_acknowledgement_is_no_answer_to_a_safety_question(text) -> None:
    """Found by typing "ok" to "Are you on blood thinners?": it was recorded as YES. The
    reply could mean "I see": it is never recorded, and the same question is asked again
    with its buttons, after asking for a clear Yes, No or Not sure."""
    events, said, slots = form_turn(ValidateScreeningForm(), ActionAskScreeningQuestion(),
                                    text, "affirm", {}, FORM, QUESTION, confidence=0.99)
    assert not answers_set(events)
    assert "screen_last" not in slot_events(events)
    assert slots["requested_slot"] == QUESTION
    assert K.say(M.SCREENING_NEEDS_YES_OR_NO) in said
    assert f"Question 1 of {len(RULES)}: {FIRST.question}" in said


@pytest.mark.parametrize(("text", "expected"), [
    ("ok yes", "yes"), ("ok, no", "no"), ("okay not sure", "unsure"), ("yes", "yes")])
def test_an_acknowledgement_with_a_clear_answer_still_answers(text, expected) -> None:
    events, _ = answer(text, "affirm" if expected == "yes" else None, asked="blood_thinners")
    assert answers_set(events)["blood_thinners"] == expected


def test_the_re_asked_question_has_yes_no_buttons() -> None:
    tracker = make_tracker("ok", intent="affirm", active_loop=FORM,
                           slots={"requested_slot": QUESTION})
    _, dispatcher = run_action(ActionAskScreeningQuestion(), tracker)
    payloads = {b["payload"] for m in dispatcher.messages for b in m.get("buttons") or []}
    assert {"/affirm", "/deny", "/unsure"} <= payloads
