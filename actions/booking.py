"""Booking hand-off: gate on the screening, collect details, save the request."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.promotion import extract_code, handle_typed_code
from actions.safety import BOOKING_SLOTS
from actions.tracker_reading import (
    answer_side_question,
    gate_booking,
    kb,
    latest_intent,
    latest_text,
    looks_like_question,
    other_language_text,
    safety_mentions,
    screening_answers,
    screening_result,
)
from clinic.config.settings import settings
from clinic.knowledge import messages as M
from clinic.knowledge.kb import OUTCOME_ELIGIBLE, Knowledge, Promotion
from clinic.nlu.answers import resolve_answer
from clinic.nlu.input_kind import describe_input, is_payload, looks_like_times, not_a_name, promo_code_in
from clinic.nlu.safety_mention import MentionKind
from clinic.rules.booking import (
    BookingDraft,
    NotEligible,
    clean_name,
    normalize_email,
    normalize_phone,
    parse_preferred_times,
)
from clinic.rules.screening import Answer
from clinic.services.booking import preview_promotion, save_booking
from clinic.services.promotion import clinic_today
from clinic.services.webhook import deliver_in_background
from clinic.store.db import DatabaseUnavailable

logger = logging.getLogger(__name__)

FORM_SLOTS = ("booking_name", "booking_phone", "booking_email", "booking_treatment",
              "booking_times", "booking_sms_consent", "booking_confirm")
NO_EMAIL = "none"
SKIP_WORDS = re.compile(r"^\s*(skip|no|nope|nah|n|none|no thanks|no email|n/?a|rather not|pass|"
                        r"not now)\b", re.IGNORECASE)
DECLINE_WORDS = re.compile(r"^\s*(no|nope|nah|no thanks?|no thank you|don'?t|do not)\b[\s.!]*$",
                           re.IGNORECASE)
# Questions whose ordinary answers ("skip", "no thanks") the classifier may read as "stop".
ANSWERS_THAT_LOOK_LIKE_STOP = ("booking_email", "booking_sms_consent", "booking_confirm")
MAX_TIMES_TEXT = 500
# A "stop" the classifier reads must also say so: a name like "Wilhelmina Quistgaard" never
# cancels the booking, nor does "skip" at a question that has to be answered (it is asked
# again; "skip" at the e-mail question is its answer).
STOP_WORDS = re.compile(
    r"\b(stop|cancel|quit|end|exit|pause|never ?mind|nvm|forget|abort|enough|changed my mind|"
    r"don'?t want|do not want|leave it|drop it|no more|done|no thanks?|halt|later|"
    r"skip (?:this whole thing|the whole thing|all of it|everything|it all|the booking))\b",
    re.IGNORECASE)


# "my name is Ana Lee", "it's Ana": the name is what follows.
INTRODUCTION = re.compile(
    r"^\s*(?:(?:hi|hello|hey)\b[\s,!.]*)?(?:my name is|my name's|name is|name\s*:|i am|i'm|"
    r"it's|it is|this is|you can call me|call me)\s+", re.IGNORECASE)


STOP_CONFIDENCE = 0.6
# Over SMS, "What mobile number can the clinic reach you on?" is often answered with the
# number the person is texting from.
THIS_NUMBER = re.compile(
    r"^\s*(?:(?:yes|yeah|yep|ok|okay|sure)\b[\s,.!]*)?(?:please\s+)?(?:use\s+|it'?s\s+|on\s+)?"
    r"(?:this|the same|same|my|current)(?:\s+(?:number|one|mobile|phone|cell))?"
    r"(?:\s+(?:i'?m|i am)\s+texting\s+(?:from|on|with))?(?:\s+please)?[\s.!]*$"
    r"|^\s*(?:the\s+)?(?:number|one)\s+(?:i'?m|i am)\s+texting\s+(?:from|on|with)[\s.!]*$",
    re.IGNORECASE)


def texting_number(text: str, tracker: Tracker) -> str | None:
    """The person's own number when they text "this number" to the phone question by SMS."""
    if tracker.get_latest_input_channel() != "twilio" or not THIS_NUMBER.match(text or ""):
        return None
    return normalize_phone(tracker.sender_id)


class ActionBookingGate(Action):
    """Booking is only for people whose screening is complete and eligible."""

    def name(self) -> str:
        return "action_booking_gate"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        return gate_booking(tracker, dispatcher, kb())


def treatment_from_text(text: str, k: Knowledge) -> str | None:
    """Which treatment a reply names (button titles, or words like "face", "scalp")."""
    lowered = text.lower().strip()
    for treatment in k.clinic.treatments:
        if lowered in (treatment.id, treatment.label.lower()):
            return treatment.id
    if re.search(r"\b(not sure|unsure|don'?t know|no idea|either)\b", lowered):
        return "not_sure"
    scalp = re.search(r"\b(scalp|hair|head|bald|alopecia|thinning|receding|hairline)", lowered)
    face = re.search(r"\b(face|facial|skin|cheeks?|forehead|acne|scars?|melasma|wrinkles?|"
                     r"fine lines|pigmentation|dark spots|pores|complexion|chin|jaw|neck)",
                     lowered)
    if scalp and not face:
        return "scalp_microneedling"
    if face and not scalp:
        return "facial_microneedling"
    return None


def chosen_treatment(tracker: Tracker, k: Knowledge) -> str | None:
    """The treatment a button sent as an entity, if it is one the clinic offers."""
    offered = {t.id for t in k.clinic.treatments}
    for item in (tracker.latest_message or {}).get("entities") or []:
        # A typed payload (/inform{"treatment": [...]}) can give any JSON value; a list or
        # a dict is not hashable and made the `in` test raise TypeError.
        value = item.get("value")
        if item.get("entity") == "treatment" and isinstance(value, str) and value in offered:
            return value
    return None


# Asked again when a reply is no answer to the question.
PROBLEMS = {
    "booking_name": M.BOOKING_PROBLEM_NAME,
    "booking_phone": M.BOOKING_PROBLEM_PHONE,
    "booking_email": M.BOOKING_PROBLEM_EMAIL,
    "booking_treatment": M.BOOKING_PROBLEM_TREATMENT,
    "booking_times": M.BOOKING_PROBLEM_TIMES,
    "booking_sms_consent": M.BOOKING_PROBLEM_SMS_CONSENT,
    "booking_confirm": M.BOOKING_PROBLEM_CONFIRM,
}


class ValidateBookingForm(FormValidationAction):
    """The booking form, the SDK's way: ``extract_<slot>`` reads the reply to the question
    being asked, ``validate_<slot>`` checks it and asks again with a specific message.

    Every slot has a custom mapping, so nothing is extracted unless the reply answers the
    requested question. Extraction returns nothing for a reply that ends the form's turn (a
    real "stop", an urgent sign, a new contraindication): Rasa then rejects the form and
    the rules take over. Validation sets the slot to None for a reply that is no answer
    (a question asked aside, a promotion code, a typo), which keeps the form on the same
    question.
    """

    def name(self) -> str:
        return "validate_booking_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        return list(FORM_SLOTS)

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        if screening_result(tracker, kb()).outcome != OUTCOME_ELIGIBLE:
            # Defence in depth: the gate keeps ineligible people out of this form.
            dispatcher.utter_message(text=kb().say(M.BOOKING_FORM_REFUSED))
            return [SlotSet(slot, "refused") for slot in FORM_SLOTS] + \
                [SlotSet(REQUESTED_SLOT, None)]
        events: list[EventType] = await super().run(dispatcher, tracker, domain)
        return events

    async def next_requested_slot(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> EventType | None:
        """The first unanswered question, in FORM_SLOTS order; nothing when the reply to
        the requested question was not read (the form's turn is rejected)."""
        requested = tracker.get_slot(REQUESTED_SLOT)
        if requested and tracker.get_slot(requested) is None \
                and requested not in tracker.slots_to_validate():
            return None
        return SlotSet(REQUESTED_SLOT, next((slot for slot in FORM_SLOTS
                                             if tracker.get_slot(slot) is None), None))

    # ----------------------------------------------------------------- extraction

    def _reply_to(self, slot: str, tracker: Tracker) -> dict[str, Any]:
        """The reply as the candidate value of ``slot`` when ``slot`` is being asked."""
        if tracker.get_slot(REQUESTED_SLOT) != slot or tracker.get_slot(slot) is not None:
            return {}
        if self._ends_the_turn(slot, tracker):
            return {}
        return {slot: latest_text(tracker)}

    @staticmethod
    def _ends_the_turn(slot: str, tracker: Tracker) -> bool:
        """An urgent sign, a new contraindication or a real "stop" while ``slot`` is asked."""
        intent, confidence = latest_intent(tracker)
        if intent == "report_urgent_symptoms":
            return True
        if any(m.is_recorded for m in safety_mentions(tracker, MentionKind.CONTRAINDICATION)):
            return True  # a new contraindication stops the booking (rule)
        text = latest_text(tracker)
        if intent == "stop" and confidence >= STOP_CONFIDENCE and STOP_WORDS.search(text):
            # "skip" or "no thanks" to these questions is an answer, not a stop
            return not (slot in ANSWERS_THAT_LOOK_LIKE_STOP
                        and parse_answer(slot, text, intent, confidence, kb()) is not None)
        return False

    def extract_booking_name(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> dict[str, Any]:
        return self._reply_to("booking_name", tracker)

    def extract_booking_phone(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> dict[str, Any]:
        return self._reply_to("booking_phone", tracker)

    def extract_booking_email(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> dict[str, Any]:
        return self._reply_to("booking_email", tracker)

    def extract_booking_treatment(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> dict[str, Any]:
        return self._reply_to("booking_treatment", tracker)

    def extract_booking_times(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> dict[str, Any]:
        return self._reply_to("booking_times", tracker)

    def extract_booking_sms_consent(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> dict[str, Any]:
        return self._reply_to("booking_sms_consent", tracker)

    def extract_booking_confirm(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> dict[str, Any]:
        return self._reply_to("booking_confirm", tracker)

    # ----------------------------------------------------------------- validation

    @staticmethod
    def _answer(slot: str, text: str, dispatcher: CollectingDispatcher,
                tracker: Tracker) -> dict[str, Any]:
        """``{slot: value}`` for an answer, ``{slot: None}`` (asked again) for anything else.

        A promotion code is answered about that code; a question asked aside is answered
        first; then the reply is read as the answer; a reply that is no answer may still be
        a question without a question mark.
        """
        k = kb()
        intent, confidence = latest_intent(tracker)
        typed_code = extract_code(text, k)
        if intent == "enter_promo_code" or (typed_code and k.promotion(typed_code)
                                            and slot != "booking_name"):
            events = handle_typed_code(dispatcher, tracker, k, asking=slot)
            return {**{e["name"]: e["value"] for e in events}, slot: None}
        asked = is_payload(text) or looks_like_question(text)
        if asked and answer_side_question(tracker, dispatcher, k):
            return {slot: None}
        value = parse_answer(slot, text, intent, confidence, k)
        if slot == "booking_treatment" and value is None:
            value = chosen_treatment(tracker, k)
        if value is None and not asked and answer_side_question(tracker, dispatcher, k):
            return {slot: None}
        if value is None:
            if describe_input(text) == "other_language":
                dispatcher.utter_message(text=other_language_text(k))
            dispatcher.utter_message(text=k.say(PROBLEMS[slot]))
        return {slot: value}

    def validate_booking_name(self, value: Any, dispatcher: CollectingDispatcher,
                              tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        if safety_mentions(tracker, MentionKind.CONTRAINDICATION) or \
                safety_mentions(tracker, MentionKind.URGENT):
            # "I'm not pregnant" (a mention that stops nothing) was saved as the name.
            dispatcher.utter_message(text=kb().say(PROBLEMS["booking_name"]))
            return {"booking_name": None}
        return self._answer("booking_name", value, dispatcher, tracker)

    def validate_booking_phone(self, value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        own = texting_number(value if isinstance(value, str) else "", tracker)
        if own is not None:
            return {"booking_phone": own}
        return self._answer("booking_phone", value, dispatcher, tracker)

    def validate_booking_email(self, value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return self._answer("booking_email", value, dispatcher, tracker)

    def validate_booking_treatment(self, value: Any, dispatcher: CollectingDispatcher,
                                   tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return self._answer("booking_treatment", value, dispatcher, tracker)

    def validate_booking_times(self, value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return self._answer("booking_times", value, dispatcher, tracker)

    def validate_booking_sms_consent(self, value: Any, dispatcher: CollectingDispatcher,
                                     tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        answer = self._answer("booking_sms_consent", value, dispatcher, tracker)
        if answer.get("booking_sms_consent") == "yes":
            answer["booking_sms_consent_at"] = dt.datetime.now(dt.timezone.utc).isoformat()
        return answer

    def validate_booking_confirm(self, value: Any, dispatcher: CollectingDispatcher,
                                 tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        answer = self._answer("booking_confirm", value, dispatcher, tracker)
        if answer.get("booking_confirm") == "no":
            dispatcher.utter_message(text=kb().say(M.BOOKING_CANCELLED))
        return answer


def parse_answer(slot: str, text: str, intent: str | None, confidence: float,
                 k: Knowledge) -> str | None:
    """The value a reply gives the booking question ``slot``, or None if it gives none."""
    if slot == "booking_name":
        text = INTRODUCTION.sub("", text, count=1)
        if is_payload(text) or not_a_name(text):
            return None
        return clean_name(text)
    if slot == "booking_phone":
        return normalize_phone(text)
    if slot == "booking_email":
        # An address first: "no.reply@..." or "na.kim@..." is an address, not a "no".
        email = normalize_email(text)
        if email is None and (intent == "deny" and is_payload(text) or SKIP_WORDS.match(text)):
            return NO_EMAIL
        return email
    if slot == "booking_treatment":
        return treatment_from_text(text, k)
    if slot == "booking_times":
        cleaned = " ".join(text.split())
        if not cleaned or is_payload(cleaned) or len(cleaned) > MAX_TIMES_TEXT:
            return None
        if promo_code_in(cleaned, tuple(p.code for p in k.promotions)) or \
                not looks_like_times(cleaned):
            return None
        return cleaned
    answer = resolve_answer(text, intent, confidence)
    if answer is None and DECLINE_WORDS.match(text):
        answer = Answer.NO
    if answer is None or answer == Answer.UNSURE:
        return None
    return str(answer.value)  # mypy types .value of a union of members as Any


class ActionAskBookingName(Action):
    def name(self) -> str:
        return "action_ask_booking_name"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(**kb().utter(M.BOOKING_ASK_NAME))
        return []


class ActionAskBookingPhone(Action):
    def name(self) -> str:
        return "action_ask_booking_phone"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(**kb().utter(M.BOOKING_ASK_PHONE))
        return []


class ActionAskBookingEmail(Action):
    def name(self) -> str:
        return "action_ask_booking_email"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(**kb().utter(M.BOOKING_ASK_EMAIL))  # with a Skip button
        return []


class ActionAskBookingTimes(Action):
    def name(self) -> str:
        return "action_ask_booking_times"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(**kb().utter(M.BOOKING_ASK_TIMES))
        return []


class ActionAskBookingTreatment(Action):
    def name(self) -> str:
        return "action_ask_booking_treatment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        k = kb()
        treatments = k.clinic.treatments
        dispatcher.utter_message(
            text=k.say(M.BOOKING_ASK_TREATMENT),
            buttons=[{"title": t.label, "payload": f'/inform{{"treatment": "{t.id}"}}'}
                     for t in treatments])
        return []


class ActionAskBookingSmsConsent(Action):
    """Consent to aftercare texts, asked explicitly with the exact wording stored."""

    def name(self) -> str:
        return "action_ask_booking_sms_consent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        k = kb()
        dispatcher.utter_message(**k.utter(M.BOOKING_ASK_SMS_CONSENT,
                                           wording=k.clinic.sms_consent_wording))
        return []


def spoken_moment(moment: dt.datetime) -> str:
    """"Fri Dec 4, 3:00 PM"; a day named without a time is just the day ("Tue Dec 8"),
    never "12:00 AM", which read as a request for midnight."""
    if moment.time() == dt.time(0):
        return moment.strftime("%a %b %-d")
    return moment.strftime("%a %b %-d, %-I:%M %p")


def booking_summary(tracker: Tracker, k: Knowledge) -> str:
    treatment_id = tracker.get_slot("booking_treatment")
    try:
        treatment = k.clinic.treatment(treatment_id).label
    except KeyError:
        treatment = str(treatment_id)
    email = tracker.get_slot("booking_email")
    times_text = tracker.get_slot("booking_times") or ""
    parsed = parse_preferred_times(times_text, dt.datetime.now(settings().tz), settings().tz)
    understood = ""
    if parsed:
        understood = " (" + ", ".join(spoken_moment(p) for p in parsed[:3]) + ")"
    consent = tracker.get_slot("booking_sms_consent") == "yes"
    lines = [k.say(
        M.BOOKING_SUMMARY,
        name=tracker.get_slot("booking_name"),
        phone=tracker.get_slot("booking_phone"),
        email=email if email not in (None, NO_EMAIL) else k.say(M.BOOKING_SUMMARY_NO_EMAIL),
        treatment=treatment,
        times=f"{times_text}{understood}",
        sms_texts=k.say(M.BOOKING_SUMMARY_TEXTS_YES if consent else M.BOOKING_SUMMARY_TEXTS_NO),
    )]
    offer_line = summary_offer(tracker, k)
    if offer_line:
        lines.append(k.say(M.BOOKING_SUMMARY_OFFER, offer=offer_line))
    lines.append(k.say(M.BOOKING_SUMMARY_QUESTION))
    return "\n".join(lines)


def summary_offer(tracker: Tracker, k: Knowledge) -> str | None:
    """The promotion line of the summary, decided by the same check that saves it."""
    try:
        decision = preview_promotion(draft_from_tracker(tracker, k), k, today=clinic_today())
    except Exception:  # the database may be down: say nothing rather than promise
        logger.exception("promotion preview failed")
        return None
    if decision is None:
        return None
    if decision.ok and decision.promotion is not None:
        return offer_text(decision.promotion, k)
    return decision.message


def offer_text(promotion: Promotion, k: Knowledge) -> str:
    """"$50 off a facial treatment with FACIAL50"."""
    return k.say(M.BOOKING_OFFER, description=promotion.description, code=promotion.code)


class ActionAskBookingConfirm(Action):
    def name(self) -> str:
        return "action_ask_booking_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        k = kb()
        dispatcher.utter_message(text=booking_summary(tracker, k),
                                 buttons=k.buttons(M.BOOKING_SUMMARY_QUESTION))
        return []


def draft_from_tracker(tracker: Tracker, k: Knowledge) -> BookingDraft:
    consent = tracker.get_slot("booking_sms_consent") == "yes"
    consent_at = tracker.get_slot("booking_sms_consent_at")
    email = tracker.get_slot("booking_email")
    return BookingDraft(
        name=tracker.get_slot("booking_name"),
        phone_e164=tracker.get_slot("booking_phone"),
        email=None if email in (None, NO_EMAIL) else email,
        treatment=tracker.get_slot("booking_treatment"),
        preferred_times_text=tracker.get_slot("booking_times") or "",
        sms_consent=consent,
        sms_consent_wording=k.clinic.sms_consent_wording,
        consent_at=dt.datetime.fromisoformat(consent_at) if consent and consent_at else None,
        conversation_id=tracker.sender_id,
        channel=tracker.get_latest_input_channel() or "unknown",
        screening_answers={key: value for key, value in screening_answers(tracker, k).items()
                           if value is not None},
        promo_code=tracker.get_slot("promo_code"),
    )


class ActionSubmitBooking(Action):
    """Saves the request in one transaction and gives the person a reference."""

    def name(self) -> str:
        return "action_submit_booking"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        k = kb()
        clear = [SlotSet(slot, None) for slot in BOOKING_SLOTS] + \
            [SlotSet("booking_wanted", False), SlotSet("booking_next", "none")]
        if tracker.get_slot("booking_confirm") != "yes":
            return clear
        if screening_result(tracker, k).outcome != OUTCOME_ELIGIBLE:
            dispatcher.utter_message(text=k.say(M.BOOKING_SUBMIT_REFUSED))
            return clear
        try:
            result = await asyncio.to_thread(save_booking, draft_from_tracker(tracker, k), k,
                                             today=clinic_today())
        # What saving can raise: the database unreachable or any other database error (the
        # transaction is rolled back), NotEligible, InvalidBooking (a ValueError) or a bad
        # stored consent time (ValueError). Never a stack trace to the person.
        except (DatabaseUnavailable, SQLAlchemyError, NotEligible, ValueError) as error:
            logger.error("booking request could not be saved: %s", type(error).__name__)
            dispatcher.utter_message(text=k.say(M.BOOKING_SAVE_FAILED))
            return clear
        except Exception as error:  # noqa: BLE001 - after a bug too, the person is told to phone
            logger.error("booking request could not be saved (unexpected %s)",
                         type(error).__name__)
            dispatcher.utter_message(text=k.say(M.BOOKING_SAVE_FAILED))
            return clear
        deliver_in_background()  # the clinic's booking system, if one is configured
        from actions.visits import offer_after_booking  # free times from the calendar (issue 20)

        visit = await offer_after_booking(tracker, result.reference)
        lines = [k.say(M.BOOKING_SAVED, reference=result.reference)]
        if result.promotion is not None:
            lines.append(k.say(M.BOOKING_OFFER_APPLIED, offer=offer_text(result.promotion, k)))
        elif result.promo_decision is not None and not result.promo_decision.ok:
            lines.append(result.promo_decision.message)
        if not visit:  # no free times to offer: the clinic contacts the person, as before
            lines.append(k.say(M.BOOKING_SAVED_NEXT))
        dispatcher.utter_message(text=" ".join(lines))
        return clear + [SlotSet("booking_reference", result.reference),
                        SlotSet("promo_code", None)] + visit
