"""Which visits a person may see or change: their own, and nobody else's.

A person is recognised by one of (docs/appointments.md, "Self-service"):

- the phone number an SMS comes from, when it is the number on the booking request;
- the widget conversation (browser session) that made the booking request;
- a booking reference *together with* the mobile number on that booking request.

A reference alone, a number alone in the widget, or a reference with another number finds
nothing, and the answer is the same as for a reference that does not exist, so nobody can
learn whether someone else has a visit. These functions are the only way the self-service
actions find visits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select

from clinic.rules.booking import normalize_phone, normalize_reference
from clinic.store.db import read_scope, session_scope
from clinic.store.models import (
    ACTIVE_APPOINTMENT_STATES,
    Appointment,
    BookingRequest,
    LookupFailure,
)

# A reference typed with numbers that match nothing this many times within the window, from
# any conversation, is not looked up again until the window has passed (the person is
# given the clinic's phone number). Per conversation, actions/manage_visit.py allows fewer.
REFERENCE_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(hours=1)


@dataclass(frozen=True)
class OwnVisit:
    appointment_id: int
    reference: str
    treatment: str
    starts_at: dt.datetime
    state: str


@dataclass(frozen=True)
class Owner:
    """How the person proved who they are: exactly one of the three ways."""

    sms_phone: str | None = None
    conversation_id: str | None = None
    reference: str | None = None
    reference_phone: str | None = None


def _query(owner: Owner) -> Any:  # a SQLAlchemy 1.4 Select (untyped), or None
    query = (select(Appointment, BookingRequest)
             .join(BookingRequest, BookingRequest.id == Appointment.booking_id)
             .where(Appointment.state.in_(ACTIVE_APPOINTMENT_STATES)))
    if owner.sms_phone:
        phone = normalize_phone(owner.sms_phone)
        return None if phone is None else query.where(BookingRequest.phone_e164 == phone)
    if owner.conversation_id:
        return query.where(BookingRequest.conversation_id == owner.conversation_id)
    if owner.reference and owner.reference_phone:
        phone = normalize_phone(owner.reference_phone)
        if phone is None:
            return None
        return query.where(BookingRequest.reference == normalize_reference(owner.reference),
                           BookingRequest.phone_e164 == phone)
    return None


def own_visits(owner: Owner, now: dt.datetime, url: str | None = None) -> list[OwnVisit]:
    """The person's upcoming active visits (held, confirmed, waiting for the calendar)."""
    query = _query(owner)
    if query is None:
        return []
    with read_scope(url) as session:
        rows = session.execute(query.where(Appointment.ends_at > now)
                               .order_by(Appointment.starts_at)).all()
    return [OwnVisit(a.id, str(b.reference), str(a.treatment), a.starts_at, str(a.state))
            for a, b in rows]


def owns(owner: Owner, appointment_id: int, now: dt.datetime, url: str | None = None) -> bool:
    """Whether ``appointment_id`` is one of the person's own upcoming visits."""
    return any(v.appointment_id == appointment_id for v in own_visits(owner, now, url))


def _key(reference: str) -> str:
    import hashlib

    return hashlib.sha256(normalize_reference(reference).encode()).hexdigest()


def reference_locked(reference: str, now: dt.datetime, url: str | None = None) -> bool:
    """Whether ``reference`` failed REFERENCE_FAILURES times within FAILURE_WINDOW."""
    with read_scope(url) as session:
        count = session.execute(select(func.count(LookupFailure.id)).where(
            LookupFailure.key == _key(reference),
            LookupFailure.at > now - FAILURE_WINDOW)).scalar_one()
    return int(count) >= REFERENCE_FAILURES


def find_by_reference(reference: str, phone: str, now: dt.datetime, url: str | None = None
                      ) -> list[OwnVisit] | None:
    """The visits of a reference typed with its mobile number; [] when the pair matches
    nothing (counted); None when the reference is locked after too many failures (then even
    the right pair is not looked up)."""
    if reference_locked(reference, now, url):
        return None
    found = own_visits(Owner(reference=reference, reference_phone=phone), now, url)
    if not found:
        with session_scope(url) as session:
            # only the window counts: older failures are deleted as new ones come
            session.execute(delete(LookupFailure).where(LookupFailure.at <= now - FAILURE_WINDOW))
            session.add(LookupFailure(key=_key(reference), at=now))
    return found
