"""Past dialogue states resumed from the latest user turn (clinic.rasa.patches, fix 9) are
Rasa's own, turn by turn: through reverts, forms, rule-only data, new sessions, other
conversations under the same sender id and the featurizers' in-place edits; and a call at
turn 300 replays only the latest turn."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    BotUttered,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from clinic.rasa import past_states
from clinic.rasa.past_states import APPLIED, CACHE, applied_events, states_for_tracker_history

ROOT = Path(__file__).resolve().parents[3]

DOMAIN = Domain.from_yaml("""
version: "3.1"
intents: [greet, ask_faq, inform, affirm, stop]
entities: [name]
slots:
  name: {type: text, influence_conversation: true, mappings: [{type: from_entity, entity: name}]}
  topic: {type: categorical, values: [cost, pain], mappings: [{type: custom}]}
  quiet: {type: text, influence_conversation: false, mappings: [{type: custom}]}
forms:
  booking_form: {required_slots: [name]}
actions: [action_answer_faq, action_hello]
responses:
  utter_ask_name: [{text: "Your name?"}]
  utter_done: [{text: "Done."}]
""")
RULE_ONLY = {"rule_only_slots": ["topic"], "rule_only_loops": ["booking_form"]}
ARGUMENTS = [
    {},
    {"omit_unset_slots": True},
    {"ignore_rule_only_turns": True, "rule_only_data": RULE_ONLY},
    {"ignore_rule_only_turns": True, "rule_only_data": None},
]


def rasa_states(domain: Domain, tracker: DialogueStateTracker, **kwargs: Any) -> list[dict]:
    original = states_for_tracker_history.rasa_original  # type: ignore[attr-defined]
    return original(domain, tracker, **kwargs)  # type: ignore[no-any-return]


def rasa_applied(tracker: DialogueStateTracker) -> list[Event]:
    return applied_events.rasa_original(tracker)  # type: ignore[attr-defined,no-any-return]


def user(text: str, intent: str, entities: list[dict] | None = None) -> UserUttered:
    return UserUttered(text, {"name": intent, "confidence": 0.9}, entities or [])


def faq_turn(n: int, revert: bool) -> list[Event]:
    events: list[Event] = [user(f"question {n}", "ask_faq"), ActionExecuted("action_answer_faq"),
                           BotUttered(f"answer {n}"), SlotSet("topic", "cost" if n % 2 else "pain")]
    if revert:
        events.append(UserUtteranceReverted())
    return [*events, ActionExecuted("action_listen")]


def form_turns() -> list[Event]:
    return [
        user("book", "inform"), ActionExecuted("booking_form"), ActiveLoop("booking_form"),
        SlotSet("requested_slot", "name"), BotUttered("Your name?"), ActionExecuted("action_listen"),
        user("stop", "stop"), ActionExecutionRejected("booking_form"),
        ActionExecuted("action_hello", hide_rule_turn=True), BotUttered("hello"),
        ActionExecuted("booking_form"), BotUttered("Your name?"), ActionExecuted("action_listen"),
        user("Ada", "inform", [{"entity": "name", "value": "Ada", "start": 0, "end": 3}]),
        SlotSet("name", "Ada"), ActionExecuted("booking_form"), SlotSet("name", "Ada"),
        ActiveLoop(None), SlotSet("requested_slot", None),
        ActionExecuted("utter_done", hide_rule_turn=True), BotUttered("Done."),
        ActionExecuted("action_listen"),
    ]


def session(turns: int) -> list[Event]:
    events: list[Event] = [ActionExecuted("action_session_start"), SessionStarted(),
                           ActionExecuted("action_listen")]
    for n in range(turns):
        events += faq_turn(n, revert=n % 3 == 0)
        if n == 4:
            events += form_turns()
        if n == 7:
            events += [user("hi", "greet"), ActionExecuted("action_hello"), BotUttered("hi"),
                       UserUtteranceReverted(), UserUtteranceReverted(), ActionExecuted("action_listen")]
    return events


def grow_and_compare(domain: Domain, events: list[Event], sender: str = "ada") -> int:
    """Add the events one by one to one tracker (as Rasa's processor does); after each,
    compare every argument set with Rasa's replay. Returns the number of comparisons."""
    compared = 0
    tracker = DialogueStateTracker(sender, domain.slots)
    for event in events:
        tracker.update(event, domain)
        got_applied = tracker.applied_events()
        assert got_applied == rasa_applied(tracker)
        assert all(a is b for a, b in zip(got_applied, rasa_applied(tracker), strict=True))
        for kwargs in ARGUMENTS:
            expected = rasa_states(domain, tracker, **kwargs)
            got = domain.states_for_tracker_history(tracker, **kwargs)
            assert got == expected, (len(tracker.events), kwargs)
            compared += 1
    return compared


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    CACHE.clear()
    APPLIED.clear()


def test_the_patches_are_installed() -> None:
    assert Domain.states_for_tracker_history is states_for_tracker_history
    assert DialogueStateTracker.applied_events is applied_events


def test_equal_to_rasa_through_reverts_forms_and_rule_only_turns() -> None:
    resumed_before = CACHE.resumed
    grow_and_compare(DOMAIN, session(12))
    assert CACHE.resumed - resumed_before > 200  # it did resume, not replay everything


def test_a_new_session_and_a_restart_start_over_correctly() -> None:
    events = session(5) + [Restarted(), ActionExecuted("action_listen")] + session(4)[3:] + session(3)
    grow_and_compare(DOMAIN, events)


def test_another_conversation_under_the_same_sender_id() -> None:
    grow_and_compare(DOMAIN, session(6), sender="same")
    # Equal-looking but different event objects: never resumed from the first one's states.
    other = session(6)
    other[5] = SlotSet("topic", "pain")
    grow_and_compare(DOMAIN, other, sender="same")


def test_another_domain_is_not_served_the_checkpoint() -> None:
    tracker = DialogueStateTracker("ada", DOMAIN.slots)
    for event in session(6):
        tracker.update(event, DOMAIN)
    DOMAIN.states_for_tracker_history(tracker)
    wider = Domain.from_dict({**DOMAIN.as_dict(), "slots": {
        **DOMAIN.as_dict()["slots"],
        "extra": {"type": "bool", "initial_value": True, "influence_conversation": True,
                  "mappings": [{"type": "custom"}]}}})
    assert wider.states_for_tracker_history(tracker) == rasa_states(wider, tracker)


def test_applied_events_resume_and_see_a_loop_named_later() -> None:
    tracker = DialogueStateTracker("ada", DOMAIN.slots)
    # The form's name runs as an action before any ActiveLoop names it: once a later
    # event names the loop, the earlier runs are folded differently (from the start).
    early = [ActionExecuted("action_listen"), user("book", "inform"), ActionExecuted("booking_form"),
             ActionExecuted("action_listen"), user("x", "inform"), ActionExecuted("booking_form")]
    for event in early:
        tracker.update(event, DOMAIN)
        tracker.applied_events()
    resumed = APPLIED.resumed
    tracker.update(ActiveLoop("booking_form"), DOMAIN)
    assert tracker.applied_events() == rasa_applied(tracker)
    assert APPLIED.resumed == resumed  # a new loop name: folded from the start
    tracker.update(ActionExecuted("action_listen"), DOMAIN)
    assert tracker.applied_events() == rasa_applied(tracker)
    assert APPLIED.resumed == resumed + 1
    edited = tracker.applied_events()
    edited.clear()  # the list handed out is the caller's
    assert tracker.applied_events() == rasa_applied(tracker)


def test_editing_the_states_handed_out_changes_no_later_answer() -> None:
    tracker = DialogueStateTracker("ada", DOMAIN.slots)
    for event in session(8):
        tracker.update(event, DOMAIN)
    for _ in range(3):
        states = DOMAIN.states_for_tracker_history(tracker)
        for state in states:  # what the featurizers do, and worse
            state.get("user", {}).pop("intent", None)
            state.pop("slots", None)
    assert DOMAIN.states_for_tracker_history(tracker) == rasa_states(DOMAIN, tracker)


def test_a_call_at_turn_300_replays_only_the_latest_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    tracker = DialogueStateTracker("long", DOMAIN.slots)
    for event in session(300):
        tracker.update(event, DOMAIN)
    DOMAIN.states_for_tracker_history(tracker)  # the first call replays everything
    for event in faq_turn(300, revert=False)[:-1]:
        tracker.update(event, DOMAIN)
    computed = []
    original = Domain.get_active_state
    monkeypatch.setattr(Domain, "get_active_state",
                        lambda self, tr, **kw: computed.append(1) or original(self, tr, **kw))
    states = DOMAIN.states_for_tracker_history(tracker)
    assert len(states) > 400
    assert len(computed) <= 6  # the states of the last two turns only, not of 300
    monkeypatch.undo()
    assert states == rasa_states(DOMAIN, tracker)


@cache
def project_trackers() -> tuple[Domain, list[DialogueStateTracker]]:
    """The project's domain, and every story and rule of data/ and tests/ as a tracker."""
    from rasa.shared.core.generator import TrainingDataGenerator
    from rasa.shared.importers.importer import TrainingDataImporter

    importer = TrainingDataImporter.load_from_dict(
        domain_path=str(ROOT / "domain.yml"),
        training_data_paths=[str(ROOT / "data"), *map(str, sorted(ROOT.glob("tests/test_*.yml")))])
    domain = importer.get_domain()
    trackers = TrainingDataGenerator(importer.get_stories(), domain, augmentation_factor=0,
                                     remove_duplicates=False).generate()
    return domain, trackers


def test_equal_to_rasa_on_the_projects_stories_and_rules() -> None:
    """Every story and rule of data/ and tests/, grown event by event on the real domain."""
    domain, trackers = project_trackers()
    assert len(trackers) > 100
    compared = sum(grow_and_compare(domain, list(t.events), sender=f"s{i}")
                   for i, t in enumerate(trackers))
    assert compared > 5_000
    assert past_states.CACHE.resumed > 0
