"""Checks on the NLU training data and the FAQ test stories that need no trained model.

They guard what ``rasa data validate`` does not: enough varied examples per intent,
no example taught as two intents, test stories that use phrasings the model has not
seen, and a question in ``data/nlu.yml`` and ``tests/test_faq_stories.yml`` for every
topic in ``knowledge/topics.yml``.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
NLU_FILE = ROOT / "data" / "nlu.yml"
FAQ_STORIES_FILE = ROOT / "tests" / "test_faq_stories.yml"
TOPICS_FILE = ROOT / "knowledge" / "topics.yml"

MIN_EXAMPLES = 15
MIN_STORIES_PER_QUESTION = 2

# Intents besides the FAQ topics; domain.yml declares exactly these names.
CLINIC_INTENTS = ("ask_contact", "ask_promotion")
DIALOGUE_INTENTS = (
    "greet", "goodbye", "thank", "bot_challenge", "human_handoff", "affirm", "deny",
    "unsure", "stop", "resume", "ask_patient_question", "check_eligibility", "book",
    "enter_promo_code", "out_of_scope",
    "report_contraindication", "report_urgent_symptoms", "inform",
)
FALLBACK_INTENT = "nlu_fallback"

# The action each question is answered by, as the test stories must expect it.
CLINIC_ACTIONS = {
    "ask_contact": "action_clinic_contact",
    "ask_promotion": "action_explain_promotion",
    "out_of_scope": "action_out_of_scope",
    FALLBACK_INTENT: "action_fallback",
}
# An FAQ topic is answered by its own response (clinic.knowledge.topic_answers.response_name).
FAQ_RESPONSE_PREFIX = "utter_topic_"


def normalise(text: str) -> str:
    """Compare texts the way a person would: ignoring case and spacing."""
    return re.sub(r"\s+", " ", text).strip().lower()


@cache
def _load(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    assert isinstance(data, dict), f"{path.name} is not a YAML mapping"
    return data


@cache
def _topic_intents() -> list[str]:
    return [topic["intent"] for topic in _load(TOPICS_FILE)["topics"]]


@cache
def _nlu_examples() -> dict[str, list[str]]:
    """Intent name -> its examples, as Rasa reads the ``examples: |`` blocks."""
    examples: dict[str, list[str]] = defaultdict(list)
    for block in _load(NLU_FILE)["nlu"]:
        if "intent" not in block:
            continue
        for line in block["examples"].splitlines():
            if line.strip():
                examples[block["intent"]].append(line.strip()[2:].strip())
    return dict(examples)


@cache
def _story_turns() -> list[tuple[str, str, str, str | None]]:
    """(story name, user text, intent, the action right after) for every user turn."""
    turns = []
    for story in _load(FAQ_STORIES_FILE)["stories"]:
        steps = story["steps"]
        for index, step in enumerate(steps):
            if "user" in step:
                following = steps[index + 1].get("action") if index + 1 < len(steps) else None
                turns.append((story["story"], step["user"], step.get("intent"), following))
    return turns


EXPECTED_INTENTS = tuple(_topic_intents()) + CLINIC_INTENTS + DIALOGUE_INTENTS
STORY_QUESTIONS = tuple(_topic_intents()) + CLINIC_INTENTS


def test_nlu_file_is_rasa_3_1_with_one_example_per_list_line() -> None:
    data = _load(NLU_FILE)
    assert data.get("version") == "3.1"
    for block in data["nlu"]:
        assert isinstance(block.get("examples"), str), f"{block.get('intent')}: no examples"
        for line in block["examples"].splitlines():
            if line.strip():
                assert line.strip().startswith("- "), f"{block['intent']}: bad line {line!r}"


def test_nlu_intents_are_exactly_the_domain_intents() -> None:
    assert sorted(_nlu_examples()) == sorted(EXPECTED_INTENTS)


@pytest.mark.parametrize("intent", EXPECTED_INTENTS)
def test_intent_has_enough_examples(intent: str) -> None:
    examples = _nlu_examples().get(intent, [])
    assert len(examples) >= MIN_EXAMPLES, f"{intent}: {len(examples)} examples"


def test_no_example_is_taught_as_two_intents() -> None:
    owners: dict[str, set[str]] = defaultdict(set)
    for intent, examples in _nlu_examples().items():
        for example in examples:
            owners[normalise(example)].add(intent)
    clashes = {text: sorted(intents) for text, intents in owners.items() if len(intents) > 1}
    assert clashes == {}


def test_no_example_is_repeated_within_an_intent() -> None:
    repeats = {
        intent: [text for text, count in Counter(map(normalise, examples)).items() if count > 1]
        for intent, examples in _nlu_examples().items()
    }
    assert {intent: texts for intent, texts in repeats.items() if texts} == {}


def test_faq_stories_file_is_rasa_3_1() -> None:
    data = _load(FAQ_STORIES_FILE)
    assert data.get("version") == "3.1"
    assert FAQ_STORIES_FILE.name.startswith("test_")
    assert data["stories"], "no stories"


def test_story_phrasings_are_not_training_examples() -> None:
    trained = {normalise(text) for examples in _nlu_examples().values() for text in examples}
    seen = [(story, text) for story, text, _, _ in _story_turns() if normalise(text) in trained]
    assert seen == []


def test_story_phrasings_are_all_different() -> None:
    texts = Counter(normalise(text) for _, text, _, _ in _story_turns())
    assert [text for text, count in texts.items() if count > 1] == []


def test_story_intents_exist_in_training_data() -> None:
    known = set(_nlu_examples()) | {FALLBACK_INTENT}
    unknown = [(story, intent) for story, _, intent, _ in _story_turns() if intent not in known]
    assert unknown == []


@pytest.mark.parametrize("intent", STORY_QUESTIONS)
def test_every_question_has_two_unseen_phrasings_in_stories(intent: str) -> None:
    assert _nlu_examples().get(intent), f"{intent} has no NLU examples"
    stories = {story for story, _, story_intent, _ in _story_turns() if story_intent == intent}
    assert len(stories) >= MIN_STORIES_PER_QUESTION, f"{intent}: {sorted(stories)}"


def test_out_of_scope_and_fallback_are_covered() -> None:
    intents = Counter(intent for _, _, intent, _ in _story_turns())
    assert intents["out_of_scope"] >= 2
    assert intents[FALLBACK_INTENT] >= 1


def test_each_question_is_answered_by_its_action() -> None:
    expected = {topic["intent"]: FAQ_RESPONSE_PREFIX + topic["id"]
                for topic in _load(TOPICS_FILE)["topics"]} | CLINIC_ACTIONS
    wrong = [
        (story, intent, action)
        for story, _, intent, action in _story_turns()
        if intent in expected and action != expected[intent]
    ]
    assert wrong == []


# ----------------------------------------------------------------- labels and the rule layers

def _forced_intent(text: str, recognizer, codes: tuple[str, ...]) -> str | None:
    """The intent the pipeline's rule layers give a message whatever the classifier says:
    the conversation guard with no classifier guess, then the safety terms."""
    from clinic.nlu.guard import guard_decision
    from clinic.nlu.safety_intent import safety_intent

    forced, _ = guard_decision(text, None, 0.0, codes)
    return safety_intent(recognizer.mentions(text)) or forced


def test_training_labels_agree_with_the_rule_layers() -> None:
    """No example is taught as one intent while the guard (patient-question patterns, codes,
    other scripts) or the safety terms turn it into another: cross-validation would count
    every such example as an error, and the classifier would learn a label the assistant
    never acts on. Safety examples are exempt from the guard (safety runs last and wins)."""
    from clinic.knowledge.kb import knowledge
    from clinic.nlu.safety import SafetyRecognizer
    from clinic.nlu.spacy_build import build_pipeline

    kb = knowledge()
    recognizer = SafetyRecognizer(build_pipeline(kb), kb)
    codes = tuple(p.code for p in kb.promotions)
    conflicts = []
    for intent, examples in _nlu_examples().items():
        for text in examples:
            text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)
            forced = _forced_intent(text, recognizer, codes)
            # A short reply the guard reads only when the classifier is unsure ("ok" ->
            # affirm) must agree too, so no exemption for it.
            if forced is not None and forced != intent:
                conflicts.append(f"{intent}: {text!r} becomes {forced}")
    assert not conflicts, "\n".join(conflicts)
