"""The data-safety rules on PostgreSQL (skipped unless CLINIC_TEST_POSTGRES_URL is set).

NUL is refused by PostgreSQL and never gets there; two servers really do race for one
inbound text; the erasure search and the purge run on a PostgreSQL tracker store.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import uuid

import pytest
from sqlalchemy import create_engine, select, text

from clinic.config.settings import settings
from clinic.services.erase import erase_person
from clinic.services.retention import purge
from clinic.sms import inbound
from clinic.store import db
from clinic.store.models import BookingRequest, SmsMessage

POSTGRES_URL = os.environ.get("CLINIC_TEST_POSTGRES_URL", "")
pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="set CLINIC_TEST_POSTGRES_URL to a scratch PostgreSQL database "
    "(e.g. postgresql://user@127.0.0.1:5432/scratch) to run the PostgreSQL checks")
UTC = dt.timezone.utc
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _in_schema(schema: str) -> str:
    joiner = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{joiner}options=-csearch_path%3D{schema}"


@pytest.fixture
def pg(monkeypatch):
    """(clinic database URL, tracker store URL), each in a throw-away schema."""
    schemas = [f"clinic_test_{uuid.uuid4().hex[:8]}", f"tracker_test_{uuid.uuid4().hex[:8]}"]
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        for schema in schemas:
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    clinic_url, tracker_url = (_in_schema(schema) for schema in schemas)
    tracker = create_engine(tracker_url)
    with tracker.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE events (id SERIAL PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
            "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
            "action_name VARCHAR(255), data TEXT)")
    tracker.dispose()
    monkeypatch.setenv("CLINIC_DATABASE_URL", clinic_url)
    monkeypatch.setenv("CLINIC_TRACKER_STORE_URL", tracker_url)
    monkeypatch.delenv("CLINIC_BOOKING_WEBHOOK_URL", raising=False)
    settings.cache_clear()
    db.dispose_engines()
    try:
        yield clinic_url, tracker_url
    finally:
        db.dispose_engines()
        settings.cache_clear()
        with admin.begin() as connection:
            for schema in schemas:
                connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def add_events(url: str, sender: str, events: list[dict]) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        for event in events:
            connection.execute(text("INSERT INTO events (sender_id, type_name, timestamp, data) "
                                    "VALUES (:s, :t, :ts, :d)"),
                               {"s": sender, "t": event["event"], "ts": event["timestamp"],
                                "d": json.dumps(event)})
    engine.dispose()


def senders(url: str) -> set[str]:
    engine = create_engine(url)
    with engine.connect() as connection:
        found = set(connection.execute(text("SELECT DISTINCT sender_id FROM events")).scalars())
    engine.dispose()
    return found


def test_nul_never_reaches_postgresql(pg):
    with db.session_scope() as session:
        session.add(BookingRequest(
            reference="MN-PGNUL2", conversation_id="c\x00", channel="rest",
            name="Ada\x00\x1b[31m Lovelace", phone_e164="+14155552671",
            treatment="facial_microneedling", screening_outcome="eligible",
            screening_answers={"pregnant": "no\x00"}, screening_summary="x\x00y"))
    with db.read_scope() as session:
        booking = session.execute(select(BookingRequest)).scalar_one()
    assert (booking.name, booking.screening_summary) == ("Ada[31m Lovelace", "xy")
    assert booking.screening_answers == {"pregnant": "no"}


def test_two_servers_racing_for_one_inbound_text_process_it_once(pg):
    db.get_engine()
    barrier = threading.Barrier(4)
    decisions, errors = [], []

    def replica() -> None:
        try:
            barrier.wait()
            decisions.append(inbound.receive("+14155552671", "hello", "SM" + "b" * 32))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(d.to_assistant for d in decisions) == [False, False, False, True]
    with db.read_scope() as session:
        assert len(session.execute(select(SmsMessage.id)).all()) == 1


def test_erasure_search_and_purge_on_a_postgresql_tracker_store(pg):
    _, tracker = pg
    old, recent = (NOW - dt.timedelta(days=100)).timestamp(), NOW.timestamp()
    add_events(tracker, "web-1", [{"event": "user", "timestamp": recent,
                                   "text": "call me on (415) 555-2671"}])
    add_events(tracker, "web-2", [{"event": "user", "timestamp": recent,
                                   "text": "ADA_L@Example.com"}])
    add_events(tracker, "web-3", [{"event": "user", "timestamp": recent,
                                   "text": "adaxl@example.com 2671"}])
    add_events(tracker, "web-old", [{"event": "user", "timestamp": old, "text": "hi"}])
    report = erase_person(phone="+14155552671", email="ada_l@example.com")
    assert report.conversations == 2
    assert senders(tracker) == {"web-3", "web-old"}
    assert purge(now=NOW).conversations == 1
    assert senders(tracker) == {"web-3"}
