"""What Rasa sends the action server (clinic.rasa.patches, fix 7): the events of the last user
turns, not the whole conversation, with the rest of the tracker state unchanged; and what the
clinic's actions read of it is the same as with the whole conversation."""

from __future__ import annotations

import json

from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk import Tracker

from actions.conversation import PENDING_OFFER, pending_offer
from clinic.rasa.patches import ACTION_EVENT_TURNS, recent_events

DOMAIN = Domain.from_yaml("""
version: "3.1"
intents: [ask_faq, affirm]
slots:
  booking_email: {type: text, influence_conversation: false, mappings: [{type: custom}]}
  pending_offer: {type: text, influence_conversation: false, mappings: [{type: custom}]}
actions: [action_answer_faq]
""")


def conversation(turns: int, offer_last: bool = False) -> DialogueStateTracker:
    events = [ActionExecuted("action_listen"), SlotSet("booking_email", "ada@example.com")]
    for n in range(turns):
        events += [UserUttered(f"question {n}", {"name": "ask_faq", "confidence": 0.9}),
                   ActionExecuted("action_answer_faq"), BotUttered(f"answer {n}"),
                   ActionExecuted("action_listen")]
    if offer_last:
        events[-1:-1] = [SlotSet(PENDING_OFFER, "book")]
    events += [UserUttered("yes please", {"name": "affirm", "confidence": 0.9})]
    return DialogueStateTracker.from_events("web-long", events, DOMAIN.slots)


def payload(tracker: DialogueStateTracker) -> dict:
    action = RemoteAction("action_answer_faq", EndpointConfig("http://127.0.0.1:1/webhook"))
    return action._action_call_format(tracker, DOMAIN)  # noqa: SLF001 - the patched method


def test_recent_events_start_at_the_nth_latest_user_message() -> None:
    events = conversation(10).events
    kept = recent_events(list(events), 3)
    assert [e.text for e in kept if isinstance(e, UserUttered)] == [
        "question 8", "question 9", "yes please"]
    assert isinstance(kept[0], UserUttered)
    short = list(conversation(1).events)
    assert recent_events(short, 5) == short


def test_the_call_carries_the_last_turns_and_the_whole_state() -> None:
    sent = payload(conversation(300))["tracker"]
    users = [e for e in sent["events"] if e["event"] == "user"]
    assert len(users) == ACTION_EVENT_TURNS
    assert users[-1]["text"] == "yes please"
    # A slot set at the very start still travels, in the state.
    assert sent["slots"]["booking_email"] == "ada@example.com"
    assert sent["latest_message"]["text"] == "yes please"
    assert sent["latest_action_name"] == "action_listen"


def test_a_call_costs_the_same_at_turn_300_as_at_turn_10() -> None:
    early, late = (len(json.dumps(payload(conversation(n)))) for n in (10, 300))
    assert late < early * 1.1


def test_what_the_actions_read_is_unchanged() -> None:
    for offer_last in (True, False):
        tracker = conversation(50, offer_last=offer_last)
        whole = tracker.current_state()
        whole["events"] = [e.as_dict() for e in tracker.events]
        full = Tracker.from_dict({**whole, "sender_id": "web-long"})
        sliced = Tracker.from_dict({**payload(tracker)["tracker"], "sender_id": "web-long"})
        assert pending_offer(sliced) == pending_offer(full) == ("book" if offer_last else None)
        assert sliced.slots == full.slots
        assert sliced.latest_message == full.latest_message
        assert sliced.get_latest_input_channel() == full.get_latest_input_channel()
        assert sliced.slots_to_validate() == full.slots_to_validate()


def test_an_active_loop_travels_in_the_state() -> None:
    tracker = conversation(20)
    tracker.update(ActiveLoop("booking_form"))
    assert payload(tracker)["tracker"]["active_loop"]["name"] == "booking_form"


def test_form_validation_gets_the_slots_and_forms_and_validates_the_same() -> None:
    """Rasa sends every validate_* action the domain; only the parts Rasa SDK's form
    validation reads go now, and the clinic's screening validation decides the same."""
    import asyncio
    import copy
    from pathlib import Path

    from rasa.shared.core.events import ActiveLoop
    from rasa_sdk.executor import CollectingDispatcher

    from actions.screening import ValidateScreeningForm

    domain = Domain.load(str(Path(__file__).resolve().parents[3] / "domain.yml"))
    deny = {"name": "deny", "confidence": 0.95}
    tracker = DialogueStateTracker.from_events("web-form", [
        ActionExecuted("action_listen"),
        UserUttered("am i a good candidate?", {"name": "check_eligibility", "confidence": 0.9}),
        ActionExecuted("screening_form"), ActiveLoop("screening_form"),
        SlotSet("requested_slot", "screening_question"), BotUttered("first question?"),
        ActionExecuted("action_listen"), UserUttered("no", deny, [], {"text": "no", "intent": deny}),
    ], domain.slots)
    selective = EndpointConfig("http://127.0.0.1:1/webhook", enable_selective_domain=True)
    call = RemoteAction("validate_screening_form", selective)._action_call_format(tracker, domain)  # noqa: SLF001
    assert set(call["domain"]) == {"version", "slots", "forms"}
    whole = domain.as_dict()
    assert len(json.dumps(call["domain"])) < len(json.dumps(whole)) / 2
    assert all(call["domain"][key] == whole[key] for key in call["domain"])

    def validate(sent_domain: dict) -> tuple[list, list]:
        dispatcher = CollectingDispatcher()
        events = asyncio.run(ValidateScreeningForm().run(
            dispatcher, Tracker.from_dict(copy.deepcopy(call["tracker"])), sent_domain))
        return events, dispatcher.messages

    trimmed, full = validate(call["domain"]), validate(whole)
    assert trimmed == full
    assert any(e.get("name") == "screening_answers" for e in trimmed[0])  # it did decide
    # An action that is not a form validation still gets no domain.
    assert "domain" not in RemoteAction("action_answer_faq", selective)._action_call_format(  # noqa: SLF001
        tracker, domain)
