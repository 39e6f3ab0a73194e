"""Tables of the clinic database (SQLAlchemy 1.4 declarative models).

Every timestamp is stored in UTC (:class:`UTCDateTime`): timezone-aware datetimes go
in, timezone-aware UTC datetimes come out, on SQLite and PostgreSQL alike. The schema
itself is created by the Alembic migrations in ``clinic/store/migrations``; a test checks that
these models and the migrated database agree.

Every string written goes through :func:`clinic.store.sanitize.clean_text` first (the
``Clean*`` column types): NUL, ESC and the other control characters people can type
never reach the database (PostgreSQL refuses NUL) or, later, the staff terminal.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import declarative_base, relationship
from sqlalchemy.types import TypeDecorator

from clinic.rules.booking import BOOKING_STATUSES
from clinic.store.sanitize import clean_json, clean_text

# Stable constraint names, so migrations can refer to them on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
if TYPE_CHECKING:  # SQLAlchemy 1.4 has no types: what mypy needs to know of the base
    class Base:
        metadata: MetaData
        __table__: Any
        __tablename__: str

        def __init__(self, **columns: Any) -> None: ...
else:
    Base = declarative_base(metadata=MetaData(naming_convention=NAMING))

FOLLOWUP_STATUSES = ("scheduled", "sending", "sent", "failed", "cancelled", "skipped")
WEBHOOK_STATUSES = ("pending", "delivered", "failed")
SMS_DIRECTIONS = ("outbound", "inbound")
TRANSPORT_LOCAL_OUTBOX = "local-outbox"  # recorded only, NOT sent to anyone
TRANSPORT_TWILIO = "twilio"


def utcnow() -> dt.datetime:
    """The current time as a timezone-aware UTC datetime."""
    return dt.datetime.now(dt.timezone.utc)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator):
    """A timestamp stored as naive UTC; only timezone-aware datetimes are accepted."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: object, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            # A naive time is ambiguous (clinic time? UTC?): refuse rather than guess.
            raise ValueError("timestamps must be timezone-aware (e.g. datetime.now(timezone.utc))")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc)


class CleanString(TypeDecorator):
    """A single-line string column: control characters removed on the way in."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: object, dialect: Any) -> object:
        return clean_text(value, multiline=False) if isinstance(value, str) else value


class CleanText(TypeDecorator):
    """A multi-line text column: control characters except TAB and LF removed."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: object, dialect: Any) -> object:
        return clean_text(value) if isinstance(value, str) else value


class CleanJSON(TypeDecorator):
    """A JSON column whose strings (keys and values) lose their control characters."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: object, dialect: Any) -> object:
        return clean_json(value)


class BookingRequest(Base):
    """A booking request saved by the booking hand-off; staff act on it."""

    __tablename__ = "booking_requests"
    __table_args__ = (
        CheckConstraint(_one_of("status", BOOKING_STATUSES), name="status"),
        Index("ix_booking_requests_created_at", "created_at"),
    )

    id = Column(Integer, primary_key=True)
    reference = Column(CleanString(16), nullable=False, unique=True)
    created_at = Column(UTCDateTime(), nullable=False, default=utcnow)
    conversation_id = Column(CleanString(255), nullable=False, index=True)
    channel = Column(CleanString(40), nullable=False)
    name = Column(CleanString(100), nullable=False)
    phone_e164 = Column(CleanString(20), nullable=False, index=True)
    email = Column(CleanString(254), nullable=True, index=True)
    treatment = Column(CleanString(64), nullable=False)
    preferred_times_text = Column(CleanText, nullable=False, default="")
    preferred_times_parsed = Column(CleanJSON, nullable=False, default=list)
    screening_outcome = Column(CleanString(32), nullable=False)
    screening_answers = Column(CleanJSON, nullable=False, default=dict)
    screening_summary = Column(CleanText, nullable=False, default="")
    promotion_code = Column(CleanString(20), nullable=True)
    promotion_amount_usd = Column(Integer, nullable=True)
    status = Column(CleanString(16), nullable=False, default="requested")
    status_changed_at = Column(UTCDateTime(), nullable=False, default=utcnow)
    treated_at = Column(UTCDateTime(), nullable=True)

    consents = relationship("SmsConsent", back_populates="booking", order_by="SmsConsent.id")

    def __repr__(self) -> str:  # no personal data in reprs: they end up in logs
        return f"<BookingRequest {self.reference} {self.status}>"


class SmsConsent(Base):
    """A person's answer to the SMS consent question, with the exact wording shown."""

    __tablename__ = "sms_consents"

    id = Column(Integer, primary_key=True)
    booking_id = Column(Integer, ForeignKey("booking_requests.id"), nullable=False, index=True)
    phone_e164 = Column(CleanString(20), nullable=False, index=True)
    wording = Column(CleanText, nullable=False)
    given = Column(Boolean, nullable=False)
    given_at = Column(UTCDateTime(), nullable=False)
    channel = Column(CleanString(40), nullable=False)
    conversation_id = Column(CleanString(255), nullable=False)

    booking = relationship("BookingRequest", back_populates="consents")

    def __repr__(self) -> str:
        return f"<SmsConsent booking={self.booking_id} given={self.given}>"


class PromotionRedemption(Base):
    """One use of a promotion code; the unique constraints enforce once per person."""

    __tablename__ = "promotion_redemptions"
    __table_args__ = (
        UniqueConstraint("code", "phone_e164", name="uq_promotion_redemptions_code_phone"),
        UniqueConstraint("code", "email", name="uq_promotion_redemptions_code_email"),
    )

    id = Column(Integer, primary_key=True)
    code = Column(CleanString(20), nullable=False)
    phone_e164 = Column(CleanString(20), nullable=False)
    email = Column(CleanString(254), nullable=True)
    booking_id = Column(Integer, ForeignKey("booking_requests.id"), nullable=False, index=True)
    redeemed_at = Column(UTCDateTime(), nullable=False, default=utcnow)

    def __repr__(self) -> str:
        return f"<PromotionRedemption {self.code} booking={self.booking_id}>"


class SmsOptOut(Base):
    """The latest STOP / START state of a phone number (checked before every send)."""

    __tablename__ = "sms_opt_outs"

    phone_e164 = Column(CleanString(20), primary_key=True)
    opted_out = Column(Boolean, nullable=False)
    keyword = Column(CleanString(64), nullable=False, default="")
    changed_at = Column(UTCDateTime(), nullable=False, default=utcnow)

    def __repr__(self) -> str:
        return f"<SmsOptOut opted_out={self.opted_out}>"


class Followup(Base):
    """One scheduled aftercare text of a treated booking (durable, sent exactly once)."""

    __tablename__ = "followups"
    __table_args__ = (
        UniqueConstraint("booking_id", "message_id", name="uq_followups_booking_message"),
        CheckConstraint(_one_of("status", FOLLOWUP_STATUSES), name="status"),
        Index("ix_followups_status_due", "status", "due_at"),
    )

    id = Column(Integer, primary_key=True)
    booking_id = Column(Integer, ForeignKey("booking_requests.id"), nullable=False, index=True)
    phone_e164 = Column(CleanString(20), nullable=False, index=True)
    message_id = Column(CleanString(64), nullable=False)
    body = Column(CleanText, nullable=False)
    due_at = Column(UTCDateTime(), nullable=False)
    status = Column(CleanString(16), nullable=False, default="scheduled")
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UTCDateTime(), nullable=True)
    last_error = Column(CleanText, nullable=True)
    claimed_by = Column(CleanString(128), nullable=True)
    claimed_at = Column(UTCDateTime(), nullable=True)
    sent_at = Column(UTCDateTime(), nullable=True)
    provider_sid = Column(CleanString(64), nullable=True)

    def __repr__(self) -> str:
        return f"<Followup {self.message_id} booking={self.booking_id} {self.status}>"


class SmsMessage(Base):
    """The SMS log and local outbox: every text in or out, and how it travelled."""

    __tablename__ = "sms_messages"
    __table_args__ = (
        CheckConstraint(_one_of("direction", SMS_DIRECTIONS), name="direction"),
        # One row per inbound Twilio MessageSid: of two replicas handling the same
        # webhook at once, the second insert fails and that request does nothing.
        Index("uq_sms_messages_inbound_provider_sid", "provider_sid", unique=True,
              sqlite_where=text("direction = 'inbound'"),
              postgresql_where=text("direction = 'inbound'")),
        Index("ix_sms_messages_created_at", "created_at"),
    )

    id = Column(Integer, primary_key=True)
    direction = Column(CleanString(10), nullable=False)
    phone_e164 = Column(CleanString(20), nullable=False, index=True)
    body = Column(CleanText, nullable=False)
    created_at = Column(UTCDateTime(), nullable=False, default=utcnow)
    # "local-outbox": recorded only, never sent; "twilio": went through Twilio.
    transport = Column(CleanString(20), nullable=False)
    status = Column(CleanString(20), nullable=False)
    provider_sid = Column(CleanString(64), nullable=True)
    followup_id = Column(Integer, ForeignKey("followups.id"), nullable=True, index=True)

    def __repr__(self) -> str:
        return f"<SmsMessage {self.direction} {self.transport} {self.status}>"


class WebhookDelivery(Base):
    """A new booking waiting to be (or already) POSTed to the clinic's booking system."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(_one_of("status", WEBHOOK_STATUSES), name="status"),
        Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
    )

    id = Column(Integer, primary_key=True)
    booking_id = Column(Integer, ForeignKey("booking_requests.id"), nullable=False, index=True)
    url = Column(CleanText, nullable=False)
    payload = Column(CleanJSON, nullable=False)
    status = Column(CleanString(16), nullable=False, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UTCDateTime(), nullable=True)
    last_error = Column(CleanText, nullable=True)
    delivered_at = Column(UTCDateTime(), nullable=True)

    def __repr__(self) -> str:
        return f"<WebhookDelivery {self.id} booking={self.booking_id} {self.status}>"


# --------------------------------------------------------------------------- staff console

AUDIT_ACTIONS = ("login", "login_failed", "logout", "view", "take_over", "reply",
                 "hand_back", "export", "locked", "handled", "assign",
                 # staff acting on a visit (migration 0006)
                 "visit_confirm", "visit_decline", "visit_propose", "visit_cancel",
                 "visit_treated", "visit_no_show")


class StaffAccount(Base):
    """A member of the clinic's staff who may log in to the console."""

    __tablename__ = "staff_accounts"

    id = Column(Integer, primary_key=True)
    email = Column(String(254), nullable=False, unique=True)  # stored lower case
    display_name = Column(String(100), nullable=False, default="")
    password_hash = Column(Text, nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UTCDateTime(), nullable=False, default=utcnow)
    failed_logins = Column(Integer, nullable=False, default=0)
    locked_until = Column(UTCDateTime(), nullable=True)
    last_login_at = Column(UTCDateTime(), nullable=True)

    def __repr__(self) -> str:
        return f"<StaffAccount {self.id} active={self.active}>"


class StaffSession(Base):
    """A logged-in browser. Only a hash of the cookie's token is stored."""

    __tablename__ = "staff_sessions"

    token_hash = Column(String(64), primary_key=True)
    staff_id = Column(Integer, ForeignKey("staff_accounts.id"), nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(UTCDateTime(), nullable=False, default=utcnow)
    last_seen_at = Column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at = Column(UTCDateTime(), nullable=False)

    def __repr__(self) -> str:
        return f"<StaffSession staff={self.staff_id}>"


class AuditEntry(Base):
    """Who did what in the console, and when (every conversation view among them)."""

    __tablename__ = "audit_log"
    __table_args__ = (CheckConstraint(_one_of("action", AUDIT_ACTIONS), name="action"),)

    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime(), nullable=False, default=utcnow, index=True)
    staff_id = Column(Integer, ForeignKey("staff_accounts.id"), nullable=True, index=True)
    staff_email = Column(String(254), nullable=False, default="")
    action = Column(String(32), nullable=False)
    conversation_ref = Column(String(32), nullable=True, index=True)
    detail = Column(Text, nullable=False, default="")

    def __repr__(self) -> str:
        return f"<AuditEntry {self.action} staff={self.staff_id}>"


class ConversationRef(Base):
    """The opaque id the console uses for a conversation (never the sender id in URLs)."""

    __tablename__ = "conversation_refs"

    ref = Column(String(32), primary_key=True)
    sender_id = Column(String(255), nullable=False, unique=True)
    created_at = Column(UTCDateTime(), nullable=False, default=utcnow)

    def __repr__(self) -> str:
        return f"<ConversationRef {self.ref}>"


class Takeover(Base):
    """A conversation a member of staff has taken over; one row per conversation at most.

    The unique sender id is what stops two staff members taking the same conversation:
    the second INSERT fails. Handing back deletes the row (the audit log keeps history).
    """

    __tablename__ = "takeovers"

    id = Column(Integer, primary_key=True)
    sender_id = Column(String(255), nullable=False, unique=True)
    staff_id = Column(Integer, ForeignKey("staff_accounts.id"), nullable=False, index=True)
    channel = Column(String(40), nullable=False)
    started_at = Column(UTCDateTime(), nullable=False, default=utcnow)

    def __repr__(self) -> str:
        return f"<Takeover staff={self.staff_id} {self.channel}>"


class Callback(Base):
    """A person asked the clinic to call (or e-mail) them back; an item of the console's inbox.

    Written by the assistant (:mod:`clinic.services.inbox_store`), closed by staff ("handled").
    ``call_from`` is when the clinic opens next, as the person was told (None: open then).
    """

    __tablename__ = "callbacks"

    id = Column(Integer, primary_key=True)
    sender_id = Column(String(255), nullable=False, index=True)
    channel = Column(String(40), nullable=False)
    name = Column(CleanString(100), nullable=True)
    phone_e164 = Column(String(20), nullable=True)
    email = Column(String(254), nullable=True)
    created_at = Column(UTCDateTime(), nullable=False, default=utcnow, index=True)
    call_from = Column(UTCDateTime(), nullable=True)
    assigned_staff_id = Column(Integer, ForeignKey("staff_accounts.id"), nullable=True)
    handled_at = Column(UTCDateTime(), nullable=True)
    handled_by = Column(Integer, ForeignKey("staff_accounts.id"), nullable=True)

    def __repr__(self) -> str:
        return f"<Callback {self.id} {self.channel} handled={self.handled_at is not None}>"


class InboxAssignment(Base):
    """Which member of staff looks after a conversation of the inbox (one at most)."""

    __tablename__ = "inbox_assignments"

    sender_id = Column(String(255), primary_key=True)
    staff_id = Column(Integer, ForeignKey("staff_accounts.id"), nullable=False)
    assigned_at = Column(UTCDateTime(), nullable=False, default=utcnow)

    def __repr__(self) -> str:
        return f"<InboxAssignment staff={self.staff_id}>"


class WidgetPresence(Base):
    """Whether a widget conversation has a page connected now, and when it was last seen.

    Written by the Rasa server's socket.io channel on connect and disconnect: ``connected``
    counts the open pages (tabs) of that server process.
    """

    __tablename__ = "widget_presence"

    sender_id = Column(String(255), primary_key=True)
    connected = Column(Integer, nullable=False, default=0)
    last_seen = Column(UTCDateTime(), nullable=False, default=utcnow)

    def __repr__(self) -> str:
        return f"<WidgetPresence connected={self.connected}>"


APPOINTMENT_STATES = ("pending_calendar", "held", "confirmed", "declined", "cancelled",
                      "expired", "failed", "treated", "no_show")
# States that keep the time: nobody else may hold an overlapping visit.
ACTIVE_APPOINTMENT_STATES = ("pending_calendar", "held", "confirmed")


class Appointment(Base):
    """A visit time held in (or waiting for) the clinic's calendar, for one booking request.

    The calendar event carries only the reference and the treatment; everything about the
    person (and the screening summary) stays on the booking request. A partial unique index
    lets one active visit per calendar start at a given time; overlaps are refused under
    the write lock by :func:`clinic.services.appointments.hold`.
    """

    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint(_one_of("state", APPOINTMENT_STATES), name="state"),
        Index("uq_appointments_active_start", "calendar_url", "starts_at", unique=True,
              sqlite_where=text("state IN ('pending_calendar', 'held', 'confirmed')"),
              postgresql_where=text("state IN ('pending_calendar', 'held', 'confirmed')")),
        Index("ix_appointments_starts_at", "starts_at"),
    )

    id = Column(Integer, primary_key=True)
    booking_id = Column(Integer, ForeignKey("booking_requests.id"), nullable=False, index=True)
    calendar_url = Column(CleanString(500), nullable=False)
    treatment = Column(CleanString(64), nullable=False)
    starts_at = Column(UTCDateTime(), nullable=False)
    ends_at = Column(UTCDateTime(), nullable=False)
    buffer_minutes = Column(Integer, nullable=False, default=0)
    state = Column(CleanString(20), nullable=False)
    created_at = Column(UTCDateTime(), nullable=False, default=utcnow)
    state_changed_at = Column(UTCDateTime(), nullable=False, default=utcnow)
    hold_expires_at = Column(UTCDateTime(), nullable=True)
    event_uid = Column(CleanString(255), nullable=True)
    event_href = Column(CleanString(1000), nullable=True)
    calendar_attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UTCDateTime(), nullable=True)
    last_error = Column(CleanString(200), nullable=True)

    def __repr__(self) -> str:
        return f"<Appointment {self.id} {self.state}>"


# What happened to a visit, one row per change (migration 0006): the insights funnel counts
# from this history, not from the current state alone (a visit confirmed and then cancelled
# was confirmed). ``running_late`` and ``patient_confirmed`` change no state.
VISIT_EVENT_KINDS = ("held", "pending_calendar", "confirmed", "declined", "cancelled",
                     "expired", "failed", "moved", "treated", "no_show", "running_late",
                     "patient_confirmed")
VISIT_EVENT_ACTORS = ("patient", "staff", "system")


class VisitEvent(Base):
    """One change of a visit: who (patient, staff, system), what, when. No health details."""

    __tablename__ = "visit_events"
    __table_args__ = (
        CheckConstraint(_one_of("kind", VISIT_EVENT_KINDS), name="kind"),
        CheckConstraint(_one_of("actor", VISIT_EVENT_ACTORS), name="actor"),
        Index("ix_visit_events_appointment_id", "appointment_id"),
        Index("ix_visit_events_at", "at"),
    )

    id = Column(Integer, primary_key=True)
    appointment_id = Column(Integer, ForeignKey("appointments.id"), nullable=False)
    at = Column(UTCDateTime(), nullable=False, default=utcnow)
    kind = Column(CleanString(20), nullable=False)
    actor = Column(CleanString(10), nullable=False)
    seen_by_staff = Column(Boolean, nullable=False, default=False)

    def __repr__(self) -> str:
        return f"<VisitEvent {self.appointment_id} {self.kind}>"


class LookupFailure(Base):
    """A reference and mobile number typed together that matched no visit (migration 0006):
    too many for one reference, from any conversation, and the assistant stops looking it up
    for a while. The reference is kept only as a hash."""

    __tablename__ = "visit_lookup_failures"
    __table_args__ = (Index("ix_visit_lookup_failures_key_at", "key", "at"),)

    id = Column(Integer, primary_key=True)
    key = Column(CleanString(64), nullable=False)
    at = Column(UTCDateTime(), nullable=False, default=utcnow)
