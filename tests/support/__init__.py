"""Test helpers shared by unit and integration tests (fakes of outside services, data).

Import as ``tests.support`` (pyproject puts the project root on pytest's path).
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

UTC = dt.timezone.utc
_references = itertools.count(1)

# Request bodies the REST channel refuses with 400, and a part of the reason it gives: checked
# on the parser (tests/unit/rasa/test_security_units.py) and on a running server (integration).
BAD_REST_BODIES = [
    (b"", "must be JSON"), (b"{bad", "must be JSON"), (b"[]", "JSON object"),
    (b'{"message": "hi"}', "'sender' is required"),
    (b'{"sender": null, "message": "hi"}', "'sender' is required"),
    (b'{"sender": 12, "message": "hi"}', "'sender' is required"),
    (b'{"sender": "a b", "message": "hi"}', "'sender' must be"),
    (b'{"sender": "me"}', "'message' is required"),
    (b'{"sender": "me", "message": null}', "'message' is required"),
    (b'{"sender": "me", "message": 42}', "'message' is required"),
]


def race(workers: int, prepare: Callable[[int], object],
         attempt: Callable[[object], object]) -> tuple[list[object], list[Exception]]:
    """Run ``attempt(prepare(i))`` for i in range(workers) in threads released at once.

    ``prepare`` runs before the threads meet at a barrier, ``attempt`` right after it, so the
    attempts really overlap. Returns (what the attempts returned, what they raised).
    """
    barrier = threading.Barrier(workers)
    results: list[object] = []
    errors: list[Exception] = []

    def run(index: int) -> None:
        prepared = prepare(index)
        barrier.wait()
        try:
            results.append(attempt(prepared))
        except Exception as error:  # noqa: BLE001 - returned to the test, which asserts on it
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


@pytest.fixture
def sms_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, migrated clinic database (SQLite file) with fixed SMS settings.

    Clinic time zone America/Los_Angeles, quiet hours 21:00-08:00, no Twilio credentials
    (the local outbox). Yields the database URL.
    """
    from clinic.config.settings import settings
    from clinic.store.db import dispose_engines, get_engine

    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    monkeypatch.setenv("CLINIC_DATABASE_URL", url)
    # Never the project's own conversation store (the sender loop runs the purge).
    monkeypatch.setenv("CLINIC_TRACKER_STORE_URL", f"sqlite:///{tmp_path / 'tracker.db'}")
    monkeypatch.setenv("CLINIC_TIMEZONE", "America/Los_Angeles")
    monkeypatch.setenv("CLINIC_QUIET_HOURS_START", "21:00")
    monkeypatch.setenv("CLINIC_QUIET_HOURS_END", "08:00")
    monkeypatch.setenv("CLINIC_TWILIO_FROM_NUMBER", "+15550000000")
    monkeypatch.setenv("CLINIC_TWILIO_WEBHOOK_PUBLIC_URL", "")
    monkeypatch.setenv("CLINIC_TWILIO_API_BASE", "")
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    settings.cache_clear()
    dispose_engines()
    get_engine(url)
    yield url
    dispose_engines()
    settings.cache_clear()


def add_booking(phone: str, consent: bool | None = True, *, status: str = "requested",
                consent_at: dt.datetime | None = None) -> int:
    """Save a booking request (and its SMS consent answer, unless ``consent`` is None).

    Returns the booking id. Uses the models directly: these tests are about texting, not
    about the booking hand-off.
    """
    from clinic.knowledge.kb import knowledge
    from clinic.store.db import session_scope
    from clinic.store.models import BookingRequest, SmsConsent

    given_at = consent_at or dt.datetime(2025, 6, 1, 16, 0, tzinfo=UTC)
    with session_scope() as session:
        booking = BookingRequest(
            reference=f"MN-T{next(_references):05d}", conversation_id=f"conv-{phone}",
            channel="rest", name="Test Patient", phone_e164=phone,
            treatment="facial_microneedling", screening_outcome="eligible",
            screening_answers={"pregnant": "no", "isotretinoin": "no"},
            screening_summary="Eligible: no contraindications reported.", status=status)
        session.add(booking)
        session.flush()
        if consent is not None:
            session.add(SmsConsent(booking_id=booking.id, phone_e164=phone,
                                   wording=knowledge().clinic.sms_consent_wording,
                                   given=consent, given_at=given_at, channel="rest",
                                   conversation_id=f"conv-{phone}"))
        return booking.id


def mark_treated(booking_id: int, treated_at: dt.datetime,
                 now: dt.datetime | None = None) -> list[str]:
    """Mark a booking treated and schedule its aftercare texts (as the staff tool does).

    Returns the message ids scheduled by this call.
    """
    from clinic.sms.schedule import schedule_aftercare
    from clinic.store.db import session_scope
    from clinic.store.models import BookingRequest

    with session_scope() as session:
        booking = session.get(BookingRequest, booking_id)
        assert booking is not None
        booking.status, booking.treated_at = "treated", treated_at
        rows = schedule_aftercare(session, booking, treated_at, now=now or treated_at)
        return [row.message_id for row in rows if row.status == "scheduled"]


def make_tracker_store(url: str) -> None:
    """An empty Rasa SQL tracker store: the table SQLTrackerStore creates (SQLEvent)."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, "
            "sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) NOT NULL, "
            "timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)")
        connection.exec_driver_sql(
            "CREATE INDEX IF NOT EXISTS ix_events_sender_id ON events (sender_id)")
    engine.dispose()


def tracker_senders(url: str) -> dict[str, int]:
    """Conversation id -> number of events, of every conversation in the tracker store."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT sender_id, COUNT(*) FROM events GROUP BY sender_id")).all()
    engine.dispose()
    return {sender: count for sender, count in rows}


def add_tracker_events(url: str, sender_id: str, events: list[dict]) -> None:
    """Append events (Rasa's JSON form: {"event": "user", "text": ...}) to a conversation."""
    import json

    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        for event in events:
            connection.execute(text(
                "INSERT INTO events (sender_id, type_name, timestamp, data) "
                "VALUES (:s, :type, :t, :data)"),
                {"s": sender_id, "type": event.get("event", "user"),
                 "t": float(event.get("timestamp", 0.0)), "data": json.dumps(event)})
    engine.dispose()
