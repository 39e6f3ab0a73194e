"""Helpers shared by the actions: rendering knowledge, reading the tracker, side questions."""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from clinic.config.settings import settings
from clinic.knowledge import messages as M
from clinic.knowledge.kb import OUTCOME_ELIGIBLE, OUTCOME_INCOMPLETE, Knowledge, knowledge
from clinic.knowledge.medicines import add_noted, say_list, things_to_note
from clinic.knowledge.questions import patient_questions, render_answer
from clinic.knowledge.topic_answers import render_topic, topic_buttons
from clinic.nlu.callback import (
    ASK_KEY,
    ASKED,
    RECORDED,
    asked_for_contact,
    asks_for_callback,
    followup_reply,
    handoff_reply,
    read_contact,
)
from clinic.nlu.input_kind import is_payload
from clinic.nlu.questions import match_question
from clinic.nlu.safety_mention import MentionKind, SafetyMention
from clinic.nlu.subjects import NOTED_QUESTION, TOPIC_PREFIX
from clinic.rules import hours
from clinic.rules.promotion import overview
from clinic.rules.screening import ANSWERS_SLOT, ScreeningResult, answers_from_slots, evaluate
from clinic.services.inbox_store import add_callback
from clinic.services.promotion import clinic_today

# Intents that are a question aside, answered without leaving a form.
log = logging.getLogger(__name__)
SIDE_INTENTS = ("ask_contact", "ask_promotion", "human_handoff", "bot_challenge")
SIDE_CONFIDENCE = 0.6
QUESTION_START = re.compile(
    r"^\s*(what|how|why|when|where|who|which|can|could|is|are|does|do|will|should|tell me)\b",
    re.IGNORECASE,
)


def kb() -> Knowledge:
    """The clinic's knowledge (loaded and checked once per process)."""
    return knowledge()


def latest_intent(tracker: Tracker) -> tuple[str | None, float]:
    intent = (tracker.latest_message or {}).get("intent") or {}
    return intent.get("name"), float(intent.get("confidence") or 0.0)


def latest_text(tracker: Tracker) -> str:
    return (tracker.latest_message or {}).get("text") or ""


def looks_like_question(text: str) -> bool:
    return "?" in text or bool(QUESTION_START.match(text))


def safety_mentions(tracker: Tracker, kind: MentionKind) -> list[SafetyMention]:
    """Mentions the safety component added to the latest message, of one kind."""
    latest = tracker.latest_message or {}
    text = latest.get("text") or ""
    mentions = (SafetyMention.from_entity(e, text) for e in latest.get("entities") or [])
    return [m for m in mentions if m is not None and m.kind is kind]


def screening_answers(tracker: Tracker, k: Knowledge) -> dict[str, Any]:
    """The answers so far, keyed by contraindication id (None: not answered)."""
    return answers_from_slots(tracker.slots, k.screening)


def screening_result(tracker: Tracker, k: Knowledge) -> ScreeningResult:
    """The screening outcome derived from the answers (never from a stored outcome)."""
    return evaluate(screening_answers(tracker, k), k.screening)


def contact_text(k: Knowledge) -> str:
    return k.say(M.COMMON_CONTACT)


def handoff(tracker: Tracker, dispatcher: CollectingDispatcher, k: Knowledge,
            followup: bool = False) -> bool:
    """Answer a request for a person (``followup``: a message that may answer the offer of
    a call back); records a callback request in the console's inbox when the person gave a
    number or an address. False if ``followup`` and the message is not about a call back.
    """
    text = latest_text(tracker)
    now, tz = hours.now(), settings().tz
    asked = asked_for_contact(tracker.events)
    if followup:
        if not asked:
            return False
        reply = followup_reply(k, text, now=now, tz=tz)
    else:
        reply = handoff_reply(k, text, channel=tracker.get_latest_input_channel() or "",
                              sender_id=tracker.sender_id, now=now, tz=tz, asked=asked)
    if reply.callback is not None:
        try:
            add_callback(tracker.sender_id, tracker.get_latest_input_channel() or "",
                         reply.callback, reply.call_from)
        except SQLAlchemyError as error:
            # Never confirm a request that was not recorded (no details in the log).
            log.error("A callback request could not be recorded: %s", type(error).__name__)
            dispatcher.utter_message(text=contact_text(k))
            return True
    extra = {ASK_KEY: ASKED} if reply.asks else \
        {ASK_KEY: RECORDED} if reply.callback is not None else {}
    dispatcher.utter_message(text=reply.text, **extra)
    return True


def consultation_contact(k: Knowledge) -> str:
    """How to reach the clinic for a practitioner's consultation."""
    return k.say(M.CONSULTATION_CONTACT)


def gate_booking(tracker: Tracker, dispatcher: CollectingDispatcher,
                 k: Knowledge) -> list[dict[str, Any]]:
    """Someone wants to book: only with a complete, eligible screening.

    The events that start the booking form, the screening first (said so), or refuse (said
    why, with how to see a practitioner). ``booking_next`` tells the rules which.
    """
    outcome = screening_result(tracker, k).outcome
    if outcome == OUTCOME_ELIGIBLE:
        return [SlotSet("booking_wanted", True), SlotSet("booking_next", "booking")]
    if outcome == OUTCOME_INCOMPLETE:
        dispatcher.utter_message(text=k.say(M.BOOKING_SCREENING_FIRST))
        return [SlotSet("booking_wanted", True), SlotSet("booking_next", "screening")]
    dispatcher.utter_message(text=k.say(M.BOOKING_REFUSED))
    return [SlotSet("booking_wanted", False), SlotSet("booking_next", "refused")]


def patient_question_ids(tracker: Tracker) -> list[str]:
    """The answers the latest message asks for: patient question ids and "topic:<id>"."""
    ids: list[str] = []
    for entity in (tracker.latest_message or {}).get("entities") or []:
        # A typed payload (/ask{"patient_topic": ...}) can give any JSON value: only a
        # string is a question id.
        value = entity.get("value")
        if entity.get("entity") == "patient_topic" and isinstance(value, str) and \
                value not in ids:
            ids.append(value)
    if ids:
        return ids
    question = match_question((tracker.latest_message or {}).get("text") or "")
    return [question.id] if question else []


def patient_question_id(tracker: Tracker) -> str | None:
    ids = patient_question_ids(tracker)
    return ids[0] if ids else None


def answer_patient_question(tracker: Tracker, dispatcher: CollectingDispatcher) -> bool:
    """Answer the patient question of the latest message; False if there is none."""
    return answer_patient_questions(tracker, dispatcher) is not None


def answer_patient_questions(tracker: Tracker,
                             dispatcher: CollectingDispatcher) -> list[dict[str, Any]] | None:
    """Answer every subject of the latest message (issue 18); the events to apply, or None
    when there was nothing to answer.

    A medicine or condition the clinic has not classified is named back, noted for the
    practitioner (screening summary, staff console) and the screening offered.
    """
    k = kb()
    events: list[dict[str, Any]] = []
    answered = False
    for answer_id in patient_question_ids(tracker):
        if answer_id.startswith(TOPIC_PREFIX):
            topic = next((t for t in k.topics if t.id == answer_id[len(TOPIC_PREFIX):]), None)
            if topic is not None:
                dispatcher.utter_message(text=render_topic(topic, k))
                answered = True
            continue
        if answer_id == NOTED_QUESTION:
            noted = note_for_practitioner(tracker, dispatcher, k)
            if noted is not None:
                events += noted
                answered = True
                continue
        try:
            question = patient_questions().by_id(answer_id)
        except KeyError:
            continue
        dispatcher.utter_message(text=render_answer(question, k))
        answered = True
    return events if answered else None


def note_for_practitioner(tracker: Tracker, dispatcher: CollectingDispatcher,
                          k: Knowledge) -> list[dict[str, Any]] | None:
    """Say back and note the medicines and conditions to check; None if none is named."""
    text = latest_text(tracker)
    names = things_to_note(text)
    if not names and not text.strip():
        return None
    # Nothing named that a vocabulary knows: the practitioner gets the person's own words.
    said = say_list(names) if names else "that"
    dispatcher.utter_message(text=k.say(M.SAFETY_NOTED_FOR_PRACTITIONER, what=said))
    stored = add_noted(tracker.get_slot(ANSWERS_SLOT), names or [f'"{text.strip()[:120]}"'])
    tracker.slots[ANSWERS_SLOT] = stored
    events: list[dict[str, Any]] = [SlotSet(ANSWERS_SLOT, stored)]
    if screening_result(tracker, k).unanswered and not (tracker.active_loop or {}).get("name"):
        dispatcher.utter_message(**k.utter(M.SAFETY_OFFER_SCREENING))
        events.append(SlotSet("pending_offer", "screening"))
    return events


def answer_faq(intent: str | None, dispatcher: CollectingDispatcher, k: Knowledge) -> bool:
    """Answer the FAQ topic of an intent; False if the intent is not an FAQ topic."""
    topic = k.topic_for_intent(intent or "")
    if topic is None:
        return False
    dispatcher.utter_message(text=render_topic(topic, k), buttons=topic_buttons(topic, k))
    return True


def answer_side_question(tracker: Tracker, dispatcher: CollectingDispatcher,
                         k: Knowledge) -> bool:
    """Inside a form: answer a question asked aside; True if one was answered."""
    intent, confidence = latest_intent(tracker)
    text = latest_text(tracker)
    if confidence < SIDE_CONFIDENCE and not is_payload(text):
        return False
    topic = k.topic_for_intent(intent or "")
    if topic is not None:
        dispatcher.utter_message(text=render_topic(topic, k))
        return True
    if intent == "human_handoff":
        if read_contact(text).reachable and not asks_for_callback(text):
            return False  # a number or an address the form asked for, not a request
        return handoff(tracker, dispatcher, k)
    if intent == "ask_contact":
        dispatcher.utter_message(text=contact_text(k))
        return True
    if intent == "bot_challenge":
        dispatcher.utter_message(response="utter_iamabot")
        return True
    if intent == "ask_patient_question":
        return answer_patient_question(tracker, dispatcher)
    if intent == "ask_promotion":
        outcome = screening_result(tracker, k).outcome
        dispatcher.utter_message(text=overview(outcome, k, clinic_today()))
        return True
    return False


def other_language_text(k: Knowledge) -> str:
    """Said to a message in another language or script."""
    return k.say(M.FAQ_OTHER_LANGUAGE)
