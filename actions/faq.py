"""Answers from knowledge/topics.yml, clinic contact, honest fallbacks."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.tracker_reading import (
    answer_faq,
    contact_text,
    handoff,
    kb,
    latest_intent,
    latest_text,
    looks_like_question,
    other_language_text,
)
from clinic.knowledge import messages as M
from clinic.knowledge.kb import Knowledge
from clinic.knowledge.questions import not_covered_text
from clinic.nlu.input_kind import describe_input
from clinic.nlu.questions import about_microneedling, asks_about_it, asks_what_it_does


def start_buttons(k: Knowledge) -> list[dict[str, str]]:
    """What is microneedling / the benefits / am I a good candidate, offered with fallbacks."""
    return k.buttons(M.FAQ_START_MENU)


class ActionAnswerFaq(Action):
    """Answer the topic of the intent, with its source."""

    def name(self) -> str:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        intent, _ = latest_intent(tracker)
        k = kb()
        if not answer_faq(intent, dispatcher, k):
            dispatcher.utter_message(text=k.say(M.FAQ_NO_ANSWER, contact=contact_text(k)))
        return []


class ActionClinicContact(Action):
    def name(self) -> str:
        return "action_clinic_contact"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        k = kb()
        text = contact_text(k)
        if k.clinic.address:
            text += " " + k.say(M.FAQ_ADDRESS, address=k.clinic.address)
        dispatcher.utter_message(text=text)
        return []


class ActionHandoff(Action):
    """People who want a person: staff can reply here in opening hours (the console's
    inbox lists the conversation); outside them, when someone will, and the phone."""

    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        handoff(tracker, dispatcher, kb())
        return []


class ActionOutOfScope(Action):
    """An honest "I can't help with that here", never an invented answer."""

    def name(self) -> str:
        return "action_out_of_scope"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        k = kb()
        text = latest_text(tracker)
        if handoff(tracker, dispatcher, k, followup=True):
            return []  # the answer to the offer of a call back
        if describe_input(text) == "other_language":
            dispatcher.utter_message(text=other_language_text(k), buttons=start_buttons(k))
            return []
        if about_microneedling(text, k) or asks_what_it_does(text):
            dispatcher.utter_message(text=not_covered_text(k), buttons=start_buttons(k))
            return []
        dispatcher.utter_message(text=k.say(M.FAQ_OUT_OF_SCOPE, contact=contact_text(k)),
                                 buttons=start_buttons(k))
        return []


# What the fallback says, by what the message looked like (clinic.nlu.input_kind.describe_input).
FALLBACKS = {
    "empty": M.FAQ_FALLBACK_EMPTY,
    "long": M.FAQ_FALLBACK_LONG,
    "emoji": M.FAQ_FALLBACK_EMOJI,
    "symbols": M.FAQ_FALLBACK_SYMBOLS,
    "markup": M.FAQ_FALLBACK_MARKUP,
    "other_language": M.FAQ_OTHER_LANGUAGE,
}


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
        if handoff(tracker, dispatcher, k, followup=True):
            return []  # the answer to the offer of a call back
        kind = describe_input(text)
        if kind == "gibberish":
            dispatcher.utter_message(response="utter_gibberish", buttons=start_buttons(k))
        elif kind == "unclear" and looks_like_question(text) and \
                (about_microneedling(text, k) or asks_about_it(text)):
            dispatcher.utter_message(text=not_covered_text(k), buttons=start_buttons(k))
        else:
            message = FALLBACKS.get(kind, M.FAQ_FALLBACK_UNCLEAR)
            dispatcher.utter_message(text=k.say(message), buttons=start_buttons(k))
        return [UserUtteranceReverted()]
