"""domain.yml, the rules and the NLU data agree with knowledge/ (ids only: no clinical text)."""

from __future__ import annotations

from pathlib import Path

import yaml

from clinic.knowledge.kb import load_knowledge
from clinic.knowledge.topic_answers import render_topic, response_name, topic_buttons

ROOT = Path(__file__).resolve().parents[3]


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


def test_screening_form_needs_no_entry_per_question(tmp_path: Path) -> None:
    """One slot asked until knowledge/screening.yml has no question left: nothing in the
    domain names a contraindication, so adding one is a knowledge change only."""
    domain = load("domain.yml")
    assert domain["forms"]["screening_form"]["required_slots"] == ["screening_question"]
    assert domain["slots"]["screening_question"]["type"] == "text"
    assert domain["slots"]["screening_answers"]["type"] == "any"
    assert "action_ask_screening_question" in domain["actions"]
    assert "validate_screening_form" in domain["actions"]
    names = set(domain["slots"]) | set(domain["actions"]) | set(domain.get("responses") or {})
    for k in (load_knowledge(), load_knowledge(twelve_contraindications(tmp_path))):
        for rule in k.screening.contraindications:
            assert not [name for name in names if rule.id in name], rule.id


def twelve_contraindications(tmp_path: Path) -> Path:
    """knowledge/ with one more contraindication (tests/unit/actions/test_screening_one_file.py)."""
    from tests.support.knowledge_copy import with_extra_contraindication

    return with_extra_contraindication(tmp_path)


def test_every_topic_intent_is_in_domain_rules_and_nlu() -> None:
    k = load_knowledge()
    domain = load("domain.yml")
    rules = load("data/rules.yml")["rules"]
    nlu_intents = {item["intent"] for item in load("data/nlu.yml")["nlu"] if "intent" in item}
    answered = {step["intent"]: rule["steps"][1].get("action")
                for rule in rules for step in rule["steps"][:1] if "intent" in step}
    for topic in k.topics:
        assert topic.intent in domain["intents"], topic.intent
        assert topic.intent in nlu_intents, topic.intent
        assert answered.get(topic.intent) == response_name(topic), topic.intent
        assert response_name(topic) in domain["responses"], topic.id


def test_topic_responses_say_the_topics_answer_and_offer_its_related_topics() -> None:
    """The FAQ answers Rasa sends itself are the ones the actions render from knowledge/."""
    k = load_knowledge()
    responses = load("domain.yml")["responses"]
    for topic in k.topics:
        [variant] = responses[response_name(topic)]
        assert variant["text"] == render_topic(topic, k)
        assert variant.get("buttons", []) == topic_buttons(topic, k)
        assert k.fill(topic.answer) in variant["text"]


def test_no_clinical_text_in_domain() -> None:
    """Answers come from knowledge/: no response in domain.yml repeats a topic's facts,
    except the topics' own responses, written from knowledge/topics.yml (above)."""
    k = load_knowledge()
    topic_responses = {response_name(topic) for topic in k.topics}
    responses = " ".join(
        variant.get("text", "") for name, variants in load("domain.yml")["responses"].items()
        if name not in topic_responses for variant in variants).lower()
    for rule in k.screening.contraindications:
        assert rule.question.lower()[:40] not in responses
    for name in ("majid", "dhurat", "aust", "el-domyati", "lima", "alster"):
        assert name not in responses


def test_promotion_is_never_in_a_rule_reachable_without_eligibility() -> None:
    """The booking form is only reached after the gate or the outcome set booking_next."""
    for rule in load("data/rules.yml")["rules"]:
        steps = rule["steps"]
        for index, step in enumerate(steps):
            if step.get("action") == "booking_form" and index > 0 and \
                    "active_loop" not in (rule.get("condition") or [{}])[0]:
                previous = steps[index - 1]
                assert previous.get("slot_was_set") == [{"booking_next": "booking"}], rule["rule"]
