"""Answers from knowledge/topics.yml, clinic contact, honest fallbacks."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    answer_faq,
    contact_text,
    handoff_text,
    kb,
    latest_intent,
    latest_text,
    looks_like_question,
)
from clinic.questions import about_microneedling, not_covered_text
from clinic.text_kind import describe_input

START_BUTTONS = [
    {"title": "What is microneedling?", "payload": "/ask_what_is"},
    {"title": "The benefits", "payload": "/ask_benefits"},
    {"title": "Am I a good candidate?", "payload": "/check_eligibility"},
]


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
        text = latest_text(tracker)
        if describe_input(text) == "other_language":
            dispatcher.utter_message(text=other_language_text(k), buttons=START_BUTTONS)
            return []
        if about_microneedling(text, k):
            dispatcher.utter_message(text=not_covered_text(k), buttons=START_BUTTONS)
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
    """When the assistant is not confident: say what it can do, never guess.

    It is also RulePolicy's core fallback (config.yml), predicted when no rule or story
    knows what comes next. Like Rasa's own action_default_fallback it therefore reverts the
    person's message: without that, the next prediction meets the same unknown state,
    predicts the fallback again, and after ten of them Rasa's circuit breaker stops the
    conversation for good.
    """

    def name(self) -> str:
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        k = kb()
        text = latest_text(tracker)
        kind = describe_input(text)
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
        if kind == "gibberish":
            dispatcher.utter_message(response="utter_gibberish", buttons=START_BUTTONS)
        elif kind == "unclear" and looks_like_question(text) and about_microneedling(text, k):
            dispatcher.utter_message(text=not_covered_text(k), buttons=START_BUTTONS)
        else:
            text = texts.get(kind) or (
                "Sorry, I didn't quite understand. I can tell you about microneedling and the "
                "research behind it, check whether it suits you, or help you book. If your "
                f"question is about something else, please call the clinic at {k.clinic.phone}.")
            dispatcher.utter_message(text=text, buttons=START_BUTTONS)
        return [UserUtteranceReverted()]
