"""Only the states a prediction reads (clinic.rasa.patches, fix 11): RulePolicy and
MemoizationPolicy, trained on the project's own rules and stories, predict exactly what
they predict from every state of the session, on every turn of every story and rule; and
a prediction at turn 300 copies a handful of states, not the whole session."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
from rasa.core.policies.memoization import MemoizationPolicy
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.importers.importer import TrainingDataImporter

from clinic.rasa import past_states
from clinic.rasa.past_states import APPLIED, CACHE, WINDOW, Window, rule_window
from tests.unit.rasa.test_past_states import project_trackers

ROOT = Path(__file__).resolve().parents[3]


@cache
def trained() -> tuple[Domain, RulePolicy, MemoizationPolicy]:
    """RulePolicy and MemoizationPolicy as config.yml sets them, trained on data/."""
    importer = TrainingDataImporter.load_from_dict(domain_path=str(ROOT / "domain.yml"),
                                                   training_data_paths=[str(ROOT / "data")])
    domain = importer.get_domain()
    trackers = TrainingDataGenerator(importer.get_stories(), domain,
                                     augmentation_factor=0).generate()
    storage = LocalModelStorage(Path(tempfile.mkdtemp(prefix="window-")))
    context = ExecutionContext(GraphSchema({}), "window")
    rules = RulePolicy.create({**RulePolicy.get_default_config(), "core_fallback_threshold": 0.3,
                               "core_fallback_action_name": "action_fallback",
                               "enable_fallback_prediction": True},
                              storage, Resource("rules"), context)
    rules.train(trackers, domain)
    memo = MemoizationPolicy.create({**MemoizationPolicy.get_default_config(), "max_history": 4},
                                    storage, Resource("memo"), context)
    memo.train(trackers, domain)
    return domain, rules, memo


@contextlib.contextmanager
def rasa_only() -> Iterator[None]:
    """Rasa's own prediction: every state of the session, no window set anywhere."""
    patched = [(RulePolicy, "predict_action_probabilities"),
               (MaxHistoryTrackerFeaturizer, "prediction_states")]
    with pytest.MonkeyPatch.context() as patch:
        for owner, name in patched:
            patch.setattr(owner, name, getattr(owner, name).rasa_original)
        yield


def summary(prediction: PolicyPrediction) -> tuple[Any, ...]:
    return (prediction.probabilities, prediction.policy_name, prediction.events,
            prediction.optional_events, prediction.is_end_to_end_prediction,
            prediction.is_no_user_prediction, prediction.hide_rule_turn, prediction.action_metadata)


def predictions(domain: Domain, tracker: DialogueStateTracker) -> tuple[Any, ...]:
    _, rules, memo = trained()
    return (summary(rules.predict_action_probabilities(tracker, domain)),
            summary(memo.predict_action_probabilities(tracker, domain)))


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    CACHE.clear()
    APPLIED.clear()


def test_the_patches_are_installed() -> None:
    assert getattr(RulePolicy.predict_action_probabilities, "_clinic_patched", False)
    assert getattr(MaxHistoryTrackerFeaturizer.prediction_states, "_clinic_patched", False)


def test_the_rule_window_is_the_longest_rule() -> None:
    _, rules, _ = trained()
    window = rule_window(rules)
    assert 2 <= window.states <= 10
    lookup = rules.lookup["rules"]
    assert max(len(rules._rule_key_to_state(key)) for key in lookup) <= window.states  # noqa: SLF001
    # A new rule learned later widens it.
    longer = json.dumps([{"prev_action": {"action_name": "action_listen"}}] * (window.states + 2))
    lookup[longer] = "action_listen"
    try:
        assert rule_window(rules).states == window.states + 2
    finally:
        del lookup[longer]
    assert rule_window(rules) == window


def test_predictions_equal_rasa_on_every_turn_of_the_projects_stories_and_rules() -> None:
    """Every story and rule of data/ and tests/, grown event by event; at each point where
    Rasa predicts (after a user message or an action), both policies with the window give
    what they give from every state."""
    domain, trackers = project_trackers()
    own_domain, _, _ = trained()
    assert own_domain.as_dict() == domain.as_dict()
    compared = windowed = 0
    for index, story in enumerate(trackers):
        tracker = DialogueStateTracker(f"w{index}", domain.slots)
        for event in story.events:
            tracker.update(event, domain)
            if not isinstance(event, (ActionExecuted, UserUttered)):
                continue
            got = predictions(domain, tracker)
            with rasa_only():
                expected = predictions(domain, tracker)
            assert got == expected, (story.sender_id, len(tracker.events))
            compared += 1
            windowed += len(domain.states_for_tracker_history(tracker)) > rule_window(
                trained()[1]).states
    assert compared > 1_500
    assert windowed > 500  # many of them had more states than the window


def test_a_prediction_at_turn_300_copies_the_window_not_the_session(
        monkeypatch: pytest.MonkeyPatch) -> None:
    domain, rules, memo = trained()
    tracker = DialogueStateTracker("long", domain.slots)
    tracker.update(ActionExecuted("action_listen"), domain)
    for turn in range(300):
        intent = ("ask_what_is", "ask_acne_scars", "ask_jade_roller")[turn % 3]
        tracker.update(UserUttered(f"question {turn}", {"name": intent, "confidence": 1.0}),
                       domain)
        tracker.update(ActionExecuted(f"utter_topic_{intent.removeprefix('ask_')}"), domain)
        tracker.update(ActionExecuted("action_listen"), domain)
    tracker.update(UserUttered("and what is it?", {"name": "ask_what_is", "confidence": 1.0}),
                   domain)
    predictions(domain, tracker)  # the first call replays the session once
    copied: list[int] = []
    original = past_states.copy_state
    monkeypatch.setattr(past_states, "copy_state",
                        lambda state: copied.append(1) or original(state))
    got = predictions(domain, tracker)
    assert len(copied) <= 2 * (rule_window(rules).states + 4)  # two RulePolicy calls, one memo
    monkeypatch.undo()
    with rasa_only():
        assert got == predictions(domain, tracker)
    assert WINDOW.get() is None  # nothing left set


def test_a_window_skips_unlikely_intent_states_as_the_featurizer_does() -> None:
    states = [{"prev_action": {"action_name": name}} for name in
              ("a", "b", "action_unlikely_intent", "c", "action_unlikely_intent", "d")]
    tail = past_states._tail(states, Window(3, skip_unlikely=True))  # noqa: SLF001
    assert tail == states[1:]  # b, c and d counted, the unlikely ones kept for the featurizer
    assert past_states._tail(states, Window(3)) == states[3:]  # noqa: SLF001
    assert past_states._tail(states, None) is states  # noqa: SLF001
    assert past_states._tail(states, Window(10, skip_unlikely=True)) is states  # noqa: SLF001


TOY_DOMAIN = """
version: "3.1"
intents: [greet, ask_cost]
actions: [utter_first_hello, utter_hello, utter_cost]
responses:
  utter_first_hello: [{text: "Welcome!"}]
  utter_hello: [{text: "Hello again."}]
  utter_cost: [{text: "It costs..."}]
"""
TOY_RULES = """
version: "3.1"
rules:
- rule: a greeting that opens the conversation
  conversation_start: true
  steps: [{intent: greet}, {action: utter_first_hello}]
- rule: any other greeting
  steps: [{intent: greet}, {action: utter_hello}]
- rule: cost
  steps: [{intent: ask_cost}, {action: utter_cost}]
"""


def test_a_window_one_state_short_would_change_a_prediction(tmp_path: Path) -> None:
    """Where a rule's oldest state decides (the rule for the conversation's opening, whose
    first state is the conversation's start), the window reaches it; a window shorter than
    that rule would greet every returning person as a newcomer."""
    (tmp_path / "domain.yml").write_text(TOY_DOMAIN)
    (tmp_path / "rules.yml").write_text(TOY_RULES)
    importer = TrainingDataImporter.load_from_dict(domain_path=str(tmp_path / "domain.yml"),
                                                   training_data_paths=[str(tmp_path / "rules.yml")])
    domain = importer.get_domain()
    (tmp_path / "m").mkdir()
    rules = RulePolicy.create(RulePolicy.get_default_config(), LocalModelStorage(tmp_path / "m"),
                              Resource("toy"), ExecutionContext(GraphSchema({}), "toy"))
    rules.train(TrainingDataGenerator(importer.get_stories(), domain,
                                      augmentation_factor=0).generate(), domain)

    def greet_after(turns: int) -> DialogueStateTracker:
        tracker = DialogueStateTracker(f"toy{turns}", domain.slots)
        tracker.update(ActionExecuted("action_listen"), domain)
        for _ in range(turns):
            for event in [UserUttered("price?", {"name": "ask_cost", "confidence": 1.0}),
                          ActionExecuted("utter_cost"), ActionExecuted("action_listen")]:
                tracker.update(event, domain)
        tracker.update(UserUttered("hi", {"name": "greet", "confidence": 1.0}), domain)
        return tracker

    def predicted(tracker: DialogueStateTracker) -> str:
        probabilities = rules.predict_action_probabilities(tracker, domain).probabilities
        return domain.action_names_or_texts[probabilities.index(max(probabilities))]

    assert rule_window(rules).states == 3  # [start, greet, utter_first_hello] -> listen
    for turns in range(4):
        tracker = greet_after(turns)
        with rasa_only():
            expected = predicted(tracker)
        assert predicted(tracker) == expected
        assert expected == ("utter_first_hello" if turns == 0 else "utter_hello")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(past_states, "rule_window", lambda _: Window(1))
        assert predicted(greet_after(3)) == "utter_first_hello"


def test_the_patched_methods_look_like_rasas_to_its_graph_validation() -> None:
    from rasa.engine.validation import _get_parameter_information

    patched = _get_parameter_information(RulePolicy, "predict_action_probabilities")
    with rasa_only():
        assert patched == _get_parameter_information(RulePolicy, "predict_action_probabilities")
