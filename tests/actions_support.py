"""Build Rasa SDK trackers and run actions directly (no servers), for the action tests."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from clinic.kb import knowledge

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())
ALL_NO = {rule.slot: "no" for rule in knowledge().screening.contraindications}


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
    import yaml

    from clinic.kb import PROJECT_ROOT

    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    template = domain["responses"][name][0]["text"]
    return template.format_map({k: v for k, v in message.items() if isinstance(v, str)})


def slot_events(events: list[dict]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
