"""Build Rasa SDK trackers and run actions directly (no servers), for the action tests."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from clinic.knowledge.kb import knowledge
from clinic.rules.screening import ANSWERS_SLOT

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())


def answers_slots(answers: dict[str, Any] | None = None, **by_id: Any) -> dict[str, Any]:
    """Slots holding screening answers keyed by contraindication id (``pregnancy="no"``)."""
    return {ANSWERS_SLOT: {**(answers or {}), **by_id}}


def all_no(**overrides: Any) -> dict[str, Any]:
    """Slots with a clear "no" to every question of the current knowledge, then overrides."""
    return answers_slots({rule.id: "no" for rule in knowledge().screening.contraindications},
                         **overrides)


ALL_NO = all_no()


def entity(kind: str, value: str, role: str = "affirmed", start: int = 0, end: int = 1) -> dict:
    return {"entity": kind, "value": value, "role": role, "start": start, "end": end,
            "extractor": "SafetyTermsClassifier"}


def make_tracker(text: str = "", intent: str | None = None, confidence: float = 1.0,
                 slots: dict[str, Any] | None = None, entities: list[dict] | None = None,
                 active_loop: str | None = None, sender: str = "test-user",
                 channel: str = "rest") -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": confidence},
              "entities": entities or []}
    events = [{"event": "user", "text": text, "parse_data": latest, "input_channel": channel}]
    return Tracker(sender, dict(slots or {}), latest, events, False, None,
                   {"name": active_loop} if active_loop else {}, "action_listen")


def run_action(action, tracker: Tracker) -> tuple[list[dict], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, DOMAIN))
    return events, dispatcher


def texts(dispatcher: CollectingDispatcher) -> str:
    """The texts sent, with domain.yml responses (``response=...``) filled in."""
    return "\n".join(m.get("text") or _response_text(m) for m in dispatcher.messages)


def _response_text(message: dict) -> str:
    name = message.get("response")
    if not name:
        return ""
    template = DOMAIN["responses"][name][0]["text"]
    return template.format_map({k: v for k, v in message.items() if isinstance(v, str)})


def slot_events(events: list[dict]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def answers_set(events: list[dict]) -> dict[str, Any]:
    """The screening answers the events store ({} if they store none)."""
    return slot_events(events).get(ANSWERS_SLOT) or {}


def form_turn(validate, ask, text: str, intent: str | None, slots: dict[str, Any],
              form: str, requested: str | None, **kw: Any) -> tuple[list[dict], str, dict]:
    """One turn of a form the way Rasa's FormAction runs it: the validation action on the
    reply, then (unless it ended the form or rejected the reply) the ask action on the
    slots as they are now. Returns the validation events, the texts said, and the slots.
    """
    tracker = make_tracker(text, intent=intent, active_loop=form,
                           slots={**slots, "requested_slot": requested}, **kw)
    events, dispatcher = run_action(validate, tracker)
    said = [texts(dispatcher)]
    now = {**slots, "requested_slot": requested, **slot_events(events)}
    done = any(e.get("event") == "slot" and e.get("name") == "requested_slot"
               and e.get("value") is None for e in events)
    if events and not done:
        # FormAction: the first of the form's required slots still empty is requested.
        if not any(e.get("name") == "requested_slot" for e in events):
            now["requested_slot"] = next(
                (slot for slot in DOMAIN["forms"][form]["required_slots"] if now.get(slot) is None),
                None)
        ask_events, ask_dispatcher = run_action(ask, make_tracker(slots=now, active_loop=form))
        now.update(slot_events(ask_events))
        said.append(texts(ask_dispatcher))
    return events, "\n".join(t for t in said if t), now
