"""The registry of every sentence key the code says, with the placeholders the code fills.

The sentences themselves are in ``knowledge/messages.yml`` (grouped by flow); this module
only names them, so that ``python -m clinic.knowledge.check`` (run by ``make train`` and ``make test``)
can refuse a missing or misspelled key, or a text whose placeholder the code never fills,
before anyone reads it. Code says a message with the knowledge object::

    from clinic.knowledge import messages as M
    k.say(M.SCREENING_INTRO, count=3)          # the text
    k.utter(M.SCREENING_INTRO, count=3)        # {"text": ..., "buttons": [...]}

Placeholders that are always filled, without being registered or passed: see
:data:`STANDARD_PLACEHOLDERS`.

One section per group of ``messages.yml``; keep a new key in its group's section.
"""

from __future__ import annotations

from dataclasses import dataclass

# Filled for every message (clinic.knowledge.kb.Knowledge.fill): the clinic details of knowledge/clinic.yml
# and the two shared sentences of the common group.
STANDARD_PLACEHOLDERS = frozenset({
    "clinic_name", "clinic_phone", "booking_url", "emergency_number", "clinic_email",
    "clinic_hours", "disclaimer", "consultation_contact", "see_practitioner",
})

# The groups of knowledge/messages.yml, in the order they are written there. "responses"
# holds the domain's utter_* responses (written into domain.yml by clinic.knowledge.domain_build).
GROUPS = ("common", "screening", "safety", "booking", "promotion", "conversation", "faq",
          "handover", "sms")
RESPONSES_GROUP = "responses"


@dataclass(frozen=True)
class Message:
    """A sentence the code says: its key in messages.yml and the placeholders it fills."""

    key: str
    placeholders: frozenset[str]

    @property
    def group(self) -> str:
        return self.key.split(".", 1)[0]


REGISTRY: dict[str, Message] = {}

# Values the code passes to a domain response (dispatcher.utter_message(response=...,
# name=value)), besides the domain's slots, which Rasa fills itself.
RESPONSE_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "utter_screening_echo": frozenset({"screen_echo"}),
    "utter_screening_changed": frozenset({"screen_echo"}),
}


def register(key: str, *placeholders: str) -> Message:
    """Name a message of knowledge/messages.yml and the placeholders the code fills in it."""
    group, _, name = key.partition(".")
    if group not in GROUPS or not name or "." in name:
        raise ValueError(f"message key {key!r} must be '<group>.<name>', group one of {GROUPS}")
    if key in REGISTRY:
        raise ValueError(f"message key {key!r} is registered twice")
    clash = STANDARD_PLACEHOLDERS.intersection(placeholders)
    if clash:
        raise ValueError(f"{key}: {sorted(clash)} are filled for every message; don't pass them")
    message = Message(key, frozenset(placeholders))
    REGISTRY[key] = message
    return message


# ---------------------------------------------------------------- common
# How to reach a practitioner; also the standard placeholder {consultation_contact}.
CONSULTATION_CONTACT = register("common.consultation_contact")
# A patient question of knowledge/patient_questions.yml that the article doesn't answer.
NOT_COVERED_SUBJECT = register("common.not_covered_subject", "subject")
# A topic's citation line: one reference, or several.
COMMON_SOURCE = register("common.source", "names")
COMMON_SOURCES = register("common.sources", "names")
# How to reach the clinic (asked for, or added to an answer the assistant can't give).
COMMON_CONTACT = register("common.contact")
# "I want to talk to a person": staff can reply now / from a later time / hours unknown.
COMMON_HANDOFF_OPEN = register("common.handoff_open")
COMMON_HANDOFF_CLOSED = register("common.handoff_closed", "when")
COMMON_HANDOFF_UNKNOWN = register("common.handoff_unknown")
# The one way the assistant says a practitioner should see the person.
COMMON_SEE_PRACTITIONER = register("common.see_practitioner")

# ---------------------------------------------------------------- screening
SCREENING_INTRO = register("screening.intro", "count")
SCREENING_CARRY_ON = register("screening.carry_on")
SCREENING_QUESTION = register("screening.question", "number", "count", "question")
SCREENING_ECHO_YES = register("screening.echo_yes")
SCREENING_ECHO_NO = register("screening.echo_no")
SCREENING_ECHO_UNSURE = register("screening.echo_unsure")
SCREENING_BACK_TO_QUESTIONS = register("screening.back_to_questions")
SCREENING_NOT_UNDERSTOOD = register("screening.not_understood")
SCREENING_NEEDS_YES_OR_NO = register("screening.needs_yes_or_no")
SCREENING_TERM_EXPLAINED = register("screening.term_explained", "explanation")
SCREENING_RESTARTED = register("screening.restarted")
SCREENING_CORRECTED = register("screening.corrected", "screen_echo")
SCREENING_REOPENED = register("screening.reopened")
SCREENING_BOOKING_CANCELLED = register("screening.booking_cancelled")

# ---------------------------------------------------------------- safety
SAFETY_MENTION_NOT_SUITABLE_NOW = register("safety.mention_not_suitable_now", "explanation",
                                           "what_would_change")
SAFETY_MENTION_PRACTITIONER_REVIEW = register("safety.mention_practitioner_review",
                                              "explanation")
SAFETY_MENTION_UNCERTAIN = register("safety.mention_uncertain", "explanation", "unsure_reason")
SAFETY_MENTION_THIRD_PARTY = register("safety.mention_third_party")
SAFETY_MENTION_HYPOTHETICAL = register("safety.mention_hypothetical", "explanation")
SAFETY_MENTION_GENERAL = register("safety.mention_general", "explanation")
SAFETY_TELL_ME_MORE = register("safety.tell_me_more")
# A medicine or condition the screening has no question for, noted for the practitioner.
SAFETY_NOTED_FOR_PRACTITIONER = register("safety.noted_for_practitioner", "what")
SAFETY_BOOKING_STOPPED = register("safety.booking_stopped")
SAFETY_TALK_IT_OVER = register("safety.talk_it_over")
SAFETY_OFFER_SCREENING = register("safety.offer_screening")

# ---------------------------------------------------------------- booking
# The booking gate (and a typed "yes" to a booking offer): screening first, or refused.
BOOKING_SCREENING_FIRST = register("booking.screening_first")
BOOKING_REFUSED = register("booking.refused")
# The form's questions (treatment buttons come from knowledge/clinic.yml).
BOOKING_ASK_NAME = register("booking.ask_name")
BOOKING_ASK_PHONE = register("booking.ask_phone")
BOOKING_ASK_EMAIL = register("booking.ask_email")
BOOKING_ASK_TREATMENT = register("booking.ask_treatment")
BOOKING_ASK_TIMES = register("booking.ask_times")
# The consent question: the exact wording of knowledge/clinic.yml, with its two buttons.
BOOKING_ASK_SMS_CONSENT = register("booking.ask_sms_consent", "wording")
# An answer that can't be used, asked again.
BOOKING_PROBLEM_NAME = register("booking.problem_name")
BOOKING_PROBLEM_PHONE = register("booking.problem_phone")
BOOKING_PROBLEM_EMAIL = register("booking.problem_email")
BOOKING_PROBLEM_TREATMENT = register("booking.problem_treatment")
BOOKING_PROBLEM_TIMES = register("booking.problem_times")
BOOKING_PROBLEM_SMS_CONSENT = register("booking.problem_sms_consent")
BOOKING_PROBLEM_CONFIRM = register("booking.problem_confirm")
# The form reached without an eligible screening (defence in depth).
BOOKING_FORM_REFUSED = register("booking.form_refused")
# The summary before sending: details, the offer line, the question with its buttons.
BOOKING_SUMMARY = register("booking.summary", "name", "phone", "email", "treatment", "times",
                           "sms_texts")
BOOKING_SUMMARY_NO_EMAIL = register("booking.summary_no_email")
BOOKING_SUMMARY_TEXTS_YES = register("booking.summary_texts_yes")
BOOKING_SUMMARY_TEXTS_NO = register("booking.summary_texts_no")
BOOKING_SUMMARY_OFFER = register("booking.summary_offer", "offer")
BOOKING_SUMMARY_QUESTION = register("booking.summary_question")
# A promotion named in the summary and in the confirmation.
BOOKING_OFFER = register("booking.offer", "description", "code")
BOOKING_OFFER_APPLIED = register("booking.offer_applied", "offer")
# "No" at the summary.
BOOKING_CANCELLED = register("booking.cancelled")
# Saving: refused, failed, saved (with what happens next).
BOOKING_SUBMIT_REFUSED = register("booking.submit_refused")
BOOKING_SAVE_FAILED = register("booking.save_failed")
BOOKING_SAVED = register("booking.saved", "reference")
BOOKING_SAVED_NEXT = register("booking.saved_next")
BOOKING_VISIT_OFFER = register("booking.visit_offer")
BOOKING_VISIT_NONE_THEN = register("booking.visit_none_then")
BOOKING_VISIT_NOT_UNDERSTOOD = register("booking.visit_not_understood")
BOOKING_VISIT_TAKEN = register("booking.visit_taken", "when")
BOOKING_VISIT_NOTHING_FREE = register("booking.visit_nothing_free")
BOOKING_VISIT_HELD = register("booking.visit_held", "when", "reference")
BOOKING_VISIT_PENDING = register("booking.visit_pending", "when")
BOOKING_VISIT_SKIPPED = register("booking.visit_skipped", "reference")
BOOKING_VISIT_CONFIRMED_CHAT = register("booking.visit_confirmed_chat", "treatment", "when",
                                        "reference")
BOOKING_VISIT_DECLINED_CHAT = register("booking.visit_declined_chat", "treatment", "when",
                                       "reference")
# Self-service: a patient's own visit (actions/manage_visit.py).
MANAGE_WHEN_HELD = register("booking.manage_when_held", "treatment", "when", "reference")
MANAGE_WHEN_CONFIRMED = register("booking.manage_when_confirmed", "treatment", "when",
                                 "reference")
MANAGE_WHEN_PENDING = register("booking.manage_when_pending", "treatment", "when", "reference")
MANAGE_MORE_VISITS = register("booking.manage_more_visits", "count")
MANAGE_NEXT_HELD = register("booking.manage_next_held", "treatment", "when", "reference")
MANAGE_NEXT_CONFIRMED = register("booking.manage_next_confirmed", "treatment", "when",
                                 "reference")
MANAGE_NEXT_NOTHING_BOOKED = register("booking.manage_next_nothing_booked")
MANAGE_VERIFY = register("booking.manage_verify")
MANAGE_VERIFY_HELP = register("booking.manage_verify_help")
MANAGE_VERIFY_BOTH = register("booking.manage_verify_both")
MANAGE_VERIFY_WRONG = register("booking.manage_verify_wrong")
MANAGE_VERIFY_LOCKED = register("booking.manage_verify_locked")
MANAGE_VERIFY_STOPPED = register("booking.manage_verify_stopped")
MANAGE_NOT_FOUND_SMS = register("booking.manage_not_found_sms")
MANAGE_CANCEL_ASK = register("booking.manage_cancel_ask", "treatment", "when", "reference")
MANAGE_CANCEL_NOT_UNDERSTOOD = register("booking.manage_cancel_not_understood")
MANAGE_CANCELLED = register("booking.manage_cancelled", "treatment", "when", "reference")
MANAGE_KEPT = register("booking.manage_kept", "treatment", "when", "reference")
MANAGE_MOVE_WHEN = register("booking.manage_move_when", "treatment", "when", "reference")
MANAGE_MOVE_NOT_UNDERSTOOD = register("booking.manage_move_not_understood")
MANAGE_MOVE_OFFER = register("booking.manage_move_offer", "treatment", "when", "reference")
MANAGE_MOVED = register("booking.manage_moved", "treatment", "when", "reference")
MANAGE_MOVE_NOTHING_FREE = register("booking.manage_move_nothing_free", "treatment", "when",
                                    "reference")
MANAGE_CALENDAR_DOWN = register("booking.manage_calendar_down", "treatment", "when",
                                "reference")
MANAGE_LATE = register("booking.manage_late", "treatment", "when", "reference")
MANAGE_LATE_UNKNOWN = register("booking.manage_late_unknown")
MANAGE_PATIENT_CONFIRMED = register("booking.manage_patient_confirmed", "treatment", "when",
                                    "reference")
MANAGE_PATIENT_CONFIRMED_HELD = register("booking.manage_patient_confirmed_held", "treatment",
                                         "when", "reference")
MANAGE_FAILED = register("booking.manage_failed")

# ---------------------------------------------------------------- promotion
# Why a code does (not) apply, one per reason of clinic.services.promotion.
PROMOTION_APPLIED = register("promotion.applied", "amount", "treatment", "code")
PROMOTION_UNKNOWN_CODE = register("promotion.unknown_code", "code")
PROMOTION_NOT_YET_VALID = register("promotion.not_yet_valid", "code", "valid_from")
PROMOTION_EXPIRED = register("promotion.expired", "code", "valid_until")
PROMOTION_WRONG_TREATMENT = register("promotion.wrong_treatment", "code", "treatments",
                                     "treatment")
PROMOTION_ALREADY_USED = register("promotion.already_used", "code")
PROMOTION_NOT_ELIGIBLE = register("promotion.not_eligible")
# Its buttons are shown when a current code is typed before the safety questions.
PROMOTION_NOT_SCREENED = register("promotion.not_screened")
# Words filled into those: {treatment} when none is chosen / unknown / a facial one, the
# word between {treatments}, and {code} when nothing code-like was typed.
PROMOTION_TREATMENT_NOT_CHOSEN = register("promotion.treatment_not_chosen")
PROMOTION_TREATMENT_UNKNOWN = register("promotion.treatment_unknown")
PROMOTION_TREATMENT_FACIAL = register("promotion.treatment_facial")
PROMOTION_TREATMENTS_JOIN = register("promotion.treatments_join")
PROMOTION_CODE_UNREADABLE = register("promotion.code_unreadable")
# What the clinic offers (clinic.services.promotion.overview).
PROMOTION_NOT_FOR_YOU = register("promotion.not_for_you", "why")
PROMOTION_WHY_NOT_SUITABLE_NOW = register("promotion.why_not_suitable_now")
PROMOTION_WHY_PRACTITIONER_REVIEW = register("promotion.why_practitioner_review")
PROMOTION_NONE_RUNNING = register("promotion.none_running")
PROMOTION_OFFERS = register("promotion.offers", "offers", "condition")
PROMOTION_OFFER_LINE = register("promotion.offer_line", "description", "code", "valid_until")
PROMOTION_CONDITION_ELIGIBLE = register("promotion.condition_eligible")
PROMOTION_CONDITION_SCREENING = register("promotion.condition_screening")
# A typed code: none found in the message, or the database can't be asked.
PROMOTION_WHICH_CODE = register("promotion.which_code")
PROMOTION_CHECK_UNAVAILABLE = register("promotion.check_unavailable")

# ---------------------------------------------------------------- conversation

# ---------------------------------------------------------------- faq
# The three buttons offered after a fallback (the text is the question they answer).
FAQ_START_MENU = register("faq.start_menu")
FAQ_NO_ANSWER = register("faq.no_answer", "contact")
FAQ_ADDRESS = register("faq.address", "address")
FAQ_OUT_OF_SCOPE = register("faq.out_of_scope", "contact")
FAQ_OTHER_LANGUAGE = register("faq.other_language")
# The fallback, by what the message looked like (clinic.nlu.input_kind.describe_input).
FAQ_FALLBACK_EMPTY = register("faq.fallback_empty")
FAQ_FALLBACK_LONG = register("faq.fallback_long")
FAQ_FALLBACK_EMOJI = register("faq.fallback_emoji")
FAQ_FALLBACK_SYMBOLS = register("faq.fallback_symbols")
FAQ_FALLBACK_MARKUP = register("faq.fallback_markup")
FAQ_FALLBACK_UNCLEAR = register("faq.fallback_unclear")

# ---------------------------------------------------------------- handover
# Told to the patient when a member of staff takes the conversation over, and hands it back.
HANDOVER_STAFF_JOINED = register("handover.staff_joined")
HANDOVER_STAFF_LEFT = register("handover.staff_left")
HANDOVER_STAFF_NAME = register("handover.staff_name")
HANDOVER_CALLBACK_PHONE = register("handover.callback_phone", "name", "phone", "when")
HANDOVER_CALLBACK_EMAIL = register("handover.callback_email", "name", "email", "when")
HANDOVER_CALLBACK_SMS = register("handover.callback_sms", "when")
HANDOVER_CALLBACK_NO_CONTACT = register("handover.callback_no_contact")
HANDOVER_WHEN_LATER = register("handover.when_later", "time")
HANDOVER_WHEN_OPEN = register("handover.when_open")
HANDOVER_WHEN_UNKNOWN = register("handover.when_unknown")

# ---------------------------------------------------------------- sms
# Replies to STOP, START (and YES when opted out), HELP, and a text without words.
SMS_OPT_OUT_CONFIRMATION = register("sms.opt_out_confirmation")
SMS_OPT_IN_CONFIRMATION = register("sms.opt_in_confirmation")
SMS_HELP = register("sms.help")
SMS_MEDIA_ONLY = register("sms.media_only")
# Buttons as numbered options: "Reply {options}." with each option "{number} for {title}".
SMS_NUMBERED_OPTIONS = register("sms.numbered_options", "options")
SMS_NUMBERED_OPTION = register("sms.numbered_option", "number", "title")
# The apology texted back when the assistant failed on an inbound text.
SMS_ASSISTANT_FAILED = register("sms.assistant_failed")
SMS_VISIT_CONFIRMED = register("sms.visit_confirmed", "treatment", "when", "reference")
SMS_VISIT_DECLINED = register("sms.visit_declined", "treatment", "when", "reference")
SMS_VISIT_REMINDER = register("sms.visit_reminder", "treatment", "when", "reference")
