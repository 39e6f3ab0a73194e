"""Erasure leaves no trace: each place a person's data can be is seeded, the person is
erased by e-mail address only, and a full dump of both databases no longer contains their
e-mail, any form of their phone numbers, or the number of an SMS conversation that was
found only by its content. Someone else's data stays."""

from __future__ import annotations

import sqlite3

from clinic.console import accounts, security
from clinic.services.erase import erase_person
from clinic.store import db
from clinic.store.models import SmsMessage, Takeover, WebhookDelivery

try:
    from tests.support import add_tracker_events
    from tests.unit.services.test_erase import ADA, GRACE, NOW, add_sms_data, book, stores
except ImportError:  # plain `pytest`
    from support import add_tracker_events
    from test_erase import ADA, GRACE, NOW, add_sms_data, book, stores  # noqa: F401

# An SMS conversation from a number no booking knows, found only because Ada typed her
# e-mail address in it.
ADA_OTHER_MOBILE = "+14155550999"
TRACES = ("ada@example.com", "ADA@EXAMPLE.COM", "4155552671", "555-2671", "555 2671",
          "4155550999", "555-0999", "Lovelace")


def dump(url: str) -> str:
    """Every row of an SQLite database as SQL text (lower-cased)."""
    path = url.removeprefix("sqlite:///")
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return "\n".join(connection.iterdump()).lower()
    finally:
        connection.close()


def seed(url: str, tracker: str) -> None:
    ada = book(ADA, "web-ada")  # booking, consent, webhook delivery
    grace = book(GRACE, "web-grace")
    add_sms_data(url, ada, ADA["phone"])  # follow-up, texts, opt-out
    add_sms_data(url, grace, GRACE["phone"])
    add_tracker_events(tracker, "web-ada", [
        {"event": "user", "timestamp": 1.0, "text": "book me please"},
        {"event": "slot", "timestamp": 2.0, "name": "booking_name", "value": "Ada Lovelace"}])
    # A widget conversation that never became a booking: her number, typed.
    add_tracker_events(tracker, "web-ada-unbooked", [
        {"event": "user", "timestamp": 1.0, "text": "call me on (415) 555-2671"}])
    # An SMS conversation from another mobile, found by content (her e-mail) only...
    add_tracker_events(tracker, ADA_OTHER_MOBILE, [
        {"event": "user", "timestamp": 1.0, "text": "it's Ada, ADA@example.com",
         "input_channel": "twilio"}])
    add_tracker_events(tracker, "web-grace", [
        {"event": "user", "timestamp": 1.0, "text": "hello"}])
    staff = accounts.add_staff("staff@clinic.example", "a long staff password 1")
    with db.session_scope(url) as session:
        # ...whose texts sit in the SMS log,
        session.add_all([
            SmsMessage(direction="inbound", phone_e164=ADA_OTHER_MOBILE,
                       body="it's Ada, ADA@example.com", created_at=NOW, transport="twilio",
                       status="received"),
            SmsMessage(direction="outbound", phone_e164=ADA_OTHER_MOBILE, body="Thanks!",
                       created_at=NOW, transport="local-outbox", status="recorded"),
            # and a text from a third number that quotes her e-mail.
            SmsMessage(direction="inbound", phone_e164="+12065550177",
                       body="please book my friend ada@example.com", created_at=NOW,
                       transport="twilio", status="received"),
            Takeover(sender_id=ADA_OTHER_MOBILE, staff_id=staff.id, channel="twilio",
                     started_at=NOW),
        ])
        # A webhook payload of Grace's booking that mentions Ada (a shared note).
        delivery = session.query(WebhookDelivery).filter_by(booking_id=grace).one()
        delivery.payload = {**delivery.payload, "note": "friend of ada@example.com"}
    refs = security.refs_for(["web-ada", "web-ada-unbooked", ADA_OTHER_MOBILE, "web-grace"])
    for sender in ("web-ada", ADA_OTHER_MOBILE):
        security.audit(staff, "view", refs[sender])


def test_erasure_by_email_leaves_no_trace_anywhere(stores) -> None:
    url, tracker = stores
    seed(url, tracker)
    before_clinic, before_tracker = dump(url), dump(tracker)
    for trace in ("ada@example.com", "4155550999", "lovelace", "555-2671"):
        assert trace in before_clinic + before_tracker, trace  # the seed put it there

    report = erase_person(email="ADA@example.com")

    assert report.bookings == 1 and report.conversations == 3
    left = {"clinic": dump(url), "tracker": dump(tracker)}
    for name, text in left.items():
        for trace in TRACES:
            assert trace.lower() not in text, f"{trace!r} is still in the {name} database"
    # The audit trail stays, by opaque ref only: the refs now lead nowhere.
    assert security.sender_for(next(e.conversation_ref for e in security.recent_audit()
                                    if e.conversation_ref)) is None
    # Grace's booking, texts and conversation are untouched.
    assert "grace@example.com" in left["clinic"] and "2065550100" in left["clinic"]
    assert "web-grace" in left["tracker"]
