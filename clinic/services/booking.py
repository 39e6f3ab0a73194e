"""Saving a booking request: the use case behind the booking form's last step.

:func:`save_booking` is the only way a booking request is written. It re-derives the
screening outcome from the answers (it never trusts a passed-in outcome), refuses people
who are not eligible, and writes the request, the SMS consent answer, the promotion
redemption and the webhook delivery in ONE transaction: a crash part-way leaves nothing.
What a draft may hold is decided in :mod:`clinic.rules.booking`.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exc, select
from sqlalchemy.orm import Session

from clinic.config.settings import settings
from clinic.knowledge.kb import OUTCOME_ELIGIBLE, Knowledge, Promotion
from clinic.rules.booking import (
    BookingDraft,
    NotEligible,
    new_reference,
    normalize_email,
    normalize_phone,
    normalize_reference,
    parse_preferred_times,
    stored_answers,
    validated_fields,
)
from clinic.rules.promotion import (
    ALREADY_USED,
    Eligibility,
    PromoDecision,
    automatic_promotion,
    decision,
    eligibility,
)
from clinic.rules.screening import evaluate
from clinic.services import webhook
from clinic.services.promotion import check_code
from clinic.store.db import read_scope, session_scope
from clinic.store.models import BookingRequest, PromotionRedemption, SmsConsent, utcnow

log = logging.getLogger(__name__)

_REFERENCE_ATTEMPTS = 8


@dataclass
class BookingResult:
    """What was saved: the reference for the person, and the promotion outcome.

    ``promotion`` is the promotion actually applied (None if none). ``promo_decision`` is
    the decision behind it: "applied", or why not (e.g. "already_used" when another
    booking by the same person won a race). ``typed_code_decision`` is set when the
    person typed a code that was refused while an automatic promotion still applied.
    """

    reference: str
    booking_id: int
    promotion: Promotion | None
    promo_decision: PromoDecision | None
    typed_code_decision: PromoDecision | None = field(default=None)


def _decide_promotion(
    session: Session, draft: BookingDraft, kb: Knowledge, outcome: str, phone: str,
    email: str | None, today: dt.date,
) -> tuple[PromoDecision | None, PromoDecision | None]:
    """(decision to apply, refused typed-code decision) before anything is written."""
    common = dict(outcome=outcome, treatment=draft.treatment, phone_e164=phone, email=email,
                  today=today, session=session)
    typed_refusal = None
    if draft.promo_code and draft.promo_code.strip():
        typed = check_code(draft.promo_code, kb, **common)
        if typed.ok:
            return typed, None
        typed_refusal = typed
    automatic = automatic_promotion(kb, outcome=outcome, treatment=draft.treatment, today=today)
    if automatic is None:
        return typed_refusal, None
    auto_decision = check_code(automatic.code, kb, **common)
    if typed_refusal is not None and not auto_decision.ok:
        return typed_refusal, None
    return auto_decision, typed_refusal


def preview_promotion(draft: BookingDraft, kb: Knowledge, *, today: dt.date,
                      url: str | None = None) -> PromoDecision | None:
    """The promotion decision :func:`save_booking` will make for this draft, read-only.

    The same check (:func:`_decide_promotion`), so the summary shown before saving says
    what the confirmation will say: applied, already used with this number, or why a typed
    code does not apply. None when no promotion is involved. Only a redemption made by
    someone else between the summary and the save (a race the database settles) can still
    change it. May raise :class:`clinic.store.db.DatabaseUnavailable`.
    """
    result = evaluate(draft.screening_answers, kb.screening)
    if eligibility(result.outcome, kb.promotions) is not Eligibility.ELIGIBLE:
        return None
    phone = normalize_phone(draft.phone_e164 or "") or draft.phone_e164
    email = normalize_email(draft.email) if draft.email else None
    with read_scope(url) as session:
        chosen, typed_refusal = _decide_promotion(session, draft, kb, result.outcome, phone,
                                                  email, today)
    if chosen is not None and chosen.ok:
        return chosen
    return typed_refusal or chosen


def _insert_booking(session: Session, values: dict[str, Any]) -> BookingRequest:
    """Insert with a fresh reference; a (very unlikely) clash just draws another one."""
    for _ in range(_REFERENCE_ATTEMPTS):
        booking = BookingRequest(reference=new_reference(), **values)
        try:
            with session.begin_nested():
                session.add(booking)
        except exc.IntegrityError:
            continue
        return booking
    raise RuntimeError("could not draw an unused booking reference")


def _redeem(session: Session, booking: BookingRequest, promotion: Promotion, phone: str,
            email: str | None, now: dt.datetime) -> bool:
    """Record the redemption; False if the person's phone or email already has one."""
    try:
        with session.begin_nested():
            session.add(PromotionRedemption(code=promotion.code, phone_e164=phone, email=email,
                                            booking_id=booking.id, redeemed_at=now))
    except exc.IntegrityError:
        # Another booking by the same person redeemed it first: the constraint decides.
        return False
    booking.promotion_code = promotion.code
    booking.promotion_amount_usd = promotion.amount_usd
    return True


def save_booking(
    draft: BookingDraft, kb: Knowledge, *, today: dt.date, url: str | None = None,
    now: dt.datetime | None = None,
) -> BookingResult:
    """Save a booking request in one transaction and return its reference.

    Raises :class:`NotEligible` unless :func:`clinic.rules.screening.evaluate` finds the answers
    eligible, :class:`InvalidBooking` for a field the form should have re-asked, and
    :class:`clinic.store.db.DatabaseUnavailable` when the database can't be reached (nothing is
    saved in any of these cases). ``today`` is the clinic's local date for promotion
    dates; ``now`` (UTC, default: the current time) is the creation time.
    """
    result = evaluate(draft.screening_answers, kb.screening)
    if result.outcome != OUTCOME_ELIGIBLE:
        raise NotEligible(result.outcome)
    name, phone, email = validated_fields(draft, kb)
    now = now or utcnow()
    config = settings()
    answers = stored_answers(draft, kb)
    preferred = parse_preferred_times(draft.preferred_times_text or "", now, config.tz)
    values = dict(
        created_at=now, conversation_id=draft.conversation_id, channel=draft.channel,
        name=name, phone_e164=phone, email=email, treatment=draft.treatment,
        preferred_times_text=(draft.preferred_times_text or "").strip(),
        preferred_times_parsed=[moment.isoformat() for moment in preferred],
        screening_outcome=result.outcome, screening_answers=answers,
        screening_summary=result.staff_summary(kb, draft.screening_answers),
        status="requested", status_changed_at=now,
    )
    with session_scope(url) as session:
        chosen, typed_refusal = _decide_promotion(session, draft, kb, result.outcome, phone,
                                                  email, today)
        booking = _insert_booking(session, values)
        session.add(SmsConsent(
            booking_id=booking.id, phone_e164=phone, wording=draft.sms_consent_wording.strip(),
            given=bool(draft.sms_consent), given_at=draft.consent_at or now,
            channel=draft.channel, conversation_id=draft.conversation_id,
        ))
        applied = None
        if chosen is not None and chosen.ok and chosen.promotion is not None:
            if _redeem(session, booking, chosen.promotion, phone, email, now):
                applied = chosen.promotion
            else:
                chosen = decision(ALREADY_USED, kb, chosen.promotion, treatment=draft.treatment)
        if config.booking_webhook_url:
            webhook.queue_delivery(session, booking, config.booking_webhook_url, now=now)
        session.flush()
        reference, booking_id = booking.reference, booking.id
    log.info("Booking %s saved (promotion: %s)", reference,
             applied.code if applied else (chosen.reason if chosen else "none"))
    return BookingResult(reference, booking_id, applied, chosen, typed_code_decision=typed_refusal)


def find_booking(session: Session, reference: str) -> BookingRequest | None:
    """The booking with this reference (as typed by staff), or None."""
    wanted = normalize_reference(reference)
    booking: BookingRequest | None = session.execute(
        select(BookingRequest).where(BookingRequest.reference == wanted)
    ).scalar_one_or_none()
    return booking
