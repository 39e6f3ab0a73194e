"""The production topology for the cluster tests: PostgreSQL, Redis, two Rasa replicas, two
action servers and HAProxy, started once for the session on free loopback ports, with
data in a temporary folder (the real ``dev.cluster`` code that ``make cluster`` runs).

Module-scoped: only test_cluster.py uses it, and it is stopped before test_launcher.py starts
its own cluster under the launcher (two clusters at once would share two cores).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_http import TWILIO_TOKEN

from dev.cluster.topology import MODEL, Cluster, Ports


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
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
                                 "TWILIO_ACCOUNT_SID": ""})
    running.start(report=lambda _line: None)
    try:
        yield running
    finally:
        running.stop()
        shutil.rmtree(folder, ignore_errors=True)
