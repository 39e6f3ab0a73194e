"""Rasa NLU component: the conversation guard forces the intent :func:`clinic.nlu.guard.guard_decision`
reads by rule (another script, a code, a short reply, a patient question) and adds the patient
question as an entity."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from clinic.nlu.guard import ANSWER_SEPARATOR, guard_decision, subject_answers
from clinic.rasa.components.message import force_intent

PATIENT_TOPIC_ENTITY = "patient_topic"
GUARD_NAME = "ConversationGuard"


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
        from clinic.knowledge.kb import knowledge

        self._codes = tuple(p.code for p in knowledge().promotions)
        # The medicine dictionary and the subject vocabularies take seconds to load: when
        # the model loads, not on the first patient's message.
        from clinic.knowledge.medicines import find_medicines

        subject_answers("can I use retinol after it")
        find_medicines("warfarin")

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
            force_intent(message, forced)
            if question_id:
                entities = list(message.get(ENTITIES) or []) + [{
                    "entity": PATIENT_TOPIC_ENTITY, "value": value, "start": 0,
                    "end": len(text), "confidence_entity": 1.0, "extractor": GUARD_NAME,
                } for value in question_id.split(ANSWER_SEPARATOR)]
                message.set(ENTITIES, entities, add_to_output=True)
        return messages
