"""Erase one person's data on request (the staff command ``clinic erase``).

A person is identified by the phone number and/or email address staff give. What goes:

* their booking requests (matched by that phone or email), and everything linked to
  those bookings: SMS consents, promotion redemptions, follow-ups and their texts,
  webhook deliveries;
* promotion redemptions made with that phone or email;
* for their phone numbers (the given one, and the ones on their bookings unless a
  booking that stays uses it too): the SMS opt-out entry and every text to or from it
  (the SMS log / local outbox);
* their conversations in Rasa's tracker store (table ``events``): the conversation ids of
  their bookings, and their phone numbers (SMS conversations use the number as sender id),
  and the staff console's refs and take-overs of those conversations.

Nothing else is touched. The tracker store is cleaned first: if the clinic database
step then failed, running the command again finds the same bookings and finishes.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import bindparam, create_engine, delete, inspect, or_, select, text
from sqlalchemy.orm import Session

from clinic.models import (
    BookingRequest,
    ConversationRef,
    Followup,
    PromotionRedemption,
    SmsConsent,
    SmsMessage,
    SmsOptOut,
    Takeover,
    WebhookDelivery,
)

log = logging.getLogger(__name__)

TRACKER_EVENTS_TABLE = "events"


@dataclass
class PersonData:
    """Ids of everything that belongs to one person (what erasing would remove)."""

    booking_ids: list[int] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    phones: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    conversation_ids: set[str] = field(default_factory=set)
    consent_ids: list[int] = field(default_factory=list)
    redemption_ids: list[int] = field(default_factory=list)
    followup_ids: list[int] = field(default_factory=list)
    sms_message_ids: list[int] = field(default_factory=list)
    webhook_delivery_ids: list[int] = field(default_factory=list)
    opt_out_phones: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any((self.booking_ids, self.consent_ids, self.redemption_ids,
                        self.followup_ids, self.sms_message_ids, self.webhook_delivery_ids,
                        self.opt_out_phones))


@dataclass
class ErasureReport:
    """How many rows of each kind were removed."""

    bookings: int = 0
    consents: int = 0
    redemptions: int = 0
    followups: int = 0
    sms_messages: int = 0
    webhook_deliveries: int = 0
    opt_outs: int = 0
    conversations: int = 0
    conversation_events: int = 0
    tracker_note: str = ""
    references: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable lines, one per kind of data."""
        refs = f" ({', '.join(self.references)})" if self.references else ""
        lines = [
            f"booking requests:      {self.bookings}{refs}",
            f"SMS consents:          {self.consents}",
            f"promotion redemptions: {self.redemptions}",
            f"follow-ups:            {self.followups}",
            f"SMS messages:          {self.sms_messages}",
            f"webhook deliveries:    {self.webhook_deliveries}",
            f"SMS opt-out entries:   {self.opt_outs}",
            f"conversations:         {self.conversations} "
            f"({self.conversation_events} tracker events)",
        ]
        if self.tracker_note:
            lines.append(f"tracker store: {self.tracker_note}")
        return lines


def phone_for_erasure(text: str) -> str | None:
    """The E.164 form of a phone number staff type for an erasure, or None.

    A valid number is normalised as everywhere else. A number written in full
    international form ("+1 555 010 0123") is also taken as typed, even if it is not a
    valid number: texts from any sender end up in the SMS log and must be erasable too.
    """
    from clinic.booking import normalize_phone

    normal = normalize_phone(text)
    if normal:
        return normal
    compact = re.sub(r"[\s().-]", "", text or "")
    return compact if re.fullmatch(r"\+[1-9]\d{6,14}", compact) else None


def _ids(session: Session, query) -> list:  # noqa: ANN001 - a select()
    return sorted(set(session.execute(query).scalars()))


def find_person(session: Session, *, phone: str | None = None,
                email: str | None = None) -> PersonData:
    """Collect the ids of everything of the person with this (normalised) phone / email."""
    if not phone and not email:
        raise ValueError("give a phone number or an email address")
    data = PersonData()
    matches = []
    if phone:
        matches.append(BookingRequest.phone_e164 == phone)
        data.phones.add(phone)
    if email:
        email = email.strip().lower()
        matches.append(BookingRequest.email == email)
        data.emails.add(email)
    bookings = session.execute(
        select(BookingRequest.id, BookingRequest.reference, BookingRequest.phone_e164,
               BookingRequest.email, BookingRequest.conversation_id).where(or_(*matches))
        .order_by(BookingRequest.id)
    ).all()
    for booking_id, reference, booking_phone, booking_email, conversation_id in bookings:
        data.booking_ids.append(booking_id)
        data.references.append(reference)
        data.phones.add(booking_phone)
        if booking_email:
            data.emails.add(booking_email)
        data.conversation_ids.add(conversation_id)
    ids = data.booking_ids
    # A phone taken from their bookings (when erasing by email) is theirs only if no
    # booking that stays uses it: a shared family number keeps its texts and opt-out.
    shared = set(session.execute(select(BookingRequest.phone_e164).where(
        BookingRequest.phone_e164.in_(sorted(data.phones)), BookingRequest.id.not_in(ids)
    )).scalars())
    data.phones -= shared - ({phone} if phone else set())
    phones = sorted(data.phones)
    data.conversation_ids.update(phones)
    data.consent_ids = _ids(session, select(SmsConsent.id).where(SmsConsent.booking_id.in_(ids)))
    redemption_match = [PromotionRedemption.booking_id.in_(ids)]
    if phone:
        redemption_match.append(PromotionRedemption.phone_e164 == phone)
    if email:
        redemption_match.append(PromotionRedemption.email == email)
    data.redemption_ids = _ids(session, select(PromotionRedemption.id).where(
        or_(*redemption_match)))
    data.followup_ids = _ids(session, select(Followup.id).where(Followup.booking_id.in_(ids)))
    data.sms_message_ids = _ids(session, select(SmsMessage.id).where(
        or_(SmsMessage.phone_e164.in_(phones), SmsMessage.followup_id.in_(data.followup_ids))))
    data.webhook_delivery_ids = _ids(session, select(WebhookDelivery.id).where(
        WebhookDelivery.booking_id.in_(ids)))
    data.opt_out_phones = _ids(session, select(SmsOptOut.phone_e164).where(
        SmsOptOut.phone_e164.in_(phones)))
    return data


def _sqlite_file_missing(url: str) -> bool:
    prefix = "sqlite:///"
    if not url.startswith(prefix) or ":memory:" in url:
        return False
    return not Path(url[len(prefix):].split("?", 1)[0]).is_file()


def count_conversations(tracker_url: str, conversation_ids: set[str]) -> tuple[int, int, str]:
    """(conversations, events, note) present in the tracker store for these ids."""
    return _tracker(tracker_url, conversation_ids, remove=False)


def _tracker(tracker_url: str, conversation_ids: set[str], *,
             remove: bool) -> tuple[int, int, str]:
    if not conversation_ids:
        return 0, 0, ""
    if _sqlite_file_missing(tracker_url):
        # Connecting would create an empty file; there is simply nothing stored yet.
        return 0, 0, "no tracker store file yet (nothing stored)"
    engine = create_engine(tracker_url, future=True, hide_parameters=True)
    try:
        with engine.begin() as connection:
            if not inspect(connection).has_table(TRACKER_EVENTS_TABLE):
                return 0, 0, "the tracker store has no conversations table yet"
            ids = sorted(conversation_ids)
            present = connection.execute(
                text(f"SELECT sender_id, COUNT(*) FROM {TRACKER_EVENTS_TABLE} "
                     "WHERE sender_id IN :ids GROUP BY sender_id")
                .bindparams(bindparam("ids", expanding=True)), {"ids": ids}
            ).all()
            conversations, events = len(present), sum(count for _, count in present)
            if remove and present:
                connection.execute(
                    text(f"DELETE FROM {TRACKER_EVENTS_TABLE} WHERE sender_id IN :ids")
                    .bindparams(bindparam("ids", expanding=True)), {"ids": ids}
                )
            return conversations, events, ""
    finally:
        engine.dispose()


def erase_person(
    *, phone: str | None = None, email: str | None = None, url: str | None = None,
    tracker_url: str | None = None,
) -> ErasureReport:
    """Remove everything of the person with this normalised phone (E.164) and/or email.

    ``url`` is the clinic database (default: configured), ``tracker_url`` Rasa's tracker
    store (default: ``settings().tracker_store_url``). Returns what was removed.
    """
    from clinic.db import read_scope, session_scope
    from clinic.settings import settings

    tracker_url = tracker_url or settings().tracker_store_url
    with read_scope(url) as session:
        found = find_person(session, phone=phone, email=email)
    report = ErasureReport()
    report.conversations, report.conversation_events, report.tracker_note = _tracker(
        tracker_url, found.conversation_ids, remove=True)
    with session_scope(url) as session:
        # Look again inside the write transaction: a booking saved meanwhile goes too.
        found = find_person(session, phone=phone, email=email)
        report.references = list(found.references)

        def remove(model, column, ids) -> int:  # noqa: ANN001
            if not ids:
                return 0
            return session.execute(
                delete(model).where(column.in_(ids)).execution_options(synchronize_session=False)
            ).rowcount

        # Children before parents (foreign keys are enforced).
        report.sms_messages = remove(SmsMessage, SmsMessage.id, found.sms_message_ids)
        report.followups = remove(Followup, Followup.id, found.followup_ids)
        report.consents = remove(SmsConsent, SmsConsent.id, found.consent_ids)
        report.redemptions = remove(PromotionRedemption, PromotionRedemption.id,
                                    found.redemption_ids)
        report.webhook_deliveries = remove(WebhookDelivery, WebhookDelivery.id,
                                           found.webhook_delivery_ids)
        report.opt_outs = remove(SmsOptOut, SmsOptOut.phone_e164, found.opt_out_phones)
        report.bookings = remove(BookingRequest, BookingRequest.id, found.booking_ids)
        # The staff console's handles on these conversations (its audit log keeps only
        # opaque refs, which then lead nowhere).
        conversations = sorted(found.conversation_ids)
        remove(ConversationRef, ConversationRef.sender_id, conversations)
        remove(Takeover, Takeover.sender_id, conversations)
    log.info("Erased a person's data: %s bookings, %s conversations",
             report.bookings, report.conversations)
    return report
