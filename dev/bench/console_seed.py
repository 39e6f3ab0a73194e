"""Seed Rasa's SQL tracker store with made-up conversations (console tests and benchmark).

Rows are written exactly as ``rasa.core.tracker_store.SQLTrackerStore.save`` writes them
(``type_name``, ``intent_name`` from the parse data, ``action_name`` = the event's
``name``, ``data`` = ``json.dumps(event.as_dict())``), but in bulk: saving 10,000
trackers one by one through Rasa would take minutes. A unit test checks that the two agree.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import create_engine

UNANSWERED = [
    "do you sell gift cards", "Do you sell gift cards?", "can I bring my dog",
    "do you take insurance", "do you take my insurance?", "what about botox",
    "is there parking nearby", "do you do laser hair removal",
]


@dataclass
class Conversation:
    """A conversation to seed: a sender id, a channel and Rasa events."""

    sender_id: str
    channel: str = "socketio"
    start: float = 1_764_000_000.0
    events: list[Any] = field(default_factory=list)
    clock: float = 0.0

    def _t(self) -> float:
        self.clock += 3.0
        return self.start + self.clock

    def user(self, text: str, intent: str, confidence: float = 0.9) -> Conversation:
        from rasa.shared.core.events import UserUttered

        self.events.append(UserUttered(text, intent={"name": intent, "confidence": confidence},
                                       parse_data={"intent": {"name": intent,
                                                              "confidence": confidence},
                                                   "entities": [], "text": text},
                                       input_channel=self.channel, timestamp=self._t()))
        return self

    def action(self, name: str) -> Conversation:
        from rasa.shared.core.events import ActionExecuted

        self.events.append(ActionExecuted(name, timestamp=self._t()))
        return self

    def bot(self, text: str) -> Conversation:
        from rasa.shared.core.events import BotUttered

        self.events.append(BotUttered(text, timestamp=self._t()))
        return self

    def slot(self, name: str, value: Any) -> Conversation:
        from rasa.shared.core.events import SlotSet

        self.events.append(SlotSet(name, value, timestamp=self._t()))
        return self

    def loop(self, name: str | None) -> Conversation:
        from rasa.shared.core.events import ActiveLoop

        self.events.append(ActiveLoop(name, timestamp=self._t()))
        return self

    def turn(self, text: str, intent: str, action: str, reply: str = "ok") -> Conversation:
        """A patient message, the action that answered it, its reply and a listen."""
        return self.user(text, intent).action(action).bot(reply).action("action_listen")


def rows(conversation: Conversation) -> Iterator[dict[str, Any]]:
    """The ``events`` rows Rasa would write for this conversation."""
    for event in conversation.events:
        data = event.as_dict()
        yield {"sender_id": conversation.sender_id, "type_name": event.type_name,
               "timestamp": data.get("timestamp"),
               "intent_name": data.get("parse_data", {}).get("intent", {}).get("name"),
               "action_name": data.get("name"), "data": json.dumps(data)}


def write(url: str, conversations: Iterable[Conversation], batch: int = 5000) -> int:
    """Insert the conversations into the tracker store at ``url`` (creating ``events``
    with Rasa's own table definition if needed); returns the number of rows."""
    from clinic.store.rasa_events import EVENTS

    engine = create_engine(url, future=True)
    EVENTS.metadata.create_all(engine, tables=[EVENTS])
    total, pending = 0, []
    with engine.begin() as connection:
        for conversation in conversations:
            pending.extend(rows(conversation))
            if len(pending) >= batch:
                connection.execute(EVENTS.insert(), pending)
                total += len(pending)
                pending = []
        if pending:
            connection.execute(EVENTS.insert(), pending)
            total += len(pending)
    engine.dispose()
    return total


def synthetic(count: int, start: float, days: int = 30, seed: int = 7) -> Iterator[Conversation]:
    """``count`` varied conversations spread over ``days`` days from ``start``: questions,
    screenings with each outcome, hand-off requests, fallbacks, urgent signs."""
    chooser = random.Random(seed)
    for index in range(count):
        channel = "twilio" if index % 5 == 0 else "socketio"
        sender = f"+1415{index:07d}" if channel == "twilio" else f"w{index:08d}session"
        c = Conversation(sender, channel, start + chooser.random() * days * 86_400)
        c.action("action_session_start").action("action_listen")
        c.turn("what is microneedling", "ask_what_is", "action_answer_faq")
        kind = index % 10
        if kind in (1, 2, 3):
            c.user("am I a good candidate", "check_eligibility").loop("screening_form")
            for _ in range(3):
                c.action("action_ask_screening_question").action("action_listen").user("no", "deny")
            outcome = ("eligible", "not_suitable_now", "practitioner_review")[kind - 1]
            c.loop(None).action("action_screening_outcome").slot("screening_outcome", outcome)
        elif kind == 4:
            c.turn("can I talk to someone", "human_handoff", "action_handoff")
        elif kind == 5:
            text = chooser.choice(UNANSWERED)
            c.turn(text, "nlu_fallback", "action_fallback")
            c.turn(text + " please", "nlu_fallback", "action_fallback")
        elif kind == 6:
            c.turn(chooser.choice(UNANSWERED), "out_of_scope", "action_out_of_scope")
        elif kind == 7:
            c.turn("my face is swelling badly", "report_urgent_symptoms", "action_urgent_care")
        c.turn("thanks", "thank", "utter_youre_welcome")
        yield c
