"""From a typed booking request to a held, then confirmed, visit in the real local CalDAV
calendar, through the real Rasa and action servers (issue 20). Needs the trained model."""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from collections.abc import Iterator

import pytest

from clinic.store.caldav_calendar import CalDAVCalendar
from dev import calendar_server
from tests.conftest import (
    MODEL,
    Servers,
    running_servers,
    server_env,
)
from tests.integration.test_integration_typed import screen_all_no

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def visit_servers(tmp_path_factory: pytest.TempPathFactory,
                  caldav_server: calendar_server.LocalServer
                  ) -> Iterator[tuple[Servers, CalDAVCalendar]]:
    if not MODEL.exists():
        pytest.fail("No trained model at models/clinic.tar.gz: run `make train` first.")
    name = f"clinic/it-{uuid.uuid4().hex[:8]}"
    server = calendar_server.LocalServer(caldav_server.port, caldav_server.user,
                                         caldav_server.password, name)
    calendar_server.ensure_calendar(server)
    work = tmp_path_factory.mktemp("visit-servers")
    env = server_env(work, CLINIC_CALDAV_URL=server.calendar_url,
                     CLINIC_CALDAV_USER=server.user, CLINIC_CALDAV_PASSWORD=server.password)
    with running_servers(work, env) as servers:
        yield servers, CalDAVCalendar(server.calendar_url, server.user, server.password)


def test_typed_booking_picks_a_real_free_time_and_staff_confirm_it(
        visit_servers: tuple[Servers, CalDAVCalendar]) -> None:
    s, calendar = visit_servers
    who = f"vi-{uuid.uuid4().hex[:8]}"
    screen_all_no(s, who, "I want to book")
    s.texts(who, "Ana Lee")
    s.texts(who, "(628) 555-0177")
    s.texts(who, "skip")
    s.texts(who, "the facial one")
    s.texts(who, "next week afternoons")
    s.texts(who, "yes")  # texts about the visit and aftercare: yes
    replies = s.chat(who, "yes")  # the summary is right
    said = "\n".join(m.get("text", "") for m in replies)
    assert "Your reference is MN-" in said and "next free times" in said
    buttons = [b for m in replies for b in m.get("buttons", [])]
    assert len(buttons) == 3 and all("pm" in b["title"] for b in buttons)
    held = s.texts(who, "the second one")
    assert "I've reserved" in held and buttons[1]["title"] in held
    [event] = calendar.events()
    assert event["status"] == "TENTATIVE" and "Ana" not in str(event)

    listing = s.run_cli("visits", "list", "--week", buttons[1]["payload"][:10])
    assert listing.returncode == 0 and "held" in listing.stdout, listing.stderr
    visit_id = listing.stdout.split("\n")[2].split()[0]
    confirmed = s.run_cli("visits", "confirm", visit_id)
    assert confirmed.returncode == 0, confirmed.stderr
    assert [e["status"] for e in calendar.events()] == ["CONFIRMED"]
    with sqlite3.connect(s.workdir / "clinic.db") as db:
        texts = db.execute("SELECT message_id, body FROM followups").fetchall()
    assert any(mid.endswith("-confirmed") and "confirmed for" in body for mid, body in texts)


# ------------------------------------------------------------------ self-service (one's own visit)


def _book_and_hold(s: Servers, who: str, phone: str) -> str:
    """A typed booking through the REST channel with the first offered time held; its
    reference."""
    screen_all_no(s, who, "I want to book")
    for text in ("Kim Ito", phone, "skip", "the facial one", "next week mornings", "yes"):
        s.texts(who, text)
    said = s.texts(who, "yes")
    reference = said.split("Your reference is ")[1].split()[0].rstrip(".")
    assert "I've reserved" in s.texts(who, "1")
    return reference


def _starts(calendar: CalDAVCalendar, reference: str) -> list[str]:
    return [e["start"] for e in calendar.events() if reference in e["summary"]]


def test_move_to_friday_and_cancel_by_sms_and_in_the_widget(
        visit_servers: tuple[Servers, CalDAVCalendar]) -> None:
    from tests.integration.test_integration_sms import post_sms

    s, calendar = visit_servers
    # booking A: moved by SMS (from the number on the booking), cancelled in the widget
    who_a, phone_a = f"va-{uuid.uuid4().hex[:8]}", f"+1628555{uuid.uuid4().int % 10000:04d}"
    ref_a = _book_and_hold(s, who_a, phone_a)
    [before] = _starts(calendar, ref_a)
    status, replies = post_sms(s, phone_a, "can I move my appointment to friday?")
    assert status == 200 and "Reply 1 for Friday" in " ".join(replies), replies
    status, replies = post_sms(s, phone_a, "1")
    assert "moved to Friday" in " ".join(replies), replies
    [after] = _starts(calendar, ref_a)
    assert after != before and dt.datetime.fromisoformat(after).weekday() == 4
    # another number gets nothing about it
    _, replies = post_sms(s, f"+1628555{uuid.uuid4().int % 10000:04d}", "cancel my appointment")
    assert ref_a not in " ".join(replies) and len(_starts(calendar, ref_a)) == 1
    asked = s.texts(who_a, "cancel my appointment")
    assert "Cancel your" in asked and ref_a in asked
    assert "is cancelled" in s.texts(who_a, "yes")
    assert _starts(calendar, ref_a) == []

    # booking B: moved in the widget, cancelled by SMS with the reminder's X
    who_b, phone_b = f"vb-{uuid.uuid4().hex[:8]}", f"+1628555{uuid.uuid4().int % 10000:04d}"
    ref_b = _book_and_hold(s, who_b, phone_b)
    [before] = _starts(calendar, ref_b)
    offered = s.chat(who_b, "can I change my time to friday?")
    buttons = [b for m in offered for b in m.get("buttons", [])]
    assert buttons and all(b["title"].startswith("Friday") for b in buttons)
    assert "moved to" in s.texts(who_b, buttons[0]["payload"])
    [after] = _starts(calendar, ref_b)
    assert after != before and dt.datetime.fromisoformat(after) == \
        dt.datetime.fromisoformat(buttons[0]["payload"])
    _, replies = post_sms(s, phone_b, "X")
    assert "Cancel your" in " ".join(replies), replies
    _, replies = post_sms(s, phone_b, "yes")
    assert "is cancelled" in " ".join(replies), replies
    assert _starts(calendar, ref_b) == []
