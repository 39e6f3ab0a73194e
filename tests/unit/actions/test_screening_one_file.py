"""A contraindication is added in one file: knowledge/screening.yml, nothing else.

The knowledge is copied with one more contraindication and the actions run on that copy
with the project's unchanged domain.yml (tests/unit/knowledge/test_domain_consistency.py checks that the
domain names no contraindication).
"""

from __future__ import annotations

from actions.screening import (
    ActionAskScreeningQuestion,
    ActionScreeningOutcome,
    ValidateScreeningForm,
)
from clinic.knowledge.kb import DEFAULT_KNOWLEDGE_DIR, Knowledge, Outcome, load_knowledge
from clinic.rules.screening import ANSWERS_SLOT
from tests.support import actions as support
from tests.support.knowledge_copy import (
    EXTRA_EXPLANATION,
    EXTRA_ID,
    EXTRA_QUESTION,
)

FORM = "screening_form"
ORIGINAL = len(load_knowledge(DEFAULT_KNOWLEDGE_DIR).screening.contraindications)



def test_the_copy_has_one_more_question_last(extended: Knowledge) -> None:
    rules = extended.screening.contraindications
    assert len(rules) == ORIGINAL + 1
    assert rules[-1].id == EXTRA_ID


def test_the_form_asks_every_question_of_the_knowledge(extended: Knowledge) -> None:
    count = len(extended.screening.contraindications)
    slots: dict = {}
    requested = None
    said_all = []
    for _ in range(count + 2):
        events, said, slots = support.form_turn(ValidateScreeningForm(), ActionAskScreeningQuestion(),
                                        "no" if requested else "am I a good candidate",
                                        "deny" if requested else "check_eligibility",
                                        slots, FORM, requested)
        said_all.append(said)
        requested = slots["requested_slot"]
        if requested is None:
            break
    assert requested is None
    assert f"up to {count} short safety questions" in said_all[0]
    asked = [line for said in said_all for line in said.splitlines() if line.startswith("Question ")]
    assert asked[-1] == f"Question {count} of {count}: {EXTRA_QUESTION}"
    assert len(asked) == count
    assert slots[ANSWERS_SLOT] == {rule.id: "no" for rule in extended.screening.contraindications}

    events, dispatcher = support.run_action(ActionScreeningOutcome(), support.make_tracker(slots=slots))
    assert support.slot_events(events)["screening_outcome"] == Outcome.ELIGIBLE


def test_a_yes_to_the_new_question_follows_its_outcome(extended: Knowledge) -> None:
    rule = extended.screening.by_id(EXTRA_ID)
    last = {r.id: "no" for r in extended.screening.contraindications if r.id != EXTRA_ID}
    events, said, slots = support.form_turn(ValidateScreeningForm(), ActionAskScreeningQuestion(),
                                    "yes", "affirm", support.answers_slots(last), FORM,
                                    "screening_question")
    assert slots[ANSWERS_SLOT][EXTRA_ID] == "yes"
    assert slots["requested_slot"] is None  # no question left
    events, dispatcher = support.run_action(ActionScreeningOutcome(),
                                    support.make_tracker(slots={**slots, "booking_wanted": True}))
    assert support.slot_events(events)["screening_outcome"] == rule.outcome
    assert support.slot_events(events)["booking_next"] == "refused"
    assert EXTRA_EXPLANATION in support.texts(dispatcher)


def test_the_new_contraindication_said_in_free_text_is_recorded(extended: Knowledge) -> None:
    """Said while the first question is open: counted, and a "not suitable now" one ends the
    questions early."""
    rule = extended.screening.by_id(EXTRA_ID)
    events, said, slots = support.form_turn(
        ValidateScreeningForm(), ActionAskScreeningQuestion(), "I have gold threads",
        "report_contraindication", {}, FORM, "screening_question",
        entities=[support.entity("contraindication", EXTRA_ID, start=7, end=19)])
    assert slots[ANSWERS_SLOT][EXTRA_ID] == "yes"
    assert EXTRA_EXPLANATION in said
    if rule.outcome is Outcome.NOT_SUITABLE_NOW:
        assert slots["requested_slot"] is None
    else:
        assert slots["requested_slot"] == "screening_question"
        assert f"Question 1 of {ORIGINAL + 1}:" in said
    outcome = support.all_no(**{EXTRA_ID: "yes"})
    events, _ = support.run_action(ActionScreeningOutcome(), support.make_tracker(slots=outcome))
    assert support.slot_events(events)["screening_outcome"] == rule.outcome
