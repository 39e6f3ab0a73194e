"""A patient's own visit: find it, cancel it, move it, say they are running late or confirm
they are coming (issue 20, docs/appointments.md "Self-service").

Every function takes the :class:`~clinic.services.visit_lookup.Owner` the person proved to be
and checks, in the same call, that the visit is one of theirs: a conversation never sees or
changes anyone else's visit, whatever ids its slots hold. What the patient did is written to
the visit's history (visit_events, actor ``patient``), which the console's Visits page shows
to staff beside the visit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from clinic.rules.availability import Window
from clinic.services import appointments
from clinic.services.visit_lookup import Owner, OwnVisit, own_visits
from clinic.store.db import session_scope


def ways_to_find(channel: str, sender_id: str, reference: str | None = None,
                 reference_phone: str | None = None) -> list[Owner]:
    """How this conversation may find visits: over SMS only by the number texting; in the
    widget (or REST) by the conversation that booked, and by a reference and mobile number
    the person typed together (once checked)."""
    if channel == "twilio":
        return [Owner(sms_phone=sender_id)]
    ways = [Owner(conversation_id=sender_id)]
    if reference and reference_phone:
        ways.append(Owner(reference=reference, reference_phone=reference_phone))
    return ways


def find(ways: Sequence[Owner], now: dt.datetime, url: str | None = None
         ) -> tuple[Owner | None, list[OwnVisit]]:
    """The first way that finds upcoming visits, and those visits (soonest first)."""
    for owner in ways:
        found = own_visits(owner, now, url)
        if found:
            return owner, found
    return None, []


def _own(owner: Owner, appointment_id: int, now: dt.datetime, url: str | None) -> OwnVisit:
    for visit in own_visits(owner, now, url):
        if visit.appointment_id == appointment_id:
            return visit
    raise appointments.NotAllowed("not one of this person's upcoming visits")


def cancel(scheduler: appointments.Scheduler, owner: Owner, appointment_id: int,
           now: dt.datetime) -> OwnVisit:
    """Cancel one's own visit: the calendar event is removed, the time is free again, the
    unsent texts about it are not sent, staff see "patient cancelled"."""
    visit = _own(owner, appointment_id, now, scheduler.url)
    appointments.release(scheduler, appointment_id, "cancelled", now, actor="patient")
    return visit


def move_offers(scheduler: appointments.Scheduler, owner: Owner, appointment_id: int,
                window: Window, now: dt.datetime) -> list[dt.datetime]:
    """Free times in ``window`` for one's own visit (its current time left out)."""
    visit = _own(owner, appointment_id, now, scheduler.url)
    return appointments.offer(scheduler, visit.treatment, window, now,
                              exclude=[visit.starts_at])


def move(scheduler: appointments.Scheduler, owner: Owner, appointment_id: int,
         start: dt.datetime, now: dt.datetime) -> appointments.HoldResult:
    """Move one's own visit to ``start``: held there and freed here, or nothing changes."""
    _own(owner, appointment_id, now, scheduler.url)
    return appointments.reschedule(scheduler, appointment_id, start, now, actor="patient")


def note(owner: Owner, appointment_id: int, kind: str, now: dt.datetime,
         url: str | None = None) -> OwnVisit:
    """Tell staff without changing the visit: ``running_late`` or ``patient_confirmed``."""
    if kind not in ("running_late", "patient_confirmed"):
        raise ValueError(kind)
    visit = _own(owner, appointment_id, now, url)
    with session_scope(url) as session:
        appointments.record(session, appointment_id, kind, "patient", now)
    return visit
