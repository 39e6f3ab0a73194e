"""The screening form: questions, order and outcome come from knowledge/screening.yml."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import OFFER_BOOK, OFFER_RESUME, offer
from actions.promotion import extract_code
from actions.safety import LAST_SLOT, reaction_to_mention, record_mention, stop_active_form
from actions.tracker_reading import (
    answer_side_question,
    kb,
    latest_intent,
    latest_text,
    other_language_text,
    safety_mentions,
    screening_answers,
    screening_result,
)
from clinic.knowledge import messages as M
from clinic.knowledge.kb import Contraindication, Knowledge, Outcome
from clinic.nlu.answers import is_acknowledgement, parse_answer, resolve_answer
from clinic.nlu.input_kind import describe_input, is_go_back, is_restart, meant_answer
from clinic.nlu.safety_mention import MentionKind, MentionStatus
from clinic.rules.promotion import check_code_before_screening
from clinic.rules.screening import ANSWERS_SLOT, Answer, coerce_answer, position, question_to_ask
from clinic.services.promotion import clinic_today

# How an answer is said back (utter_screening_echo / utter_screening_changed).
ECHO = {Answer.YES: M.SCREENING_ECHO_YES, Answer.NO: M.SCREENING_ECHO_NO,
        Answer.UNSURE: M.SCREENING_ECHO_UNSURE}
STOP_CONFIDENCE = 0.6


def echo(answer: Answer, k: Knowledge) -> str:
    """The answer in words, as it is said back ("not sure")."""
    return k.say(ECHO[answer])


QUESTION_SLOT = "screening_question"  # the form's one required slot: the reply to a question


def hands_over_to_rules(text: str, intent: str | None, confidence: float) -> bool:
    """A reply the dialogue rules take (urgent warning signs, a stop), not the form."""
    if intent == "report_urgent_symptoms":
        return True
    if is_go_back(text):
        return False
    return intent == "stop" and confidence >= STOP_CONFIDENCE and parse_answer(text) is None


class ValidateScreeningForm(FormValidationAction):
    """Reads each reply: an answer, a safety mention, a question aside, or a stop.

    The form has one required slot, ``screening_question``: ``extract_screening_question``
    takes the reply to the question being asked, ``validate_screening_question`` records
    what it says in ``screening_answers`` and empties the slot again, so the form asks the
    next question (``action_ask_screening_question``) until ``required_slots`` is empty:
    every question answered, or an answer that makes it "not suitable now".
    """

    def name(self) -> str:
        return "validate_screening_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        k = kb()
        if question_to_ask(screening_answers(tracker, k), k.screening) is None:
            return []  # the form ends (requested_slot None)
        return [QUESTION_SLOT]

    async def extract_screening_question(self, dispatcher: CollectingDispatcher,
                                         tracker: Tracker,
                                         domain: DomainDict) -> dict[str, Any]:
        """The reply, unless it is for the rules: then nothing is extracted, the form's
        execution is rejected and the stop or urgent-care rule runs."""
        text = latest_text(tracker)
        intent, confidence = latest_intent(tracker)
        if tracker.get_slot("requested_slot") and hands_over_to_rules(text, intent, confidence):
            return {}
        return {QUESTION_SLOT: text}

    async def validate_screening_question(self, value: Any, dispatcher: CollectingDispatcher,
                                          tracker: Tracker,
                                          domain: DomainDict) -> dict[str, Any]:
        k = kb()
        text = value if isinstance(value, str) else latest_text(tracker)
        requested = tracker.get_slot("requested_slot")
        answers = screening_answers(tracker, k)
        before = dict(answers)
        if requested and is_go_back(text):
            return self._go_back(dispatcher, tracker, k, answers, text)
        if requested and is_restart(text):
            # "start over" mid-way: every answer dropped, the first question asked again.
            dispatcher.utter_message(text=k.say(M.SCREENING_RESTARTED))
            return {QUESTION_SLOT: None, LAST_SLOT: None,
                    ANSWERS_SLOT: {rule.id: None for rule in k.screening.contraindications}}
        asking = question_to_ask(answers, k.screening) if requested else None
        asked_what = self._record_mentions(dispatcher, tracker, k, answers, asking)
        slots: dict[str, Any] = {QUESTION_SLOT: None}  # asked again, or the next question
        if asking is None:
            self._introduce(dispatcher, answers, k)
        else:
            if coerce_answer(answers.get(asking.id)) is None:
                if asked_what:
                    # "what is accutane?" typed at the Accutane question is a question, never
                    # a yes or no: what the knowledge says about it, then the same question.
                    dispatcher.utter_message(text=k.say(M.SCREENING_TERM_EXPLAINED,
                                                        explanation=asking.explanation))
                else:
                    self._read_answer(dispatcher, tracker, k, answers, asking, text)
            given = coerce_answer(answers.get(asking.id))
            if given is not None and answers.get(asking.id) != before.get(asking.id):
                dispatcher.utter_message(response="utter_screening_echo",
                                         screen_echo=echo(given, k))
                slots[LAST_SLOT] = asking.id
        if answers != before:
            slots[ANSWERS_SLOT] = answers
        return slots

    def _read_answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, k: Knowledge,
                     answers: dict[str, Any], asking: Contraindication, text: str) -> None:
        """The reply to the question being asked: an answer, a question aside, or neither."""
        intent, confidence = latest_intent(tracker)
        if is_acknowledgement(text):
            # "ok" / "sure" typed at "Are you pregnant?" is no answer: never recorded, the
            # question is asked again (with its Yes / No / Not sure buttons).
            dispatcher.utter_message(text=k.say(M.SCREENING_NEEDS_YES_OR_NO))
            return
        answer, said_other = self._answer_to(tracker, asking, text, intent, confidence)
        code = extract_code(text, k) if intent == "enter_promo_code" else None
        if answer is not None:
            answers[asking.id] = answer.value
        elif code:
            # A code typed mid-way gets its own answer (unknown, expired, or "after the
            # questions"), then the question again.
            dispatcher.utter_message(
                text=check_code_before_screening(code, k, today=clinic_today()).message)
            dispatcher.utter_message(text=k.say(M.SCREENING_BACK_TO_QUESTIONS))
        elif answer_side_question(tracker, dispatcher, k):
            dispatcher.utter_message(text=k.say(M.SCREENING_BACK_TO_QUESTIONS))
        elif not said_other:  # other conditions named: asked again, after the reaction
            if describe_input(text) == "other_language":
                dispatcher.utter_message(text=other_language_text(k))
            dispatcher.utter_message(text=k.say(M.SCREENING_NOT_UNDERSTOOD))

    @staticmethod
    def _go_back(dispatcher: CollectingDispatcher, tracker: Tracker, k: Knowledge,
                 answers: dict[str, Any], text: str) -> dict[str, Any]:
        """"go back" asks the last answered question again; "I meant yes" changes it."""
        last = tracker.get_slot(LAST_SLOT)
        if not last or coerce_answer(answers.get(last)) is None:
            dispatcher.utter_message(response="utter_screening_nothing_to_undo")
            return {QUESTION_SLOT: None}
        meant = coerce_answer(meant_answer(text))
        if meant is not None:
            answers[last] = meant.value
            dispatcher.utter_message(response="utter_screening_changed",
                                     screen_echo=echo(meant, k))
            return {QUESTION_SLOT: None, ANSWERS_SLOT: answers}
        # Every question before the last answered one has an answer, so it is asked next.
        answers[last] = None
        dispatcher.utter_message(response="utter_screening_go_back")
        return {QUESTION_SLOT: None, ANSWERS_SLOT: answers, LAST_SLOT: None}

    @staticmethod
    def _answer_to(tracker: Tracker, asking: Contraindication, text: str, intent: str | None,
                   confidence: float) -> tuple[Answer | None, bool]:
        """The answer to the question being asked, and whether other conditions were named.

        "I'm not on accutane" said while the pregnancy question is open is no answer to it:
        when a reply names other conditions, only a leading answer ("no, but I take
        warfarin") counts, never words about those conditions.
        """
        others = [m for m in safety_mentions(tracker, MentionKind.CONTRAINDICATION)
                  if m.id != asking.id]
        if not others:
            return resolve_answer(text, intent, confidence), False
        clause = re.split(r"[,.;!]|\bbut\b", text, maxsplit=1)[0]
        if any(m.start < len(clause) for m in others):
            return None, True
        return parse_answer(clause), True

    @staticmethod
    def _introduce(dispatcher: CollectingDispatcher, answers: dict[str, Any],
                   k: Knowledge) -> None:
        if any(coerce_answer(v) is not None for v in answers.values()):
            if question_to_ask(answers, k.screening):
                dispatcher.utter_message(text=k.say(M.SCREENING_CARRY_ON))
            return
        dispatcher.utter_message(text=k.say(M.SCREENING_INTRO,
                                            count=len(k.screening.contraindications)))

    @staticmethod
    def _record_mentions(dispatcher: CollectingDispatcher, tracker: Tracker, k: Knowledge,
                         answers: dict[str, Any], asking: Contraindication | None) -> bool:
        """Contraindications said in the reply's own words count as answers, whatever the
        question being asked (issue 22: "no. oh btw I'm expecting" at question 5).

        True when the reply only asks about the words of the question being asked ("what
        is accutane?", "does aspirin count?"): that question is then explained, not answered.
        """
        asked_what = False
        text = latest_text(tracker)
        for mention in safety_mentions(tracker, MentionKind.CONTRAINDICATION):
            try:
                k.screening.by_id(mention.id)
            except KeyError:
                continue
            asked = asking is not None and mention.id == asking.id
            if mention.is_recorded:
                if record_mention(answers, mention) and not asked:
                    dispatcher.utter_message(
                        text=reaction_to_mention(mention.id, mention.status, k, text))
            elif mention.status is MentionStatus.NEGATED:
                # A clear "no" answers the question being asked, never one not asked yet.
                if asked and coerce_answer(answers.get(mention.id)) is None:
                    answers[mention.id] = Answer.NO.value
            elif not asked:  # about someone else, or a general question
                dispatcher.utter_message(
                    text=reaction_to_mention(mention.id, mention.status, k, text))
            elif mention.status is MentionStatus.HYPOTHETICAL:
                asked_what = True
        return asked_what and asking is not None and coerce_answer(
            answers.get(asking.id)) is None


class ActionAskScreeningQuestion(Action):
    """Asks the next screening question, in the order of knowledge/screening.yml."""

    def name(self) -> str:
        return "action_ask_screening_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        k = kb()
        rule = question_to_ask(screening_answers(tracker, k), k.screening)
        if rule is None:
            return []
        dispatcher.utter_message(**k.utter(
            M.SCREENING_QUESTION, number=position(rule, k.screening),
            count=len(k.screening.contraindications), question=rule.question))
        return []


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
        events: list[EventType] = [SlotSet("screening_outcome", result.outcome.value)]
        if result.outcome is Outcome.ELIGIBLE:
            if wanted:
                events.append(SlotSet("booking_next", "booking"))
            else:
                dispatcher.utter_message(response="utter_ask_book")
                events.append(SlotSet("booking_next", "none"))
                events += offer(OFFER_BOOK)
            return events
        dispatcher.utter_message(text=k.say(M.COMMON_SEE_PRACTITIONER))
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
            dispatcher.utter_message(text=kb().say(M.SCREENING_BOOKING_CANCELLED))
        elif loop == "screening_form":
            dispatcher.utter_message(response="utter_paused_offer")
            events = offer(OFFER_RESUME)
        else:
            dispatcher.utter_message(response="utter_nothing_to_stop")
        return stop_active_form(tracker) + [SlotSet("booking_wanted", False)] + events


__all__ = ["ValidateScreeningForm", "ActionAskScreeningQuestion", "ActionScreeningOutcome",
           "ActionStopForm", "screening_answers"]
