"""Checking a promotion code against the rules (clinic.rules.promotion) and the database.

:func:`check_code` applies the rules in their order and, for a once-per-person promotion,
looks for an earlier redemption by the same phone number or email. It only reads. The
redemption itself is written by :func:`clinic.services.booking.save_booking`, where the
database's unique constraints settle races.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from clinic.config.settings import settings
from clinic.knowledge.kb import Knowledge, Promotion
from clinic.rules.promotion import (
    ALREADY_USED,
    APPLIED,
    EXPIRED,
    NOT_ELIGIBLE,
    NOT_SCREENED,
    NOT_YET_VALID,
    UNKNOWN_CODE,
    WRONG_TREATMENT,
    Eligibility,
    PromoDecision,
    decision,
    eligibility,
)
from clinic.store.db import read_scope
from clinic.store.models import PromotionRedemption


def _already_used(session: Session, promotion: Promotion, phone_e164: str | None,
                  email: str | None) -> bool:
    conditions = []
    if phone_e164:
        conditions.append(PromotionRedemption.phone_e164 == phone_e164)
    if email:
        conditions.append(PromotionRedemption.email == email.strip().lower())
    if not conditions:
        return False
    query = select(PromotionRedemption.id).where(
        PromotionRedemption.code == promotion.code, or_(*conditions)
    ).limit(1)
    return session.execute(query).first() is not None


def check_code(
    code: str,
    kb: Knowledge,
    *,
    outcome: str | None,
    treatment: str | None,
    phone_e164: str | None,
    email: str | None,
    today: dt.date,
    session: Session | None = None,
    url: str | None = None,
) -> PromoDecision:
    """Decide whether ``code`` can be used, without writing anything.

    ``outcome`` is the screening outcome (None before screening). ``treatment`` None
    skips the treatment rule (not chosen yet); ``phone_e164`` and ``email`` None skip the
    once-per-person rule. ``today`` is the clinic's local date (see :func:`clinic_today`).
    Without ``session`` a short read-only session on ``url`` (default: configured) is used
    for the once-per-person check; this may raise :class:`clinic.store.db.DatabaseUnavailable`.
    """
    standing = eligibility(outcome, kb.promotions)
    if standing is Eligibility.NOT_SCREENED:
        return decision(NOT_SCREENED, kb, code=code, treatment=treatment)
    # Before looking at the code: nothing about codes is revealed to people who may have
    # none of them, not even whether a code exists.
    if standing is Eligibility.NOT_ELIGIBLE:
        return decision(NOT_ELIGIBLE, kb, code=code, treatment=treatment)
    promotion = kb.promotion(code or "")
    if promotion is None:
        return decision(UNKNOWN_CODE, kb, code=code, treatment=treatment)
    if eligibility(outcome, (promotion,)) is not Eligibility.ELIGIBLE:
        return decision(NOT_ELIGIBLE, kb, promotion, treatment=treatment)
    if today < promotion.valid_from:
        return decision(NOT_YET_VALID, kb, promotion, treatment=treatment)
    if today > promotion.valid_until:
        return decision(EXPIRED, kb, promotion, treatment=treatment)
    if treatment is not None and treatment not in promotion.treatments:
        return decision(WRONG_TREATMENT, kb, promotion, treatment=treatment)
    if promotion.once_per_person and (phone_e164 or email):
        if session is not None:
            used = _already_used(session, promotion, phone_e164, email)
        else:
            with read_scope(url) as own_session:
                used = _already_used(own_session, promotion, phone_e164, email)
        if used:
            return decision(ALREADY_USED, kb, promotion, treatment=treatment)
    return decision(APPLIED, kb, promotion, treatment=treatment)


def clinic_today(now: dt.datetime | None = None) -> dt.date:
    """Today's date in the clinic's time zone (promotion dates are in local time)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.astimezone(settings().tz).date()
