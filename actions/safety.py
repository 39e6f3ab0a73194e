"""Urgent warning signs and contraindications mentioned in free text, at any time."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import kb, safety_mentions, screening_result
from clinic.kb import OUTCOME_ELIGIBLE, OUTCOME_NOT_SUITABLE_NOW, Knowledge

BOOKING_SLOTS = ("booking_name", "booking_phone", "booking_email", "booking_treatment",
                 "booking_times", "booking_sms_consent", "booking_sms_consent_at",
                 "booking_confirm")
RECORDED = {"affirmed": "yes", "uncertain": "unsure"}


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
        found = {levels.get(e.get("value"), "urgent") for e in safety_mentions(tracker, "urgent")}
        # Over-warn: a warning-sign message without a recognised term gets the urgent text.
        level = "emergency" if "emergency" in found else "urgent"
        dispatcher.utter_message(text=k.fill(k.urgent_messages[level]))
        return stop_active_form(tracker)


def reaction_to_mention(rule_id: str, status: str, k: Knowledge) -> str:
    """What the assistant says about one contraindication mention."""
    rule = k.screening.by_id(rule_id)
    if status == "affirmed":
        follow = (rule.what_would_change if rule.outcome == OUTCOME_NOT_SUITABLE_NOW
                  else "I've noted it so a practitioner can review it with you.")
        return f"Thank you for telling me. {rule.explanation} {follow}"
    if status == "uncertain":
        return (f"{rule.explanation} {k.screening.unsure_reason} I've noted that you're not "
                "sure.")
    if status == "third_party":
        return ("It sounds like that's about someone else. If it applies to you too, just tell "
                "me and I'll take it into account.")
    # hypothetical
    return (f"{rule.explanation} If this applies to you, tell me and I'll take it into "
            "account; the screening questions also ask about it.")


class ActionHandleContraindication(Action):
    """Answer a contraindication mentioned in free text and count it in the screening."""

    def name(self) -> str:
        return "action_handle_contraindication"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        k = kb()
        events: list[dict[str, Any]] = []
        said: set[tuple[str, str]] = set()
        recorded = False
        for mention in safety_mentions(tracker, "contraindication"):
            rule_id, status = mention.get("value"), mention.get("role") or "affirmed"
            if (rule_id, status) in said or status == "negated":
                continue
            said.add((rule_id, status))
            try:
                rule = k.screening.by_id(rule_id)
            except KeyError:
                continue
            dispatcher.utter_message(text=reaction_to_mention(rule_id, status, k))
            if status in RECORDED:
                # A "yes" is never downgraded to "not sure" by a later, vaguer mention.
                if not (status == "uncertain" and tracker.get_slot(rule.slot) == "yes"):
                    events.append(SlotSet(rule.slot, RECORDED[status]))
                    tracker.slots[rule.slot] = RECORDED[status]
                recorded = True
        if not said:
            dispatcher.utter_message(
                text="Could you tell me a little more? I can go through the clinic's safety "
                     "questions with you to see whether microneedling suits you.",
                buttons=[{"title": "Check if it suits me", "payload": "/check_eligibility"}])
            return events + stop_active_form(tracker)
        if (tracker.active_loop or {}).get("name") == "booking_form":
            dispatcher.utter_message(
                text="Because of this, I've stopped the booking and nothing was saved. "
                     f"Please call {k.clinic.phone} to talk it over with a practitioner.")
            return events + stop_active_form(tracker)
        if recorded:
            result = screening_result(tracker, k)
            if result.outcome != OUTCOME_ELIGIBLE and result.outcome != "incomplete":
                dispatcher.utter_message(
                    text=f"{k.clinic.disclaimer} To talk it over with a practitioner, call "
                         f"{k.clinic.phone} or book a consultation at {k.clinic.booking_url}.")
            elif result.unanswered:
                dispatcher.utter_message(
                    text="Would you like to go through the other safety questions?",
                    buttons=[{"title": "Yes, check if it suits me",
                              "payload": "/check_eligibility"},
                             {"title": "Not now", "payload": "/deny"}])
                events += [SlotSet("pending_offer", "screening")]
        return events + stop_active_form(tracker)
