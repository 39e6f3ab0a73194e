"""The clinic's calendar against the real local CalDAV server (Radicale), not a mock."""

from __future__ import annotations

import datetime as dt
import os
import stat
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import caldav
import pytest

from clinic.store.caldav_calendar import CalDAVCalendar, CalendarUnavailable, SlotTaken
from dev import calendar_server
from tests.support.calendar import TEST_PASSWORD, free_port

LA = ZoneInfo("America/Los_Angeles")


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2031, 3, day, hour, minute, tzinfo=LA)


def test_the_demo_calendar_exists_and_a_wrong_password_is_refused(
        caldav_server: calendar_server.LocalServer) -> None:
    right = CalDAVCalendar(caldav_server.calendar_url, "clinic", TEST_PASSWORD)
    assert right.busy(at(3, 9), at(3, 18)) == []
    wrong = CalDAVCalendar(caldav_server.calendar_url, "clinic", "not-the-password-at-all-1")
    with pytest.raises(CalendarUnavailable):
        wrong.busy(at(3, 9), at(3, 18))


def test_a_hold_is_a_tentative_event_with_no_health_details(clinic_calendar: CalDAVCalendar) -> None:
    held = clinic_calendar.hold("JP-7K3Q", "Facial microneedling", at(4, 10), at(4, 11))
    [event] = clinic_calendar.events()
    assert event["uid"] == held.uid
    assert event["status"] == "TENTATIVE"
    assert "JP-7K3Q" in event["summary"] and "Facial microneedling" in event["summary"]
    assert clinic_calendar.busy(at(4, 9), at(4, 18)) == [(at(4, 10), at(4, 11))]
    clinic_calendar.set_status(held, "JP-7K3Q", "Facial microneedling", at(4, 10), at(4, 11), "CONFIRMED")
    assert [e["status"] for e in clinic_calendar.events()] == ["CONFIRMED"]
    clinic_calendar.release(held)
    assert clinic_calendar.busy(at(4, 9), at(4, 18)) == []


def test_an_overlapping_or_same_slot_hold_is_refused(clinic_calendar: CalDAVCalendar) -> None:
    clinic_calendar.hold("JP-AAAA", "Facial microneedling", at(5, 10), at(5, 11))
    with pytest.raises(SlotTaken):
        clinic_calendar.hold("JP-BBBB", "Facial microneedling", at(5, 10), at(5, 11))
    with pytest.raises(SlotTaken):
        clinic_calendar.hold("JP-BBBB", "Facial microneedling", at(5, 10, 30), at(5, 11, 30))
    clinic_calendar.hold("JP-BBBB", "Facial microneedling", at(5, 11), at(5, 12))
    assert len(clinic_calendar.events()) == 2


def test_two_writers_racing_for_one_slot_one_wins(clinic_calendar: CalDAVCalendar) -> None:
    """The calendar write itself is conditional (If-None-Match on the slot's name)."""
    results: list[str] = []
    barrier = threading.Barrier(4)

    def take(reference: str) -> None:
        mine = CalDAVCalendar(clinic_calendar.url, "clinic", TEST_PASSWORD)
        barrier.wait()
        try:
            mine.hold(reference, "Facial microneedling", at(6, 14), at(6, 15))
            results.append("held")
        except SlotTaken:
            results.append("taken")

    threads = [threading.Thread(target=take, args=(f"JP-R{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["held", "taken", "taken", "taken"]
    assert len(clinic_calendar.events()) == 1


def test_events_staff_enter_by_hand_count_as_busy_recurring_ones_too(
        clinic_calendar: CalDAVCalendar, caldav_server: calendar_server.LocalServer) -> None:
    with caldav.DAVClient(url=clinic_calendar.url, username="clinic", password=TEST_PASSWORD) as client:
        cal = client.calendar(url=clinic_calendar.url)
        cal.save_event(dtstart=dt.datetime(2031, 3, 3, 12, tzinfo=LA),
                       dtend=dt.datetime(2031, 3, 3, 13, tzinfo=LA), summary="Lunch",
                       rrule={"FREQ": "DAILY", "COUNT": 5})
        cal.save_event(dtstart=dt.datetime(2031, 3, 4, 15, tzinfo=LA),
                       dtend=dt.datetime(2031, 3, 4, 16, tzinfo=LA), summary="Free",
                       transp="TRANSPARENT")
    busy = clinic_calendar.busy(at(4, 0), at(6, 0))
    assert [(s.astimezone(LA).hour, s.astimezone(LA).day) for s, _ in busy] == [(12, 4), (12, 5)]
    with pytest.raises(SlotTaken):
        clinic_calendar.hold("JP-CCCC", "Facial microneedling", at(5, 11, 30), at(5, 12, 30))


def test_a_calendar_that_does_not_answer_is_unavailable() -> None:
    down = CalDAVCalendar(f"http://127.0.0.1:{free_port()}/clinic/practitioner/", "clinic",
                          TEST_PASSWORD, timeout=1)
    with pytest.raises(CalendarUnavailable):
        down.busy(at(3, 9), at(3, 18))
    with pytest.raises(CalendarUnavailable):
        down.hold("JP-DDDD", "Facial microneedling", at(3, 10), at(3, 11))


def test_data_survives_a_restart_and_the_users_file_is_private(tmp_path: Path) -> None:
    port = free_port()
    process, server = calendar_server.start(tmp_path, port, "clinic", TEST_PASSWORD,
                                            "clinic/practitioner")
    try:
        CalDAVCalendar(server.calendar_url, "clinic", TEST_PASSWORD).hold(
            "JP-EEEE", "Scalp microneedling", at(7, 9), at(7, 10))
    finally:
        process.terminate()
        process.wait(timeout=10)
    users = tmp_path / "users"
    assert stat.S_IMODE(users.stat().st_mode) == 0o600
    assert TEST_PASSWORD not in users.read_text()
    process, server = calendar_server.start(tmp_path, port, "clinic", TEST_PASSWORD,
                                            "clinic/practitioner")
    try:
        again = CalDAVCalendar(server.calendar_url, "clinic", TEST_PASSWORD)
        assert again.busy(at(7, 0), at(8, 0)) == [(at(7, 9), at(7, 10))]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_password_is_generated_once_with_mode_600(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    assert calendar_server.ensure_password(path, environ={})
    first = path.read_text()
    assert not calendar_server.ensure_password(path, environ={})
    assert path.read_text() == first and first.startswith("CLINIC_CALDAV_PASSWORD=")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not calendar_server.ensure_password(tmp_path / "b.env",
                                               environ={"CLINIC_CALDAV_PASSWORD": TEST_PASSWORD})
