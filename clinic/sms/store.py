"""Database helpers shared by the SMS channel, the scheduler and the sender.

Opt-out state, consent and the SMS log live in the clinic database (never only in
memory), so every process (Rasa server, sender, staff tool) sees the same truth.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.store.models import SmsConsent, SmsMessage, SmsOptOut, utcnow

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def is_e164(phone: str) -> bool:
    """True for a phone number in E.164 form (+ and 7 to 15 digits)."""
    return bool(E164.match(phone or ""))


def is_opted_out(session: Session, phone: str) -> bool:
    """True if the number's latest keyword was an opt-out (STOP and friends)."""
    row = session.get(SmsOptOut, phone)
    return bool(row and row.opted_out)


def set_opt_out(session: Session, phone: str, opted_out: bool, keyword: str,
                now: dt.datetime | None = None) -> bool:
    """Record STOP (``opted_out=True``) or START for a number. Returns True if it changed."""
    now = now or utcnow()
    row = session.get(SmsOptOut, phone)
    if row is None:
        session.add(SmsOptOut(phone_e164=phone, opted_out=opted_out,
                              keyword=keyword[:64], changed_at=now))
        session.flush()
        return True
    changed = bool(row.opted_out != opted_out)
    if changed:
        row.opted_out = opted_out
        row.keyword = keyword[:64]
        row.changed_at = now
        session.flush()
    return changed


def consent_given(session: Session, booking_id: int, phone: str) -> bool:
    """True if the latest SMS consent answer for this booking and number was yes.

    Consent is per booking and per number ("May we text you ... at this number?"), so a
    changed number or a later "no" withdraws it.
    """
    latest = session.execute(
        select(SmsConsent.given)
        .where(SmsConsent.booking_id == booking_id, SmsConsent.phone_e164 == phone)
        .order_by(SmsConsent.given_at.desc(), SmsConsent.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return bool(latest)


def record_message(session: Session, *, direction: str, phone: str, body: str,
                   transport: str, status: str, provider_sid: str | None = None,
                   followup_id: int | None = None,
                   created_at: dt.datetime | None = None) -> SmsMessage:
    """Add one text to the SMS log (which is also the local outbox)."""
    message = SmsMessage(direction=direction, phone_e164=phone, body=body,
                         transport=transport, status=status[:20], provider_sid=provider_sid,
                         followup_id=followup_id, created_at=created_at or utcnow())
    session.add(message)
    session.flush()
    return message


def inbound_seen(session: Session, provider_sid: str) -> bool:
    """True if an inbound text with this Twilio MessageSid was already handled."""
    if not provider_sid:
        return False
    return session.execute(
        select(SmsMessage.id).where(SmsMessage.direction == "inbound",
                                    SmsMessage.provider_sid == provider_sid).limit(1)
    ).first() is not None
