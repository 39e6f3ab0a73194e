"""Hold, confirm, decline, expire, move and race: the clinic database plus the real local
CalDAV server (Radicale), no mock."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from clinic.knowledge.appointments import load_rules
from clinic.knowledge.kb import knowledge
from clinic.rules.availability import Window
from clinic.rules.booking import BookingDraft, NotEligible
from clinic.rules.hours import parse_hours
from clinic.services import appointments
from clinic.services.booking import save_booking
from clinic.store.caldav_calendar import CalDAVCalendar
from clinic.store.models import Appointment, BookingRequest
from tests.support.calendar import TEST_PASSWORD, free_port

LA = ZoneInfo("America/Los_Angeles")
UTC = dt.timezone.utc
NOW = dt.datetime(2031, 3, 3, 8, tzinfo=LA)  # Monday 8 am
TUESDAY_10 = dt.datetime(2031, 3, 4, 10, tzinfo=LA)
HOURS = "Monday to Friday 9 am to 6 pm, Saturday 10 am to 2 pm"


def scheduler(calendar: CalDAVCalendar, url: str) -> appointments.Scheduler:
    return appointments.Scheduler(calendar=calendar, rules=load_rules(), hours=parse_hours(HOURS),
                                  tz=LA, url=url)


def book(url: str, phone: str = "+14155552671", answers: dict[str, str] | None = None,
         treatment: str = "facial_microneedling") -> int:
    kb = knowledge()
    draft = BookingDraft(
        name="Ada Lovelace", phone_e164=phone, treatment=treatment,
        preferred_times_text="tuesday morning", sms_consent=True,
        sms_consent_wording=kb.clinic.sms_consent_wording, conversation_id=f"conv-{phone}",
        channel="socketio",
        screening_answers=answers or {rule.id: "no" for rule in kb.screening.contraindications})
    return save_booking(draft, kb, today=NOW.date(), url=url, now=NOW.astimezone(UTC)).booking_id


def state(url: str, appointment_id: int) -> str:
    from clinic.store.db import read_scope
    with read_scope(url) as session:
        row = session.get(Appointment, appointment_id)
        assert row is not None
        return str(row.state)


def test_offer_hold_confirm(clinic_db: str, clinic_calendar: CalDAVCalendar) -> None:
    sched = scheduler(clinic_calendar, clinic_db)
    offered = appointments.offer(sched, "facial_microneedling",
                                 Window(TUESDAY_10.date(), TUESDAY_10.date()), NOW)
    assert offered[0] == dt.datetime(2031, 3, 4, 9, tzinfo=LA)
    booking_id = book(clinic_db)
    held = appointments.hold(sched, booking_id, TUESDAY_10, now=NOW)
    assert (held.outcome, held.start) == ("held", TUESDAY_10)
    [event] = clinic_calendar.events()
    assert event["status"] == "TENTATIVE"
    # no name, phone or health detail in the calendar: the reference and the treatment only
    assert "Ada" not in str(event) and "+1415" not in str(event)
    assert "Facial microneedling" in event["summary"]
    # the held time is no longer offered (nor the buffer around it)
    again = appointments.offer(sched, "facial_microneedling",
                               Window(TUESDAY_10.date(), TUESDAY_10.date()), NOW)
    assert TUESDAY_10 not in again
    assert held.appointment_id is not None
    appointments.confirm(sched, held.appointment_id, now=NOW)
    assert [e["status"] for e in clinic_calendar.events()] == ["CONFIRMED"]
    assert state(clinic_db, held.appointment_id) == "confirmed"
    from clinic.store.db import read_scope
    with read_scope(clinic_db) as session:
        booking = session.get(BookingRequest, booking_id)
        assert booking is not None and booking.status == "confirmed"
        assert booking.screening_summary  # stays in the clinic database


def test_only_an_eligible_booking_can_hold(clinic_db: str, clinic_calendar: CalDAVCalendar) -> None:
    kb = knowledge()
    first_rule = kb.screening.contraindications[0].id
    answers = {rule.id: "no" for rule in kb.screening.contraindications}
    answers[first_rule] = "yes"
    with pytest.raises(NotEligible):  # the one gate: save_booking's
        book(clinic_db, answers=answers)
    sched = scheduler(clinic_calendar, clinic_db)
    with pytest.raises(appointments.NotAllowed):
        appointments.hold(sched, 9999, TUESDAY_10, now=NOW)
    assert clinic_calendar.events() == []


def test_decline_and_expiry_free_the_time(clinic_db: str, clinic_calendar: CalDAVCalendar) -> None:
    sched = scheduler(clinic_calendar, clinic_db)
    first = appointments.hold(sched, book(clinic_db), TUESDAY_10, now=NOW)
    assert first.appointment_id is not None
    appointments.release(sched, first.appointment_id, "declined", now=NOW)
    assert clinic_calendar.events() == []
    second = appointments.hold(sched, book(clinic_db, phone="+14155550111"), TUESDAY_10, now=NOW)
    assert second.outcome == "held" and second.appointment_id is not None
    expiry = load_rules().hold_expiry
    assert appointments.expire_holds(sched, now=NOW + expiry - dt.timedelta(minutes=1)) == 0
    assert appointments.expire_holds(sched, now=NOW + expiry) == 1
    assert state(clinic_db, second.appointment_id) == "expired"
    assert clinic_calendar.busy(TUESDAY_10, TUESDAY_10 + dt.timedelta(hours=1)) == []


def test_a_taken_time_offers_the_next_free_ones(clinic_db: str, clinic_calendar: CalDAVCalendar
                                                ) -> None:
    sched = scheduler(clinic_calendar, clinic_db)
    appointments.hold(sched, book(clinic_db), TUESDAY_10, now=NOW)
    lost = appointments.hold(sched, book(clinic_db, phone="+14155550111"), TUESDAY_10, now=NOW)
    assert lost.outcome == "taken" and lost.alternatives
    assert all(alt.astimezone(UTC) >= (TUESDAY_10 + dt.timedelta(minutes=75)).astimezone(UTC)
               or alt.astimezone(UTC) <= (TUESDAY_10 - dt.timedelta(minutes=75)).astimezone(UTC)
               for alt in lost.alternatives)
    won = appointments.hold(sched, book(clinic_db, phone="+14155550112"), lost.alternatives[0],
                            now=NOW)
    assert won.outcome == "held"


def test_staff_blocked_time_in_the_calendar_wins(clinic_db: str, clinic_calendar: CalDAVCalendar
                                                 ) -> None:
    import caldav
    with caldav.DAVClient(url=clinic_calendar.url, username="clinic",
                          password=TEST_PASSWORD) as client:
        client.calendar(url=clinic_calendar.url).save_event(
            dtstart=TUESDAY_10, dtend=TUESDAY_10 + dt.timedelta(hours=1), summary="Staff meeting")
    sched = scheduler(clinic_calendar, clinic_db)
    result = appointments.hold(sched, book(clinic_db), TUESDAY_10, now=NOW)
    assert result.outcome == "taken" and TUESDAY_10 not in result.alternatives


def _race(url: str, calendar_url: str, booking_id: int, start: str, queue: multiprocessing.Queue[str]
          ) -> None:
    os.environ["CLINIC_DATABASE_URL"] = url
    from clinic.store import db
    db.dispose_engines()
    calendar = CalDAVCalendar(calendar_url, "clinic", TEST_PASSWORD)
    result = appointments.hold(scheduler(calendar, url), booking_id,
                               dt.datetime.fromisoformat(start), now=NOW)
    queue.put(result.outcome)


def test_patients_racing_from_separate_processes_exactly_one_gets_the_time(
        clinic_db: str, clinic_calendar: CalDAVCalendar) -> None:
    bookings = [book(clinic_db, phone=f"+1415555{n:04d}") for n in range(120, 126)]
    context = multiprocessing.get_context("fork")  # each child drops the inherited engine
    queue: multiprocessing.Queue[str] = context.Queue()
    # two overlapping starts (10:00 and 10:30) as well as the same one: one visit wins
    starts = [TUESDAY_10, TUESDAY_10 + dt.timedelta(minutes=30)] * 3
    processes = [context.Process(target=_race, args=(clinic_db, clinic_calendar.url, b,
                                                     s.isoformat(), queue))
                 for b, s in zip(bookings, starts, strict=True)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    outcomes = sorted(queue.get(timeout=5) for _ in processes)
    assert outcomes == ["held"] + ["taken"] * 5
    assert len(clinic_calendar.events()) == 1
    from clinic.store.db import read_scope
    with read_scope(clinic_db) as session:
        active = session.execute(select(Appointment).where(
            Appointment.state.in_(("held", "pending_calendar", "confirmed")))).scalars().all()
    assert len(active) == 1


def test_calendar_down_keeps_the_request_and_retries_without_double_booking(
        clinic_db: str, clinic_calendar: CalDAVCalendar) -> None:
    down = CalDAVCalendar(f"http://127.0.0.1:{free_port()}/clinic/x/", "clinic", TEST_PASSWORD,
                          timeout=1)
    # the claim is for the real calendar's URL, written while that calendar does not answer
    down.url = clinic_calendar.url
    sched_down = scheduler(down, clinic_db)
    booking_id = book(clinic_db)
    pending = appointments.hold(sched_down, booking_id, TUESDAY_10, now=NOW)
    assert pending.outcome == "pending" and pending.appointment_id is not None
    assert state(clinic_db, pending.appointment_id) == "pending_calendar"
    # nobody else gets that time meanwhile
    sched = scheduler(clinic_calendar, clinic_db)
    other = appointments.hold(sched, book(clinic_db, phone="+14155550111"), TUESDAY_10, now=NOW)
    assert other.outcome == "taken"
    # the worker's retry writes the event once the calendar answers (after the backoff)
    assert appointments.retry_pending(sched, now=NOW) == {}
    later = NOW + dt.timedelta(hours=1)
    assert appointments.retry_pending(sched, now=later) == {"held": 1}
    assert state(clinic_db, pending.appointment_id) == "held"
    assert len(clinic_calendar.events()) == 1
    assert appointments.retry_pending(sched, now=later) == {}


def test_a_claim_the_calendar_never_takes_is_released_at_expiry(
        clinic_db: str, clinic_calendar: CalDAVCalendar) -> None:
    down = CalDAVCalendar(f"http://127.0.0.1:{free_port()}/clinic/x/", "clinic", TEST_PASSWORD,
                          timeout=1)
    down.url = clinic_calendar.url
    sched_down = scheduler(down, clinic_db)
    pending = appointments.hold(sched_down, book(clinic_db), TUESDAY_10, now=NOW)
    assert pending.outcome == "pending" and pending.appointment_id is not None
    assert appointments.expire_holds(sched_down, now=NOW + load_rules().hold_expiry) == 1
    assert state(clinic_db, pending.appointment_id) == "expired"
    again = appointments.hold(scheduler(clinic_calendar, clinic_db),
                              book(clinic_db, phone="+14155550111"), TUESDAY_10, now=NOW)
    assert again.outcome == "held"


def test_reschedule_holds_the_new_time_and_frees_the_old(clinic_db: str,
                                                         clinic_calendar: CalDAVCalendar) -> None:
    sched = scheduler(clinic_calendar, clinic_db)
    held = appointments.hold(sched, book(clinic_db), TUESDAY_10, now=NOW)
    assert held.appointment_id is not None
    friday = dt.datetime(2031, 3, 7, 14, tzinfo=LA)
    moved = appointments.reschedule(sched, held.appointment_id, friday, now=NOW)
    assert moved.outcome == "held" and moved.start == friday
    assert state(clinic_db, held.appointment_id) == "cancelled"
    assert clinic_calendar.busy(TUESDAY_10, TUESDAY_10 + dt.timedelta(hours=1)) == []
    assert len(clinic_calendar.events()) == 1
    # moving onto a taken time changes nothing
    blocker = appointments.hold(sched, book(clinic_db, phone="+14155550111"), TUESDAY_10, now=NOW)
    assert blocker.outcome == "held"
    assert moved.appointment_id is not None
    refused = appointments.reschedule(sched, moved.appointment_id, TUESDAY_10, now=NOW)
    assert refused.outcome == "taken"
    assert state(clinic_db, moved.appointment_id) == "held"
    assert len(clinic_calendar.events()) == 2


# ------------------------------------------------------------------ texts, with a clock we set


def _texts(url: str) -> list[tuple[str, str, str]]:
    from clinic.store.db import read_scope
    from clinic.store.models import Followup
    with read_scope(url) as session:
        return [(row.message_id.rsplit("-", 1)[1], row.status, row.body) for row in
                session.execute(select(Followup).order_by(Followup.id)).scalars()]


def test_confirmation_and_one_reminder_by_sms_honouring_stop_and_quiet_hours(
        clinic_db: str, clinic_calendar: CalDAVCalendar, monkeypatch: pytest.MonkeyPatch) -> None:
    from clinic.sms import store
    from clinic.sms.sender import send_due
    from clinic.store.db import session_scope
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    sched = scheduler(clinic_calendar, clinic_db)
    held = appointments.hold(sched, book(clinic_db), TUESDAY_10, now=NOW)
    assert held.appointment_id is not None
    assert _texts(clinic_db) == []  # nothing is said before staff confirm
    appointments.confirm(sched, held.appointment_id, now=NOW.astimezone(UTC))
    texts = _texts(clinic_db)
    assert [(kind, status) for kind, status, _ in texts] == [("confirmed", "scheduled"),
                                                             ("reminder", "scheduled")]
    assert "Tuesday 4 March 2031 at 10 am" in texts[0][2] and "MN-" in texts[0][2]
    assert send_due(now=NOW.astimezone(UTC))["sent"] == 1  # the confirmation, now
    lead = load_rules().reminder_lead
    due = TUESDAY_10 - lead  # Monday 10 am: not in quiet hours
    assert send_due(now=(due - dt.timedelta(minutes=1)).astimezone(UTC))["sent"] == 0
    assert send_due(now=due.astimezone(UTC))["sent"] == 1
    assert send_due(now=(due + dt.timedelta(minutes=5)).astimezone(UTC))["sent"] == 0  # once
    assert [status for _, status, _ in _texts(clinic_db)] == ["sent", "sent"]

    # a second person who replied STOP gets no reminder; one confirmed for 9 am gets its
    # reminder at 9 am the day before (outside quiet hours) - and one at 8 am is deferred
    other = book(clinic_db, phone="+14155550111")
    with session_scope(clinic_db) as session:
        store.set_opt_out(session, "+14155550111", True, "STOP", NOW.astimezone(UTC))
    visit = appointments.hold(sched, other, dt.datetime(2031, 3, 5, 14, tzinfo=LA), now=NOW)
    assert visit.appointment_id is not None
    appointments.confirm(sched, visit.appointment_id, now=NOW.astimezone(UTC))
    assert len(_texts(clinic_db)) == 2


def test_quiet_hours_move_a_reminder_to_the_morning(
        clinic_db: str, clinic_calendar: CalDAVCalendar, monkeypatch: pytest.MonkeyPatch) -> None:
    from clinic.sms.sender import send_due
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    monkeypatch.setattr(appointments, "_label", lambda scheduler, treatment: "Facial microneedling")
    rules = load_rules()
    sched = appointments.Scheduler(
        calendar=clinic_calendar,
        rules=type(rules)(**{**rules.__dict__, "reminder_lead_hours": 14.0}),
        hours=parse_hours(HOURS), tz=LA, url=clinic_db)
    held = appointments.hold(sched, book(clinic_db), TUESDAY_10, now=NOW)
    assert held.appointment_id is not None
    appointments.confirm(sched, held.appointment_id, now=NOW.astimezone(UTC))
    send_due(now=NOW.astimezone(UTC))  # the confirmation
    night = TUESDAY_10 - dt.timedelta(hours=14)  # Monday 8 pm ... quiet from 9 pm
    late = night + dt.timedelta(hours=2)  # 10 pm: quiet
    counts = send_due(now=late.astimezone(UTC))
    assert counts["sent"] == 0 and counts["deferred"] == 1
    morning = dt.datetime(2031, 3, 4, 8, 1, tzinfo=LA)
    assert send_due(now=morning.astimezone(UTC))["sent"] == 1


def test_a_declined_or_moved_visit_gets_no_reminder(
        clinic_db: str, clinic_calendar: CalDAVCalendar, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    sched = scheduler(clinic_calendar, clinic_db)
    held = appointments.hold(sched, book(clinic_db), TUESDAY_10, now=NOW)
    assert held.appointment_id is not None
    appointments.confirm(sched, held.appointment_id, now=NOW.astimezone(UTC))
    moved = appointments.reschedule(sched, held.appointment_id,
                                    dt.datetime(2031, 3, 7, 14, tzinfo=LA), now=NOW)
    assert moved.outcome == "held"
    # an unsent confirmation of the old time would now be wrong too
    assert [(k, s) for k, s, _ in _texts(clinic_db)] == [("confirmed", "cancelled"),
                                                         ("reminder", "cancelled")]
    assert moved.appointment_id is not None
    appointments.release(sched, moved.appointment_id, "declined", now=NOW)
    kinds = [(k, s) for k, s, _ in _texts(clinic_db)]
    assert kinds[-1] == ("declined", "scheduled")


def test_funnel_and_rates(clinic_db: str, clinic_calendar: CalDAVCalendar) -> None:
    sched = scheduler(clinic_calendar, clinic_db)
    day = dt.timedelta(days=1)
    ids = []
    for n, start in enumerate([TUESDAY_10, TUESDAY_10 + day, TUESDAY_10 + 2 * day,
                               TUESDAY_10 + 3 * day]):
        held = appointments.hold(sched, book(clinic_db, phone=f"+1415555{n + 200:04d}"), start,
                                 now=NOW)
        assert held.appointment_id is not None
        ids.append(held.appointment_id)
    for visit in ids[:3]:
        appointments.confirm(sched, visit, now=NOW)
    with pytest.raises(appointments.NotAllowed):  # not begun yet
        appointments.mark_no_show(ids[0], now=NOW, url=clinic_db)
    appointments.mark_no_show(ids[0], now=TUESDAY_10 + dt.timedelta(minutes=20), url=clinic_db)
    appointments.release(sched, ids[1], "cancelled", now=NOW)
    moved = appointments.reschedule(sched, ids[2], TUESDAY_10 + 2 * day + dt.timedelta(hours=3),
                                    now=NOW)
    assert moved.outcome == "held"
    rows = dict(appointments.visit_funnel(NOW, NOW + 7 * day, clinic_db))
    assert rows["Visits held"] == 4  # four people; the moved visit counts once
    # counted from the history: the visit confirmed and then cancelled was confirmed too
    assert rows["… confirmed"] == 2 and rows["… no-show"] == 1
    assert rows["… cancelled"] == 1 and rows["… treated"] == 0
    assert rows["Cancellation rate"] == "25%" and rows["No-show rate"] == "50%"
    # staff confirm the moved visit and mark it treated once it has begun
    assert moved.appointment_id is not None
    appointments.confirm(sched, moved.appointment_id, now=NOW)
    with pytest.raises(appointments.NotAllowed):
        appointments.mark_treated(moved.appointment_id, now=NOW, url=clinic_db)
    appointments.mark_treated(moved.appointment_id, now=TUESDAY_10 + 3 * day, url=clinic_db)
    rows = dict(appointments.visit_funnel(NOW, NOW + 7 * day, clinic_db))
    assert rows["… confirmed"] == 3 and rows["… treated"] == 1
    assert state(clinic_db, moved.appointment_id) == "treated"
    from clinic.store.db import read_scope
    from clinic.store.models import VisitEvent
    with read_scope(clinic_db) as session:
        history = [(e.kind, e.actor) for e in session.execute(
            select(VisitEvent).where(VisitEvent.appointment_id == ids[1])
            .order_by(VisitEvent.id)).scalars()]
    assert history == [("held", "system"), ("confirmed", "staff"), ("cancelled", "staff")]


# ------------------------------------------------------------------ PostgreSQL (the cluster's)

POSTGRES_URL = os.environ.get("CLINIC_TEST_POSTGRES_URL", "")


@pytest.mark.skipif(not POSTGRES_URL, reason="set CLINIC_TEST_POSTGRES_URL to a scratch "
                    "PostgreSQL database to race on PostgreSQL (advisory lock, partial index)")
def test_racing_on_postgresql_exactly_one_gets_the_time(
        clinic_calendar: CalDAVCalendar, monkeypatch: pytest.MonkeyPatch) -> None:
    import uuid

    from sqlalchemy import create_engine

    from clinic.config import settings as settings_module
    from clinic.store import db
    schema = f"clinic_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}options=-csearch_path%3D{schema}"
    monkeypatch.setenv("CLINIC_DATABASE_URL", url)
    monkeypatch.setenv("CLINIC_TIMEZONE", "America/Los_Angeles")
    settings_module.settings.cache_clear()
    try:
        db.migrate(url)
        bookings = [book(url, phone=f"+1415555{n:04d}") for n in range(300, 306)]
        db.dispose_engines()
        context = multiprocessing.get_context("fork")
        queue: multiprocessing.Queue[str] = context.Queue()
        starts = [TUESDAY_10, TUESDAY_10 + dt.timedelta(minutes=30)] * 3
        processes = [context.Process(target=_race, args=(url, clinic_calendar.url, b,
                                                         s.isoformat(), queue))
                     for b, s in zip(bookings, starts, strict=True)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=120)
        assert sorted(queue.get(timeout=5) for _ in processes) == ["held"] + ["taken"] * 5
        assert len(clinic_calendar.events()) == 1
    finally:
        db.dispose_engines()
        settings_module.settings.cache_clear()
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
