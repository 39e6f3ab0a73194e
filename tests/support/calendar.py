"""The real local CalDAV server (Radicale from var/radicale-venv, `make calendar-server`) for
tests: one per test session on a free loopback port, data in a temporary folder. Each test
gets its own fresh calendar on it (``clinic_calendar``), so tests never see each other's
events. tests/conftest.py makes both fixtures available everywhere.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from clinic.store.caldav_calendar import CalDAVCalendar
from dev import calendar_server

TEST_USER = "clinic"
TEST_PASSWORD = "test-caldav-password-7c1e9a4b2d"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def caldav_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[calendar_server.LocalServer]:
    if not (calendar_server.RADICALE_VENV / "bin" / "python").exists():
        pytest.fail("the local CalDAV server is not installed: run `make calendar-server`")
    root: Path = tmp_path_factory.mktemp("radicale")
    process, server = calendar_server.start(root, free_port(), TEST_USER, TEST_PASSWORD,
                                            "clinic/practitioner")
    try:
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def clinic_calendar(caldav_server: calendar_server.LocalServer) -> CalDAVCalendar:
    """A new, empty calendar on the local server, as the clinic's calendar."""
    name = f"clinic/test-{uuid.uuid4().hex[:10]}"
    server = calendar_server.LocalServer(caldav_server.port, caldav_server.user,
                                         caldav_server.password, name)
    calendar_server.ensure_calendar(server, name="Test practitioner")
    return CalDAVCalendar(server.calendar_url, server.user, server.password, timeout=5)
