"""Answers from knowledge/topics.yml, clinic contact, honest fallbacks."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    answer_faq,
    contact_text,
    handoff_text,
    kb,
    latest_intent,
    latest_text,
)

LONG_MESSAGE = 1000
START_BUTTONS = [
    {"title": "What is microneedling?", "payload": "/ask_what_is"},
    {"title": "The benefits", "payload": "/ask_benefits"},
    {"title": "Am I a good candidate?", "payload": "/check_eligibility"},
]
_ENGLISH_HINTS = re.compile(
    r"\b(the|a|an|is|are|was|be|i|you|my|me|it|this|that|what|how|can|do|does|and|or|but|so|"
    r"to|of|for|with|on|in|at|see|not|no|yes|please|have|get|want|need|will|about|help)\b",
    re.IGNORECASE,
)
_LINKS = re.compile(r"\[[^\]]*\]\([^)]*\)|\b\w+:(//)?\S+")


def describe_input(text: str) -> str:
    """Classify an unusual message so the reply can say what went wrong."""
    stripped = text.strip()
    if not stripped:
        return "empty"
    if len(stripped) > LONG_MESSAGE:
        return "long"
    letters = [ch for ch in stripped if ch.isalpha()]
    if not letters:
        if any(unicodedata.category(ch) == "So" for ch in stripped):
            return "emoji"
        return "symbols"
    if re.search(r"<\s*/?\s*[a-z][^>]*>", stripped, re.IGNORECASE):
        return "markup"
    non_latin = sum(1 for ch in letters if not ch.isascii())
    prose = _LINKS.sub(" ", stripped)
    words = re.findall(r"[^\W\d_]+", prose)
    if non_latin > len(letters) / 3 or (len(words) >= 4 and not _ENGLISH_HINTS.search(prose)):
        return "other_language"
    return "unclear"


class ActionAnswerFaq(Action):
    """Answer the topic of the intent, with its source."""

    def name(self) -> str:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        intent, _ = latest_intent(tracker)
        if not answer_faq(intent, dispatcher, kb()):
            dispatcher.utter_message(text="Sorry, I don't have an answer for that here. "
                                          + contact_text(kb()))
        return []


class ActionClinicContact(Action):
    def name(self) -> str:
        return "action_clinic_contact"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        k = kb()
        text = contact_text(k)
        if k.clinic.address:
            text += f" Address: {k.clinic.address}."
        dispatcher.utter_message(text=text)
        return []


class ActionHandoff(Action):
    """People who want a person: staff can reply here in opening hours (the console's
    inbox lists the conversation); outside them, when someone will, and the phone."""

    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=handoff_text(kb()))
        return []


class ActionOutOfScope(Action):
    """An honest "I can't help with that here", never an invented answer."""

    def name(self) -> str:
        return "action_out_of_scope"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        k = kb()
        if describe_input(latest_text(tracker)) == "other_language":
            dispatcher.utter_message(text=other_language_text(k), buttons=START_BUTTONS)
            return []
        dispatcher.utter_message(
            text="I'm sorry, I can't help with that here: I can only answer questions about "
                 "microneedling, check whether it suits you, and help you book. For anything "
                 f"else, including prices, please contact the clinic. {contact_text(k)}",
            buttons=START_BUTTONS)
        return []


def other_language_text(k) -> str:
    return ("Sorry, I can only chat in English for now. "
            f"Please call {k.clinic.name} at {k.clinic.phone} or email {k.clinic.email}.")


class ActionFallback(Action):
    """When the assistant is not confident: say what it can do, never guess."""

    def name(self) -> str:
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        k = kb()
        kind = describe_input(latest_text(tracker))
        texts = {
            "empty": "It looks like your message was empty. What would you like to know "
                     "about microneedling?",
            "long": "That's a long message! Could you ask me one question at a time? "
                    "I can tell you about microneedling, check whether it suits you, and help "
                    "you book.",
            "emoji": "😊 I can only read words, I'm afraid. What would you like to know about "
                     "microneedling?",
            "symbols": "I didn't catch that. What would you like to know about microneedling?",
            "markup": "I can only read plain text. What would you like to know about "
                      "microneedling?",
            "other_language": other_language_text(k),
        }
        text = texts.get(kind) or (
            "Sorry, I didn't quite understand. I can tell you about microneedling and the "
            "research behind it, check whether it suits you, or help you book. If your "
            f"question is about something else, please call the clinic at {k.clinic.phone}.")
        dispatcher.utter_message(text=text, buttons=START_BUTTONS)
        return []
