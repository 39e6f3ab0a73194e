"""Promotion rules (FACIAL50 and any other code in ``knowledge/promotions.yml``).

Every decision is a :class:`PromoDecision` with a machine-readable ``reason`` and a
kind sentence for the person. The rules are checked in this order, so a person the
screening did not find eligible never learns anything about a code:

1. ``not_screened`` - no (complete) screening yet
2. ``not_eligible`` - the screening outcome is not the one the promotion requires
3. ``unknown_code`` - no such code
4. ``not_yet_valid`` / ``expired`` - outside the inclusive validity dates
5. ``wrong_treatment`` - the chosen treatment is not one the promotion covers
6. ``already_used`` - once per person, and this phone number or email has used it
7. ``applied``

:func:`clinic.services.promotion.check_code` applies them with the once-per-person lookup; the
redemption itself is written by :func:`clinic.services.booking.save_booking`, where the
database's unique constraints settle races. Nothing here reads the database or the clock.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from clinic.knowledge import messages as M
from clinic.knowledge.kb import (
    OUTCOME_INCOMPLETE,
    OUTCOME_NOT_SUITABLE_NOW,
    Knowledge,
    Promotion,
)
from clinic.knowledge.messages import Message

APPLIED = "applied"
UNKNOWN_CODE = "unknown_code"
NOT_YET_VALID = "not_yet_valid"
EXPIRED = "expired"
WRONG_TREATMENT = "wrong_treatment"
ALREADY_USED = "already_used"
NOT_ELIGIBLE = "not_eligible"
NOT_SCREENED = "not_screened"
REASONS = (APPLIED, UNKNOWN_CODE, NOT_YET_VALID, EXPIRED, WRONG_TREATMENT, ALREADY_USED,
           NOT_ELIGIBLE, NOT_SCREENED)

# What the person is told, per reason: knowledge/messages.yml's "promotion" group.
MESSAGES: dict[str, Message] = {
    APPLIED: M.PROMOTION_APPLIED,
    UNKNOWN_CODE: M.PROMOTION_UNKNOWN_CODE,
    NOT_YET_VALID: M.PROMOTION_NOT_YET_VALID,
    EXPIRED: M.PROMOTION_EXPIRED,
    WRONG_TREATMENT: M.PROMOTION_WRONG_TREATMENT,
    ALREADY_USED: M.PROMOTION_ALREADY_USED,
    NOT_ELIGIBLE: M.PROMOTION_NOT_ELIGIBLE,
    NOT_SCREENED: M.PROMOTION_NOT_SCREENED,
}


class Eligibility(Enum):
    """Where a person's screening puts them with respect to a promotion."""

    NOT_SCREENED = "not_screened"  # no complete screening yet
    NOT_ELIGIBLE = "not_eligible"  # screened, with an outcome the promotion does not take
    ELIGIBLE = "eligible"  # screened, with an outcome the promotion's ``requires`` lists


# Never offered or given a promotion, whatever promotions.yml says (the loader refuses them
# in ``requires`` too): the safety invariant.
NEVER_PROMOTED = frozenset({OUTCOME_NOT_SUITABLE_NOW, OUTCOME_INCOMPLETE})


def eligibility(outcome: str | None, promotions: Iterable[Promotion]) -> Eligibility:
    """THE decision whether a person may be offered or given one of ``promotions``.

    ``outcome`` is the screening outcome derived from the answers (None before screening).
    Every caller (the code check, the automatic promotion, the booking summary, what the
    assistant says about the offer) asks this function, so ``requires`` in
    ``knowledge/promotions.yml`` is the one place eligibility is configured.
    """
    if outcome is None or outcome == OUTCOME_INCOMPLETE:
        return Eligibility.NOT_SCREENED
    if outcome not in NEVER_PROMOTED and any(outcome in p.requires for p in promotions):
        return Eligibility.ELIGIBLE
    return Eligibility.NOT_ELIGIBLE


@dataclass(frozen=True)
class PromoDecision:
    """The answer to "can this person use this code?"."""

    ok: bool
    reason: str
    message: str
    promotion: Promotion | None


def _date(day: dt.date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def _treatment_phrase(kb: Knowledge, treatment_id: str | None) -> str:
    """How a treatment is named in a sentence: "facial" for facial ones, else its label."""
    if not treatment_id:
        return kb.say(M.PROMOTION_TREATMENT_NOT_CHOSEN)  # never "your this treatment"
    try:
        treatment = kb.clinic.treatment(treatment_id)
    except KeyError:
        return kb.say(M.PROMOTION_TREATMENT_UNKNOWN)
    if treatment.facial:
        return kb.say(M.PROMOTION_TREATMENT_FACIAL)
    return treatment.label[0].lower() + treatment.label[1:]


def _treatments_phrase(kb: Knowledge, promotion: Promotion) -> str:
    labels = []
    for treatment_id in promotion.treatments:
        try:
            label = kb.clinic.treatment(treatment_id).label
        except KeyError:  # the loader checks ids; keep going if a test kb differs
            label = treatment_id.replace("_", " ")
        labels.append(label[0].lower() + label[1:])
    return f" {kb.say(M.PROMOTION_TREATMENTS_JOIN)} ".join(labels)


def _safe_code(kb: Knowledge, code: str) -> str:
    # The person's own text is echoed back: keep letters and digits, and not too many.
    cleaned = re.sub(r"[^A-Za-z0-9]", "", code or "").upper()[:20]
    return cleaned or kb.say(M.PROMOTION_CODE_UNREADABLE)


def decision(
    reason: str,
    kb: Knowledge,
    promotion: Promotion | None = None,
    *,
    code: str = "",
    treatment: str | None = None,
) -> PromoDecision:
    """Build the decision for ``reason`` with its message rendered for the person."""
    values = dict.fromkeys(("amount", "valid_from", "valid_until", "treatments"), "")
    values.update(
        code=_safe_code(kb, code),
        treatment=_treatment_phrase(kb, treatment),
    )
    if promotion is not None:
        values.update(
            code=promotion.code,
            amount=str(promotion.amount_usd),
            valid_from=_date(promotion.valid_from),
            valid_until=_date(promotion.valid_until),
            treatments=_treatments_phrase(kb, promotion),
        )
    wanted = MESSAGES[reason]
    message = kb.say(wanted, **{name: values[name] for name in wanted.placeholders})
    return PromoDecision(reason == APPLIED, reason, message, promotion)


def check_code_before_screening(code: str, kb: Knowledge, *, today: dt.date) -> PromoDecision:
    """A code typed before the screening is complete: an answer about that very code.

    Unknown, not yet valid or expired codes are said so (nothing personal is revealed);
    a current code gets ``not_screened``: the safety questions come first. Never ``ok``:
    nobody who has not finished the questions holds a code.
    """
    promotion = kb.promotion(code)
    if promotion is None:
        return decision(UNKNOWN_CODE, kb, code=code)
    if today < promotion.valid_from:
        return decision(NOT_YET_VALID, kb, promotion, code=code)
    if today > promotion.valid_until:
        return decision(EXPIRED, kb, promotion, code=code)
    return decision(NOT_SCREENED, kb, promotion, code=code)


def live_promotions(kb: Knowledge, today: dt.date) -> tuple[Promotion, ...]:
    """The promotions running on ``today`` (inclusive dates)."""
    return tuple(p for p in kb.promotions if p.valid_from <= today <= p.valid_until)


def automatic_promotion(
    kb: Knowledge, *, outcome: str | None, treatment: str | None, today: dt.date
) -> Promotion | None:
    """The promotion a booking gets without typing a code, if any.

    Only for an outcome the promotion requires (:func:`eligibility`), a treatment it covers
    and a date within its validity. Once-per-person is checked when the booking is saved.
    """
    if treatment is None:
        return None
    for promotion in live_promotions(kb, today):
        if (eligibility(outcome, (promotion,)) is Eligibility.ELIGIBLE
                and treatment in promotion.treatments):
            return promotion
    return None


def overview(outcome: str | None, kb: Knowledge, today: dt.date) -> str:
    """What the clinic offers, said to a person with this screening outcome.

    Everyone hears that there is an offer and who it is for; the code itself only people
    who may use it (:func:`eligibility`) or who have not been screened yet.
    """
    standing = eligibility(outcome, kb.promotions)
    if standing is Eligibility.NOT_ELIGIBLE:
        why = (M.PROMOTION_WHY_NOT_SUITABLE_NOW if outcome == OUTCOME_NOT_SUITABLE_NOW
               else M.PROMOTION_WHY_PRACTITIONER_REVIEW)
        return kb.say(M.PROMOTION_NOT_FOR_YOU, why=kb.say(why))
    live = live_promotions(kb, today)
    if not live:
        return kb.say(M.PROMOTION_NONE_RUNNING)
    lines = [kb.say(M.PROMOTION_OFFER_LINE, description=p.description, code=p.code,
                    valid_until=_date(p.valid_until)) for p in live]
    condition = (M.PROMOTION_CONDITION_ELIGIBLE if standing is Eligibility.ELIGIBLE
                 else M.PROMOTION_CONDITION_SCREENING)
    return kb.say(M.PROMOTION_OFFERS, offers="; ".join(lines), condition=kb.say(condition))
