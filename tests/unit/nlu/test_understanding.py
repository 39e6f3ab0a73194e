"""Subjects x question types, medicines and overlapping vocabularies (issue 18).

The aftercare test is derived from knowledge/: every product and activity word of
subjects.yml, asked about after a treatment in several shapes, must get the aftercare rule
that covers it, and never an article topic (the absorption study says serums absorb better,
which contradicts "no skin products for 24 hours").
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from actions.conversation import ActionAnswerPatientQuestion
from clinic.knowledge import medicines as med
from clinic.knowledge.kb import DEFAULT_KNOWLEDGE_DIR, knowledge, load_knowledge
from clinic.knowledge.medicines import NOTED_KEY, find_medicines, load_medicines, things_to_note
from clinic.knowledge.overlaps import find_overlaps
from clinic.knowledge.questions import load_patient_questions, patient_questions
from clinic.nlu.guard import guard_decision
from clinic.nlu.input_kind import describe_input
from clinic.nlu.subjects import read
from clinic.rules.screening import ANSWERS_SLOT, answers_from_slots, evaluate
from tests.support.actions import make_tracker, run_action, texts

K = knowledge()
SUBJECTS = yaml.safe_load((DEFAULT_KNOWLEDGE_DIR / "subjects.yml").read_text(encoding="utf-8"))
CODES = tuple(p.code for p in K.promotions)
RULE_OF_PRODUCTS = {"coverups": "makeup_after"}
RULE_OF_ACTIVITY = {"exercise": "exercise_after", "sun": "sun_after"}
SHAPES = ("can I use {w} after microneedling", "is {w} ok the day after my treatment",
          "when can I go back to {w} after my session")


def _words(group: str, rule_of: dict[str, str], default: str | None) -> list[tuple[str, str]]:
    return [(str(word), rule_of.get(name, default or name))
            for name, words in SUBJECTS[group].items() for word in words]


AFTERCARE = _words("products", RULE_OF_PRODUCTS, "skincare_after") + \
    _words("activities", RULE_OF_ACTIVITY, None)


@pytest.mark.parametrize("word,rule", AFTERCARE)
def test_every_product_and_activity_after_a_treatment_gets_its_aftercare_rule(word, rule):
    for shape in SHAPES:
        text = shape.format(w=word)
        # Whatever the classifier guessed (here: the absorption study, confidently).
        intent, answers = guard_decision(text, "ask_topical_absorption", 0.95, CODES)
        assert intent == "ask_patient_question", text
        assert answers is not None and rule in answers.split("+"), (text, answers)
        assert "topic:" not in answers, (text, answers)


def test_the_aftercare_rules_do_not_contradict_each_other() -> None:
    questions = patient_questions()
    for rule in ("skincare_after", "makeup_after", "exercise_after", "sun_after"):
        assert "24 hours" in questions.by_id(rule).answer or "two weeks" in \
            questions.by_id(rule).answer


@pytest.mark.parametrize("text,answers", [
    ("my cheeks burn like a sunburn the evening after microneedling", ("redness_after",)),
    ("still puffy two days after my session, is that ok", ("swelling_after",)),
    ("face went all flaky post treatment", ("peeling_after",)),
    ("my chin tingles since the treatment", ("other_after",)),
    ("how long does a session take", ("session_length",)),
    ("how often would I come in for it", ("frequency",)),
    ("how many treatments for deep scars", ("sessions",)),
    ("do the results last", ("results_duration",)),
    ("how deep does the pen go", ("needle_depth",)),
    ("will it hurt", ("pain",)),
    ("could it help my crow's feet", ("topic:skin_rejuvenation",)),
    ("does it fade brown patches", ("topic:hyperpigmentation",)),
    ("do I have to stop my retinol beforehand", ("preparation",)),
    ("can you do it on my neck too", ("treatment_areas",)),
    ("needles make me really nervous, will I feel them", ("pain",)),
    ("how is the procedure done exactly", ("topic:what_is",)),
    ("is it safe for everyone", ("topic:contraindications",)),
    # round 2 (issue 18): question types, phrasings in neither evaluation set
    ("do I have to turn up without moisturiser on", ("preparation",)),
    ("I wear fake tan most weeks, does that affect the treatment", ("preparation",)),
    ("is there a numbing cream", ("pain",)),
    ("how do you keep the needles clean", ("topic:what_is",)),
    ("is the equipment disposable", ("topic:what_is",)),
    ("which device do you use", ("needle_depth",)),
    ("which problems can microneedling treat", ("topic:benefits",)),
    ("my skin went blotchy the day after the session, should I worry", ("redness_after",)),
    ("everything looks worse since my treatment, is this normal", ("other_after",)),
    ("am I supposed to rinse with plain water the morning after", None),
    ("when would I see results after the first session", ("results_timing",)),
    ("do I need to cleanse straight after my session", ("skincare_after",)),
    ("what might I feel like the evening after my session", ("topic:recovery",)),
    ("I had a bad reaction to the numbing gel at my dentist", ("other_health",)),
    ("do you use numbing cream for people with allergies", ("pain",)),
])
def test_question_type_and_subject_make_the_answer(text, answers) -> None:
    reading = read(text)
    if answers is None:
        assert reading is None
        return
    assert reading is not None and reading.answers == answers


@pytest.mark.parametrize("text", [
    "I have vitiligo on my hands", "I suffer from hidradenitis", "I was diagnosed with lichen "
    "planus", "I've got seborrheic dermatitis around my nose", "my skin reacts to everything",
    "I'm allergic to plasters", "could I still get it with a pacemaker",
    "is it ok if I have a nose piercing",
])
def test_a_statement_about_ones_own_health_is_noted_when_the_classifier_is_unsure(text) -> None:
    assert guard_decision(text, "nlu_fallback", 0.4, CODES) == ("ask_patient_question",
                                                                   "other_health")


@pytest.mark.parametrize("text", [
    "I have a question", "I have an appointment on monday", "I got your message",
    "I have two kids", "I've got a voucher", "is it safe for me to get microneedling",
    "my skin is glowing after the session", "i have NOT had any surgery or botox",
    "I don't have any skin conditions on my face",
])
def test_other_statements_are_not_health_to_note(text) -> None:
    assert guard_decision(text, "nlu_fallback", 0.4, CODES)[1] != "other_health"


def test_a_confident_classifier_keeps_its_topic_over_a_health_statement() -> None:
    assert guard_decision("my face has pitted marks from old spots", "ask_acne_scars", 0.9,
                          CODES) == (None, None)


def test_two_subjects_get_two_answers() -> None:
    intent, answers = guard_decision("I'm 19 with acne scars can I get it", "book", 0.5, CODES)
    assert intent == "ask_patient_question"
    assert set(answers.split("+")) == {"who_can_have", "topic:acne_scars"}


def test_a_condition_alone_gets_its_own_topic_intent() -> None:
    assert guard_decision("can it get rid of pockmarks", "ask_benefits", 0.7, CODES) == \
        ("ask_acne_scars", None)


def test_medicines_resolve_brands_and_skip_skin_products() -> None:
    found = {m.generic: m for m in find_medicines("I take Eliquis and spironolactone")}
    assert found["apixaban"].medicine_class.contraindication == "blood_thinners"
    assert not found["apixaban"].to_note and found["spironolactone"].to_note
    assert find_medicines("can I put vitamin c serum on after") == []
    assert [m.generic for m in find_medicines("I use tretinoin cream")] == ["tretinoin"]


def test_conditions_and_medicines_to_note_are_named_as_said() -> None:
    assert things_to_note("I have diabetes and take Metformin") == ["metformin", "diabetes"]
    assert things_to_note("is ibuprofen better than tylenol for cramps") != []
    assert read("is ibuprofen better than tylenol for cramps") is None  # nobody's medicine


def test_an_unclassified_medicine_is_noted_said_back_and_offered_the_screening() -> None:
    text = "I'm on spironolactone is that an issue"
    tracker = make_tracker(text, intent="ask_patient_question", entities=[
        {"entity": "patient_topic", "value": "other_health"}])
    events, dispatcher = run_action(ActionAnswerPatientQuestion(), tracker)
    said = texts(dispatcher)
    assert "spironolactone" in said and "noted it" in said and "not sure" in said
    assert "didn't quite understand" not in said
    assert any(b["payload"] == "/check_eligibility" for m in dispatcher.messages
               for b in m.get("buttons") or [])
    stored = next(e["value"] for e in events if e.get("name") == ANSWERS_SLOT)
    assert stored[NOTED_KEY] == ["spironolactone"]
    answers = answers_from_slots({ANSWERS_SLOT: stored}, K.screening)
    summary = evaluate(answers, K.screening).staff_summary(K, answers)
    assert "Noted for the practitioner: spironolactone" in summary


def test_a_health_statement_nobody_listed_is_noted_in_the_persons_words() -> None:
    text = "I take something for my nerves, is microneedling ok"
    tracker = make_tracker(text, intent="ask_patient_question", entities=[
        {"entity": "patient_topic", "value": "other_health"}])
    events, dispatcher = run_action(ActionAnswerPatientQuestion(), tracker)
    assert "noted it" in texts(dispatcher)
    stored = next(e["value"] for e in events if e.get("name") == ANSWERS_SLOT)
    assert stored[NOTED_KEY] == [f'"{text}"']


def test_the_dictionary_check_reports_an_unknown_member(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    shutil.copytree(DEFAULT_KNOWLEDGE_DIR, folder)
    path = folder / "medicines.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["classes"][0]["members"] += ["warfarinol", "eliquis"]
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    problems = med.check(load_medicines(folder))
    assert any("does not know 'warfarinol'" in p for p in problems)
    assert any("'eliquis' is apixaban" in p for p in problems)
    assert med.check(load_medicines()) == []


@pytest.mark.parametrize("text", ["we're doing IVF transfer next week", "PRP TCA SPF HA",
                                  "ok", "lol", "is IVF a problem for this"])
def test_acronyms_and_short_messages_are_english(text) -> None:
    assert describe_input(text) != "other_language"


def test_other_languages_are_still_recognised() -> None:
    assert describe_input("hola quiero una cita para mañana") == "other_language"


def test_an_overlapping_safety_term_is_reported_with_the_conversation_to_update(
        tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    shutil.copytree(DEFAULT_KNOWLEDGE_DIR, folder)
    path = folder / "screening.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["contraindications"][0]["terms"].append("rosacea flare-up")
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    stories = tmp_path / "tests"
    stories.mkdir()
    (stories / "test_x.yml").write_text(
        'stories:\n- story: rosacea question\n  steps:\n  - user: |\n'
        '      does it help a rosacea flare-up\n    intent: ask_patient_question\n')
    k = load_knowledge(folder)
    overlaps = find_overlaps(k, load_patient_questions(folder, k=k), folder, stories)
    found = [o for o in overlaps if o.term == "rosacea flare-up"]
    assert found and found[0].other == "patient_questions.yml: rosacea"
    assert "safety term wins" in found[0].describe()
    assert found[0].stories == ("test_x.yml: rosacea question",)


def test_a_brand_nobody_listed_is_its_class_for_the_safety_recogniser() -> None:
    from clinic.nlu.safety import load_recognizer

    recognizer = load_recognizer()
    for text, rule in (("I take Lixiana", "blood_thinners"), ("I'm on Xeljanz",
                       "autoimmune_or_low_immunity")):
        assert [m.id for m in recognizer.mentions(text)] == [rule], text
