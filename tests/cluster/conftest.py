"""The production topology for the cluster tests: PostgreSQL, Redis, two Rasa replicas, two
action servers and HAProxy, started once for the session on free loopback ports, with
data in a temporary folder (the real ``dev.cluster`` code that ``make cluster`` runs).

Module-scoped: only test_cluster.py uses it, and it is stopped before test_launcher.py starts
its own cluster under the launcher (two clusters at once would share two cores).
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_http import TWILIO_TOKEN

from clinic.store.caldav_calendar import CalDAVCalendar
from dev import calendar_server
from dev.cluster.topology import MODEL, Cluster, Ports
from tests.support.calendar import TEST_PASSWORD, TEST_USER


@pytest.fixture(scope="module")
def cluster_calendar(caldav_server: calendar_server.LocalServer) -> CalDAVCalendar:
    """The cluster's clinic calendar: a new calendar on the session's local CalDAV server
    (tests/support/calendar.py), so both replicas offer and hold real times."""
    name = f"clinic/cluster-{uuid.uuid4().hex[:10]}"
    server = calendar_server.LocalServer(caldav_server.port, caldav_server.user,
                                         caldav_server.password, name)
    calendar_server.ensure_calendar(server, name="Cluster practitioner")
    return CalDAVCalendar(server.calendar_url, server.user, server.password, timeout=5)


@pytest.fixture(scope="module")
def cluster(cluster_calendar: CalDAVCalendar) -> Iterator[Cluster]:
    if not MODEL.exists():
        pytest.fail("No trained model at models/clinic.tar.gz: run `make train` first.")
    for tool in ("haproxy", "redis-server"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is missing: `make cluster-deps` installs it (make test does).")
    # Not pytest's tmp_path: its folders are private to root, and PostgreSQL runs as the
    # postgres user, which must reach its data folder.
    folder = Path(tempfile.mkdtemp(prefix="clinic-cluster-"))
    running = Cluster(folder, Ports.free(), with_sender=False,
                      extra_env={"CLINIC_SECRETS_FILE": str(folder / "secrets.env"),
                                 "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
                                 # Texts go to the local outbox, never to Twilio.
                                 "TWILIO_ACCOUNT_SID": "",
                                 "CLINIC_CALDAV_URL": cluster_calendar.url,
                                 "CLINIC_CALDAV_USER": TEST_USER,
                                 "CLINIC_CALDAV_PASSWORD": TEST_PASSWORD})
    running.start(report=lambda _line: None)
    try:
        yield running
    finally:
        running.stop()
        shutil.rmtree(folder, ignore_errors=True)
