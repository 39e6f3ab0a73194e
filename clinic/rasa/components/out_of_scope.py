"""Rasa NLU component: the out-of-scope vocabulary (see :class:`OutOfScopeVocabulary`)."""

from __future__ import annotations

import json
import logging
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from clinic.nlu.guard import FALLBACK_INTENT
from clinic.nlu.out_of_scope import (
    OUT_OF_SCOPE_INTENT,
    OVERRULED_REQUESTS,
    REQUEST_WORDS,
    WORD,
    content_words,
    knowledge_words,
)
from clinic.rasa.components.message import force_intent

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class OutOfScopeVocabulary(GraphComponent):
    """Learns the words of the clinic's own conversations (every training example except
    out_of_scope ones) and of its knowledge files. When the classifier is unsure (the
    FallbackClassifier gave ``nlu_fallback``) and most of a message's content words never
    occur in them ("what's the capital of France", "can you do my taxes"), the message is
    ``out_of_scope``: the person gets "I can only help with microneedling" instead of "I
    didn't understand". A confident guess of a request (``OVERRULED_REQUESTS``) is overruled
    only when none of its content words but the asking itself (``REQUEST_WORDS``) occurs in
    them ("can you book me a flight to busan" is no booking); topics, answers and safety
    intents never are.

    It runs right after the FallbackClassifier; the guard and the safety terms still decide
    after it (a short reply, another script, a patient question or a safety term wins).
    """

    FILE = "vocabulary.json"

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # Share of a message's content words the clinic's conversations never use; how many
        # content words and words in all it needs at least ("Li Wei" is a name, not a topic).
        # A confident guess of a request (OVERRULED_REQUESTS) is overruled only when none
        # of the content words is the clinic's ("can you book me a flight to busan").
        return {"min_unknown_share": 0.6, "overrule_unknown_share": 1.0,
                "min_content_words": 2, "min_words": 3}

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 vocabulary: frozenset[str]) -> None:
        self._config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self._vocabulary = vocabulary

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> OutOfScopeVocabulary:
        return cls(config, model_storage, resource, frozenset())

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> OutOfScopeVocabulary:
        try:
            with model_storage.read_from(resource) as directory:
                words = json.loads((directory / cls.FILE).read_text(encoding="utf-8"))
        except (ValueError, OSError):
            logger.warning("No learnt vocabulary in the model: out-of-scope reading is off.")
            words = []
        return cls(config, model_storage, resource, frozenset(words))

    def train(self, training_data: TrainingData) -> Resource:
        from clinic.nlu.safety_phrasing import PERSON_WORDS

        # People a booking or a question may be for ("can I book for my wife") are words of
        # the clinic's conversations too.
        words = knowledge_words() | PERSON_WORDS
        for example in training_data.intent_examples:
            if example.get(INTENT) != OUT_OF_SCOPE_INTENT:
                words |= content_words(example.get(TEXT) or "")
        self._vocabulary = frozenset(words)
        with self._storage.write_to(self._resource) as directory:
            (directory / self.FILE).write_text(json.dumps(sorted(words)), encoding="utf-8")
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def is_out_of_scope(self, text: str, min_unknown_share: float | None = None,
                        ignore: frozenset[str] = frozenset()) -> bool:
        from clinic.nlu.input_kind import describe_input, mostly_gibberish
        from clinic.nlu.questions import about_microneedling, asks_what_it_does

        # Microneedling is never out of scope; letters that are no words, another language
        # or markup get their own answers.
        if about_microneedling(text) or asks_what_it_does(text) or mostly_gibberish(text) or \
                describe_input(text) in ("other_language", "gibberish", "markup", "long"):
            return False
        words = content_words(text)
        if not self._vocabulary or len(words) < self._config["min_content_words"] or \
                len(WORD.findall(text)) < self._config["min_words"]:
            return False
        if min_unknown_share is None:
            min_unknown_share = float(self._config["min_unknown_share"])
        words -= ignore
        if not words:
            return False
        unknown = sum(1 for word in words if word not in self._vocabulary)
        return unknown / len(words) >= min_unknown_share

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            current = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            text = message.get(TEXT) or ""
            if current == FALLBACK_INTENT:
                out = self.is_out_of_scope(text)
            elif current in OVERRULED_REQUESTS:
                out = self.is_out_of_scope(
                    text, float(self._config["overrule_unknown_share"]), REQUEST_WORDS)
            else:
                continue
            if out:
                force_intent(message, OUT_OF_SCOPE_INTENT)
        return messages
