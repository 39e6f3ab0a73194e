"""From a typed booking request to a held, then confirmed, visit in the real local CalDAV
calendar, through the real Rasa and action servers (issue 20). Needs the trained model."""

from __future__ import annotations

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
