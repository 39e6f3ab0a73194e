"""The conversations of issue 22 (and issue 18's slip that ended the questions), typed
through the real servers as a person would."""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest

from clinic.knowledge.kb import Outcome, knowledge
from tests.conftest import TEST_SECRETS

pytestmark = pytest.mark.integration
K = knowledge()
ORDER = [rule.id for rule in K.screening.contraindications]
NOT_NOW = K.screening.outcomes[Outcome.NOT_SUITABLE_NOW].split(":")[0].split(".")[1].strip()
SUITABLE = K.screening.outcomes[Outcome.ELIGIBLE].split(".")[1].strip()
IF_IT_APPLIES = "If this applies to you"


def sender() -> str:
    return f"i22-{uuid.uuid4().hex[:10]}"


def number(rule_id: str) -> int:
    return ORDER.index(rule_id) + 1


def slots(s, who: str) -> dict:
    token = TEST_SECRETS["CLINIC_RASA_API_TOKEN"]
    with urllib.request.urlopen(f"{s.rasa_url}/conversations/{who}/tracker?token={token}",
                                timeout=60) as response:
        return json.loads(response.read())["slots"]


def up_to(s, who: str, rule_id: str) -> str:
    """Start the questions and answer "no" until ``rule_id``'s question is asked."""
    text = s.texts(who, "am I a good candidate?")
    for _ in range(number(rule_id) - 1):
        text = s.texts(who, "no")
    assert f"Question {number(rule_id)} of" in text, text
    return text


def test_pregnancy_said_as_an_aside_at_the_blood_thinner_question(assistant_servers) -> None:
    s, who = assistant_servers, sender()
    up_to(s, who, "blood_thinners")
    text = s.texts(who, "no. oh btw I'm expecting in March, does that matter?")
    assert K.screening.by_id("pregnancy").explanation in text
    assert IF_IT_APPLIES not in text
    assert NOT_NOW in text and SUITABLE not in text
    answers = slots(s, who)["screening_answers"]
    assert answers["pregnancy"] == "yes" and answers["blood_thinners"] == "no"
    assert "can't book" in s.texts(who, "I want to book")
    s.texts(who, f"my code is {K.promotions[0].code}")
    assert not slots(s, who).get("promo_code")


def test_what_is_accutane_is_explained_and_the_question_asked_again(assistant_servers) -> None:
    s, who = assistant_servers, sender()
    up_to(s, who, "isotretinoin")
    text = s.texts(who, "i mean what is accutane")
    assert K.screening.by_id("isotretinoin").explanation in text
    assert f"Question {number('isotretinoin')} of" in text
    assert slots(s, who)["screening_answers"].get("isotretinoin") is None
    text = s.texts(who, "i have never taken accutane, i was asking what it is")
    assert f"Question {number('isotretinoin') + 1} of" in text
    assert slots(s, who)["screening_answers"]["isotretinoin"] == "no"


def test_what_counts_as_a_blood_thinner_with_an_answer_in_it(assistant_servers) -> None:
    s, who = assistant_servers, sender()
    up_to(s, who, "blood_thinners")
    text = s.texts(who, "does aspirin count?")
    assert K.screening.by_id("blood_thinners").explanation in text
    assert f"Question {number('blood_thinners')} of" in text
    assert slots(s, who)["screening_answers"].get("blood_thinners") is None
    text = s.texts(who, "what counts as a blood thinner? i take aspirin sometimes")
    assert slots(s, who)["screening_answers"]["blood_thinners"] in ("yes", "unsure")
    assert f"Question {number('blood_thinners') + 1} of" in text


def test_like_i_said_im_due_in_march(assistant_servers) -> None:
    s, who = assistant_servers, sender()
    up_to(s, who, "pregnancy")
    text = s.texts(who, "well like I said I'm due in march")
    assert "Please answer Yes, No or Not sure" not in text
    assert NOT_NOW in text
    assert slots(s, who)["screening_answers"]["pregnancy"] == "yes"


def test_a_slip_that_ended_the_questions_is_taken_back(assistant_servers) -> None:
    s, who = assistant_servers, sender()
    rule = "recent_facial_procedure"
    up_to(s, who, rule)
    assert NOT_NOW in s.texts(who, "yep")
    text = s.texts(who, "i have NOT had any surgery or botox")
    assert '"no"' in text
    assert f"Question {number(rule) + 1} of" in text
    assert slots(s, who)["screening_answers"][rule] == "no"


def test_wait_i_meant_no_after_the_result(assistant_servers) -> None:
    s, who = assistant_servers, sender()
    up_to(s, who, "pregnancy")
    assert NOT_NOW in s.texts(who, "yes")
    text = s.texts(who, "wait I meant no")
    assert '"no"' in text and "Question 2 of" in text
    for _ in ORDER[1:]:
        text = s.texts(who, "no")
    assert SUITABLE in text
    # ... and back again (the last question answered): the outcome and the booking gate
    # follow the answers, whichever way they go.
    text = s.texts(who, "no wait, I meant yes")
    assert '"yes"' in text and SUITABLE not in text
    assert slots(s, who)["screening_answers"][ORDER[-1]] == "yes"
    assert "can't book" in s.texts(who, "book")


def test_start_over_and_redo_the_safety_questions(assistant_servers) -> None:
    s, who = assistant_servers, sender()
    up_to(s, who, "pregnancy")
    assert NOT_NOW in s.texts(who, "I'm pregnant")
    text = s.texts(who, "redo the safety questions")
    assert "Question 1 of" in text
    assert not any(slots(s, who)["screening_answers"].get(rule) for rule in ORDER)
    s.texts(who, "no")
    text = s.texts(who, "start over")
    assert "Question 1 of" in text


def test_start_over_with_nothing_answered_is_still_the_menu(assistant_servers) -> None:
    text = assistant_servers.texts(sender(), "start over")
    assert "Question" not in text and "What would you like to know" in text
