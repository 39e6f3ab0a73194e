"""Rasa NLU component: safety terms found by the clinic's spaCy pipeline decide the intent.

It runs last in the NLU pipeline (config.yml). For every message it asks the
knowledge-built recogniser (:mod:`clinic.nlu.safety`) for contraindication and warning-sign
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

from clinic.knowledge.kb import PROJECT_ROOT
from clinic.nlu.safety import SafetyRecognizer, load_recognizer
from clinic.nlu.safety_intent import mentions_to_entities, safety_intent

logger = logging.getLogger(__name__)


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
