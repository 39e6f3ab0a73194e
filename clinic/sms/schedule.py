"""Turn "treatment done" into durable, scheduled aftercare texts (the ``followups`` table).

The plan is ``knowledge/aftercare_plan.yml``: each text is due a number of hours after
the treatment, or on a later day at a local time in the clinic's time zone. A time that
falls in quiet hours (``settings.yml``, 21:00 to 08:00 by default) moves to the end of
quiet hours. Texts are scheduled only for a number that gave SMS consent for this
booking and has not opted out. The body is the plan's text with the clinic's name and
phone filled in, nothing from the booking: no diagnosis, medication or screening detail
can end up in a text.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clinic.config.settings import Settings, settings
from clinic.knowledge.kb import AftercareMessage, Knowledge, knowledge
from clinic.sms import store
from clinic.store.models import BookingRequest, Followup, utcnow

log = logging.getLogger(__name__)

# A text already this far in the past when the treatment is recorded (staff marked it
# done late) is not sent: "thank you for coming in today" two days later would confuse.
SCHEDULE_LATE_LIMIT = dt.timedelta(hours=12)


@dataclass(frozen=True)
class PlannedText:
    """One aftercare text of the plan, with its due time in UTC."""

    message_id: str
    body: str
    due_at: dt.datetime


def in_quiet_hours(moment: dt.datetime, config: Settings | None = None) -> bool:
    """True if ``moment`` (timezone-aware) is inside quiet hours in the clinic's time zone."""
    config = config or settings()
    start, end = config.quiet_start, config.quiet_end
    local = moment.astimezone(config.tz).time().replace(tzinfo=None)
    if start == end:
        return False  # no quiet hours configured
    if start < end:
        return start <= local < end
    return local >= start or local < end  # quiet hours span midnight


def after_quiet_hours(moment: dt.datetime, config: Settings | None = None) -> dt.datetime:
    """``moment`` itself, or the end of the quiet hours it falls in (as UTC)."""
    config = config or settings()
    if not in_quiet_hours(moment, config):
        return moment.astimezone(dt.timezone.utc)
    local = moment.astimezone(config.tz)
    day = local.date()
    end = dt.datetime.combine(day, config.quiet_end, tzinfo=config.tz)
    if end <= local:
        # Combine with the next calendar day (not +24h): stays right across DST changes.
        end = dt.datetime.combine(day + dt.timedelta(days=1), config.quiet_end, tzinfo=config.tz)
    return end.astimezone(dt.timezone.utc)


def due_time(message: AftercareMessage, treated_at: dt.datetime,
             config: Settings | None = None) -> dt.datetime:
    """When one plan entry is due (UTC), before the quiet-hours adjustment."""
    config = config or settings()
    if message.after_hours is not None:
        return treated_at.astimezone(dt.timezone.utc) + dt.timedelta(hours=message.after_hours)
    assert message.days_after is not None and message.at is not None
    local_day = treated_at.astimezone(config.tz).date() + dt.timedelta(days=message.days_after)
    local = dt.datetime.combine(local_day, dt.time.fromisoformat(message.at), tzinfo=config.tz)
    return local.astimezone(dt.timezone.utc)


def plan(treated_at: dt.datetime, kb: Knowledge | None = None,
         config: Settings | None = None) -> list[PlannedText]:
    """The aftercare texts for a treatment at ``treated_at``, in due order."""
    if treated_at.tzinfo is None:
        raise ValueError("treated_at must be timezone-aware")
    kb = kb or knowledge()
    config = config or settings()
    texts = [PlannedText(m.id, kb.fill(m.text), after_quiet_hours(due_time(m, treated_at, config),
                                                                   config))
             for m in kb.aftercare]
    return sorted(texts, key=lambda t: t.due_at)


def schedule_aftercare(session: Session, booking: BookingRequest, treated_at: dt.datetime,
                       now: dt.datetime | None = None) -> list[Followup]:
    """Create the booking's follow-up texts; return the rows created by this call.

    Nothing is scheduled without a "yes" SMS consent for this booking and number, or for
    an opted-out number. Calling it again (treatment marked done twice) creates nothing
    new: each (booking, message) exists once, enforced by a unique constraint too.
    Texts already more than :data:`SCHEDULE_LATE_LIMIT` in the past are recorded as
    ``skipped`` rather than sent late.
    """
    now = now or utcnow()
    phone = booking.phone_e164
    if not phone or not store.consent_given(session, booking.id, phone):
        log.info("No follow-ups for booking %s: no SMS consent.", booking.reference)
        return []
    if store.is_opted_out(session, phone):
        log.info("No follow-ups for booking %s: the number opted out.", booking.reference)
        return []
    existing = set(session.execute(
        select(Followup.message_id).where(Followup.booking_id == booking.id)).scalars())
    created: list[Followup] = []
    for text in plan(treated_at):
        if text.message_id in existing:
            continue
        late = text.due_at < now - SCHEDULE_LATE_LIMIT
        row = Followup(booking_id=booking.id, phone_e164=phone, message_id=text.message_id,
                       body=text.body, due_at=text.due_at, attempts=0,
                       status="skipped" if late else "scheduled",
                       last_error="already past when the treatment was recorded"
                       if late else None)
        try:
            # A savepoint per row: a concurrent call that inserted the same row first
            # (PostgreSQL) costs only that row, not the caller's whole transaction.
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            continue
        created.append(row)
    log.info("Scheduled %d follow-up texts for booking %s.",
             sum(1 for row in created if row.status == "scheduled"), booking.reference)
    return created


def cancel_followups(session: Session, *, phone: str | None = None,
                     booking_id: int | None = None, reason: str = "cancelled by staff") -> int:
    """Cancel every still-scheduled text of a number or of a booking; return how many.

    A text that a sender is handing to Twilio at this very moment (``sending``) cannot
    be called back and is not counted.
    """
    if phone is None and booking_id is None:
        raise ValueError("give a phone number or a booking")
    query = update(Followup).where(Followup.status == "scheduled")
    if phone is not None:
        query = query.where(Followup.phone_e164 == phone)
    if booking_id is not None:
        query = query.where(Followup.booking_id == booking_id)
    result = session.execute(query.values(status="cancelled", last_error=reason)
                             .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)
