"""The screening decision rules: only a clear "no" to every question is eligible."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from clinic.knowledge.kb import (
    DEFAULT_KNOWLEDGE_DIR,
    OUTCOME_ELIGIBLE,
    OUTCOME_INCOMPLETE,
    OUTCOME_NOT_SUITABLE_NOW,
    OUTCOME_PRACTITIONER_REVIEW,
    Outcome,
    knowledge,
    load_knowledge,
)
from clinic.rules.screening import (
    ANSWERS_SLOT,
    Answer,
    Finding,
    answers_from_slots,
    coerce_answer,
    evaluate,
    is_decided,
    next_question,
    position,
    question_to_ask,
)

KB = knowledge()
SCREENING = KB.screening
RULES = SCREENING.contraindications
RULE_IDS = [rule.id for rule in RULES]
NOT_NOW_IDS = [rule.id for rule in RULES if rule.outcome == OUTCOME_NOT_SUITABLE_NOW]


def all_no(**overrides: object) -> dict[str, object]:
    answers: dict[str, object] = {rule_id: "no" for rule_id in RULE_IDS}
    answers.update(overrides)
    return answers


def test_knowledge_has_the_articles_situations_with_the_issues_outcomes():
    assert len(RULE_IDS) == len(set(RULE_IDS)) > 0
    assert set(NOT_NOW_IDS) == {"pregnancy", "cystic_acne_or_wound",
                                "recent_facial_procedure", "unavoidable_sun"}
    assert all(rule.outcome == OUTCOME_PRACTITIONER_REVIEW
               for rule in RULES if rule.id not in NOT_NOW_IDS)


# --------------------------------------------------------------------------- coerce_answer


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("yes", Answer.YES), ("YES", Answer.YES), (" Yes ", Answer.YES),
        ("no", Answer.NO), ("No", Answer.NO), ("unsure", Answer.UNSURE),
        ("not_sure", Answer.UNSURE), ("Not sure", Answer.UNSURE),
        (Answer.YES, Answer.YES), (Answer.NO, Answer.NO), (Answer.UNSURE, Answer.UNSURE),
        (None, None), ("", None), ("nope", None), ("maybe", None), ("n", None),
        (False, None), (True, None), (0, None), (1, None), (["no"], None), ({"no": 1}, None),
    ],
)
def test_coerce_answer_reads_only_stored_answer_values(value, expected):
    assert coerce_answer(value) is expected


# --------------------------------------------------------------------------- evaluate


def test_all_no_is_eligible():
    result = evaluate(all_no(), SCREENING)
    assert result.outcome == OUTCOME_ELIGIBLE
    assert result.eligible
    assert result.findings == ()
    assert result.unanswered == ()


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_every_single_yes_leads_to_its_rules_outcome(rule_id):
    rule = SCREENING.by_id(rule_id)
    result = evaluate(all_no(**{rule_id: "yes"}), SCREENING)
    assert result.outcome == rule.outcome
    assert not result.eligible
    assert result.findings == (Finding(rule, Answer.YES),)


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_every_single_unsure_needs_a_practitioner_never_eligible(rule_id):
    result = evaluate(all_no(**{rule_id: Answer.UNSURE}), SCREENING)
    assert result.outcome == OUTCOME_PRACTITIONER_REVIEW
    assert not result.eligible
    assert result.findings == (Finding(SCREENING.by_id(rule_id), Answer.UNSURE),)


@pytest.mark.parametrize("rule_id", RULE_IDS)
@pytest.mark.parametrize("missing", ["absent", None, "", "garbage", False])
def test_a_missing_or_unreadable_answer_is_never_eligible(rule_id, missing):
    answers = all_no()
    if missing == "absent":
        del answers[rule_id]
    else:
        answers[rule_id] = missing
    result = evaluate(answers, SCREENING)
    assert result.outcome == OUTCOME_INCOMPLETE
    assert not result.eligible
    assert result.unanswered == (rule_id,)


def test_not_now_yes_wins_over_review_and_unsure_and_findings_keep_question_order():
    answers = all_no(blood_thinners="yes", keloids="unsure", pregnancy="yes")
    result = evaluate(answers, SCREENING)
    assert result.outcome == OUTCOME_NOT_SUITABLE_NOW
    assert [f.rule.id for f in result.findings] == ["pregnancy", "blood_thinners", "keloids"]


def test_unsure_on_a_not_now_question_is_practitioner_review():
    result = evaluate(all_no(pregnancy="unsure"), SCREENING)
    assert result.outcome == OUTCOME_PRACTITIONER_REVIEW


def test_findings_beat_unanswered_questions():
    result = evaluate({"keloids": "yes"}, SCREENING)
    assert result.outcome == OUTCOME_PRACTITIONER_REVIEW
    assert result.unanswered == tuple(i for i in RULE_IDS if i != "keloids")


def test_unknown_keys_are_ignored():
    result = evaluate(all_no(favourite_colour="yes", screen_pregnancy="yes"), SCREENING)
    assert result.outcome == OUTCOME_ELIGIBLE


def test_nothing_answered_is_incomplete_with_every_question_unanswered():
    result = evaluate({}, SCREENING)
    assert result.outcome == OUTCOME_INCOMPLETE
    assert result.unanswered == tuple(RULE_IDS)


VALUES = st.sampled_from([
    Answer.YES, Answer.NO, Answer.UNSURE, "yes", "NO", " unsure ", "not_sure",
    None, "", "maybe", "nope", False, True, 0, "absent",
])


@settings(max_examples=400, deadline=None)
@given(st.fixed_dictionaries({rule_id: VALUES for rule_id in RULE_IDS}))
def test_property_eligible_iff_every_answer_is_a_clear_no(drawn):
    answers = {key: value for key, value in drawn.items() if value != "absent"}
    coerced = {rule_id: coerce_answer(answers.get(rule_id)) for rule_id in RULE_IDS}
    result = evaluate(answers, SCREENING)

    assert result.eligible == all(answer is Answer.NO for answer in coerced.values())
    any_not_now_yes = any(coerced[i] is Answer.YES for i in NOT_NOW_IDS)
    assert (result.outcome == OUTCOME_NOT_SUITABLE_NOW) == any_not_now_yes
    flagged = [i for i in RULE_IDS if coerced[i] in (Answer.YES, Answer.UNSURE)]
    assert [f.rule.id for f in result.findings] == flagged
    assert list(result.unanswered) == [i for i in RULE_IDS if coerced[i] is None]
    if not any_not_now_yes:
        assert (result.outcome == OUTCOME_PRACTITIONER_REVIEW) == bool(flagged)
    if not flagged:
        assert (result.outcome == OUTCOME_INCOMPLETE) == bool(result.unanswered)


# --------------------------------------------------------------------------- next_question


def test_next_question_walks_the_clinics_order_and_skips_answered_ones():
    assert next_question({}, SCREENING).id == RULE_IDS[0]
    answers: dict[str, object] = {}
    asked = []
    while (rule := next_question(answers, SCREENING)) is not None:
        asked.append(rule.id)
        answers[rule.id] = "no"
    assert asked == RULE_IDS


def test_next_question_treats_unreadable_answers_as_unanswered():
    answers = all_no(**{RULE_IDS[3]: "perhaps", RULE_IDS[5]: None})
    assert next_question(answers, SCREENING).id == RULE_IDS[3]
    answers[RULE_IDS[3]] = "unsure"
    assert next_question(answers, SCREENING).id == RULE_IDS[5]


def test_answers_from_slots_reads_the_answers_slot():
    stored = all_no(keloids="yes", favourite_colour="yes")
    answers = answers_from_slots({ANSWERS_SLOT: stored, "other": "yes"}, SCREENING)
    assert set(answers) == set(RULE_IDS)
    assert evaluate(answers, SCREENING).findings == (
        Finding(SCREENING.by_id("keloids"), Answer.YES),)


@pytest.mark.parametrize("slots", [{}, {ANSWERS_SLOT: None}, {ANSWERS_SLOT: "no"},
                                   {ANSWERS_SLOT: ["no"]}])
def test_answers_from_slots_without_a_mapping_is_no_answer(slots):
    answers = answers_from_slots(slots, SCREENING)
    assert answers == {rule_id: None for rule_id in RULE_IDS}
    assert evaluate(answers, SCREENING).outcome is Outcome.INCOMPLETE


# --------------------------------------------------------------------------- early stop


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_a_yes_that_makes_it_not_suitable_now_decides_the_screening(rule_id):
    answers = {rule_id: "yes"}
    decided = SCREENING.by_id(rule_id).outcome is Outcome.NOT_SUITABLE_NOW
    assert is_decided(answers, SCREENING) is decided
    assert (question_to_ask(answers, SCREENING) is None) is decided
    if not decided:
        assert question_to_ask(answers, SCREENING) == next_question(answers, SCREENING)


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({rule_id: VALUES for rule_id in RULE_IDS}))
def test_property_the_questions_stop_exactly_when_no_answer_can_change_the_outcome(drawn):
    answers = {key: value for key, value in drawn.items() if value != "absent"}
    outcome = evaluate(answers, SCREENING).outcome
    assert is_decided(answers, SCREENING) is (outcome is Outcome.NOT_SUITABLE_NOW)
    ask = question_to_ask(answers, SCREENING)
    if ask is None:
        assert outcome is not Outcome.INCOMPLETE
    else:
        assert coerce_answer(answers.get(ask.id)) is None
        assert ask == next_question(answers, SCREENING)


def test_position_numbers_the_questions_in_order():
    assert [position(rule, SCREENING) for rule in RULES] == list(range(1, len(RULES) + 1))


# --------------------------------------------------------------------------- messages


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_patient_message_explains_each_yes_and_what_would_change(rule_id):
    rule = SCREENING.by_id(rule_id)
    message = evaluate(all_no(**{rule_id: "yes"}), SCREENING).patient_message(KB)
    assert rule.explanation in message
    if rule.outcome == OUTCOME_NOT_SUITABLE_NOW:
        assert rule.what_would_change in message
    assert SCREENING.unsure_reason not in message
    assert KB.clinic.disclaimer in message
    assert "{" not in message
    intro = SCREENING.outcomes[rule.outcome].split("{reasons}")[0].strip()
    assert message.startswith(intro)


def test_patient_message_for_unsure_gives_the_unsure_reason_not_the_wait_advice():
    rule = SCREENING.by_id("pregnancy")
    message = evaluate(all_no(pregnancy="unsure"), SCREENING).patient_message(KB)
    assert rule.explanation in message
    assert SCREENING.unsure_reason in message
    assert rule.what_would_change not in message


def test_patient_message_lists_every_finding():
    answers = all_no(pregnancy="yes", blood_thinners="yes", keloids="unsure")
    message = evaluate(answers, SCREENING).patient_message(KB)
    for rule_id in ("pregnancy", "blood_thinners", "keloids"):
        assert SCREENING.by_id(rule_id).explanation in message
    assert message.count("\n- ") == 3


def test_eligible_message_says_so_with_the_disclaimer_and_no_reasons():
    message = evaluate(all_no(), SCREENING).patient_message(KB)
    assert message.startswith(SCREENING.outcomes[OUTCOME_ELIGIBLE])
    assert KB.clinic.disclaimer in message
    assert not any(rule.explanation in message for rule in RULES)


def test_incomplete_message_comes_from_knowledge():
    message = evaluate({}, SCREENING).patient_message(KB)
    assert message == SCREENING.outcomes[OUTCOME_INCOMPLETE]


def test_patient_message_text_comes_from_the_knowledge_files(tmp_path: Path):
    folder = tmp_path / "knowledge"
    shutil.copytree(DEFAULT_KNOWLEDGE_DIR, folder)
    path = folder / "screening.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for rule in data["contraindications"]:
        if rule["id"] == "pregnancy":
            rule["explanation"] = "Explanation edited by a clinician."
            rule["what_would_change"] = "Call {clinic_phone} to talk it over."
    data["outcomes"]["not_suitable_now"] = "Edited outcome: {reasons}"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    kb = load_knowledge(folder)

    message = evaluate(all_no(pregnancy="yes"), kb.screening).patient_message(kb)
    assert message.startswith("Edited outcome: \n- Explanation edited by a clinician.")
    assert f"Call {kb.clinic.phone} to talk it over." in message
    assert SCREENING.by_id("pregnancy").explanation not in message


def test_staff_summary_lists_every_question_with_its_answer_and_the_outcome():
    answers = all_no(pregnancy="yes", keloids="unsure")
    del answers["moles_or_skin_tags"]
    result = evaluate(answers, SCREENING)
    summary = result.staff_summary(KB, answers)
    lines = summary.splitlines()
    for number, rule in enumerate(RULES, start=1):
        line = next(line for line in lines if line.startswith(f"{number}. "))
        assert rule.question in line
        expected = {"pregnancy": "Yes", "keloids": "Not sure",
                    "moles_or_skin_tags": "(no answer)"}.get(rule.id, "No")
        assert line.endswith(f"— {expected}")
    assert "Outcome: not suitable now" in lines
    assert "Not answered: moles_or_skin_tags" in lines
