"""The console's visits page: logged-in staff see the week's visits with the screening summary
and confirm one; the calendar is the real local CalDAV server."""

from __future__ import annotations

import asyncio

import pytest

from clinic.config import settings as settings_module
from clinic.console import accounts
from clinic.services import appointments
from clinic.store import rasa_events as tracker
from clinic.store.caldav_calendar import CalDAVCalendar
from tests.support.calendar import TEST_PASSWORD
from tests.unit.console.test_console import PASSWORD, FakeRasa, _client, _login, hidden
from tests.unit.services.test_appointments import NOW, TUESDAY_10, book, scheduler, state


@pytest.fixture
def configured(clinic_db: str, clinic_calendar: CalDAVCalendar,
               monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CLINIC_CALDAV_URL", clinic_calendar.url)
    monkeypatch.setenv("CLINIC_CALDAV_USER", "clinic")
    monkeypatch.setenv("CLINIC_CALDAV_PASSWORD", TEST_PASSWORD)
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    settings_module.settings.cache_clear()
    tracker.dispose()
    yield clinic_db
    tracker.dispose()


def test_week_view_and_confirm(configured: str, clinic_calendar: CalDAVCalendar,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    from aiohttp.test_utils import TestServer

    from clinic.console.app import create_app

    held = appointments.hold(scheduler(clinic_calendar, configured), book(configured),
                             TUESDAY_10, now=NOW)
    assert held.appointment_id is not None
    accounts.add_staff("a@clinic.example", PASSWORD, "Anna")

    async def scenario() -> None:
        fake = FakeRasa()
        rasa = TestServer(fake.app)
        await rasa.start_server()
        monkeypatch.setenv("CLINIC_RASA_URL", str(rasa.make_url("")).rstrip("/"))
        settings_module.settings.cache_clear()
        client = await _client(create_app())
        try:
            logged_out = await client.get("/visits", allow_redirects=False)
            assert logged_out.status == 303
            await _login(client)
            page = await client.get("/visits?day=2031-03-05&span=week")
            html = await page.text()
            assert "2031-03-04 10:00" in html and "held" in html and "Ada Lovelace" in html
            assert "Confirm" in html
            token = hidden(html, "csrf_token")
            forged = await client.post(f"/visits/{held.appointment_id}/confirm",
                                       data={"csrf_token": "wrong", "day": "2031-03-05"},
                                       allow_redirects=False)
            assert forged.status == 403
            assert state(configured, held.appointment_id) == "held"
            done = await client.post(f"/visits/{held.appointment_id}/confirm",
                                     data={"csrf_token": token, "day": "2031-03-05",
                                           "span": "week"}, allow_redirects=False)
            assert done.status == 303 and "notice=confirmed" in done.headers["Location"]
            assert state(configured, held.appointment_id) == "confirmed"
            # the booking came from the widget: the open tab is told (Rasa's API, widget channel)
            [(sender, query, events)] = fake.calls
            assert sender == "conv-+14155552671" and query.get("output_channel") == "socketio"
            assert "confirmed your Facial microneedling visit on Tuesday 4 March 2031" \
                in events[0]["text"]
            # the patient says they are running late: staff see it beside the visit
            from clinic.services import visit_self_service
            from clinic.services.visit_lookup import Owner
            visit_self_service.note(Owner(sms_phone="+14155552671"), held.appointment_id,
                                    "running_late", NOW, configured)
            page = await (await client.get("/visits?day=2031-03-05&span=week")).text()
            assert "patient running late" in page and "Treated" in page
            again = await client.post(f"/visits/{held.appointment_id}/confirm",
                                      data={"csrf_token": token, "day": "2031-03-05"},
                                      allow_redirects=False)
            assert "notice=refused" in again.headers["Location"]
            insights = await (await client.get("/insights?from=2031-03-01&to=2031-03-10")).text()
            assert "Visits: held, confirmed, treated" in insights
            assert '<th scope="row">… confirmed</th><td>1</td>' in insights
        finally:
            await client.close()
            await rasa.close()

    asyncio.run(scenario())
    assert [e["status"] for e in clinic_calendar.events()] == ["CONFIRMED"]
    # staff visit actions are in the audit log, with who did them; the refused one too
    from clinic.console.security import recent_audit
    entries = [(e.action, e.staff_email, e.detail) for e in recent_audit()
               if e.action.startswith("visit_")]
    assert entries == [
        ("visit_confirm", "a@clinic.example", f"visit {held.appointment_id}: refused"),
        ("visit_confirm", "a@clinic.example", f"visit {held.appointment_id}: confirmed")]
