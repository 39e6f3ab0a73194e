"""Taking an answer back after the questions ended (clinic.nlu.corrections, issues 18 and 22),
and how the NLU guard reads a correction."""

from __future__ import annotations

import pytest

from actions.conversation import ActionReplyToOffer
from actions.safety import ActionHandleContraindication
from clinic.knowledge.kb import knowledge
from clinic.nlu.corrections import CorrectionKind, correction
from clinic.nlu.guard import guard_decision
from clinic.rules.screening import ANSWERS_SLOT
from tests.support.actions import entity, make_tracker, run_action, slot_events, texts

K = knowledge()
FIRST, LAST = K.screening.contraindications[0].id, K.screening.contraindications[-1].id


def ended_with_yes_to(rule_id: str) -> dict[str, object]:
    """The answers of a screening a "yes" to ``rule_id`` ended (the ones before: "no")."""
    answers: dict[str, object] = {}
    for rule in K.screening.contraindications:
        answers[rule.id] = "yes" if rule.id == rule_id else "no"
        if rule.id == rule_id:
            break
    return answers


@pytest.mark.parametrize("text", ["wait I meant no", "no, I meant no", "oops I meant to say no"])
def test_i_meant_no_changes_the_deciding_answer(text) -> None:
    found = correction(text, ended_with_yes_to(FIRST), FIRST, K.screening)
    assert found is not None and found.kind is CorrectionKind.CHANGED
    assert found.answers[FIRST] == "no"


@pytest.mark.parametrize("text", ["go back", "oops wrong answer", "can I change my answer"])
def test_go_back_reopens_the_last_question(text) -> None:
    found = correction(text, ended_with_yes_to(FIRST), FIRST, K.screening)
    assert found is not None and found.kind is CorrectionKind.REOPENED
    assert found.answers[FIRST] is None


@pytest.mark.parametrize("text", ["start over", "redo the safety questions",
                                  "can I redo the questions", "restart the screening please"])
def test_start_over_drops_every_answer(text) -> None:
    found = correction(text, ended_with_yes_to(FIRST), FIRST, K.screening)
    assert found is not None and found.kind is CorrectionKind.RESTART
    assert not any(found.answers.values())
    assert correction(text, {}, None, K.screening) is None  # nothing to restart


def test_a_clear_no_corrects_only_the_last_answer_and_only_a_yes_or_not_sure() -> None:
    answers = ended_with_yes_to(FIRST)
    found = correction("i have NOT had it", answers, FIRST, K.screening, negated_ids={FIRST})
    assert found is not None and found.answers[FIRST] == "no"
    assert correction("not that", answers, FIRST, K.screening, negated_ids={LAST}) is None
    answers[FIRST] = "no"
    assert correction("not that", answers, FIRST, K.screening, negated_ids={FIRST}) is None


def test_no_correction_without_an_answer_or_in_other_words() -> None:
    assert correction("wait I meant no", {}, None, K.screening) is None
    assert correction("what is microneedling?", ended_with_yes_to(FIRST), FIRST,
                      K.screening) is None
    # "I mean no" with "no" already the answer is a "no" to whatever was offered.
    assert correction("I mean no", {FIRST: "no"}, FIRST, K.screening) is None


@pytest.mark.parametrize(("text", "intent"), [
    ("wait I meant no", "deny"), ("no I meant yes", "affirm"), ("I meant not sure", "unsure"),
    ("start over", "resume"), ("redo the safety questions", "resume"), ("go back", "resume"),
])
def test_the_guard_reads_a_correction(text, intent) -> None:
    assert guard_decision(text, "greet", 0.99, ())[0] == intent


def test_after_the_result_the_reply_action_reopens_the_screening() -> None:
    slots = {ANSWERS_SLOT: ended_with_yes_to(FIRST), "screen_last": FIRST,
             "screening_outcome": "not_suitable_now"}
    events, dispatcher = run_action(ActionReplyToOffer(),
                                    make_tracker("wait I meant no", "deny", slots=slots))
    set_ = slot_events(events)
    assert set_[ANSWERS_SLOT][FIRST] == "no" and set_["booking_next"] == "screening"
    assert any(e.get("event") == "followup" and e.get("name") == "screening_form"
               for e in events)
    assert '"no"' in texts(dispatcher)


def test_a_clear_no_after_the_result_reopens_the_screening() -> None:
    slots = {ANSWERS_SLOT: ended_with_yes_to(FIRST), "screen_last": FIRST}
    events, dispatcher = run_action(ActionHandleContraindication(), make_tracker(
        "I have NOT ...", "report_contraindication", slots=slots,
        entities=[entity("contraindication", FIRST, role="negated")]))
    assert slot_events(events)[ANSWERS_SLOT][FIRST] == "no"
    assert any(e.get("event") == "followup" and e.get("name") == "screening_form"
               for e in events)
