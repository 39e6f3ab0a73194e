"""Urgent warning signs and contraindications mentioned in free text, at any time."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.tracker_reading import kb, latest_text, safety_mentions, screening_answers, screening_result
from clinic.knowledge import messages as M
from clinic.knowledge.kb import Knowledge, Outcome
from clinic.nlu.corrections import CorrectionKind, correction
from clinic.nlu.safety_mention import MentionKind, MentionStatus, SafetyMention
from clinic.nlu.safety_phrasing import speaks_of_self
from clinic.rules.screening import ANSWERS_SLOT, Answer, coerce_answer

BOOKING_SLOTS = ("booking_name", "booking_phone", "booking_email", "booking_treatment",
                 "booking_times", "booking_sms_consent", "booking_sms_consent_at",
                 "booking_confirm")


LAST_SLOT = "screen_last"  # the id of the question answered last, for "go back"
ECHO_KEYS = {Answer.YES: M.SCREENING_ECHO_YES, Answer.NO: M.SCREENING_ECHO_NO,
             Answer.UNSURE: M.SCREENING_ECHO_UNSURE}


def correction_events(tracker: Tracker, dispatcher: CollectingDispatcher,
                      k: Knowledge) -> list[dict[str, Any]] | None:
    """After the questions ended: "wait I meant no", "go back", "start over", or a clear no
    to the question answered last, change the answers (clinic.nlu.corrections) and say so.

    The events set the new answers and ``booking_next: screening``; the caller then runs the
    screening form, which asks what is left and gives the outcome of the new answers. None
    if the latest message is no correction, or a form is active (the form reads its own).
    """
    if (tracker.active_loop or {}).get("name"):
        return None
    negated = {m.id for m in safety_mentions(tracker, MentionKind.CONTRAINDICATION)
               if m.status is MentionStatus.NEGATED}
    found = correction(latest_text(tracker), screening_answers(tracker, k),
                       tracker.get_slot(LAST_SLOT), k.screening, negated)
    if found is None:
        return None
    events: list[dict[str, Any]] = [SlotSet(ANSWERS_SLOT, found.answers),
                                     SlotSet("screening_outcome", None),
                                     SlotSet("booking_next", "screening")]
    if found.kind is CorrectionKind.RESTART:
        dispatcher.utter_message(text=k.say(M.SCREENING_RESTARTED))
        events.append(SlotSet(LAST_SLOT, None))
    elif found.kind is CorrectionKind.REOPENED:
        dispatcher.utter_message(text=k.say(M.SCREENING_REOPENED))
        events.append(SlotSet(LAST_SLOT, None))
    else:
        assert found.answer is not None
        dispatcher.utter_message(text=k.say(M.SCREENING_CORRECTED,
                                            screen_echo=k.say(ECHO_KEYS[found.answer])))
    tracker.slots[ANSWERS_SLOT] = found.answers
    return events


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


def reaction_to_mention(rule_id: str, status: MentionStatus, k: Knowledge,
                        text: str = "") -> str:
    """What the assistant says about one contraindication mention in message ``text``."""
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
    if speaks_of_self(text):
        return k.say(M.SAFETY_MENTION_GENERAL, explanation=rule.explanation)
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
        # "I have NOT had any surgery or botox" right after a mistaken "yep" ended the
        # questions: the answer is corrected and the screening runs again (issue 22).
        corrected = correction_events(tracker, dispatcher, k)
        events: list[dict[str, Any]] = list(corrected or [])
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
            dispatcher.utter_message(text=reaction_to_mention(mention.id, mention.status, k,
                                                                   latest_text(tracker)))
            if mention.is_recorded:
                record_mention(answers, mention)
                recorded = True
        if recorded:
            events.append(SlotSet(ANSWERS_SLOT, answers))
            tracker.slots[ANSWERS_SLOT] = answers
        if not said and corrected is not None:
            return events + stop_active_form(tracker) + [FollowupAction("screening_form")]
        if not said:
            dispatcher.utter_message(**k.utter(M.SAFETY_TELL_ME_MORE))
            return events + stop_active_form(tracker)
        if (tracker.active_loop or {}).get("name") == "booking_form":
            dispatcher.utter_message(text=k.say(M.SAFETY_BOOKING_STOPPED))
            # Nothing may carry on to the booking from here: only a new, eligible screening.
            ruled_out = screening_result(tracker, k).outcome is not Outcome.ELIGIBLE
            events += [SlotSet("booking_next", "refused" if ruled_out else "none"),
                       SlotSet("booking_wanted", False)]
            return events + stop_active_form(tracker)
        if recorded:
            result = screening_result(tracker, k)
            if result.outcome not in (Outcome.ELIGIBLE, Outcome.INCOMPLETE):
                dispatcher.utter_message(text=k.say(M.SAFETY_TALK_IT_OVER))
            elif result.unanswered:
                dispatcher.utter_message(**k.utter(M.SAFETY_OFFER_SCREENING))
                events += [SlotSet("pending_offer", "screening")]
        return events + stop_active_form(tracker)
