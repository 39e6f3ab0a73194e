"""The FACIAL50 promotion: explained to everyone, given only to eligible people."""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.tracker_reading import kb, latest_text, screening_result
from clinic.knowledge import messages as M
from clinic.knowledge.kb import Knowledge
from clinic.nlu.input_kind import promo_code_in
from clinic.rules.promotion import (
    NOT_SCREENED,
    Eligibility,
    PromoDecision,
    check_code_before_screening,
    eligibility,
    overview,
)
from clinic.services.promotion import check_code, clinic_today

logger = logging.getLogger(__name__)
_CODE_TOKEN = re.compile(r"[A-Za-z0-9]{4,20}")


def extract_code(text: str, k: Knowledge) -> str | None:
    """The promotion code in a message: a known code first, else a code-like word."""
    typed = promo_code_in(text, tuple(p.code for p in k.promotions))
    if typed:
        return typed
    tokens: list[str] = _CODE_TOKEN.findall(text)  # one group-less pattern: a list of str
    for token in tokens:
        if k.promotion(token):
            return token.upper()
    for token in tokens:
        if any(ch.isdigit() for ch in token) and any(ch.isalpha() for ch in token):
            return token.upper()
    for token in tokens:
        if token.isupper() and len(token) >= 5:
            return token
    return None


def promotion_overview(tracker: Tracker, k: Knowledge) -> str:
    """What the clinic offers; the code itself only for people who may use it."""
    return overview(screening_result(tracker, k).outcome, k, clinic_today())


class ActionExplainPromotion(Action):
    def name(self) -> str:
        return "action_explain_promotion"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=promotion_overview(tracker, kb()))
        return []


def decide_code(code: str, tracker: Tracker, k: Knowledge,
                asking: str | None = None) -> PromoDecision:
    """Check a typed code for this person (read-only; the redemption happens on saving).

    ``asking`` is the booking question being asked: the SDK has put the typed reply (the
    code itself) in that slot before validation, so its value is no answer yet.
    """
    def slot(name: str) -> Any:
        return None if name == asking else tracker.get_slot(name)

    email = slot("booking_email")
    return check_code(
        code, k,
        outcome=screening_result(tracker, k).outcome,
        treatment=slot("booking_treatment"),
        phone_e164=slot("booking_phone"),
        email=None if email in (None, "none") else email,
        today=clinic_today(),
    )


def handle_typed_code(dispatcher: CollectingDispatcher, tracker: Tracker,
                      k: Knowledge, asking: str | None = None) -> list[dict[str, Any]]:
    """Answer a typed code with its own clear reason; remember it when it can be used.

    ``asking``: the booking question the code was typed at (see :func:`decide_code`)."""
    code = extract_code(latest_text(tracker), k)
    if not code:
        dispatcher.utter_message(text=k.say(M.PROMOTION_WHICH_CODE))
        return []
    outcome = screening_result(tracker, k).outcome
    if eligibility(outcome, k.promotions) is Eligibility.NOT_SCREENED:
        return _before_screening(code, dispatcher, k)
    try:
        decision = decide_code(code, tracker, k, asking)
    except Exception:  # the database may be down; the code is checked again on saving
        logger.exception("promotion check failed")
        dispatcher.utter_message(text=k.say(M.PROMOTION_CHECK_UNAVAILABLE))
        return []
    dispatcher.utter_message(text=decision.message)
    return [SlotSet("promo_code", code if decision.ok else None)]


def _before_screening(code: str, dispatcher: CollectingDispatcher,
                      k: Knowledge) -> list[dict[str, Any]]:
    """A code typed before the safety questions: an answer about that very code, with a
    button to start the questions when the code is current (clinic.services.promotion decides)."""
    answer = check_code_before_screening(code, k, today=clinic_today())
    if answer.reason != NOT_SCREENED:
        dispatcher.utter_message(text=answer.message)
        return [SlotSet("promo_code", None)]
    dispatcher.utter_message(text=answer.message, buttons=k.buttons(M.PROMOTION_NOT_SCREENED))
    # Not remembered: nobody who has not finished the questions holds the code (an eligible
    # person gets FACIAL50 on a facial anyway, decided again when the booking is saved).
    return [SlotSet("promo_code", None), SlotSet("pending_offer", "screening")]


class ActionCheckPromoCode(Action):
    def name(self) -> str:
        return "action_check_promo_code"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        return handle_typed_code(dispatcher, tracker, kb())
