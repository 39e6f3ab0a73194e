"""The cluster under its real launcher, ``python -m dev.cluster`` as ``make cluster`` runs it
(on free ports): a replica killed with ``kill -9`` is routed around by the proxy and started
again by the launcher within a minute; a launcher killed with ``kill -9`` leaves no process
behind and every port free.

One launcher serves the module; the test that kills it runs last.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cluster_http import post

from clinic.knowledge.kb import PROJECT_ROOT, knowledge
from dev.cluster.services import http_ok, port_open, tail
from dev.cluster.topology import MODEL

pytestmark = pytest.mark.cluster
K = knowledge()
START_TIMEOUT = 900


@dataclass
class Launched:
    process: subprocess.Popen[bytes]
    folder: Path
    log: Path

    def state(self) -> dict[str, Any]:
        return json.loads((self.folder / "cluster.json").read_text())

    def secret(self, name: str) -> str:
        if os.environ.get(name):
            return os.environ[name]
        for line in (self.folder / "secrets.env").read_text().splitlines():
            key, _, value = line.partition("=")
            if key == name:
                return value
        raise KeyError(name)

    def port(self, part: str) -> int:
        return int(self.state()["ports"][part])

    def say(self, who: str, text: str) -> str:
        status, body = post(f"http://127.0.0.1:{self.port('proxy')}/webhooks/rest/webhook",
                            {"sender": who, "message": text},
                            {"Authorization": f"Bearer {self.secret('CLINIC_API_TOKEN')}"})
        if status != 200:
            # Shown by pytest under "Captured stdout" (an assertion message is cut short).
            print(self.logs())
            listeners = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True)
            print(listeners.stdout)
        assert status == 200, (status, body[:300])
        return "\n".join(r.get("text", "") for r in json.loads(body))

    def logs(self) -> str:
        """The ends of the launcher's, the supervisor's and the proxy's logs (for failures)."""
        logs = self.folder / "logs"
        return "\n".join(f"--- {path.name}\n{tail(path, 3000)}" for path in (
            self.log, logs / "supervisor.log", logs / "proxy.log", logs / "rasa1.log",
            logs / "rasa2.log"))

    def replica_ok(self, index: int) -> bool:
        port = self.state()["ports"]["rasa"][index]
        token = self.secret("CLINIC_RASA_API_TOKEN")
        return http_ok(f"http://127.0.0.1:{port}/status?token={token}", timeout=5)


def alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def descendants(root: int) -> set[int]:
    """Every live process below ``root`` (children, grandchildren ...), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return {pid for pid in found if alive(pid)}


def wait_for(check, timeout: float, step: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return bool(check())


@pytest.fixture(scope="module")
def launched() -> Iterator[Launched]:
    if not MODEL.exists():
        pytest.fail("No trained model at models/clinic.tar.gz: run `make train` first.")
    for tool in ("haproxy", "redis-server"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is missing: `make cluster-deps` installs it (make test does).")
    # Not pytest's tmp_path: PostgreSQL runs as the postgres user and must reach its folder.
    folder = Path(tempfile.mkdtemp(prefix="clinic-launcher-"))
    log = folder / "launcher.log"
    # Texts go to the local outbox, never to Twilio.
    env = {**os.environ, "TWILIO_ACCOUNT_SID": "", "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "dev.cluster", "--folder", str(folder), "--free-ports"],
            cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    running = Launched(process, folder, log)
    try:
        if not wait_for(lambda: (folder / "cluster.json").exists() or process.poll() is not None,
                        START_TIMEOUT, step=1):
            pytest.fail(f"the launcher did not start the cluster:\n{tail(log)}")
        if process.poll() is not None:
            pytest.fail(f"the launcher exited ({process.returncode}):\n{tail(log)}")
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # as Ctrl-C: stops every part in order
            try:
                process.wait(timeout=180)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(folder, ignore_errors=True)


def test_a_replica_killed_is_routed_around_and_started_again_within_a_minute(launched) -> None:
    who = f"launcher-{uuid.uuid4().hex[:10]}"
    questions = [c.question for c in K.screening.contraindications]
    assert "safety questions" in launched.say(who, "I want to book")
    for n in range(1, 3):
        assert questions[n] in launched.say(who, "/deny")

    old_pid = launched.state()["pids"]["rasa1"]
    os.kill(old_pid, signal.SIGKILL)
    killed_at = time.monotonic()
    # Dead: its port closed. The process shows as a zombie before its last thread has let go
    # of the port; a request that reaches it meanwhile gets a 502 (the proxy never sends a
    # request twice, see deploy/haproxy.cfg).
    port = launched.state()["ports"]["rasa"][0]
    assert wait_for(lambda: not port_open(port), 30, step=0.05)
    # The conversation goes on through the proxy, on the other replica.
    for n in range(3, 6):
        assert questions[n] in launched.say(who, "/deny")
    assert launched.process.poll() is None, "the launcher stopped when a replica died"

    def replica_back() -> bool:
        pid = launched.state()["pids"].get("rasa1")
        return pid not in (None, old_pid) and alive(pid) and launched.replica_ok(0)

    assert wait_for(replica_back, 60 - (time.monotonic() - killed_at)), (
        f"rasa1 not back within a minute:\n{launched.logs()}")
    supervisor_log = (launched.folder / "logs" / "supervisor.log").read_text()
    assert f"rasa1 (pid {old_pid}) killed by SIGKILL" in supervisor_log
    assert "rasa1 started again" in supervisor_log
    # Both replicas serve again: the proxy alternates, the conversation keeps its place.
    for n in range(6, 8):
        assert questions[n] in launched.say(who, "/deny")


def test_kill_9_of_the_launcher_leaves_no_process_and_frees_every_port(launched) -> None:
    state = launched.state()
    ports = [port for value in state["ports"].values()
             for port in (value if isinstance(value, list) else [value])]
    children = descendants(launched.process.pid)
    started = set(state["pids"].values())
    assert started <= children, (started, children)

    launched.process.send_signal(signal.SIGKILL)
    launched.process.wait(timeout=10)
    assert wait_for(lambda: not any(alive(pid) for pid in children), 30), \
        [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in children if alive(pid)]
    assert wait_for(lambda: not any(port_open(port) for port in ports), 10), \
        [port for port in ports if port_open(port)]
