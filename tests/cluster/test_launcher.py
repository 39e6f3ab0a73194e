"""The cluster under its real launcher, ``python -m dev.cluster`` as ``make cluster`` runs it
(the session's cluster, tests/cluster/conftest.py): a replica killed with ``kill -9`` in the
middle of a conversation loses nothing, is routed around by the proxy and started again by the
launcher within a minute; a launcher killed with ``kill -9`` leaves no process behind and
every port free.

Destructive: conftest.py runs this module after every other cluster test, and the launcher's
``kill -9`` last of all.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest
from cluster_launched import alive, tracker_events, turns_are_whole, user_texts, wait_for

from clinic.knowledge.kb import knowledge
from dev.cluster.services import port_open

pytestmark = pytest.mark.cluster
K = knowledge()


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


# One test for what test_cluster.py's "kill -9 of a replica loses nothing" and this module's
# "routed around and started again" proved apart (each started a cluster of its own).
def test_a_replica_killed_loses_nothing_is_routed_around_and_started_again_within_a_minute(
        launched, cluster) -> None:
    who = f"launcher-{uuid.uuid4().hex[:10]}"
    questions = [c.question for c in K.screening.contraindications]
    assert "safety questions" in launched.say(who, "I want to book")
    for n in range(1, 3):
        assert questions[n] in launched.say(who, "/deny")

    old_pid = launched.state()["pids"]["rasa1"]
    # The local calendar is a part like the others: killed too, it is started again.
    old_calendar = launched.state()["pids"]["calendar"]
    os.kill(old_calendar, signal.SIGKILL)
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
    cluster.wait_proxy_sees(up=False, servers=("rasa/rasa1",), timeout=30)
    assert cluster.proxy_state()["rasa/rasa2"].startswith("UP")

    def replica_back() -> bool:
        pid = launched.state()["pids"].get("rasa1")
        return pid not in (None, old_pid) and alive(pid) and launched.replica_ok(0)

    assert wait_for(replica_back, 60 - (time.monotonic() - killed_at)), (
        f"rasa1 not back within a minute:\n{launched.logs()}")
    def calendar_back() -> bool:
        pid = launched.state()["pids"].get("calendar")
        return (pid not in (None, old_calendar) and alive(pid)
                and port_open(launched.state()["ports"]["calendar"]))

    assert wait_for(calendar_back, 30), f"the calendar is not back:\n{launched.logs()}"
    supervisor_log = (launched.folder / "logs" / "supervisor.log").read_text()
    assert f"rasa1 (pid {old_pid}) killed by SIGKILL" in supervisor_log
    assert "rasa1 started again" in supervisor_log
    assert f"calendar (pid {old_calendar}) killed by SIGKILL" in supervisor_log
    assert "calendar started again" in supervisor_log
    # Both replicas serve again: the proxy alternates, the conversation keeps its place.
    for n in range(6, 8):
        assert questions[n] in launched.say(who, "/deny")
    # Nothing was lost or stored twice: every message, each turn whole.
    events = tracker_events(cluster, who)
    assert user_texts(events) == ["I want to book"] + ["/deny"] * 7
    assert turns_are_whole(events)


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
