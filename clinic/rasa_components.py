"""Rasa NLU component: safety terms found by the clinic's spaCy pipeline decide the intent.

It runs last in the NLU pipeline (config.yml). For every message it asks the
knowledge-built recogniser (:mod:`clinic.safety`) for contraindication and warning-sign
mentions, adds them as entities (``contraindication`` / ``urgent_sign``, with the way they
were said as the role) and, when they matter, overrides the intent:

* a warning sign that is not negated and not a general "is there a risk of ..." question
  becomes ``report_urgent_symptoms``;
* otherwise a contraindication mentioned in any way but a clear negation becomes
  ``report_contraindication``.

The classifier's own guess stays in the intent ranking. Safety therefore never depends on
the intent classifier having seen a phrasing before.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from clinic.kb import PROJECT_ROOT
from clinic.safety import (
    MentionKind,
    MentionStatus,
    SafetyMention,
    SafetyRecognizer,
    load_recognizer,
)

logger = logging.getLogger(__name__)

URGENT_INTENT = "report_urgent_symptoms"
CONTRAINDICATION_INTENT = "report_contraindication"
# Statuses that make the assistant react (record, explain or check back).
CONTRAINDICATION_TRIGGERS = frozenset(MentionStatus) - {MentionStatus.NEGATED}
# Warning signs: over-warn rather than under-warn; only a clear "no" or a general question
# about risks does not trigger the urgent answer.
URGENT_TRIGGERS = frozenset(MentionStatus) - {MentionStatus.NEGATED, MentionStatus.HYPOTHETICAL}


def mentions_to_entities(mentions: list[SafetyMention]) -> list[dict[str, Any]]:
    """Rasa entity dicts for the recogniser's mentions."""
    return [m.to_entity() for m in mentions]


def safety_intent(mentions: list[SafetyMention]) -> str | None:
    """The intent the mentions force, if any (warning signs first)."""
    if any(m.kind is MentionKind.URGENT and m.status in URGENT_TRIGGERS for m in mentions):
        return URGENT_INTENT
    if any(m.kind is MentionKind.CONTRAINDICATION and m.status in CONTRAINDICATION_TRIGGERS
           for m in mentions):
        return CONTRAINDICATION_INTENT
    return None


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER,
     DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR],
    is_trainable=False,
)
class SafetyTermsClassifier(GraphComponent):
    """Adds safety entities and overrides the intent when safety terms are present."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"model": "build/spacy_clinic"}

    def __init__(self, config: dict[str, Any], recognizer: SafetyRecognizer) -> None:
        self._config = config
        self._recognizer = recognizer

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SafetyTermsClassifier:
        model = Path(config["model"])
        if not model.is_absolute():
            model = PROJECT_ROOT / model
        return cls(config, load_recognizer(model))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._process_message(message)
        return messages

    def _process_message(self, message: Message) -> None:
        text = message.get(TEXT) or ""
        if not text.strip():
            return
        doc = message.get(SPACY_DOCS[TEXT])
        mentions = (self._recognizer.mentions_in_doc(doc, text) if doc is not None
                    else self._recognizer.mentions(text))
        if not mentions:
            return
        entities = list(message.get(ENTITIES) or []) + mentions_to_entities(mentions)
        message.set(ENTITIES, entities, add_to_output=True)
        forced = safety_intent(mentions)
        if forced is None:
            return
        # Safety wins over a patient question: its topic no longer applies.
        entities = [e for e in entities if e.get("entity") != "patient_topic"]
        message.set(ENTITIES, entities, add_to_output=True)
        previous = message.get(INTENT) or {}
        if previous.get(INTENT_NAME_KEY) == forced:
            return
        ranking = [r for r in (message.get(INTENT_RANKING_KEY) or [])
                   if r.get(INTENT_NAME_KEY) != forced]
        top = {INTENT_NAME_KEY: forced, PREDICTED_CONFIDENCE_KEY: 1.0}
        message.set(INTENT, top, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [top] + ranking, add_to_output=True)
        # Only the ids and how they were said: never the person's words.
        logger.debug("safety override to %s (%s)", forced,
                     ", ".join(f"{m.id}:{m.status}" for m in mentions))


# --------------------------------------------------------------------------- conversation guard

FALLBACK_INTENT = "nlu_fallback"
PROMO_CODE_INTENT = "enter_promo_code"
PATIENT_QUESTION_INTENT = "ask_patient_question"
PATIENT_TOPIC_ENTITY = "patient_topic"
GUARD_NAME = "ConversationGuard"
# Intents a patient-question pattern does not override when the classifier is confident:
# they start something, or the article's own answer is the better one.
KEEP_WHEN_CONFIDENT = 0.8
KEEP_INTENTS = frozenset({
    "book", "check_eligibility", "ask_contact", "human_handoff", "ask_promotion",
    "enter_promo_code", "ask_references", "ask_what_is", "ask_benefits", "ask_skin_rejuvenation",
    "ask_acne_scars", "ask_hyperpigmentation", "ask_hair_loss", "ask_topical_absorption",
    "ask_laser_comparison", "ask_tcm_history", "ask_plum_blossom", "ask_jade_roller",
    "ask_recovery", "ask_aftercare", "ask_contraindications",
})


def _force_intent(message: Message, intent: str) -> None:
    ranking = [r for r in (message.get(INTENT_RANKING_KEY) or [])
               if r.get(INTENT_NAME_KEY) != intent]
    top = {INTENT_NAME_KEY: intent, PREDICTED_CONFIDENCE_KEY: 1.0}
    message.set(INTENT, top, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [top] + ranking, add_to_output=True)


def guard_decision(text: str, intent: str | None, confidence: float,
                   known_codes: tuple[str, ...]) -> tuple[str | None, str | None]:
    """(intent to force, patient question id) for a message, before safety terms.

    - another language or script, or gibberish: ``nlu_fallback`` (never a yes / no);
    - a promotion code ("FACIAL50", "SAVE10"): ``enter_promo_code``;
    - a common patient question (knowledge/patient_questions.yml): ``ask_patient_question``
      unless the classifier is confident of an intent that starts something or of one of
      the article's own topics.
    """
    from clinic.questions import match_question
    from clinic.text_kind import describe_input, other_script, promo_code_in

    if text.startswith("/"):
        return None, None
    # Another script, or letters that are no words. (Four words with no English word in
    # them are only read as another language once the classifier is unsure, in the
    # fallback: the guard must not turn "who should avoid getting microneedling" away.)
    if other_script(text) or describe_input(text) == "gibberish":
        return FALLBACK_INTENT, None
    if promo_code_in(text, known_codes):
        return PROMO_CODE_INTENT, None
    question = match_question(text)
    if question is None:
        short = short_form_intent(text) if intent in (FALLBACK_INTENT, None) or \
            confidence < SHORT_FORM_CONFIDENCE else None
        return short, None
    # A worry after a treatment ("still red the day after") is answered with the warning
    # signs, even when the classifier is sure it is about recovery or aftercare.
    if intent in KEEP_INTENTS and confidence >= KEEP_WHEN_CONFIDENT and not (
            question.after_treatment and intent in ("ask_aftercare", "ask_recovery")):
        return None, None
    return PATIENT_QUESTION_INTENT, question.id


SHORT_FORM_CONFIDENCE = 0.55
_RESUME = re.compile(
    r"^\s*(?:ok(?:ay)?[, ]+|yes[, ]+|alright[, ]+)?(?:please )?(?:let'?s |can we |we can )?"
    r"(?:continue|go on|carry on|resume|keep going|next|proceed|go ahead with (?:it|them)|"
    r"keep at it|move on)(?: then| please| now| with (?:it|them|the questions))?[\s.!]*$",
    re.IGNORECASE)
_THANK = re.compile(r"^\s*(?:ty|thx|thnx|thks|tysm|tyvm|thanks?|thank (?:you|u)|cheers)"
                    r"(?: so much| very much| a lot| again)?[\s.!]*$", re.IGNORECASE)
_BYE = re.compile(r"^\s*(?:cya|bye+|bye bye|gtg|g2g|ttyl|see ya|see you|later|laters|night)"
                  r"(?: then| now| for now)?[\s.!]*$", re.IGNORECASE)


def short_form_intent(text: str) -> str | None:
    """The intent of a short everyday reply the classifier was unsure of ("sure thing",
    "go on then", "ty", "cya"); None for anything else."""
    from clinic.answers import parse_answer
    from clinic.screening import Answer

    if _RESUME.match(text):
        return "resume"
    if _THANK.match(text):
        return "thank"
    if _BYE.match(text):
        return "goodbye"
    if len(text.split()) > 4:
        return None
    answer = parse_answer(text)
    if answer is None:
        return None
    return {Answer.YES: "affirm", Answer.NO: "deny", Answer.UNSURE: "unsure"}[answer]


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER,
     DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR],
    is_trainable=False,
)
class ConversationGuard(GraphComponent):
    """Reads what kind of message it is before the classifier's guess is trusted."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {}

    def __init__(self, config: dict[str, Any]) -> None:
        from clinic.kb import knowledge

        self._codes = tuple(p.code for p in knowledge().promotions)

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> ConversationGuard:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            current = message.get(INTENT) or {}
            forced, question_id = guard_decision(
                text, current.get(INTENT_NAME_KEY),
                float(current.get(PREDICTED_CONFIDENCE_KEY) or 0.0), self._codes)
            if forced is None:
                continue
            _force_intent(message, forced)
            if question_id:
                entities = list(message.get(ENTITIES) or []) + [{
                    "entity": PATIENT_TOPIC_ENTITY, "value": question_id, "start": 0,
                    "end": len(text), "confidence_entity": 1.0, "extractor": GUARD_NAME,
                }]
                message.set(ENTITIES, entities, add_to_output=True)
        return messages
