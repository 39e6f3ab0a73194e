"""How the recogniser reads the phrasings of issue 22 (clinic.nlu.safety): a disclosure said as a
question, an aside or with "I'm" inside the term is the person's; a question about what a
word means is a question; a negation over an "or" list is a no."""

from __future__ import annotations

import pytest

from clinic.nlu.safety import load_recognizer
from clinic.nlu.safety_mention import MentionStatus

AFFIRMED, NEGATED, UNCERTAIN, HYPOTHETICAL = (MentionStatus.AFFIRMED, MentionStatus.NEGATED,
                                              MentionStatus.UNCERTAIN, MentionStatus.HYPOTHETICAL)


@pytest.fixture(scope="module")
def recognizer():
    return load_recognizer()


TABLE = [
    # the person, wherever the question mark is
    ("no. oh btw I'm expecting in March, does that matter?", "pregnancy", AFFIRMED),
    ("I'm expecting, does that matter?", "pregnancy", AFFIRMED),
    ("well like I said I'm due in march", "pregnancy", AFFIRMED),
    ("is it ok if I'm on accutane?", "isotretinoin", UNCERTAIN),
    ("can I do it while I'm pregnant?", "pregnancy", UNCERTAIN),
    ("is eczema a problem for me?", "skin_conditions", UNCERTAIN),
    ("what eczema is like for me is awful", "skin_conditions", UNCERTAIN),
    ("I'm on accutane, what is that going to do?", "isotretinoin", AFFIRMED),
    # what a word means: a question, with or without a question mark
    ("i mean what is accutane", "isotretinoin", HYPOTHETICAL),
    ("whats accutane", "isotretinoin", HYPOTHETICAL),
    ("what counts as a blood thinner?", "blood_thinners", HYPOTHETICAL),
    ("does aspirin count?", "blood_thinners", HYPOTHETICAL),
    ("I'm not sure what accutane is", "isotretinoin", HYPOTHETICAL),
    ("what does keloid mean", "keloids", HYPOTHETICAL),
    # a no over a list, in capitals too
    ("i have NOT had any surgery or botox", "recent_facial_procedure", NEGATED),
    ("I haven't had surgery, or fillers", "recent_facial_procedure", NEGATED),
    ("i have never taken accutane, i was asking what it is", "isotretinoin", NEGATED),
    # still general: nobody named
    ("is it safe with eczema?", "skin_conditions", HYPOTHETICAL),
    ("what if I had botox?", "recent_facial_procedure", HYPOTHETICAL),
]


@pytest.mark.parametrize(("text", "rule_id", "status"), TABLE)
def test_status(recognizer, text, rule_id, status) -> None:
    found = [(m.id, m.status) for m in recognizer.mentions(text)]
    assert found == [(rule_id, status)]


def test_an_answer_with_a_reason_is_recorded(recognizer) -> None:
    mentions = recognizer.mentions("what counts as a blood thinner? i take aspirin sometimes")
    assert [(m.id, m.status) for m in mentions] == [("blood_thinners", HYPOTHETICAL),
                                                    ("blood_thinners", AFFIRMED)]


def test_a_general_question_in_a_message_about_oneself_is_no_if_this_applies() -> None:
    """'I have eczema, is it safe with accutane?': the accutane question is general, but the
    person said "I have", so the answer never says "if this applies to you"."""
    from actions.safety import ActionHandleContraindication
    from clinic.knowledge.kb import knowledge
    from clinic.nlu.safety_intent import mentions_to_entities, safety_intent
    from tests.support.actions import make_tracker, run_action, texts

    k = knowledge()
    text = "I have eczema, is it safe with accutane?"
    mentions = load_recognizer().mentions(text)
    assert ("isotretinoin", HYPOTHETICAL) in [(m.id, m.status) for m in mentions]
    _, dispatcher = run_action(ActionHandleContraindication(), make_tracker(
        text, safety_intent(mentions), entities=mentions_to_entities(mentions)))
    said = texts(dispatcher)
    assert k.screening.by_id("isotretinoin").explanation in said
    assert "If this applies to you" not in said
