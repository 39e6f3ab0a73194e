"""Scheduling aftercare texts: due times, quiet hours, consent, opt-out, idempotence."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from clinic.config.settings import settings
from clinic.knowledge.kb import AftercareMessage, knowledge
from clinic.sms import store
from clinic.sms.schedule import after_quiet_hours, cancel_followups, in_quiet_hours, plan
from clinic.store.db import read_scope, session_scope
from clinic.store.models import Followup
from tests.support import add_booking, mark_treated

LA = ZoneInfo("America/Los_Angeles")
UTC = dt.timezone.utc
PHONE = "+15105550101"


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LA)


def followups(booking_id: int | None = None) -> list[Followup]:
    with read_scope() as session:
        query = select(Followup).order_by(Followup.due_at)
        if booking_id is not None:
            query = query.where(Followup.booking_id == booking_id)
        rows = list(session.execute(query).scalars())
        session.expunge_all()  # keep them readable after the read-only scope rolls back
        return rows


# --------------------------------------------------------------------------- quiet hours


@pytest.mark.usefixtures("sms_database")
@pytest.mark.parametrize(("moment", "quiet", "moved_to"), [
    (local(2025, 6, 2, 20, 59), False, local(2025, 6, 2, 20, 59)),
    (local(2025, 6, 2, 21, 0), True, local(2025, 6, 3, 8, 0)),
    (local(2025, 6, 2, 23, 30), True, local(2025, 6, 3, 8, 0)),
    (local(2025, 6, 3, 3, 0), True, local(2025, 6, 3, 8, 0)),
    (local(2025, 6, 3, 7, 59), True, local(2025, 6, 3, 8, 0)),
    (local(2025, 6, 3, 8, 0), False, local(2025, 6, 3, 8, 0)),
    # The night clocks spring forward: 08:00 PDT is only 10 hours after 21:00 PST.
    (local(2025, 3, 8, 22, 0), True, local(2025, 3, 9, 8, 0)),
])
def test_quiet_hours_in_the_clinic_time_zone(moment: dt.datetime, quiet: bool,
                                             moved_to: dt.datetime) -> None:
    assert in_quiet_hours(moment.astimezone(UTC)) is quiet
    assert after_quiet_hours(moment.astimezone(UTC)) == moved_to.astimezone(UTC)


def test_quiet_hours_follow_the_configuration(sms_database: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_QUIET_HOURS_START", "13:00")
    monkeypatch.setenv("CLINIC_QUIET_HOURS_END", "14:00")
    settings.cache_clear()
    assert in_quiet_hours(local(2025, 6, 2, 13, 30))
    assert not in_quiet_hours(local(2025, 6, 2, 22, 0))
    assert after_quiet_hours(local(2025, 6, 2, 13, 30)) == local(2025, 6, 2, 14, 0)


# --------------------------------------------------------------------------- the plan

TEST_PLAN = (
    AftercareMessage("evening", "{clinic_name}: evening text", after_hours=3),
    AftercareMessage("next_morning", "{clinic_name}: morning text", days_after=1, at="07:30"),
    AftercareMessage("day_two", "{clinic_name}: call {clinic_phone}", days_after=2,
                     at="10:00"),
)


@pytest.mark.usefixtures("sms_database")
def test_due_times_local_and_moved_out_of_quiet_hours() -> None:
    kb = dataclasses.replace(knowledge(), aftercare=TEST_PLAN)
    texts = {t.message_id: t for t in plan(local(2025, 6, 2, 19, 0), kb)}
    # 19:00 + 3 h = 22:00, in quiet hours: the next morning at 08:00.
    assert texts["evening"].due_at == local(2025, 6, 3, 8, 0)
    # 07:30 is in quiet hours too: 08:00 the same day.
    assert texts["next_morning"].due_at == local(2025, 6, 3, 8, 0)
    assert texts["day_two"].due_at == local(2025, 6, 4, 10, 0)
    assert texts["day_two"].body == f"{kb.clinic.name}: call {kb.clinic.phone}"
    # An afternoon treatment's evening text is sent that evening.
    afternoon = {t.message_id: t for t in plan(local(2025, 6, 2, 14, 0), kb)}
    assert afternoon["evening"].due_at == local(2025, 6, 2, 17, 0)


@pytest.mark.usefixtures("sms_database")
def test_day_times_stay_local_across_daylight_saving() -> None:
    kb = dataclasses.replace(knowledge(), aftercare=TEST_PLAN)
    texts = {t.message_id: t for t in plan(local(2025, 3, 8, 10, 0), kb)}  # Saturday, PST
    assert texts["day_two"].due_at == local(2025, 3, 10, 10, 0)  # Monday, PDT
    assert texts["day_two"].due_at.astimezone(UTC).hour == 17  # not 18: the offset moved


@pytest.mark.usefixtures("sms_database")
def test_the_clinic_plan_is_scheduled_as_written() -> None:
    treated = local(2025, 6, 2, 14, 0)
    texts = plan(treated)
    assert [t.message_id for t in texts] == [m.id for m in knowledge().aftercare]
    for text, message in zip(texts, knowledge().aftercare, strict=True):
        if message.after_hours is not None:
            expected = treated + dt.timedelta(hours=message.after_hours)
        else:
            day = treated.date() + dt.timedelta(days=message.days_after)
            expected = dt.datetime.combine(day, dt.time.fromisoformat(message.at), tzinfo=LA)
        assert text.due_at == after_quiet_hours(expected)
        assert not in_quiet_hours(text.due_at)
        assert text.body == knowledge().fill(message.text)


# --------------------------------------------------------------------------- scheduling


def test_consenting_patient_gets_the_whole_plan(sms_database: str) -> None:
    booking = add_booking(PHONE, consent=True)
    treated = local(2025, 6, 2, 14, 0)
    assert mark_treated(booking, treated) == [t.message_id for t in plan(treated)]
    rows = followups(booking)
    assert [(r.message_id, r.due_at, r.status, r.phone_e164, r.attempts) for r in rows] == \
        [(t.message_id, t.due_at, "scheduled", PHONE, 0) for t in plan(treated)]


def test_texts_carry_nothing_from_the_booking_or_screening(sms_database: str) -> None:
    booking = add_booking(PHONE, consent=True)
    mark_treated(booking, local(2025, 6, 2, 14, 0))
    kb = knowledge()
    screening_terms = [term.lower() for rule in kb.screening.contraindications
                       for term in rule.terms]
    treatment_labels = [t.label.lower() for t in kb.clinic.treatments]
    for row in followups(booking):
        body = row.body.lower()
        assert kb.clinic.name.lower() in body
        assert "test patient" not in body and PHONE not in body
        assert not [term for term in screening_terms if f" {term} " in f" {body} "]
        assert not [label for label in treatment_labels if label in body]


@pytest.mark.parametrize("consent", [None, False])
def test_no_texts_without_consent(sms_database: str, consent: bool | None) -> None:
    booking = add_booking(PHONE, consent=consent)
    assert mark_treated(booking, local(2025, 6, 2, 14, 0)) == []
    assert followups() == []


def test_withdrawn_consent_counts(sms_database: str) -> None:
    booking = add_booking(PHONE, consent=True)
    from clinic.store.models import SmsConsent

    with session_scope() as session:
        session.add(SmsConsent(booking_id=booking, phone_e164=PHONE, wording="changed mind",
                               given=False, given_at=dt.datetime(2025, 6, 1, 17, tzinfo=UTC),
                               channel="rest", conversation_id="c"))
    assert mark_treated(booking, local(2025, 6, 2, 14, 0)) == []


def test_consent_for_another_number_does_not_count(sms_database: str) -> None:
    booking = add_booking(PHONE, consent=True)
    with session_scope() as session:
        from clinic.store.models import BookingRequest

        session.get(BookingRequest, booking).phone_e164 = "+15105550199"
    assert mark_treated(booking, local(2025, 6, 2, 14, 0)) == []


def test_no_texts_for_an_opted_out_number(sms_database: str) -> None:
    booking = add_booking(PHONE, consent=True)
    with session_scope() as session:
        store.set_opt_out(session, PHONE, True, "stop")
    assert mark_treated(booking, local(2025, 6, 2, 14, 0)) == []


def test_marking_treated_twice_schedules_once(sms_database: str) -> None:
    booking = add_booking(PHONE, consent=True)
    first = mark_treated(booking, local(2025, 6, 2, 14, 0))
    assert first
    assert mark_treated(booking, local(2025, 6, 2, 15, 0)) == []
    assert len(followups(booking)) == len(first)


def test_texts_already_past_when_recorded_are_skipped(sms_database: str) -> None:
    booking = add_booking(PHONE, consent=True)
    kb_plan = {m.id: m for m in knowledge().aftercare}
    treated = local(2025, 6, 2, 14, 0)
    now = treated + dt.timedelta(days=3)  # staff marked it done three days late
    mark_treated(booking, treated, now=now)
    for row in followups(booking):
        late = row.due_at < now - dt.timedelta(hours=12)
        assert row.status == ("skipped" if late else "scheduled"), kb_plan[row.message_id]
    assert {r.status for r in followups(booking)} == {"skipped", "scheduled"}


def test_cancel_by_phone_and_by_booking(sms_database: str) -> None:
    first = add_booking(PHONE, consent=True)
    other = add_booking("+15105550102", consent=True)
    mark_treated(first, local(2025, 6, 2, 14, 0))
    mark_treated(other, local(2025, 6, 2, 14, 0))
    with session_scope() as session:
        assert cancel_followups(session, phone=PHONE) == len(knowledge().aftercare)
        assert cancel_followups(session, phone=PHONE) == 0
    assert {r.status for r in followups(first)} == {"cancelled"}
    assert {r.status for r in followups(other)} == {"scheduled"}
    with session_scope() as session:
        assert cancel_followups(session, booking_id=other) == len(knowledge().aftercare)
    with pytest.raises(ValueError), session_scope() as session:
        cancel_followups(session)
