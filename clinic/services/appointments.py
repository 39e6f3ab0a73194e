"""Appointments: offer free times, hold one, and let staff confirm or decline it.

The clinic's CalDAV calendar is the source of truth for busy times
(:mod:`clinic.store.caldav_calendar`); the clinic database keeps who the visit is for (the booking
request, with its screening summary and promotion) and each visit's state
(:class:`clinic.store.models.Appointment`).

Only a saved booking request can hold a time, and :func:`clinic.services.booking.save_booking` saves
one only for an eligible person with the promotion decided there: this module adds no
second gate and no second promotion rule.

Two patients racing for one time: the claim is written in the clinic database first, under
the database's write lock (SQLite ``BEGIN IMMEDIATE``; a PostgreSQL transaction-scoped
advisory lock per calendar) and a partial unique index on (calendar, start) of active
visits, so exactly one claim wins, across processes and replicas. Then the calendar event
is written with ``If-None-Match`` after re-reading the busy times, so a time staff blocked
by hand also wins over the patient. The loser is offered the next free times.

When the calendar is down or slow the claim stays ``pending_calendar`` (the time is kept
for this person in the clinic database, and the booking request exists as today): the
patient is told the clinic will confirm a time, never that the time is booked, and
:func:`retry_pending` (run by the outbox worker) writes it later or flags it ``failed``.
"""

from __future__ import annotations

import datetime as dt
import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from clinic.knowledge import messages as M
from clinic.knowledge.appointments import AppointmentRules
from clinic.knowledge.kb import OUTCOME_ELIGIBLE
from clinic.rules.availability import Window, free_slots, spread
from clinic.rules.hours import Hours
from clinic.store.caldav_calendar import CalDAVCalendar, CalendarUnavailable, HeldEvent, SlotTaken
from clinic.store.db import read_scope, session_scope
from clinic.store.models import (
    ACTIVE_APPOINTMENT_STATES,
    Appointment,
    AuditEntry,
    BookingRequest,
    Followup,
    VisitEvent,
    utcnow,
)
from clinic.store.outbox import RetryPolicy

log = logging.getLogger(__name__)

HELD, TAKEN, PENDING = "held", "taken", "pending"
# The calendar is retried after 1, 2, 4 ... minutes, at most every 30 minutes.
RETRY = RetryPolicy(dt.timedelta(minutes=1), dt.timedelta(minutes=30), max_attempts=48)


class NotAllowed(RuntimeError):
    """The booking may not hold (or change) a visit; the message says why (for staff/logs)."""


@dataclass(frozen=True)
class HoldResult:
    """``held``: the time is held in the calendar; ``pending``: the calendar did not answer,
    the request is saved and staff confirm a time; ``taken``: someone else has it."""

    outcome: str
    appointment_id: int | None = None
    start: dt.datetime | None = None
    alternatives: tuple[dt.datetime, ...] = field(default=())


@dataclass(frozen=True)
class Scheduler:
    """What offering and holding need: the calendar, the rules, the hours and the zone."""

    calendar: CalDAVCalendar
    rules: AppointmentRules
    hours: Hours
    tz: dt.tzinfo
    url: str | None = None  # clinic database (None: the configured one)


# ------------------------------------------------------------------ offering


def _db_busy(session: Session, calendar_url: str, start: dt.datetime, end: dt.datetime
             ) -> list[tuple[dt.datetime, dt.datetime]]:
    """Active visits of the clinic database (claims not in the calendar yet included)."""
    rows = session.execute(select(Appointment.starts_at, Appointment.ends_at).where(
        Appointment.calendar_url == calendar_url,
        Appointment.state.in_(ACTIVE_APPOINTMENT_STATES),
        Appointment.starts_at < end, Appointment.ends_at > start)).all()
    return [(row[0], row[1]) for row in rows]


def offer(scheduler: Scheduler, treatment: str, window: Window, now: dt.datetime,
          exclude: Sequence[dt.datetime] = ()) -> list[dt.datetime]:
    """The next ``offer_count`` free times for ``treatment`` in ``window`` (CalendarUnavailable
    when the calendar does not answer)."""
    rules = scheduler.rules
    length = rules.length(treatment)
    first = max(dt.datetime.combine(window.first_day, dt.time(0), scheduler.tz), now)
    last_day = min(window.last_day, now.astimezone(scheduler.tz).date()
                   + dt.timedelta(days=rules.horizon_days))
    last = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), scheduler.tz)
    if last <= first:
        return []
    busy = scheduler.calendar.busy(first - length.buffer, last + length.buffer)
    with read_scope(scheduler.url) as session:
        busy += _db_busy(session, scheduler.calendar.url, first - dt.timedelta(days=1), last)
    window = Window(max(window.first_day, first.astimezone(scheduler.tz).date()), last_day,
                    window.weekdays, window.earliest, window.latest)
    slots = free_slots(hours=scheduler.hours, busy=busy, window=window, duration=length.duration,
                       buffer=length.buffer, step=rules.step, tz=scheduler.tz, now=now,
                       notice=rules.notice)
    slots = [slot for slot in slots if slot not in set(exclude)]
    return spread(slots, rules.offer_count)


# ------------------------------------------------------------------ holding


def _lock_calendar(session: Session, calendar_url: str) -> None:
    """Serialise claims on one calendar: SQLite already holds its write lock (BEGIN
    IMMEDIATE); PostgreSQL takes a transaction-scoped advisory lock for this calendar."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(calendar_url.encode()) & 0x7FFFFFFF
        session.execute(select(func.pg_advisory_xact_lock(key)))


def _overlapping(session: Session, calendar_url: str, start: dt.datetime, end: dt.datetime,
                 buffer: dt.timedelta, ignore_id: int | None = None) -> bool:
    conditions = [Appointment.calendar_url == calendar_url,
                  Appointment.state.in_(ACTIVE_APPOINTMENT_STATES),
                  Appointment.starts_at < end + buffer, Appointment.ends_at > start - buffer]
    if ignore_id is not None:
        conditions.append(Appointment.id != ignore_id)
    return session.execute(select(Appointment.id).where(and_(*conditions)).limit(1)).first() \
        is not None


def _claim(session: Session, scheduler: Scheduler, booking: BookingRequest, start: dt.datetime,
           now: dt.datetime, ignore_id: int | None = None) -> Appointment | None:
    length = scheduler.rules.length(booking.treatment)
    start = start.astimezone(dt.timezone.utc)
    end = start + length.duration
    if _overlapping(session, scheduler.calendar.url, start, end, length.buffer, ignore_id):
        return None
    appointment = Appointment(
        booking_id=booking.id, calendar_url=scheduler.calendar.url, treatment=booking.treatment,
        starts_at=start, ends_at=end, buffer_minutes=length.buffer_minutes,
        state="pending_calendar", created_at=now, state_changed_at=now,
        hold_expires_at=now + scheduler.rules.hold_expiry, calendar_attempts=0)
    session.add(appointment)
    session.flush()
    return appointment


def record(session: Session, appointment_id: int, kind: str, actor: str, now: dt.datetime,
           seen_by_staff: bool | None = None) -> None:
    """One row of the visit's history (visit_events): the funnel counts from it. What a
    patient did is unseen by staff until the Visits page shows it."""
    session.add(VisitEvent(appointment_id=appointment_id, at=now, kind=kind, actor=actor,
                           seen_by_staff=actor != "patient" if seen_by_staff is None
                           else seen_by_staff))


def _eligible_booking(session: Session, booking_id: int) -> BookingRequest:
    booking: BookingRequest | None = session.get(BookingRequest, booking_id)
    if booking is None:
        raise NotAllowed("no such booking request")
    # save_booking wrote this outcome after re-deriving it from the answers: the one gate.
    if booking.screening_outcome != OUTCOME_ELIGIBLE:
        raise NotAllowed("the booking request is not from an eligible person")
    if booking.status not in ("requested", "confirmed"):
        raise NotAllowed(f"the booking request is {booking.status}")
    return booking


def _label(scheduler: Scheduler, treatment: str) -> str:
    from clinic.knowledge.kb import knowledge

    try:
        return str(knowledge().clinic.treatment(treatment).label)
    except KeyError:
        return treatment


def _write_hold(scheduler: Scheduler, appointment_id: int, reference: str, treatment: str,
                start: dt.datetime, end: dt.datetime, now: dt.datetime) -> str:
    """Write the calendar event of a claimed visit; its new state (held, failed, pending)."""
    event: HeldEvent | None = None
    error: str | None = None
    try:
        event = scheduler.calendar.hold(reference, _label(scheduler, treatment), start, end)
        state = "held"
    except SlotTaken:
        state, error = "failed", "the time was taken in the calendar"
    except CalendarUnavailable as problem:
        state, error = "pending_calendar", str(problem)[:200]
    with session_scope(scheduler.url) as session:
        appointment = session.get(Appointment, appointment_id)
        assert appointment is not None
        appointment.calendar_attempts += 1
        appointment.last_error = error
        if appointment.state != "pending_calendar":  # cancelled meanwhile: undo the event
            if event is not None:
                _release_quietly(scheduler, event)
            return str(appointment.state)
        if event is not None:
            appointment.event_uid, appointment.event_href = event.uid, event.href
            appointment.next_attempt_at = None
        elif state == "pending_calendar":
            if appointment.calendar_attempts >= RETRY.max_attempts:
                state = "failed"  # staff call the person back from the booking request
            appointment.next_attempt_at = now + RETRY.backoff(appointment.calendar_attempts)
        if state != appointment.state or state == "held":
            record(session, appointment_id, state, "system", now)
        appointment.state, appointment.state_changed_at = state, now
    return state


def _release_quietly(scheduler: Scheduler, event: HeldEvent) -> None:
    try:
        scheduler.calendar.release(event)
    except CalendarUnavailable:
        log.warning("A calendar event could not be removed; staff should delete it")


def hold(scheduler: Scheduler, booking_id: int, start: dt.datetime, now: dt.datetime | None = None
         ) -> HoldResult:
    """Hold ``start`` for the booking: ``held``, ``taken`` (with the next free times), or
    ``pending`` (the calendar did not answer; the request stands, staff confirm a time)."""
    now = now or utcnow()
    with session_scope(scheduler.url) as session:
        _lock_calendar(session, scheduler.calendar.url)
        booking = _eligible_booking(session, booking_id)
        existing = session.execute(select(Appointment).where(
            Appointment.booking_id == booking_id,
            Appointment.state.in_(ACTIVE_APPOINTMENT_STATES))).scalars().first()
        if existing is not None:
            raise NotAllowed("the booking already has a visit; reschedule it instead")
        appointment = _claim(session, scheduler, booking, start, now)
        claimed = None if appointment is None else (appointment.id, appointment.starts_at,
                                                    appointment.ends_at)
        reference, treatment = booking.reference, booking.treatment
    if claimed is None:
        return _taken(scheduler, treatment, start, now)
    appointment_id, begin, end = claimed
    state = _write_hold(scheduler, appointment_id, reference, treatment, begin, end, now)
    if state == "held":
        return HoldResult(HELD, appointment_id, begin.astimezone(scheduler.tz))
    if state == "failed":
        return _taken(scheduler, treatment, start, now)
    return HoldResult(PENDING, appointment_id, begin.astimezone(scheduler.tz))


def _taken(scheduler: Scheduler, treatment: str, start: dt.datetime, now: dt.datetime
           ) -> HoldResult:
    local = start.astimezone(scheduler.tz)
    window = Window(local.date(), local.date() + dt.timedelta(days=scheduler.rules.horizon_days))
    try:
        alternatives = offer(scheduler, treatment, window, max(now, start - dt.timedelta(hours=1)),
                             exclude=[start])
    except CalendarUnavailable:
        alternatives = []
    return HoldResult(TAKEN, None, None, tuple(alternatives))


# ------------------------------------------------------------------ telling the patient


def _queue_text(session: Session, scheduler: Scheduler, booking: BookingRequest,
                appointment: Appointment, kind: str, message: M.Message, due_at: dt.datetime
                ) -> bool:
    """Queue a text in the SMS outbox (the follow-ups table: sent once, STOP and quiet hours
    honoured by clinic.sms.sender) if the person agreed to texts and has not opted out."""
    from sqlalchemy.exc import IntegrityError

    from clinic.knowledge.kb import knowledge
    from clinic.rules.availability import spoken_slot
    from clinic.sms import store

    phone = str(booking.phone_e164)
    if not store.consent_given(session, booking.id, phone) or store.is_opted_out(session, phone):
        return False
    body = knowledge().say(message, treatment=_label(scheduler, booking.treatment),
                           when=spoken_slot(appointment.starts_at.astimezone(scheduler.tz)),
                           reference=booking.reference)
    try:
        with session.begin_nested():
            session.add(Followup(booking_id=booking.id, phone_e164=phone,
                                 message_id=f"visit-{appointment.id}-{kind}", body=body,
                                 due_at=due_at, status="scheduled", attempts=0))
            session.flush()
    except IntegrityError:  # queued already: each text exists once
        return False
    return True


def _cancel_texts(session: Session, appointment: Appointment) -> None:
    """Texts about a visit that was moved, cancelled or declined are not sent."""
    for row in session.execute(select(Followup).where(
            Followup.booking_id == appointment.booking_id,
            Followup.message_id.like(f"visit-{appointment.id}-%"),
            Followup.status == "scheduled")).scalars():
        row.status = "cancelled"


# ------------------------------------------------------------------ staff and patients


def _appointment(session: Session, appointment_id: int, states: Sequence[str]) -> Appointment:
    appointment: Appointment | None = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotAllowed("no such visit")
    if appointment.state not in states:
        raise NotAllowed(f"the visit is {appointment.state}")
    return appointment


def _event(appointment: Appointment) -> HeldEvent | None:
    if appointment.event_href and appointment.event_uid:
        return HeldEvent(uid=str(appointment.event_uid), href=str(appointment.event_href))
    return None


def confirm(scheduler: Scheduler, appointment_id: int, now: dt.datetime | None = None) -> None:
    """Staff confirm a held visit: CONFIRMED in the calendar, the booking is confirmed."""
    now = now or utcnow()
    with session_scope(scheduler.url) as session:
        appointment = _appointment(session, appointment_id, ("held",))
        booking = session.get(BookingRequest, appointment.booking_id)
        assert booking is not None
        event = _event(appointment)
        if event is None:
            raise NotAllowed("the visit has no calendar event yet")
        # the calendar first: if it fails, nothing changes in the database
        scheduler.calendar.set_status(event, booking.reference, _label(scheduler, booking.treatment),
                                      appointment.starts_at, appointment.ends_at, "CONFIRMED")
        appointment.state, appointment.state_changed_at = "confirmed", now
        appointment.hold_expires_at = None
        record(session, appointment_id, "confirmed", "staff", now)
        if booking.status == "requested":
            booking.status, booking.status_changed_at = "confirmed", now
        _queue_text(session, scheduler, booking, appointment, "confirmed", M.SMS_VISIT_CONFIRMED, now)
        reminder_at = appointment.starts_at - scheduler.rules.reminder_lead
        if reminder_at > now:
            _queue_text(session, scheduler, booking, appointment, "reminder", M.SMS_VISIT_REMINDER,
                        reminder_at)


def release(scheduler: Scheduler, appointment_id: int, state: str,
            now: dt.datetime | None = None, actor: str = "staff") -> None:
    """Decline (staff), cancel (patient or staff) or expire a visit: the time is free again.
    ``actor`` (patient, staff, system) goes into the visit's history."""
    if state not in ("declined", "cancelled", "expired"):
        raise ValueError(state)
    now = now or utcnow()
    with session_scope(scheduler.url) as session:
        appointment = _appointment(session, appointment_id, ACTIVE_APPOINTMENT_STATES)
        event = _event(appointment)
        if event is not None:
            scheduler.calendar.release(event)
        appointment.state, appointment.state_changed_at = state, now
        record(session, appointment_id, state, actor, now)
        _cancel_texts(session, appointment)
        booking = session.get(BookingRequest, appointment.booking_id)
        if state == "declined" and booking is not None:
            _queue_text(session, scheduler, booking, appointment, "declined", M.SMS_VISIT_DECLINED,
                        now)
        if state == "cancelled":
            booking = session.get(BookingRequest, appointment.booking_id)
            if booking is not None and booking.status in ("requested", "confirmed"):
                booking.status, booking.status_changed_at = "cancelled", now


def expire_holds(scheduler: Scheduler, now: dt.datetime | None = None) -> int:
    """Release held visits staff did not confirm in time (and claims the calendar never
    took); how many."""
    now = now or utcnow()
    with read_scope(scheduler.url) as session:
        due = session.execute(select(Appointment.id).where(
            Appointment.state.in_(("held", "pending_calendar")),
            Appointment.hold_expires_at <= now)).scalars().all()
    done = 0
    for appointment_id in due:
        try:
            release(scheduler, appointment_id, "expired", now, actor="system")
            done += 1
        except (NotAllowed, CalendarUnavailable):
            continue
    return done


def retry_pending(scheduler: Scheduler, now: dt.datetime | None = None) -> dict[str, int]:
    """Write the calendar events of claims the calendar missed (the outbox worker's round)."""
    now = now or utcnow()
    with read_scope(scheduler.url) as session:
        rows = session.execute(
            select(Appointment.id, BookingRequest.reference, Appointment.treatment,
                   Appointment.starts_at, Appointment.ends_at)
            .join(BookingRequest, BookingRequest.id == Appointment.booking_id)
            .where(Appointment.state == "pending_calendar",
                   (Appointment.next_attempt_at.is_(None)) | (Appointment.next_attempt_at <= now))
        ).all()
    counts: dict[str, int] = {}
    for appointment_id, reference, treatment, start, end in rows:
        state = _write_hold(scheduler, appointment_id, reference, treatment, start, end, now)
        counts[state] = counts.get(state, 0) + 1
    return counts


def reschedule(scheduler: Scheduler, appointment_id: int, new_start: dt.datetime,
               now: dt.datetime | None = None, actor: str = "staff") -> HoldResult:
    """Move a visit: the new time is held and the old one freed, or nothing changes."""
    now = now or utcnow()
    with session_scope(scheduler.url) as session:
        _lock_calendar(session, scheduler.calendar.url)
        old = _appointment(session, appointment_id, ("held", "confirmed", "pending_calendar"))
        booking = _eligible_booking(session, old.booking_id)
        if new_start.astimezone(dt.timezone.utc) == old.starts_at:
            raise NotAllowed("the visit is already at that time")
        new = _claim(session, scheduler, booking, new_start, now, ignore_id=old.id)
        claimed = None if new is None else (new.id, new.starts_at, new.ends_at)
        reference, treatment = booking.reference, booking.treatment
        # the old visit keeps its time until the new one is held in the calendar
    if claimed is None:
        return _taken(scheduler, treatment, new_start, now)
    new_id, begin, end = claimed
    state = _write_hold(scheduler, new_id, reference, treatment, begin, end, now)
    if state == "held":
        with session_scope(scheduler.url) as session:
            old = session.get(Appointment, appointment_id)
            assert old is not None
            event = _event(old)
            old.state, old.state_changed_at = "cancelled", now
            record(session, appointment_id, "moved", actor, now)
            _cancel_texts(session, old)
        if event is not None:
            _release_quietly(scheduler, event)
        return HoldResult(HELD, new_id, begin.astimezone(scheduler.tz))
    # the calendar refused or did not answer: the old visit stands as it was
    with session_scope(scheduler.url) as session:
        new_row = session.get(Appointment, new_id)
        assert new_row is not None
        if new_row.state in ACTIVE_APPOINTMENT_STATES:
            new_row.state, new_row.state_changed_at = "failed", now
    if state == "failed":
        return _taken(scheduler, treatment, new_start, now)
    return HoldResult(PENDING, None, None)


def visits_for_booking(booking_id: int, url: str | None = None) -> list[Appointment]:
    with read_scope(url) as session:
        return list(session.execute(select(Appointment).where(
            Appointment.booking_id == booking_id).order_by(Appointment.id)).scalars())


def default_scheduler(url: str | None = None) -> Scheduler:
    """The clinic's calendar, rules, opening hours and time zone from settings and knowledge."""
    from clinic.config.settings import settings
    from clinic.knowledge.appointments import rules
    from clinic.knowledge.kb import knowledge
    from clinic.rules.hours import parse_hours
    from clinic.store.caldav_calendar import from_settings

    return Scheduler(calendar=from_settings(), rules=rules(),
                     hours=parse_hours(knowledge().clinic.hours), tz=settings().tz, url=url)


@lru_cache(maxsize=1)
def shared_scheduler() -> Scheduler:
    """The clinic's scheduler, made once per process (the actions share it)."""
    return default_scheduler()


@dataclass(frozen=True)
class VisitRow:
    """One visit as staff see it (the console's and the CLI's day and week views)."""

    appointment_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    state: str
    reference: str
    name: str
    treatment: str
    promotion: str
    screening_summary: str
    hold_expires_at: dt.datetime | None
    flagged: str  # why staff must act ("calendar did not answer", ...), else ""
    # what the patient did themselves (cancelled, moved, running_late, patient_confirmed),
    # newest first, with when
    patient_notes: tuple[tuple[dt.datetime, str], ...] = ()


def visits(start: dt.datetime, end: dt.datetime, url: str | None = None) -> list[VisitRow]:
    """Visits starting in [start, end), in time order, with the booking's details beside them."""
    with read_scope(url) as session:
        rows = session.execute(
            select(Appointment, BookingRequest)
            .join(BookingRequest, BookingRequest.id == Appointment.booking_id)
            .where(Appointment.starts_at >= start, Appointment.starts_at < end,
                   Appointment.state.notin_(("failed",)))
            .order_by(Appointment.starts_at, Appointment.id)).all()
    notes = patient_notes([appointment.id for appointment, _ in rows], url)
    result = []
    for appointment, booking in rows:
        flagged = ""
        if appointment.state == "pending_calendar":
            flagged = "not in the calendar yet: " + (appointment.last_error or "waiting")
        promotion = (f"{booking.promotion_code} (-${booking.promotion_amount_usd})"
                     if booking.promotion_code else "")
        result.append(VisitRow(
            appointment.id, appointment.starts_at, appointment.ends_at, str(appointment.state),
            str(booking.reference), str(booking.name), str(appointment.treatment), promotion,
            str(booking.screening_summary or ""), appointment.hold_expires_at, flagged,
            tuple(notes.get(int(appointment.id), ()))))
    return result


def work_once(scheduler: Scheduler, now: dt.datetime | None = None) -> dict[str, int]:
    """One round of the appointments worker: write claims the calendar missed, release
    holds past their expiry."""
    counts = retry_pending(scheduler, now)
    counts["expired"] = expire_holds(scheduler, now)
    return counts


def booking_id_for(reference: str, url: str | None = None) -> int | None:
    """The id of the booking request with this reference, or None."""
    from clinic.services.booking import find_booking

    with read_scope(url) as session:
        booking = find_booking(session, reference)
        return None if booking is None else int(booking.id)


def _close_begun_visit(session: Session, appointment_id: int, state: str,
                       now: dt.datetime) -> Appointment:
    """A confirmed visit that has begun ends as ``state`` (staff's word); its texts go."""
    appointment = _appointment(session, appointment_id, ("confirmed",))
    if appointment.starts_at > now:
        raise NotAllowed("the visit has not begun yet")
    appointment.state, appointment.state_changed_at = state, now
    record(session, appointment_id, state, "staff", now)
    _cancel_texts(session, appointment)
    return appointment


def mark_no_show(appointment_id: int, now: dt.datetime | None = None,
                 url: str | None = None) -> None:
    """Staff: the person did not come to a confirmed visit that has begun."""
    now = now or utcnow()
    with session_scope(url) as session:
        _close_begun_visit(session, appointment_id, "no_show", now)


def mark_treated(appointment_id: int, now: dt.datetime | None = None,
                 url: str | None = None) -> None:
    """Staff: the person came and was treated (a confirmed visit that has begun); the booking
    request becomes ``treated``."""
    now = now or utcnow()
    with session_scope(url) as session:
        appointment = _close_begun_visit(session, appointment_id, "treated", now)
        booking = session.get(BookingRequest, appointment.booking_id)
        if booking is not None and booking.status in ("requested", "confirmed"):
            booking.status, booking.status_changed_at = "treated", now


def audit_staff_action(action: str, appointment_id: int, staff_id: int | None,
                       staff_email: str, detail: str = "", now: dt.datetime | None = None) -> None:
    """An audit entry for a staff action on a visit (console or CLI): who, which visit, what
    came of it. No patient details."""
    with session_scope() as session:
        session.add(AuditEntry(at=now or utcnow(), staff_id=staff_id, staff_email=staff_email,
                               action=f"visit_{action.replace('-', '_')}",
                               conversation_ref=None,
                               detail=f"visit {appointment_id}: {detail}"[:500]))


# How a patient's own change reads beside the visit (console Visits page, `clinic visits list`).
PATIENT_NOTES = {"cancelled": "patient cancelled", "moved": "patient moved it",
                 "running_late": "patient running late", "patient_confirmed": "patient confirmed"}


def patient_notes(appointment_ids: Sequence[int], url: str | None = None
                  ) -> dict[int, list[tuple[dt.datetime, str]]]:
    """What patients did to these visits themselves (cancelled, moved, running late,
    confirmed by reply), newest first: the Visits page shows it beside the visit."""
    if not appointment_ids:
        return {}
    with read_scope(url) as session:
        rows = session.execute(select(VisitEvent.appointment_id, VisitEvent.at, VisitEvent.kind)
                               .where(VisitEvent.appointment_id.in_(list(appointment_ids)),
                                      VisitEvent.actor == "patient")
                               .order_by(VisitEvent.at.desc(), VisitEvent.id.desc())).all()
    notes: dict[int, list[tuple[dt.datetime, str]]] = {}
    for appointment_id, at, kind in rows:
        notes.setdefault(int(appointment_id), []).append((at, str(kind)))
    return notes


def visit_funnel(start: dt.datetime, end: dt.datetime, url: str | None = None
                 ) -> list[tuple[str, int | str]]:
    """Visits whose time falls in [start, end), counted from their history (visit_events):
    held, then confirmed, then treated, with the declined, cancelled, expired and no-show
    ones, and the cancellation and no-show rates. A visit confirmed and later cancelled
    counts as confirmed *and* cancelled. A move counts once: the visit moved away from is
    left out (its booking continues in the visit moved to)."""
    with read_scope(url) as session:
        rows = session.execute(
            select(VisitEvent.appointment_id, VisitEvent.kind)
            .join(Appointment, Appointment.id == VisitEvent.appointment_id)
            .where(Appointment.starts_at >= start, Appointment.starts_at < end)).all()
    kinds: dict[int, set[str]] = {}
    for appointment_id, kind in rows:
        kinds.setdefault(int(appointment_id), set()).add(str(kind))
    visits_held = [k for k in kinds.values() if "held" in k and "moved" not in k]

    def count(kind: str) -> int:
        return sum(1 for k in visits_held if kind in k)

    held, confirmed, cancelled, no_show = (len(visits_held), count("confirmed"),
                                           count("cancelled"), count("no_show"))

    def rate(part: int, whole: int) -> str:
        return f"{100 * part / whole:.0f}%" if whole else "-"

    return [("Visits held", held), ("… confirmed", confirmed), ("… treated", count("treated")),
            ("… declined by staff", count("declined")), ("… cancelled", cancelled),
            ("… expired unconfirmed", count("expired")), ("… no-show", no_show),
            ("Cancellation rate", rate(cancelled, held)),
            ("No-show rate", rate(no_show, confirmed))]
