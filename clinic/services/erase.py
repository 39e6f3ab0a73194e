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
  their bookings, their phone numbers (SMS conversations use the number as sender id),
  and every conversation whose events mention one of their numbers (in any form the
  project's phone normalisation reads, e.g. "(415) 555-2671") or emails (any case),
  also those that never became a booking; and the staff console's refs and take-overs
  of those conversations;
* an SMS conversation found that way (its sender id is a phone number) makes that number
  theirs too: its texts and opt-out go as well;
* found by content as well as by phone: every text in the SMS log and every webhook
  delivery whose body mentions one of their numbers or emails.

The console's audit log keeps who looked at what, by opaque ref only: once the refs are
gone, its entries lead to nobody (policy: the audit trail stays, the person does not).

Nothing else is touched. The tracker store is cleaned first: if the clinic database
step then failed, running the command again finds the same bookings and finishes. A
missing tracker store is an error (:class:`TrackerStoreMissing`) and nothing is erased:
staff must know the erasure would not reach the conversations. On SQLite, deleted rows
are overwritten (``secure_delete``) and the WAL file is emptied afterwards.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import phonenumbers
from sqlalchemy import (
    String,
    bindparam,
    cast,
    column,
    delete,
    exc,
    inspect,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from clinic.config.settings import settings
from clinic.rules.booking import normalize_phone, phones_in_text
from clinic.store.db import external_engine, flush_deleted, get_engine, read_scope, session_scope
from clinic.store.models import (
    Appointment,
    BookingRequest,
    Callback,
    ConversationRef,
    Followup,
    InboxAssignment,
    PromotionRedemption,
    SmsConsent,
    SmsMessage,
    SmsOptOut,
    Takeover,
    VisitEvent,
    WebhookDelivery,
    WidgetPresence,
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
    visits: int = 0
    conversations: int = 0
    conversation_events: int = 0
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
            f"visits:                {self.visits}",
            f"conversations:         {self.conversations} "
            f"({self.conversation_events} tracker events)",
        ]
        return lines


def phone_for_erasure(text: str) -> str | None:
    """The E.164 form of a phone number staff type for an erasure, or None.

    A valid number is normalised as everywhere else. A number written in full
    international form ("+1 555 010 0123") is also taken as typed, even if it is not a
    valid number: texts from any sender end up in the SMS log and must be erasable too.
    """
    normal = normalize_phone(text)
    if normal:
        return normal
    compact = re.sub(r"[\s().-]", "", text or "")
    return compact if re.fullmatch(r"\+[1-9]\d{6,14}", compact) else None


def _ids(session: Session, query: Select) -> list[Any]:
    return sorted(set(session.execute(query).scalars()))


def _mentioning(session: Session, id_column: Any, text_column: Any, phones: set[str],
                emails: set[str]) -> set[Any]:
    """Ids of rows whose text (or JSON) mentions one of these numbers or emails: the
    database pre-filters with ``LIKE``, each candidate is confirmed in Python."""
    as_text = cast(text_column, String)
    conditions = [as_text.like(f"%{_like_escape(_last_digits(p))}%", escape=_LIKE_ESCAPE)
                  for p in phones if _last_digits(p)]
    conditions += [as_text.ilike(f"%{_like_escape(e)}%", escape=_LIKE_ESCAPE) for e in emails]
    if not conditions:
        return set()
    found: set[Any] = set()
    for row_id, value in session.execute(select(id_column, text_column).where(or_(*conditions))):
        body = value if isinstance(value, str) else json.dumps(value)
        if text_mentions(body, phones, emails) or event_mentions(body, phones, emails):
            found.add(row_id)
    return found


def find_person(session: Session, *, phone: str | None = None,
                email: str | None = None, extra_phones: set[str] | None = None) -> PersonData:
    """Collect the ids of everything of the person with this (normalised) phone / email.

    ``extra_phones``: numbers known to be theirs from elsewhere (the sender ids of SMS
    conversations that mention them)."""
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
    data.phones |= set(extra_phones or ())
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
    data.sms_message_ids = sorted(set(_ids(session, select(SmsMessage.id).where(
        or_(SmsMessage.phone_e164.in_(phones), SmsMessage.followup_id.in_(data.followup_ids)))))
        | _mentioning(session, SmsMessage.id, SmsMessage.body, data.phones, data.emails))
    data.webhook_delivery_ids = sorted(set(_ids(session, select(WebhookDelivery.id).where(
        WebhookDelivery.booking_id.in_(ids))))
        | _mentioning(session, WebhookDelivery.id, WebhookDelivery.payload, data.phones,
                      data.emails))
    data.opt_out_phones = _ids(session, select(SmsOptOut.phone_e164).where(
        SmsOptOut.phone_e164.in_(phones)))
    return data


class TrackerStoreMissing(Exception):
    """The configured tracker store is not there (or has no conversations table).

    Erasing cannot reach the person's conversations, so it must not pretend that
    "nothing was stored": staff are told to check ``tracker_store_url``.
    """


def tracker_label(url: str) -> str:
    """The tracker store URL for messages (a password in it is hidden)."""
    try:
        return repr(make_url(url))
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as typed
        return url


def _sqlite_file_missing(url: str) -> bool:
    prefix = "sqlite:///"
    if not url.startswith(prefix) or ":memory:" in url:
        return False
    return not Path(url[len(prefix):].split("?", 1)[0]).is_file()


def open_tracker_store(tracker_url: str) -> Engine:
    """An engine for Rasa's tracker store; raises :class:`TrackerStoreMissing`.

    SQLite connections run ``secure_delete`` (:func:`clinic.store.db.external_engine`). A
    missing SQLite file is not created by looking.
    """
    problem = f"no tracker store at {tracker_label(tracker_url)}: check tracker_store_url"
    if _sqlite_file_missing(tracker_url):
        raise TrackerStoreMissing(problem)
    engine = external_engine(tracker_url)
    try:
        with engine.connect() as connection:
            has_table = inspect(connection).has_table(TRACKER_EVENTS_TABLE)
    except exc.DBAPIError as error:
        engine.dispose()
        original = getattr(error, "orig", None) or error
        raise TrackerStoreMissing(f"{problem} ({type(original).__name__})") from None
    if not has_table:
        engine.dispose()
        raise TrackerStoreMissing(f"no tracker store at {tracker_label(tracker_url)} (no "
                                  f"'{TRACKER_EVENTS_TABLE}' table): check tracker_store_url")
    return engine


_EVENTS = table(TRACKER_EVENTS_TABLE, column("sender_id"), column("data"))
# Event fields that are ids, names or times, never something the person typed.
_TECHNICAL_KEYS = {"event", "timestamp", "message_id", "input_channel", "model_id",
                   "assistant_id", "policy", "confidence", "intent_ranking", "name",
                   "action_name", "action_text", "extractor", "entity", "start", "end"}


# "!" rather than a backslash: the same on every database, whatever its string settings.
_LIKE_ESCAPE = "!"


def _like_escape(value: str) -> str:
    return value.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def _last_digits(phone: str) -> str:
    """The last 4 digits of the national number: contiguous in every usual way of
    writing it ("555-2671", "555 2671", "5552671")."""
    try:
        national = str(phonenumbers.parse(phone, None).national_number)
    except phonenumbers.NumberParseException:
        national = re.sub(r"\D", "", phone)
    return national[-4:]


def _strings(value: object, key: str = "") -> Iterator[str]:
    """Every string in an event's JSON that could be something a person typed."""
    if key in _TECHNICAL_KEYS:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _strings(item, str(name))
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _mentions_email(text: str, email: str) -> bool:
    """True if ``email`` appears in ``text`` as a whole address (any letter case)."""
    pattern = (r"(?<![a-z0-9!#$%&'*+/=?^_`{|}~.-])" + re.escape(email)
               + r"(?![a-z0-9-]|\.[a-z0-9])")
    return re.search(pattern, text.lower()) is not None


def event_mentions(data: str | None, phones: set[str], emails: set[str]) -> bool:
    """True if a stored event (its JSON) contains one of these numbers or emails.

    Numbers are found in every form :func:`clinic.services.booking.normalize_phone` reads
    ("(415) 555-2671", "415.555.2671", "+1 415 555 2671", inside a sentence) and
    compared in E.164; emails ignoring case.
    """
    if not data:
        return False
    try:
        event = json.loads(data)
    except ValueError:
        event = data  # not JSON: search it as text
    return any(text_mentions(value, phones, emails) for value in _strings(event))


def text_mentions(text_value: str, phones: set[str], emails: set[str]) -> bool:
    """True if this text contains one of these numbers (any usual form) or emails."""
    if any(_mentions_email(text_value, email) for email in emails):
        return True
    return bool(phones and sum(char.isdigit() for char in text_value) >= 7
                and phones & phones_in_text(text_value))


def search_conversations(connection: Connection, phones: set[str],
                         emails: set[str]) -> set[str]:
    """Sender ids of every conversation whose events mention a phone or an email.

    The database pre-filters (``LIKE`` on the number's last digits, case-insensitive
    ``LIKE`` on the email), then each candidate event is confirmed in Python, so a
    number typed as "(415) 555-2671" is found for +14155552671 and a timestamp that
    happens to contain "2671" is not.
    """
    conditions = [_EVENTS.c.data.like(f"%{_like_escape(_last_digits(phone))}%",
                                      escape=_LIKE_ESCAPE)
                  for phone in phones if _last_digits(phone)]
    conditions += [_EVENTS.c.data.ilike(f"%{_like_escape(email)}%", escape=_LIKE_ESCAPE)
                   for email in emails]
    if not conditions:
        return set()
    found: set[str] = set()
    rows = connection.execute(select(_EVENTS.c.sender_id, _EVENTS.c.data)
                              .where(or_(*conditions)))
    for sender_id, data in rows:
        if sender_id not in found and event_mentions(data, phones, emails):
            found.add(sender_id)
    return found


def count_conversations(tracker_url: str, found: PersonData) -> tuple[int, int]:
    """(conversations, events) of this person in the tracker store.

    Their conversations are those of their bookings and phone numbers, and every other
    one that mentions their phone numbers or emails (see :func:`search_conversations`).
    Raises :class:`TrackerStoreMissing` if there is no tracker store.
    """
    return _tracker(tracker_url, found, remove=False)


def _tracker(tracker_url: str, found: PersonData, *, remove: bool) -> tuple[int, int]:
    engine = open_tracker_store(tracker_url)
    try:
        with engine.begin() as connection:
            ids = sorted(set(found.conversation_ids)
                         | search_conversations(connection, found.phones, found.emails))
            found.conversation_ids.update(ids)  # the console's refs of them go too
            if not ids:
                return 0, 0
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
        if remove and present:
            flush_deleted(engine)
        return conversations, events
    finally:
        engine.dispose()


def sms_numbers_of(conversation_ids: set[str]) -> set[str]:
    """The phone numbers among conversation ids: an SMS conversation that mentions the
    person is theirs, and so are its number's texts."""
    return {sender for sender in conversation_ids if phone_for_erasure(sender) == sender}


def erase_person(
    *, phone: str | None = None, email: str | None = None, url: str | None = None,
    tracker_url: str | None = None,
) -> ErasureReport:
    """Remove everything of the person with this normalised phone (E.164) and/or email.

    ``url`` is the clinic database (default: configured), ``tracker_url`` Rasa's tracker
    store (default: ``settings().tracker_store_url``). Returns what was removed.
    """
    tracker_url = tracker_url or settings().tracker_store_url
    with read_scope(url) as session:
        found = find_person(session, phone=phone, email=email)
    report = ErasureReport()
    # Raises TrackerStoreMissing before anything is erased if the store is not there.
    report.conversations, report.conversation_events = _tracker(tracker_url, found,
                                                                remove=True)
    tracker_ids = set(found.conversation_ids)
    sms_numbers = sms_numbers_of(tracker_ids)
    with session_scope(url) as session:
        # Look again inside the write transaction: a booking saved meanwhile goes too.
        found = find_person(session, phone=phone, email=email, extra_phones=sms_numbers)
        report.references = list(found.references)

        def remove(model: Any, column: Any, ids: Sequence[object]) -> int:
            if not ids:
                return 0
            return int(session.execute(
                delete(model).where(column.in_(ids)).execution_options(synchronize_session=False)
            ).rowcount or 0)

        # Children before parents (foreign keys are enforced).
        report.sms_messages = remove(SmsMessage, SmsMessage.id, found.sms_message_ids)
        report.followups = remove(Followup, Followup.id, found.followup_ids)
        report.consents = remove(SmsConsent, SmsConsent.id, found.consent_ids)
        report.redemptions = remove(PromotionRedemption, PromotionRedemption.id,
                                    found.redemption_ids)
        report.webhook_deliveries = remove(WebhookDelivery, WebhookDelivery.id,
                                           found.webhook_delivery_ids)
        report.opt_outs = remove(SmsOptOut, SmsOptOut.phone_e164, found.opt_out_phones)
        # Their visits and the visits' history (the calendar event carries only the
        # reference and the treatment; staff delete it there if it is still upcoming).
        visits = _ids(session, select(Appointment.id).where(
            Appointment.booking_id.in_(found.booking_ids)))
        remove(VisitEvent, VisitEvent.appointment_id, visits)
        report.visits = remove(Appointment, Appointment.id, visits)
        report.bookings = remove(BookingRequest, BookingRequest.id, found.booking_ids)
        # The staff console's handles on these conversations (its audit log keeps only
        # opaque refs, which then lead nowhere).
        conversations = sorted(found.conversation_ids | set(tracker_ids))
        remove(ConversationRef, ConversationRef.sender_id, conversations)
        remove(Takeover, Takeover.sender_id, conversations)
        # The inbox's call back requests (by conversation, and by the number or address
        # given in them), assignments and the widget's last-seen time.
        remove(Callback, Callback.sender_id, conversations)
        given = [column == value for column, value in ((Callback.phone_e164, phone),
                                                        (Callback.email, email)) if value]
        if given:
            session.execute(delete(Callback).where(or_(*given))
                            .execution_options(synchronize_session=False))
        remove(InboxAssignment, InboxAssignment.sender_id, conversations)
        remove(WidgetPresence, WidgetPresence.sender_id, conversations)

    flush_deleted(get_engine(url))
    log.info("Erased a person's data: %s bookings, %s conversations",
             report.bookings, report.conversations)
    return report
