"""Urgent warning signs and contraindications mentioned in free text, at any time."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.tracker_reading import kb, safety_mentions, screening_answers, screening_result
from clinic.knowledge import messages as M
from clinic.knowledge.kb import Knowledge, Outcome
from clinic.nlu.safety_mention import MentionKind, MentionStatus, SafetyMention
from clinic.rules.screening import ANSWERS_SLOT, Answer, coerce_answer

BOOKING_SLOTS = ("booking_name", "booking_phone", "booking_email", "booking_treatment",
                 "booking_times", "booking_sms_consent", "booking_sms_consent_at",
                 "booking_confirm")


def stop_active_form(tracker: Tracker) -> list[dict[str, Any]]:
    """Events that end any active form; booking details are dropped (nothing half-saved).

    They are returned even when no form is active, so the dialogue rules for these actions
    look the same inside and outside forms.
    """
    loop = (tracker.active_loop or {}).get("name")
    events: list[dict[str, Any]] = [ActiveLoop(None), SlotSet("requested_slot", None)]
    if loop == "booking_form":
        events += [SlotSet(slot, None) for slot in BOOKING_SLOTS]
    return events


class ActionUrgentCare(Action):
    """Seek-care-now message, before anything else."""

    def name(self) -> str:
        return "action_urgent_care"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        k = kb()
        levels = {sign.id: sign.level for sign in k.urgent_signs}
        found = {levels.get(m.id, "urgent") for m in safety_mentions(tracker, MentionKind.URGENT)}
        # Over-warn: a warning-sign message without a recognised term gets the urgent text.
        level = "emergency" if "emergency" in found else "urgent"
        dispatcher.utter_message(text=k.fill(k.urgent_messages[level]))
        return stop_active_form(tracker)


def reaction_to_mention(rule_id: str, status: MentionStatus, k: Knowledge) -> str:
    """What the assistant says about one contraindication mention."""
    rule = k.screening.by_id(rule_id)
    if status is MentionStatus.AFFIRMED:
        if rule.outcome is Outcome.NOT_SUITABLE_NOW:
            return k.say(M.SAFETY_MENTION_NOT_SUITABLE_NOW, explanation=rule.explanation,
                         what_would_change=rule.what_would_change)
        return k.say(M.SAFETY_MENTION_PRACTITIONER_REVIEW, explanation=rule.explanation)
    if status is MentionStatus.UNCERTAIN:
        return k.say(M.SAFETY_MENTION_UNCERTAIN, explanation=rule.explanation,
                     unsure_reason=k.screening.unsure_reason)
    if status is MentionStatus.THIRD_PARTY:
        return k.say(M.SAFETY_MENTION_THIRD_PARTY)
    return k.say(M.SAFETY_MENTION_HYPOTHETICAL, explanation=rule.explanation)


def record_mention(answers: dict[str, Any], mention: SafetyMention) -> bool:
    """Count a mention as the answer to its question; True if the answer changed.

    A "yes" is never downgraded to "not sure" by a later, vaguer mention.
    """
    value = mention.recorded_answer
    if value is None or coerce_answer(answers.get(mention.id)) is Answer.YES:
        return False
    if coerce_answer(answers.get(mention.id)) is coerce_answer(value):
        return False
    answers[mention.id] = value
    return True


class ActionHandleContraindication(Action):
    """Answer a contraindication mentioned in free text and count it in the screening."""

    def name(self) -> str:
        return "action_handle_contraindication"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        k = kb()
        events: list[dict[str, Any]] = []
        said: set[tuple[str, MentionStatus]] = set()
        answers = screening_answers(tracker, k)
        recorded = False
        for mention in safety_mentions(tracker, MentionKind.CONTRAINDICATION):
            if (mention.id, mention.status) in said or mention.status is MentionStatus.NEGATED:
                continue
            said.add((mention.id, mention.status))
            try:
                k.screening.by_id(mention.id)
            except KeyError:
                continue
            dispatcher.utter_message(text=reaction_to_mention(mention.id, mention.status, k))
            if mention.is_recorded:
                record_mention(answers, mention)
                recorded = True
        if recorded:
            events.append(SlotSet(ANSWERS_SLOT, answers))
            tracker.slots[ANSWERS_SLOT] = answers
        if not said:
            dispatcher.utter_message(**k.utter(M.SAFETY_TELL_ME_MORE))
            return events + stop_active_form(tracker)
        if (tracker.active_loop or {}).get("name") == "booking_form":
            dispatcher.utter_message(text=k.say(M.SAFETY_BOOKING_STOPPED))
            return events + stop_active_form(tracker)
        if recorded:
            result = screening_result(tracker, k)
            if result.outcome not in (Outcome.ELIGIBLE, Outcome.INCOMPLETE):
                dispatcher.utter_message(text=k.say(M.SAFETY_TALK_IT_OVER))
            elif result.unanswered:
                dispatcher.utter_message(**k.utter(M.SAFETY_OFFER_SCREENING))
                events += [SlotSet("pending_offer", "screening")]
        return events + stop_active_form(tracker)
