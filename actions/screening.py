"""The screening form: questions, order and outcome come from knowledge/screening.yml."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    answer_side_question,
    consultation_contact,
    is_payload,
    kb,
    latest_intent,
    latest_text,
    safety_mentions,
    screening_answers,
    screening_result,
)
from actions.conversation import OFFER_BOOK, OFFER_RESUME, offer
from actions.faq import other_language_text
from actions.safety import RECORDED, reaction_to_mention, stop_active_form
from clinic.answers import parse_answer
from clinic.kb import OUTCOME_ELIGIBLE, OUTCOME_NOT_SUITABLE_NOW, Knowledge
from clinic.screening import Answer, coerce_answer
from clinic.text_kind import describe_input, is_go_back, meant_answer

ANSWER_BUTTONS = [
    {"title": "Yes", "payload": "/affirm"},
    {"title": "No", "payload": "/deny"},
    {"title": "Not sure", "payload": "/unsure"},
]
INTENT_ANSWERS = {"affirm": Answer.YES, "deny": Answer.NO, "unsure": Answer.UNSURE}
ECHO = {"yes": "yes", "no": "no", "unsure": "not sure"}
ANSWER_CONFIDENCE = 0.5
STOP_CONFIDENCE = 0.6


def resolve_answer(text: str, intent: str | None, confidence: float) -> Answer | None:
    """A reply to a yes/no question: the typed words decide, the intent backs them up.

    Buttons send /affirm, /deny, /unsure. When the words and the classifier disagree on
    yes versus no, the question is asked again rather than guessed.
    """
    from_intent = INTENT_ANSWERS.get(intent or "") if confidence >= ANSWER_CONFIDENCE else None
    if is_payload(text):
        return from_intent
    from_words = parse_answer(text)
    if from_words is None:
        return from_intent
    if from_intent is not None and {from_words, from_intent} == {Answer.YES, Answer.NO}:
        return None
    return from_words


def decided(answers: dict[str, Any], k: Knowledge) -> bool:
    """True once an answer makes microneedling unsuitable for now: more questions can't
    change that, so the form stops asking."""
    return any(coerce_answer(answers.get(rule.id)) == Answer.YES
               and rule.outcome == OUTCOME_NOT_SUITABLE_NOW
               for rule in k.screening.contraindications)


def next_slot(answers: dict[str, Any], k: Knowledge) -> str | None:
    if decided(answers, k):
        return None
    for rule in k.screening.contraindications:
        if coerce_answer(answers.get(rule.id)) is None:
            return rule.slot
    return None


class ValidateScreeningForm(FormValidationAction):
    """Reads each reply: an answer, a safety mention, a question aside, or a stop."""

    def name(self) -> str:
        return "validate_screening_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        return kb().screening.slots

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        k = kb()
        requested = tracker.get_slot("requested_slot")
        text = latest_text(tracker)
        intent, confidence = latest_intent(tracker)
        events: list[EventType] = []

        if requested and intent == "report_urgent_symptoms":
            return []  # the urgent-care rule takes over
        if requested and is_go_back(text):
            return self._go_back(dispatcher, tracker, k, requested, text)
        if requested and intent == "stop" and confidence >= STOP_CONFIDENCE \
                and parse_answer(text) is None:
            return []  # the stop rule takes over

        answers = screening_answers(tracker, k)
        events += self._record_mentions(dispatcher, tracker, k, answers, requested)

        if requested is None:
            self._introduce(dispatcher, answers, k)
        elif coerce_answer(answers.get(requested.removeprefix("screen_"))) is None:
            answer, said_other = self._answer_to_requested(tracker, requested, text, intent,
                                                           confidence)
            if answer is not None:
                answers[requested.removeprefix("screen_")] = answer.value
                events.append(SlotSet(requested, answer.value))
            elif answer_side_question(tracker, dispatcher, k):
                dispatcher.utter_message(text="Now, back to the safety questions.")
                events.append(SlotSet(requested, None))
            elif said_other:
                events.append(SlotSet(requested, None))  # asked again, after the reaction
            else:
                if describe_input(text) == "other_language":
                    dispatcher.utter_message(text=other_language_text(k))
                dispatcher.utter_message(
                    text="Sorry, I didn't catch that. Please answer Yes, No or Not sure, or "
                         "say \"pause\" to stop the questions for now.")
                events.append(SlotSet(requested, None))
        if requested:
            given = next((e["value"] for e in events
                          if e.get("event") == "slot" and e.get("name") == requested
                          and e.get("value")), None)
            if given:
                dispatcher.utter_message(response="utter_screening_echo",
                                         screen_echo=ECHO[given])
                events.append(SlotSet("screen_last", requested))
        events.append(SlotSet("requested_slot", next_slot(answers, k)))
        return events

    @staticmethod
    def _go_back(dispatcher: CollectingDispatcher, tracker: Tracker, k: Knowledge,
                 requested: str, text: str) -> list[EventType]:
        """"go back" asks the last answered question again; "I meant yes" changes it."""
        last = tracker.get_slot("screen_last")
        answers = screening_answers(tracker, k)
        if not last or coerce_answer(tracker.get_slot(last)) is None:
            dispatcher.utter_message(response="utter_screening_nothing_to_undo")
            return [SlotSet(requested, None), SlotSet("requested_slot", requested)]
        meant = meant_answer(text)
        if meant:
            answers[last.removeprefix("screen_")] = meant
            dispatcher.utter_message(response="utter_screening_changed", screen_echo=ECHO[meant])
            return [SlotSet(last, meant), SlotSet(requested, None),
                    SlotSet("requested_slot", next_slot(answers, k))]
        answers[last.removeprefix("screen_")] = None
        dispatcher.utter_message(response="utter_screening_go_back")
        return [SlotSet(last, None), SlotSet(requested, None), SlotSet("screen_last", None),
                SlotSet("requested_slot", last)]

    @staticmethod
    def _answer_to_requested(tracker: Tracker, requested: str, text: str, intent: str | None,
                             confidence: float) -> tuple[Answer | None, bool]:
        """The answer to the requested question, and whether other conditions were named.

        "I'm not on accutane" said while the pregnancy question is open is no answer to it:
        when a reply names other conditions, only a leading answer ("no, but I take
        warfarin") counts, never words about those conditions.
        """
        rule_id = requested.removeprefix("screen_")
        others = [m for m in safety_mentions(tracker, "contraindication")
                  if m.get("value") != rule_id]
        if not others:
            return resolve_answer(text, intent, confidence), False
        clause = re.split(r"[,.;!]|\bbut\b", text, maxsplit=1)[0]
        if any(int(m.get("start") or 0) < len(clause) for m in others):
            return None, True
        return parse_answer(clause), True

    @staticmethod
    def _introduce(dispatcher: CollectingDispatcher, answers: dict[str, Any],
                   k: Knowledge) -> None:
        if any(coerce_answer(v) is not None for v in answers.values()):
            if next_slot(answers, k):
                dispatcher.utter_message(text="Let's carry on with the safety questions.")
            return
        count = len(k.screening.contraindications)
        dispatcher.utter_message(
            text=f"I'll ask up to {count} short safety questions. Answer Yes, No or Not sure; "
                 f"say \"pause\" at any time to stop for now. {k.clinic.disclaimer}")

    @staticmethod
    def _record_mentions(dispatcher: CollectingDispatcher, tracker: Tracker, k: Knowledge,
                         answers: dict[str, Any], requested: str | None) -> list[EventType]:
        """Contraindications said in the reply's own words count as answers."""
        events: list[EventType] = []
        for mention in safety_mentions(tracker, "contraindication"):
            rule_id, status = mention.get("value"), mention.get("role") or "affirmed"
            try:
                rule = k.screening.by_id(rule_id)
            except KeyError:
                continue
            current = coerce_answer(answers.get(rule_id))
            if status in RECORDED:
                value = RECORDED[status]
                if current == Answer.YES or (current is not None and value == "unsure"
                                             and current == Answer.UNSURE):
                    continue
                answers[rule_id] = value
                events.append(SlotSet(rule.slot, value))
                if rule.slot != requested:
                    dispatcher.utter_message(text=reaction_to_mention(rule_id, status, k))
            elif status == "negated" and rule.slot == requested and current is None:
                answers[rule_id] = Answer.NO.value
                events.append(SlotSet(rule.slot, Answer.NO.value))
            elif status in ("third_party", "hypothetical") and rule.slot != requested:
                dispatcher.utter_message(text=reaction_to_mention(rule_id, status, k))
        return events


def _make_ask_action(rule_id: str) -> type[Action]:
    """The action that asks one screening question (one per contraindication)."""

    class AskScreeningQuestion(Action):
        def name(self) -> str:
            return f"action_ask_screen_{rule_id}"

        async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                      domain: DomainDict) -> list[EventType]:
            k = kb()
            rules = k.screening.contraindications
            position = next(i for i, r in enumerate(rules) if r.id == rule_id) + 1
            dispatcher.utter_message(
                text=f"Question {position} of {len(rules)}: {k.screening.by_id(rule_id).question}",
                buttons=ANSWER_BUTTONS)
            return []

    AskScreeningQuestion.__name__ = f"ActionAskScreen_{rule_id}"
    AskScreeningQuestion.__qualname__ = AskScreeningQuestion.__name__
    return AskScreeningQuestion


ASK_ACTIONS = {rule.id: _make_ask_action(rule.id) for rule in kb().screening.contraindications}


class ActionScreeningOutcome(Action):
    """Says the outcome in kind words and decides what comes next."""

    def name(self) -> str:
        return "action_screening_outcome"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        k = kb()
        result = screening_result(tracker, k)
        wanted = bool(tracker.get_slot("booking_wanted"))
        dispatcher.utter_message(text=result.patient_message(k))
        events: list[EventType] = [SlotSet("screening_outcome", result.outcome)]
        if result.outcome == OUTCOME_ELIGIBLE:
            if wanted:
                events.append(SlotSet("booking_next", "booking"))
            else:
                dispatcher.utter_message(response="utter_ask_book")
                events.append(SlotSet("booking_next", "none"))
                events += offer(OFFER_BOOK)
            return events
        dispatcher.utter_message(
            text="If you'd like to talk it over, a practitioner can see you for a consultation: "
                 f"{consultation_contact(k)}.")
        events += [SlotSet("booking_next", "refused"), SlotSet("booking_wanted", False)]
        return events


class ActionStopForm(Action):
    """Stops the screening (answers kept) or the booking (nothing saved)."""

    def name(self) -> str:
        return "action_stop_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        loop = (tracker.active_loop or {}).get("name")
        events: list[EventType] = []
        if loop == "booking_form":
            dispatcher.utter_message(
                text="Okay, I've cancelled the booking request; nothing was saved. Say "
                     "\"book\" whenever you want to start again.")
        elif loop == "screening_form":
            dispatcher.utter_message(response="utter_paused_offer")
            events = offer(OFFER_RESUME)
        else:
            dispatcher.utter_message(response="utter_nothing_to_stop")
        return stop_active_form(tracker) + [SlotSet("booking_wanted", False)] + events


__all__ = ["ValidateScreeningForm", "ActionScreeningOutcome", "ActionStopForm",
           "ASK_ACTIONS", "resolve_answer", "screening_answers"]
