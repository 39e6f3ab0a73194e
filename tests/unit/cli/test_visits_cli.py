"""`clinic visits ...`: the staff's day and week views and actions, against the real local
CalDAV server."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from clinic.cli.commands import main
from clinic.config import settings as settings_module
from clinic.services import appointments
from clinic.store.caldav_calendar import CalDAVCalendar
from tests.support.calendar import TEST_PASSWORD, free_port
from tests.unit.services.test_appointments import NOW, TUESDAY_10, book, scheduler, state

LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def configured(clinic_db: str, clinic_calendar: CalDAVCalendar,
               monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CLINIC_CALDAV_URL", clinic_calendar.url)
    monkeypatch.setenv("CLINIC_CALDAV_USER", "clinic")
    monkeypatch.setenv("CLINIC_CALDAV_PASSWORD", TEST_PASSWORD)
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    # no Rasa here: the widget push finds nobody and the command still succeeds
    monkeypatch.setenv("CLINIC_RASA_URL", f"http://127.0.0.1:{free_port()}")
    settings_module.settings.cache_clear()
    return clinic_db


def test_list_confirm_propose_decline(configured: str, clinic_calendar: CalDAVCalendar,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    sched = scheduler(clinic_calendar, configured)
    held = appointments.hold(sched, book(configured), TUESDAY_10, now=NOW)
    assert held.appointment_id is not None
    assert main(["visits", "list", "--week", "2031-03-05"]) == 0
    out = capsys.readouterr().out
    assert "2031-03-04 10:00" in out and "held" in out and "MN-" in out and "Ada" in out
    assert main(["visits", "confirm", str(held.appointment_id)]) == 0
    assert state(configured, held.appointment_id) == "confirmed"
    assert [e["status"] for e in clinic_calendar.events()] == ["CONFIRMED"]
    assert main(["visits", "confirm", str(held.appointment_id)]) == 1
    assert "is confirmed" in capsys.readouterr().err
    assert main(["visits", "propose", str(held.appointment_id), "2031-03-07T14:00"]) == 0
    assert "Friday 7 March 2031 at 2 pm" in capsys.readouterr().out
    [moved] = [v for v in appointments.visits(NOW, NOW + dt.timedelta(days=7), configured)
               if v.state == "held"]
    assert moved.starts_at == dt.datetime(2031, 3, 7, 14, tzinfo=LA)
    assert main(["visits", "decline", str(moved.appointment_id)]) == 0
    assert clinic_calendar.events() == []
    assert main(["visits", "list", "--day", "2031-03-07"]) == 0
    assert "declined" in capsys.readouterr().out
    from clinic.console.security import recent_audit
    entries = [(e.action, e.staff_email.startswith("cli:")) for e in reversed(recent_audit())
               if e.action.startswith("visit_")]
    assert entries == [("visit_confirm", True), ("visit_propose", True),
                       ("visit_decline", True)]
