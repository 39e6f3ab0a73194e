"""Typed replies to the bot's own offers, "continue", and the common patient questions."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import FALLBACKS, ActionOutOfScope
from actions.safety import correction_events
from actions.tracker_reading import (
    answer_patient_questions,
    gate_booking,
    kb,
    latest_intent,
    latest_text,
    screening_result,
)
from clinic.knowledge import messages as M
from clinic.knowledge.kb import OUTCOME_INCOMPLETE
from clinic.nlu.answers import parse_answer
from clinic.nlu.input_kind import describe_input, is_payload, is_restart
from clinic.rules.screening import Answer

OFFER_BOOK = "book"
OFFER_SCREENING = "screening"
OFFER_RESUME = "resume"
PENDING_OFFER = "pending_offer"


def pending_offer(tracker: Tracker) -> str | None:
    """What the bot offered in its turn just before the latest message, if anything.

    An offer counts only right after it was made: "yes" after an FAQ answer that came
    later is not a "yes" to an older offer.
    """
    seen_latest_user = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if seen_latest_user:
                return None
            seen_latest_user = True
            continue
        if seen_latest_user and kind == "slot" and event.get("name") == PENDING_OFFER:
            value = event.get("value")
            return value if isinstance(value, str) else None
    return None


def offer(name: str) -> list[dict[str, Any]]:
    """The event that remembers an offer the bot just made."""
    return [SlotSet(PENDING_OFFER, name)]


def no_words_no_yes(text: str) -> bool:
    """A typed reply of emoji or punctuation alone that is no clear yes ("😀", "🙏", "...").

    The classifier reads such replies as affirm; only a thumbs up or a check mark is a yes.
    """
    return (not is_payload(text) and not any(ch.isalnum() for ch in text)
            and parse_answer(text) is not Answer.YES)


def screening_started(tracker: Tracker) -> bool:
    result = screening_result(tracker, kb())
    answered = len(kb().screening.contraindications) - len(result.unanswered)
    return result.outcome == OUTCOME_INCOMPLETE and answered > 0


class ActionReplyToOffer(Action):
    """"yes", "sure", "not now", "continue" typed after an offer do what its buttons do.

    Sets ``booking_next`` so the rules start the screening or the booking form (as after
    action_booking_gate), or ``none`` when nothing starts.
    """

    def name(self) -> str:
        return "action_reply_to_offer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        k = kb()
        intent, _ = latest_intent(tracker)
        offered = pending_offer(tracker)
        events: list[dict[str, Any]] = [SlotSet(PENDING_OFFER, None)]
        # "wait I meant no", "go back", "start over" after the questions ended (the guard
        # reads "I meant no" as deny, "go back" and "start over" as resume): the answers
        # change and the screening runs again. After resume or affirm the rules start the
        # form from booking_next; after deny or unsure the action asks for it.
        corrected = correction_events(tracker, dispatcher, k)
        if corrected is not None:
            if intent in ("resume", "affirm"):
                return events + corrected
            return events + corrected + [FollowupAction("screening_form")]
        if intent == "resume" and is_restart(latest_text(tracker)) and \
                not screening_started(tracker):
            # "start over" with nothing answered: the greeting's menu, as before.
            dispatcher.utter_message(response="utter_greet")
            return events + [SlotSet("booking_next", "none")]
        if intent in ("deny", "unsure"):
            dispatcher.utter_message(response="utter_no_problem")
            return events + [SlotSet("booking_next", "none")]
        if no_words_no_yes(latest_text(tracker)):
            # Never a yes: said so, and the offer still stands for a "yes" that follows.
            kind = describe_input(latest_text(tracker))
            dispatcher.utter_message(text=k.say(FALLBACKS.get(kind, M.FAQ_FALLBACK_UNCLEAR)))
            return events + [SlotSet("booking_next", "none")] + (
                offer(offered) if offered else [])
        # affirm or resume
        if offered is None and intent == "resume" and screening_started(tracker):
            offered = OFFER_RESUME
        if offered in (OFFER_SCREENING, OFFER_RESUME):
            return events + [SlotSet("booking_next", "screening")]
        if offered == OFFER_BOOK:
            return events + gate_booking(tracker, dispatcher, k)
        if intent == "resume":
            dispatcher.utter_message(response="utter_nothing_to_resume")
        else:
            dispatcher.utter_message(response="utter_what_next")
        return events + [SlotSet("booking_next", "none")]


class ActionAnswerPatientQuestion(Action):
    def name(self) -> str:
        return "action_answer_patient_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        events = answer_patient_questions(tracker, dispatcher)
        if events is not None:
            return events
        # No pattern matched: honest "not covered" for microneedling, else out of scope.
        return await ActionOutOfScope().run(dispatcher, tracker, domain)
