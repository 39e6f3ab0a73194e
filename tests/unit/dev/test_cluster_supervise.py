"""The cluster launcher's supervision, on real (small) processes: a part that dies is started
again with a growing delay, and no part outlives a launcher that was killed.

The whole cluster under the real launcher is tested in tests/cluster/test_launcher.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dev.cluster.services import Process
from dev.cluster.supervise import Backoff, Supervisor, describe_exit


def alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie waiting for its parent to reap it counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(check, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return bool(check())


class Parts:
    """Two sleeping processes, restarted as the cluster restarts its parts."""

    def __init__(self, folder: Path) -> None:
        self.processes = {name: Process(name, ["sleep", "600"], folder / f"{name}.log")
                          for name in ("rasa1", "actions1")}
        self.respawned: list[str] = []

        self.floors: dict[str, float] = {}

    def parts(self) -> dict[str, Process]:
        return self.processes

    def restart_floor(self, name: str) -> float:
        return self.floors.get(name, 0.0)

    def respawn(self, name: str) -> Process:
        self.respawned.append(name)
        return self.processes[name].start()

    def stop(self) -> None:
        for process in self.processes.values():
            process.kill()


@pytest.fixture
def parts(tmp_path):
    running = Parts(tmp_path)
    for process in running.processes.values():
        process.start()
    try:
        yield running
    finally:
        running.stop()


def test_a_killed_part_is_started_again_after_the_delay_and_logged(parts) -> None:
    now = [100.0]
    lines: list[str] = []
    changes: list[int] = []
    supervisor = Supervisor(parts, lines.append, Backoff(first=1, longest=8, stable_after=60),
                            clock=lambda: now[0], on_change=lambda: changes.append(1))
    supervisor.check()
    assert lines == [] and parts.respawned == []

    old_pid = parts.processes["rasa1"].pid
    parts.processes["rasa1"].kill()
    supervisor.check()
    assert parts.respawned == []  # not before the delay
    assert "rasa1" in lines[0] and "killed by SIGKILL" in lines[0] and "1 s" in lines[0]

    now[0] += 1.0
    supervisor.check()
    assert parts.respawned == ["rasa1"] and changes == [1]
    assert parts.processes["rasa1"].running() and parts.processes["rasa1"].pid != old_pid
    assert "started again" in lines[1]
    # The other part was never touched.
    assert parts.processes["actions1"].running()


def test_the_delay_doubles_for_quick_failures_and_resets_once_stable(parts) -> None:
    now = [0.0]
    lines: list[str] = []
    supervisor = Supervisor(parts, lines.append, Backoff(first=1, longest=4, stable_after=60),
                            clock=lambda: now[0])
    process = parts.processes["actions1"]
    delays = []
    for _ in range(4):
        process.kill()
        supervisor.check()
        delays.append(lines[-1].split("restarting in ")[1].split(" s")[0])
        now[0] += float(delays[-1])
        supervisor.check()
        assert process.running()
        process.started_at = now[0]
    assert delays == ["1", "2", "4", "4"]

    # A minute of running makes the next failure a first one again.
    now[0] += 61
    process.started_at = now[0] - 61
    supervisor.check()
    process.kill()
    supervisor.check()
    assert "restarting in 1 s" in lines[-1]


def test_a_part_that_cannot_start_is_retried_later(parts, tmp_path) -> None:
    now = [0.0]
    lines: list[str] = []
    supervisor = Supervisor(parts, lines.append, Backoff(first=1, longest=60), clock=lambda: now[0])
    process = parts.processes["rasa1"]
    process.kill()
    process.command = [str(tmp_path / "no-such-program")]
    supervisor.check()
    now[0] += 1
    supervisor.check()
    assert "could not be started again" in lines[-1]
    supervisor.check()
    assert "restarting in 2 s" in lines[-1]


def test_a_part_behind_the_proxy_waits_until_the_proxy_has_seen_it_down(parts) -> None:
    now = [0.0]
    lines: list[str] = []
    parts.floors["rasa1"] = 6.0
    supervisor = Supervisor(parts, lines.append, Backoff(first=1), clock=lambda: now[0])
    parts.processes["rasa1"].kill()
    supervisor.check()
    assert "restarting in 6 s" in lines[-1]
    now[0] += 5.9
    supervisor.check()
    assert parts.respawned == []
    now[0] += 0.1
    supervisor.check()
    assert parts.respawned == ["rasa1"]


def test_the_cluster_holds_back_the_parts_behind_the_proxy(tmp_path) -> None:
    import re

    from dev.cluster.topology import HAPROXY_CONFIG, PROXY_SEES_DOWN_S, Cluster

    checks = re.search(r"default-server inter (\d+)s fall (\d+)", HAPROXY_CONFIG.read_text())
    assert checks is not None
    assert PROXY_SEES_DOWN_S > int(checks[1]) * int(checks[2])  # the proxy has taken it out
    cluster = Cluster(tmp_path)
    for name in ("rasa1", "rasa2", "actions1", "web"):
        assert cluster.restart_floor(name) == PROXY_SEES_DOWN_S
    for name in ("sender", "postgres", "redis", "proxy"):
        assert cluster.restart_floor(name) == 0.0


def test_the_cluster_is_ready_only_when_the_proxy_sees_every_server_of_every_backend(
        tmp_path, monkeypatch) -> None:
    """The REST and socket.io backends check the same replicas each on their own: a cluster
    whose REST backend was up while socket.io's was not was said to be ready, and the widget
    got 503 from it."""
    from dev.cluster.topology import Cluster, ClusterError

    state = {"rasa/rasa1": "UP", "rasa/rasa2": "UP", "rasa_socketio/rasa1": "UP",
             "rasa_socketio/rasa2": "DOWN", "website/web1": "UP"}
    cluster = Cluster(tmp_path)
    monkeypatch.setattr(cluster, "proxy_state", lambda: dict(state))
    cluster.wait_proxy_sees(servers=("rasa/rasa1", "rasa/rasa2"), timeout=0.2)  # REST: up
    with pytest.raises(ClusterError, match="rasa_socketio/rasa2"):
        cluster.wait_proxy_sees(timeout=0.2)
    state["rasa_socketio/rasa2"] = "UP 1/2"
    cluster.wait_proxy_sees(timeout=0.2)
    monkeypatch.setattr(cluster, "proxy_state", lambda: {})  # the proxy not answering yet
    with pytest.raises(ClusterError):
        cluster.wait_proxy_sees(timeout=0.2)


def test_exit_descriptions() -> None:
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(3) == "exit status 3"


LAUNCHER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from dev.cluster.services import Process
    folder = Path(sys.argv[1])
    children = [Process("sleeper", ["sleep", "600"], folder / "sleeper.log").start(),
                Process("python", [sys.executable, "-c", "import time; time.sleep(600)"],
                        folder / "python.log").start()]
    print(" ".join(str(c.pid) for c in children), flush=True)
    time.sleep(600)
""")


def test_children_do_not_outlive_a_launcher_killed_with_sigkill(tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(tmp_path)],
                                stdout=subprocess.PIPE, text=True, env=env,
                                start_new_session=True)
    try:
        assert launcher.stdout is not None
        pids = [int(p) for p in launcher.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(p) for p in pids)
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(timeout=10)
        assert wait_for(lambda: not any(alive(p) for p in pids)), \
            "a child outlived its killed launcher"
    finally:
        if launcher.poll() is None:
            launcher.kill()
