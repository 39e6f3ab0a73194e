"""A tracker's copy from its state (clinic.rasa.patches, fix 9) is Rasa's replayed copy:
the same events, slots, latest message and action, loop and follow-up, on every story and
rule of the project grown event by event; and independent of the original."""

from __future__ import annotations

from typing import Any

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from clinic.rasa.tracker_copy import tracker_copy
from tests.unit.rasa.test_past_states import DOMAIN, project_trackers, session


def rasa_copy(tracker: DialogueStateTracker) -> DialogueStateTracker:
    return tracker_copy.rasa_original(tracker)  # type: ignore[attr-defined,no-any-return]


def state(tracker: DialogueStateTracker) -> dict[str, Any]:
    return {
        "type": type(tracker), "events": [id(e) for e in tracker.events],
        "slots": {name: (type(slot), slot.value, slot.has_been_set)
                  for name, slot in tracker.slots.items()},
        "slots_type": type(tracker.slots),
        "latest_message": tracker.latest_message, "latest_action": tracker.latest_action,
        "latest_bot_utterance": tracker.latest_bot_utterance,
        "followup_action": tracker.followup_action, "active_loop": tracker.active_loop,
        "paused": tracker.is_paused(), "sender_id": tracker.sender_id,
        "sender_source": tracker.sender_source, "model_id": tracker.model_id,
        "assistant_id": tracker.assistant_id, "rule": tracker.is_rule_tracker,
        "current": tracker.current_state(),
    }


def grow_and_compare(domain: Domain, events: list[Event], sender: str = "ada") -> int:
    tracker = DialogueStateTracker(sender, domain.slots)
    tracker.model_id = "model-1"
    for event in events:
        tracker.update(event, domain)
        assert state(tracker.copy()) == state(rasa_copy(tracker)), len(tracker.events)
    return len(events)


def test_the_patch_is_installed() -> None:
    assert DialogueStateTracker.copy is tracker_copy


def test_equal_to_rasas_copy_through_reverts_forms_and_sessions() -> None:
    grow_and_compare(DOMAIN, session(15))


def test_the_copy_is_independent_of_the_original() -> None:
    tracker = DialogueStateTracker("ada", DOMAIN.slots)
    for event in session(5):
        tracker.update(event, DOMAIN)
    before = state(tracker)
    duplicate = tracker.copy()
    duplicate.update_with_events([SlotSet("name", "Bo"), ActionExecuted("booking_form")], DOMAIN)
    duplicate.change_loop_to("booking_form")
    duplicate.interrupt_loop(True)
    assert state(tracker) == before
    assert duplicate.get_slot("name") == "Bo" and tracker.get_slot("name") != "Bo"


def test_equal_to_rasas_copy_on_the_projects_stories_and_rules() -> None:
    domain, trackers = project_trackers()
    compared = sum(grow_and_compare(domain, list(t.events), sender=f"s{i}")
                   for i, t in enumerate(trackers))
    assert compared > 1_000
