"""Erasing a person: everything of theirs goes (clinic database and Rasa tracker store),
nothing of anyone else does."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import create_engine, func, select

from clinic.config.settings import settings
from clinic.knowledge.kb import knowledge
from clinic.rules.booking import BookingDraft
from clinic.services.booking import save_booking
from clinic.services.erase import TrackerStoreMissing, erase_person
from clinic.store import db, models
from tests.support import add_tracker_events, tracker_senders

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 10, 18, 0, tzinfo=UTC)
ADA = {"name": "Ada Lovelace", "phone": "+14155552671", "email": "ada@example.com"}
GRACE = {"name": "Grace Hopper", "phone": "+12065550100", "email": "grace@example.com"}
MODELS = (models.BookingRequest, models.SmsConsent, models.PromotionRedemption, models.Followup,
          models.SmsMessage, models.SmsOptOut, models.WebhookDelivery)


@pytest.fixture
def stores(clinic_db, tracker_store, monkeypatch):
    monkeypatch.setenv("CLINIC_BOOKING_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    settings.cache_clear()
    return clinic_db, tracker_store


def add_events(url: str, sender_id: str, n: int = 3) -> None:
    add_tracker_events(url, sender_id, [{"event": "user", "timestamp": float(i)} for i in range(n)])


def book(person: dict, conversation: str) -> int:
    kb = knowledge()
    draft = BookingDraft(
        name=person["name"], phone_e164=person["phone"], email=person["email"],
        treatment="facial_microneedling", preferred_times_text="Friday", sms_consent=True,
        sms_consent_wording=kb.clinic.sms_consent_wording, conversation_id=conversation,
        channel="socketio",
        screening_answers={rule.id: "no" for rule in kb.screening.contraindications})
    return save_booking(draft, kb, today=dt.date(2026, 3, 10)).booking_id


def add_sms_data(url: str, booking_id: int, phone: str) -> None:
    """What the SMS module writes for a treated patient: follow-ups, texts, an opt-out."""
    with db.session_scope(url) as session:
        followup = models.Followup(booking_id=booking_id, phone_e164=phone, message_id="next_day",
                            body="Aftercare reminder", due_at=NOW, status="sent", attempts=1)
        session.add(followup)
        session.flush()
        session.add_all([
            models.SmsMessage(direction="outbound", phone_e164=phone, body="Aftercare reminder",
                       created_at=NOW, transport="local-outbox", status="recorded",
                       followup_id=followup.id),
            models.SmsMessage(direction="inbound", phone_e164=phone, body="STOP", created_at=NOW,
                       transport="twilio", status="received"),
            models.SmsOptOut(phone_e164=phone, opted_out=True, keyword="STOP", changed_at=NOW),
        ])


def counts(url: str) -> dict[str, int]:
    with db.read_scope(url) as session:
        return {model.__tablename__: session.execute(
            select(func.count()).select_from(model)).scalar_one() for model in MODELS}


def rows_of(url: str, phone: str, email: str) -> dict[str, int]:
    """How many rows of each table still mention this phone or email."""
    with db.read_scope(url) as session:
        return {
            "bookings": session.execute(select(func.count()).select_from(models.BookingRequest).where(
                (models.BookingRequest.phone_e164 == phone) | (models.BookingRequest.email == email)
            )).scalar_one(),
            "consents": session.execute(select(func.count()).select_from(models.SmsConsent).where(
                models.SmsConsent.phone_e164 == phone)).scalar_one(),
            "redemptions": session.execute(
                select(func.count()).select_from(models.PromotionRedemption).where(
                    (models.PromotionRedemption.phone_e164 == phone)
                    | (models.PromotionRedemption.email == email))).scalar_one(),
            "followups": session.execute(select(func.count()).select_from(models.Followup).where(
                models.Followup.phone_e164 == phone)).scalar_one(),
            "sms": session.execute(select(func.count()).select_from(models.SmsMessage).where(
                models.SmsMessage.phone_e164 == phone)).scalar_one(),
            "opt_outs": session.execute(select(func.count()).select_from(models.SmsOptOut).where(
                models.SmsOptOut.phone_e164 == phone)).scalar_one(),
            "webhooks": sum(1 for payload in session.execute(
                select(models.WebhookDelivery.payload)).scalars()
                if payload["phone"] == phone or payload["email"] == email),
        }


@pytest.fixture
def two_people(stores):
    url, tracker = stores
    ada_1 = book(ADA, "web-ada-1")
    ada_2 = book(ADA, "web-ada-2")
    grace = book(GRACE, "web-grace")
    add_sms_data(url, ada_1, ADA["phone"])
    add_sms_data(url, grace, GRACE["phone"])
    for sender in ("web-ada-1", "web-ada-2", ADA["phone"], "web-grace", GRACE["phone"],
                   "someone-else"):
        add_events(tracker, sender)
    return url, tracker, (ada_1, ada_2, grace)


def test_erase_by_phone_removes_everything_of_that_person_only(two_people):
    url, tracker, _ = two_people
    before = counts(url)
    grace_before = rows_of(url, GRACE["phone"], GRACE["email"])

    report = erase_person(phone=ADA["phone"])

    assert (report.bookings, report.consents, report.redemptions) == (2, 2, 1)
    assert (report.followups, report.sms_messages, report.opt_outs) == (1, 2, 1)
    assert report.webhook_deliveries == 2
    assert (report.conversations, report.conversation_events) == (3, 9)
    assert rows_of(url, ADA["phone"], ADA["email"]) == dict.fromkeys(
        ("bookings", "consents", "redemptions", "followups", "sms", "opt_outs", "webhooks"), 0)
    after = counts(url)
    assert after == {
        "booking_requests": before["booking_requests"] - 2,
        "sms_consents": before["sms_consents"] - 2,
        "promotion_redemptions": before["promotion_redemptions"] - 1,
        "followups": before["followups"] - 1,
        "sms_messages": before["sms_messages"] - 2,
        "sms_opt_outs": before["sms_opt_outs"] - 1,
        "webhook_deliveries": before["webhook_deliveries"] - 2,
    }
    assert rows_of(url, GRACE["phone"], GRACE["email"]) == grace_before
    assert tracker_senders(tracker) == {"web-grace": 3, GRACE["phone"]: 3, "someone-else": 3}


def test_erase_by_email_finds_their_bookings_and_their_phone(two_people):
    url, tracker, _ = two_people
    grace_before = rows_of(url, GRACE["phone"], GRACE["email"])
    report = erase_person(email="ADA@example.com")
    assert report.bookings == 2 and report.opt_outs == 1 and report.sms_messages == 2
    assert set(rows_of(url, ADA["phone"], ADA["email"]).values()) == {0}
    assert rows_of(url, GRACE["phone"], GRACE["email"]) == grace_before
    assert set(tracker_senders(tracker)) == {"web-grace", GRACE["phone"], "someone-else"}


def test_erase_by_email_keeps_a_phone_shared_with_someone_else(stores):
    url, tracker = stores
    shared_phone = ADA["phone"]
    book(ADA, "web-ada")
    partner = book({"name": "Charles Babbage", "phone": shared_phone,
                    "email": "charles@example.com"}, "web-charles")
    add_sms_data(url, partner, shared_phone)
    add_events(tracker, shared_phone)

    report = erase_person(email=ADA["email"])

    assert report.bookings == 1
    assert (report.sms_messages, report.opt_outs) == (0, 0)  # the partner's texts stay
    with db.read_scope(url) as session:
        remaining = session.execute(select(models.BookingRequest.email)).scalars().all()
    assert remaining == ["charles@example.com"]
    assert shared_phone in tracker_senders(tracker)


def test_a_missing_tracker_store_is_an_error_and_nothing_is_erased(stores, tmp_path):
    url, _ = stores
    book(ADA, "web-ada")
    before = counts(url)
    missing = f"sqlite:///{tmp_path / 'none.db'}"
    with pytest.raises(TrackerStoreMissing, match="no tracker store at .*none.db.*"
                       "check tracker_store_url"):
        erase_person(phone=ADA["phone"], tracker_url=missing)
    assert counts(url) == before  # the clinic database is untouched too
    assert not (tmp_path / "none.db").exists()  # not created by looking


def test_a_tracker_store_without_the_events_table_is_an_error(stores, tmp_path):
    book(ADA, "web-ada")
    wrong = f"sqlite:///{tmp_path / 'other.db'}"
    engine = create_engine(wrong)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE something (id INTEGER)")
    engine.dispose()
    with pytest.raises(TrackerStoreMissing, match="no 'events' table"):
        erase_person(phone=ADA["phone"], tracker_url=wrong)


def user(text_typed: str, timestamp: float = 1.0) -> dict:
    """A user message as Rasa stores it."""
    return {"event": "user", "timestamp": timestamp, "text": text_typed,
            "parse_data": {"text": text_typed, "intent": {"name": "inform"},
                           "entities": []},
            "input_channel": "socketio", "message_id": "0f" * 16}


def slot(name: str, value: object) -> dict:
    return {"event": "slot", "timestamp": 2.0, "name": name, "value": value}


@pytest.mark.parametrize("typed", [
    "+14155552671", "(415) 555-2671", "415-555-2671", "415.555.2671", "415 555 2671",
    "my number is 4155552671 thanks", "+1 415 555 2671", "1-415-555-2671",
])
def test_conversations_that_never_became_a_booking_are_found_by_phone(stores, typed):
    _, tracker = stores
    add_tracker_events(tracker, "web-unfinished", [user("I'd like to book"), user(typed)])
    add_tracker_events(tracker, "web-other", [user("my number is (206) 555-0100")])
    report = erase_person(phone=ADA["phone"])
    assert report.bookings == 0
    assert (report.conversations, report.conversation_events) == (1, 2)
    assert set(tracker_senders(tracker)) == {"web-other"}


def test_phone_in_a_slot_value_and_email_in_any_case(stores):
    _, tracker = stores
    add_tracker_events(tracker, "sms-form", [slot("booking_phone", "(415) 555-2671")])
    add_tracker_events(tracker, "web-mail", [user("it's Ada.Lovelace@Example.COM")])
    add_tracker_events(tracker, "web-near-miss", [
        user("mail xada.lovelace@example.com or ada.lovelace@example.com.au"),
        user("my code is 2671, reference 555-2671"),  # the last digits, not the number
    ])
    report = erase_person(phone=ADA["phone"], email="ada.lovelace@example.com")
    assert report.conversations == 2
    assert set(tracker_senders(tracker)) == {"web-near-miss"}


def test_ids_and_timestamps_with_the_same_digits_do_not_match(stores):
    _, tracker = stores
    add_tracker_events(tracker, "web-noise", [
        {**user("hello", timestamp=1764415552671.0), "message_id": "a4155552671b" * 2},
        {"event": "action", "timestamp": 3.0, "name": "action_4155552671"},
    ])
    report = erase_person(phone=ADA["phone"])
    assert report.conversations == 0
    assert set(tracker_senders(tracker)) == {"web-noise"}


def test_the_search_is_prefiltered_in_sql(stores, monkeypatch):
    """Only events whose JSON contains the last digits or the email are parsed."""
    import clinic.services.erase as erase_module

    _, tracker = stores
    add_tracker_events(tracker, "web-a", [user(f"message {n}") for n in range(50)])
    add_tracker_events(tracker, "web-b", [user("call me on 415 555 2671")])
    seen = []
    original = erase_module.event_mentions

    def spy(data, phones, emails):
        seen.append(data)
        return original(data, phones, emails)

    monkeypatch.setattr(erase_module, "event_mentions", spy)
    assert erase_person(phone=ADA["phone"]).conversations == 1
    assert len(seen) == 1 and "2671" in seen[0]


def test_erased_values_are_overwritten_in_the_sqlite_files(stores, tmp_path):
    url, tracker = stores
    secret_name, secret_text = "Zebulon Quixotic", "my number is 415 555 2671 Xyzzyplugh"
    person = {**ADA, "name": secret_name}
    book(person, "web-ada")
    add_tracker_events(tracker, "web-ada", [user(secret_text)])
    add_tracker_events(tracker, "web-keep", [user("nothing personal " * 20)])
    db.dispose_engines()
    files = [tmp_path / "clinic.db", tmp_path / "tracker.db"]

    def leftovers() -> list[str]:
        found = []
        for path in files:
            for candidate in (path, path.with_name(path.name + "-wal")):
                if candidate.exists():
                    data = candidate.read_bytes()
                    found += [f"{candidate.name}: {value}" for value in
                              (secret_name, "Xyzzyplugh", ADA["email"]) if value.encode() in data]
        return found

    assert leftovers()  # the values are on disk before
    erase_person(phone=ADA["phone"])
    db.dispose_engines()
    assert leftovers() == []


def test_erase_of_unknown_person_changes_nothing(two_people):
    url, tracker, _ = two_people
    before, senders = counts(url), tracker_senders(tracker)
    report = erase_person(phone="+13125550111")
    assert report.bookings == 0 and report.conversations == 0
    assert counts(url) == before and tracker_senders(tracker) == senders


def test_erase_needs_an_identifier(stores):
    with pytest.raises(ValueError):
        erase_person()


def test_like_wildcards_in_an_email_are_taken_literally(stores):
    _, tracker = stores
    add_tracker_events(tracker, "web-underscore", [user("ada_l%1@example.com")])
    add_tracker_events(tracker, "web-lookalike", [user("adaxlx1@example.com")])
    report = erase_person(email="ada_l%1@example.com")
    assert report.conversations == 1
    assert set(tracker_senders(tracker)) == {"web-lookalike"}


def test_conversations_saved_by_rasa_itself_are_found(clinic_db):
    """Against the tracker store Rasa writes (ClinicSQLTrackerStore at tracker_store_url)."""
    import asyncio

    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import BotUttered, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from clinic.rasa.tracker_store import ClinicSQLTrackerStore

    store = ClinicSQLTrackerStore(Domain.empty())

    async def save(sender: str, events: list) -> None:
        await store.save(DialogueStateTracker.from_events(sender, events))

    asyncio.run(save("web-typed", [UserUttered("book please"),
                                   BotUttered("What's your mobile number?"),
                                   UserUttered("it's 415.555.2671")]))
    asyncio.run(save("web-slot", [SlotSet("booking_email", "Ada@Example.com")]))
    asyncio.run(save("web-other", [UserUttered("hello"), SlotSet("booking_phone",
                                                                 "+12065550100")]))
    store.engine.dispose()
    report = erase_person(phone=ADA["phone"], email=ADA["email"])
    assert report.conversations == 2
    assert set(tracker_senders(settings().tracker_store_url)) == {"web-other"}



def test_a_person_with_visits_is_erased_with_them(stores, clinic_calendar):
    """Visits (and their history) go with the booking request; nobody else's stay."""
    from clinic.knowledge.appointments import load_rules
    from clinic.rules.hours import parse_hours
    from clinic.services import appointments
    from clinic.store.db import read_scope

    url, _ = stores
    sched = appointments.Scheduler(calendar=clinic_calendar, rules=load_rules(),
                                   hours=parse_hours("Monday to Friday 9 am to 6 pm"),
                                   tz=dt.timezone.utc, url=url)
    ada, grace = book(ADA, "web-ada-v"), book(GRACE, "web-grace-v")
    start = dt.datetime(2026, 3, 12, 10, tzinfo=UTC)
    for booking_id, when in ((ada, start), (grace, start + dt.timedelta(hours=3))):
        held = appointments.hold(sched, booking_id, when, now=NOW)
        assert held.outcome == "held"
    report = erase_person(phone=ADA["phone"])
    assert report.visits == 1 and report.bookings == 1
    with read_scope(url) as session:
        left = session.execute(select(models.Appointment.booking_id)).scalars().all()
        history = session.execute(select(models.VisitEvent.appointment_id)).scalars().all()
    assert left == [grace] and len(history) == 1
