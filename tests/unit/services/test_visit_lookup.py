"""Self-service finds a person's own visits only (SMS number, conversation, or reference
together with the number), never someone else's."""

from __future__ import annotations

import datetime as dt

from clinic.services import appointments
from clinic.services.visit_lookup import Owner, own_visits, owns
from clinic.store.caldav_calendar import CalDAVCalendar
from tests.unit.services.test_appointments import NOW, TUESDAY_10, book, scheduler

ADA, BOB = "+14155552671", "+14155550111"


def test_each_person_sees_and_changes_only_their_own_visit(
        clinic_db: str, clinic_calendar: CalDAVCalendar) -> None:
    sched = scheduler(clinic_calendar, clinic_db)
    ada = appointments.hold(sched, book(clinic_db, phone=ADA), TUESDAY_10, now=NOW)
    bob = appointments.hold(sched, book(clinic_db, phone=BOB),
                            TUESDAY_10 + dt.timedelta(hours=3), now=NOW)
    assert ada.appointment_id is not None and bob.appointment_id is not None
    [mine] = own_visits(Owner(sms_phone="(415) 555-2671"), NOW, clinic_db)
    assert mine.appointment_id == ada.appointment_id and mine.starts_at == TUESDAY_10
    assert [v.appointment_id for v in own_visits(Owner(conversation_id=f"conv-{BOB}"), NOW,
                                                 clinic_db)] == [bob.appointment_id]
    reference = mine.reference
    assert own_visits(Owner(reference=reference.lower(), reference_phone=ADA), NOW, clinic_db)
    # a reference with someone else's number, a reference alone, a number alone: nothing
    assert own_visits(Owner(reference=reference, reference_phone=BOB), NOW, clinic_db) == []
    assert own_visits(Owner(reference=reference), NOW, clinic_db) == []
    assert own_visits(Owner(reference_phone=ADA), NOW, clinic_db) == []
    assert own_visits(Owner(sms_phone="not a number"), NOW, clinic_db) == []
    assert not owns(Owner(sms_phone=BOB), ada.appointment_id, NOW, clinic_db)
    assert owns(Owner(sms_phone=ADA), ada.appointment_id, NOW, clinic_db)
    # cancelled or past visits are not "upcoming"
    appointments.release(sched, ada.appointment_id, "cancelled", now=NOW)
    assert own_visits(Owner(sms_phone=ADA), NOW, clinic_db) == []
    assert own_visits(Owner(sms_phone=BOB), TUESDAY_10 + dt.timedelta(hours=5), clinic_db) == []
