"""Control characters never reach the clinic database (or the staff terminal)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import create_engine, select, update

from clinic.config.settings import settings
from clinic.knowledge.kb import knowledge
from clinic.rules.booking import BookingDraft
from clinic.services.booking import save_booking
from clinic.sms import inbound
from clinic.store import db
from clinic.store.models import BookingRequest, SmsMessage, WebhookDelivery
from clinic.store.sanitize import clean_json, clean_output, clean_text

UTC = dt.timezone.utc
NASTY = "\x00\x1b[2J\x1b]0;owned\x07\x08\x7f\x9b\u202e"
CONTROLS = set("\x00\x1b\x07\x08\x7f\x9b\u202e\r")


@pytest.mark.parametrize(("raw", "multiline", "clean"), [
    ("Ada\x00 Lovelace", False, "Ada Lovelace"),
    ("Ada\x1b[31m Lovelace", False, "Ada[31m Lovelace"),
    ("line one\r\nline\ttwo\rthree", True, "line one\nline\ttwo\nthree"),
    ("one\rtwo", False, "one two"),
    ("tab\tand\nnewline", False, "tab and newline"),
    ("C1\x85\x9b and DEL\x7f", True, "C1 and DEL"),
    ("bidi \u202egnp.exe\u202c", True, "bidi gnp.exe"),
    ("שלום, Zoë 😀", True, "שלום, Zoë 😀"),  # ordinary text, any script, is kept
])
def test_clean_text(raw, multiline, clean):
    assert clean_text(raw, multiline=multiline) == clean


def test_clean_json_and_output():
    assert clean_json({"a\x00": ["x\x1b", 1, None, {"b": "\x07y"}]}) == {"a": ["x", 1, None,
                                                                           {"b": "y"}]}
    assert clean_output("a,b\r\nc\x1b[0m\rd") == "a,b\r\nc[0md"


def draft(**overrides) -> BookingDraft:
    kb = knowledge()
    values = dict(
        name="Ada Lovelace", phone_e164="+14155552671", email="ada@example.com",
        treatment="facial_microneedling", preferred_times_text="Friday", sms_consent=True,
        sms_consent_wording=kb.clinic.sms_consent_wording, conversation_id="conv-1",
        channel="rest",
        screening_answers={rule.id: "no" for rule in kb.screening.contraindications})
    values.update(overrides)
    return BookingDraft(**values)


def test_nul_and_esc_in_a_name_notes_and_json_are_stored_without_them(clinic_db, monkeypatch):
    monkeypatch.setenv("CLINIC_BOOKING_WEBHOOK_URL", "https://clinic.example/hook")
    settings.cache_clear()
    save_booking(draft(preferred_times_text=f"Friday{NASTY}\nor Monday",
                       conversation_id=f"conv{NASTY}"), knowledge(), today=dt.date(2026, 3, 10))
    with db.session_scope() as session:
        booking = session.execute(select(BookingRequest)).scalar_one()
        booking.name = f"Ada{NASTY} Lovelace"  # as if validation had let it through
        booking.screening_summary = f"notes{NASTY}\nsecond line"
        session.execute(update(BookingRequest).values(
            screening_answers={"pregnant\x00": f"no{NASTY}"}))
    engine = create_engine(clinic_db)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT name, preferred_times_text, conversation_id, screening_summary, "
            "screening_answers FROM booking_requests").all()
        payloads = connection.exec_driver_sql(
            "SELECT payload FROM webhook_deliveries").scalars().all()
    engine.dispose()
    [(name, times, conversation, summary, answers)] = rows
    assert name == "Ada[2J]0;owned Lovelace"
    assert times == "Friday[2J]0;owned\nor Monday"  # the line break stays
    assert conversation == "conv[2J]0;owned"
    assert summary == "notes[2J]0;owned\nsecond line"
    assert "\\u0000" not in answers and "\\u001b" not in answers
    for stored in (name, times, conversation, summary, answers, *payloads):
        assert not set(stored) & CONTROLS
    with db.read_scope() as session:
        payload = session.execute(select(WebhookDelivery)).scalar_one().payload
    assert payload["preferred_times_text"] == "Friday[2J]0;owned\nor Monday"


def test_an_sms_body_with_nul_and_esc_is_logged_without_them(clinic_db):
    inbound.receive("+14155552671", f"hello{NASTY}\nthere", "SM" + "1" * 32)
    with db.read_scope() as session:
        body = session.execute(select(SmsMessage.body)).scalar_one()
    assert body == "hello[2J]0;owned\nthere"
