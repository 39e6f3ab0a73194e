"""One cluster for every cluster test, started by the real launcher.

``python -m dev.cluster --free-ports`` (what ``make cluster`` runs, on free loopback ports,
data in a temporary folder) starts PostgreSQL, Redis, two Rasa replicas, two action servers,
the demo website, the SMS sender and HAProxy, and supervises them. It is started once per
session (about a minute on 2 cores: both replicas load the model at once) and shared by
tests/cluster/test_cluster.py and tests/cluster/test_launcher.py. When the session has other
tests too (make test runs integration, browser and cluster tests in one session), it starts
as soon as the tests are collected and loads while the others run.

Fixtures:

- ``launched``: the launcher itself (:class:`Launched`): its process, folder, log,
  ``state()`` (``<folder>/cluster.json``: ports and process ids), ``say()`` through the
  proxy, ``store_down()`` (a store stopped while supervision is paused, then restarted by
  the launcher).
- ``cluster``: a :class:`dev.cluster.topology.Cluster` built from ``cluster.json``
  (addresses, secrets, the stores' URLs, ``proxy_state()``), for tests that talk to the
  parts. It starts and stops nothing: the launcher owns every process.

Order: tests that break something they do not restore run last. The hook below puts
tests/cluster/test_launcher.py (a replica killed, then the launcher killed with
``kill -9``) after every other cluster test, whatever order the files were named in. A new
cluster test must use these fixtures and leave the cluster as it found it; a test that
cannot goes into test_launcher.py before the launcher's ``kill -9`` test.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_http import TWILIO_TOKEN
from cluster_launched import Launched, view_of, wait_for

from clinic.knowledge.kb import PROJECT_ROOT
from clinic.store.caldav_calendar import CalDAVCalendar
from dev import calendar_server
from dev.cluster.services import tail
from dev.cluster.topology import MODEL, Cluster

START_TIMEOUT = 900
LAST = "test_launcher.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """test_launcher.py (destructive: it kills a replica, then the launcher) runs last."""
    items.sort(key=lambda item: item.path.name == LAST)


def start_launcher() -> Launched:
    """``python -m dev.cluster --free-ports`` in a new temporary folder, not waited for."""
    # Not pytest's tmp_path: PostgreSQL runs as the postgres user and must reach its folder.
    folder = Path(tempfile.mkdtemp(prefix="clinic-cluster-"))
    log = folder / "launcher.log"
    # Twilio's signatures are checked with the tests' token; texts go to the local outbox.
    env = {**os.environ, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "TWILIO_ACCOUNT_SID": "",
           "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "dev.cluster", "--folder", str(folder), "--free-ports"],
            cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    return Launched(process, folder, log)


def stop_launcher(running: Launched) -> None:
    process = running.process
    if process.poll() is None:
        process.send_signal(signal.SIGCONT)  # in case a test paused it
        process.send_signal(signal.SIGTERM)  # as Ctrl-C: stops every part in order
        try:
            process.wait(timeout=180)
        except subprocess.TimeoutExpired:
            process.kill()
    shutil.rmtree(running.folder, ignore_errors=True)


# The launcher started ahead of the cluster tests (see pytest_collection_finish).
EARLY: list[Launched] = []


def pytest_collection_finish(session: pytest.Session) -> None:
    """With other tests in the same session (make test: integration, browser, cluster), the
    launcher starts as soon as the tests are collected: the cluster loads its model (a
    minute on two cores) while the integration and browser tests run, mostly waiting on
    their servers. The ``launched`` fixture takes it over; without cluster tests selected
    nothing starts."""
    selected = [item for item in session.items if item.get_closest_marker("cluster")]
    if selected and len(selected) < len(session.items) and _can_start():
        EARLY.append(start_launcher())


def pytest_sessionfinish() -> None:
    """A launcher started ahead whose tests never ran (stopped early, -x) is stopped."""
    while EARLY:
        stop_launcher(EARLY.pop())


def _can_start() -> bool:
    return MODEL.exists() and all(shutil.which(tool) for tool in ("haproxy", "redis-server"))


@pytest.fixture(scope="session")
def launched() -> Iterator[Launched]:
    if not MODEL.exists():
        pytest.fail("No trained model at models/clinic.tar.gz: run `make train` first.")
    for tool in ("haproxy", "redis-server"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is missing: `make cluster-deps` installs it (make test does).")
    running = EARLY.pop() if EARLY else start_launcher()
    process, folder, log = running.process, running.folder, running.log
    try:
        if not wait_for(lambda: (folder / "cluster.json").exists() or process.poll() is not None,
                        START_TIMEOUT, step=1):
            pytest.fail(f"the launcher did not start the cluster:\n{tail(log)}")
        if process.poll() is not None:
            pytest.fail(f"the launcher exited ({process.returncode}):\n{tail(log)}")
        yield running
    finally:
        stop_launcher(running)


@pytest.fixture(scope="session")
def cluster(launched: Launched) -> Cluster:
    return view_of(launched)


@pytest.fixture(scope="session")
def cluster_calendar(cluster: Cluster) -> CalDAVCalendar:
    """The clinic calendar both replicas offer and hold times from: the local CalDAV server the
    launcher starts when no clinic calendar is configured (dev/cluster/topology.py)."""
    server = calendar_server.LocalServer(cluster.ports.calendar, "clinic",
                                         cluster.secrets["CLINIC_CALDAV_PASSWORD"],
                                         "clinic/practitioner")
    return CalDAVCalendar(server.calendar_url, server.user, server.password, timeout=5)
