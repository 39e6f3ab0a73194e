"""Issue 11 pieces that need no model: message kinds, codes, go back, times, patient
questions, typed replies to offers and the promotion preview."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from actions.conversation import ActionReplyToOffer, pending_offer
from actions.faq import ActionFallback
from actions.tracker_reading import patient_question_id
from clinic.knowledge.kb import knowledge
from clinic.knowledge.questions import patient_questions, render_answer
from clinic.nlu.guard import guard_decision
from clinic.nlu.input_kind import (
    describe_input,
    is_go_back,
    looks_like_times,
    meant_answer,
    promo_code_in,
)
from clinic.nlu.questions import match_question
from tests.support.actions import make_tracker, run_action, slot_events, texts

K = knowledge()
ROOT = Path(__file__).resolve().parents[3]
STORIES = yaml.safe_load((ROOT / "tests" / "test_conversation_stories.yml").read_text())
CODES = tuple(p.code for p in K.promotions)


@pytest.mark.parametrize("text", ["你好", "안녕하세요", "こんにちは", "Привет, как дела", "مرحبا"])
def test_other_scripts_are_another_language(text) -> None:
    assert describe_input(text) == "other_language"
    assert guard_decision(text, "affirm", 0.99, CODES)[0] == "nlu_fallback"


@pytest.mark.parametrize("text", ["aaaaaa", "asdfgh", "qwerty", "x", "kkkkkkk", "jkjkjk", "zxcvb"])
def test_gibberish(text) -> None:
    assert describe_input(text) == "gibberish"
    assert guard_decision(text, "affirm", 0.99, CODES)[0] == "nlu_fallback"


@pytest.mark.parametrize("text", ["y", "n", "k", "ok", "ty", "cya", "hmm", "idk", "nvm", "yes",
                                  "no", "sure", "thx", "lol", "Ana Lee", "Xu", "José"])
def test_short_words_are_not_gibberish(text) -> None:
    assert describe_input(text) not in ("gibberish", "other_language")


@pytest.mark.parametrize("text,code", [("SAVE10", "SAVE10"), ("facial20", "FACIAL20"),
                                       ("my code is FACIAL50", "FACIAL50"),
                                       ("promo code spring 20", "SPRING20"),
                                       ("Facial50 please", "FACIAL50")])
def test_codes_are_found(text, code) -> None:
    assert promo_code_in(text, CODES) == code


@pytest.mark.parametrize("text", ["next friday at 10am", "I'm 25", "(415) 555-0132",
                                  "ana10@example.com", "tuesday 3pm", "spf50 sunscreen",
                                  "I'm 12 weeks pregnant", "Ana Lee"])
def test_non_codes_are_not_codes(text) -> None:
    assert promo_code_in(text, CODES) is None


@pytest.mark.parametrize("text", ["Friday 3 pm", "Thursday 4:30", "June 3", "weekends after 5",
                                  "Monday 10 or 11", "next Tuesday 2", "March 15 afternoon"])
def test_a_day_or_time_with_a_number_is_no_code(text) -> None:
    # Typed at "Which days and times suit you?", these were read as codes FRIDAY3,
    # THURSDAY4, AFTER5...: the guard forced enter_promo_code and the booking form
    # answered "I don't recognise the code FRIDAY3" and asked for the times again.
    assert promo_code_in(text, CODES) is None
    assert guard_decision(text, "inform", 0.9, CODES)[0] != "enter_promo_code"
    assert looks_like_times(text)
    assert promo_code_in(f"{text} FACIAL50", CODES) == "FACIAL50"


@pytest.mark.parametrize("text", ["im over 40", "i need 2 sessions", "i am turning 50",
                                  "convert 10 miles to kilometers", "i have 2 questions",
                                  "wait 3 days?", "over 60 is that ok"])
def test_a_word_then_a_number_in_plain_text_is_no_code(text) -> None:
    # Read as codes OVER40, NEED2, TURNING50: "im over 40" was answered "I don't recognise
    # the code OVER40". Typed all in capitals it is still plain text; said to be a code,
    # it is one.
    assert promo_code_in(text, CODES) is None
    assert promo_code_in(text.upper(), CODES) is None
    assert guard_decision(text, "ask_patient_question", 0.9, CODES)[0] != "enter_promo_code"
    assert promo_code_in(f"code {text}", CODES) is not None


@pytest.mark.parametrize("text,code", [("FACIAL 20", "FACIAL20"), ("I got SAVE 10", "SAVE10"),
                                       ("save 10 code", "SAVE10")])
def test_a_word_then_a_number_is_a_code_when_it_stands_out(text, code) -> None:
    assert promo_code_in(text, CODES) == code


@pytest.mark.parametrize("text", ["<script>alert(1)</script>", "<b>hi</b>",
                                  "<img src=x onerror=alert(1)>",
                                  "<a href='javascript:alert(1)'>what is microneedling</a>"])
def test_markup_with_next_to_no_words_is_the_plain_text_fallback(text) -> None:
    # "<script>alert(1)</script>" got "I can't help with that here" (out_of_scope).
    assert guard_decision(text, "out_of_scope", 0.99, CODES)[0] == "nlu_fallback"
    assert describe_input(text) == "markup"


def test_a_question_with_a_tag_in_it_is_still_the_question() -> None:
    assert guard_decision("what is <i>microneedling</i>", "ask_what_is", 0.99, CODES)[0] is None


def test_go_back_and_meant() -> None:
    assert is_go_back("go back") and is_go_back("oops, wrong answer") and is_go_back("undo")
    assert is_go_back("no, I meant yes") and meant_answer("no, I meant yes") == "yes"
    assert meant_answer("sorry i meant not sure") == "unsure"
    assert not is_go_back("no") and not is_go_back("I'm back from holiday")


@pytest.mark.parametrize("text", ["asap", "as soon as possible", "any weekday", "weekends",
                                  "Tuesday after 3pm", "mornings before work", "next week",
                                  "whenever", "10:30", "flexible",
                                  # each was asked again ("Please tell me which days..."):
                                  "after 5", "12/15", "12/15 at 3", "the 15th", "on the 3rd",
                                  "in two weeks", "2 weeks from now", "no preference",
                                  "I don't mind", "around 10"])
def test_real_times(text) -> None:
    assert looks_like_times(text)


@pytest.mark.parametrize("text", ["yes", "ok", "the facial one", "no", "FACIAL20", "hello",
                                  "415-555-0133", "ana@example.com", "Ana Lee", "maybe",
                                  "I'm 25"])
def test_not_times(text) -> None:
    assert not looks_like_times(text)


def _patient_story_phrasings():
    for story in STORIES["stories"]:
        if story["story"].startswith("patient question "):
            question_id = story["story"].removeprefix("patient question ").split(",")[0]
            text = story["steps"][0]["user"].strip()
            yield question_id, re.sub(r"\[([^\]]*)\]\{[^}]*\}", r"\1", text)


def test_at_least_25_topics_with_two_phrasings_each() -> None:
    counts: dict[str, int] = {}
    for question_id, _ in _patient_story_phrasings():
        counts[question_id] = counts.get(question_id, 0) + 1
    assert len(counts) >= 25
    assert set(counts) == {q.id for q in patient_questions().questions}
    assert all(count >= 2 for count in counts.values())


@pytest.mark.parametrize("question_id,text", list(_patient_story_phrasings()))
def test_each_phrasing_finds_its_question(question_id, text) -> None:
    question = match_question(text)
    assert question is not None and question.id == question_id, text


@pytest.mark.parametrize("question", patient_questions().questions, ids=lambda q: q.id)
def test_answers_are_honest(question) -> None:
    text = render_answer(question, K)
    if question.covered:
        assert "Source" in text.splitlines()[-1]
    else:
        assert "The clinic's article doesn't cover" in text and K.clinic.phone in text
    if question.after_treatment:
        assert "urgent medical care" in text and K.clinic.emergency_number in text


def _events_with_offer(offer: str | None) -> list[dict]:
    events = [{"event": "user", "text": "am I a good candidate?"},
              {"event": "action", "name": "action_screening_outcome"}]
    if offer:
        events.append({"event": "slot", "name": "pending_offer", "value": offer})
    events += [{"event": "action", "name": "action_listen"}, {"event": "user", "text": "yes"}]
    return events


def test_a_patient_topic_payload_that_is_not_a_string_falls_back_to_the_words() -> None:
    # /ask{"patient_topic": {...}} gives any JSON value: only a string is a question id.
    question_id, text = next(iter(_patient_story_phrasings()))
    other = next(q.id for q in patient_questions().questions if q.id != question_id)
    for value in ({"id": other}, [other], 3):
        tracker = make_tracker(text, entities=[{"entity": "patient_topic", "value": value}])
        assert patient_question_id(tracker) == question_id
    tracker = make_tracker(text, entities=[{"entity": "patient_topic", "value": other}])
    assert patient_question_id(tracker) == other


def test_an_offer_counts_only_right_after_it_was_made() -> None:
    tracker = make_tracker("yes", "affirm")
    tracker.events = _events_with_offer("book")
    assert pending_offer(tracker) == "book"
    tracker.events = _events_with_offer("book") + [
        {"event": "action", "name": "action_answer_faq"},
        {"event": "action", "name": "action_listen"}, {"event": "user", "text": "yes"}]
    assert pending_offer(tracker) is None


@pytest.mark.parametrize("offer,intent,expected", [
    ("screening", "affirm", "screening"), ("resume", "resume", "screening"),
    ("book", "affirm", "screening"), (None, "affirm", "none"), ("book", "deny", "none"),
    (None, "resume", "none"),
])
def test_typed_reply_does_what_the_button_does(offer, intent, expected) -> None:
    tracker = make_tracker("yes", intent)
    tracker.events = _events_with_offer(offer)
    events, dispatcher = run_action(ActionReplyToOffer(), tracker)
    assert slot_events(events)["booking_next"] == expected
    if intent == "resume" and offer is None:
        assert "haven't started" in texts(dispatcher)


@pytest.mark.parametrize("offer", ["book", "screening", "resume", None])
@pytest.mark.parametrize("text", ["😀", "🙏", "...", "😀😀", "!"])
@pytest.mark.parametrize("intent", ["affirm", "resume"])
def test_emoji_or_punctuation_alone_is_no_yes_to_an_offer(offer, text, intent) -> None:
    # "😀" typed at "Would you like to request an appointment?" started the booking form.
    tracker = make_tracker(text, intent, 0.9)
    tracker.events = _events_with_offer(offer)
    tracker.events[-1] = {"event": "user", "text": text}
    events, dispatcher = run_action(ActionReplyToOffer(), tracker)
    slots = slot_events(events)
    assert slots["booking_next"] == "none"
    assert slots["pending_offer"] == offer  # a "yes" that follows still takes the offer
    assert "Great!" not in texts(dispatcher) and texts(dispatcher)


@pytest.mark.parametrize("text", ["👍", "✅"])
def test_a_thumbs_up_still_takes_the_offer(text) -> None:
    tracker = make_tracker(text, "affirm", 0.9)
    tracker.events = _events_with_offer("screening")
    events, _ = run_action(ActionReplyToOffer(), tracker)
    assert slot_events(events)["booking_next"] == "screening"


def test_fallback_reverts_the_message_so_no_fallback_loop() -> None:
    events, _ = run_action(ActionFallback(), make_tracker("continue", "stop"))
    assert {"event": "rewind"} in [{"event": e["event"]} for e in events]


def test_stories_file_is_json_safe() -> None:
    json.dumps(STORIES)
