"""Keep every part of the cluster running, as systemd's ``Restart=always`` would.

The launcher (``python -m dev.cluster``) calls :meth:`Supervisor.check` about once a
second. A part that exited (a replica, an action server, the SMS sender, the demo website,
the proxy, PostgreSQL or Redis) is started again with the same command after a delay that
doubles with each quick failure (1 s, 2 s, 4 s ... at most a minute) and is forgotten once
the part has run for a minute, so a part that cannot start does not spin the machine. Each
exit and restart is logged with the time, the exit status and the part's log file.

A part behind the proxy's health checks (a replica, an action server, the website) is
started again only once the proxy has seen it down (``Cluster.restart_floor``): a replica
listens seconds before its model is loaded, and a proxy that still counted it up would send
it messages it cannot answer.

Meanwhile the proxy's health checks (deploy/haproxy.cfg) route around a dead replica or
action server: the conversation goes on on the other one. Only Ctrl-C (or SIGTERM) stops
the whole cluster.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from dev.cluster.services import Process


class Supervised(Protocol):
    """What the supervisor needs of a cluster (:class:`dev.cluster.topology.Cluster`)."""

    def parts(self) -> dict[str, Process]: ...

    def respawn(self, name: str) -> Process: ...

    def restart_floor(self, name: str) -> float: ...


@dataclass(frozen=True)
class Backoff:
    """Restart delays: ``first`` doubled per quick failure up to ``longest``; a part that ran
    ``stable_after`` seconds starts over at ``first``."""

    first: float = 1.0
    longest: float = 60.0
    stable_after: float = 60.0

    def delay(self, failures: int) -> float:
        """The delay before the restart that follows ``failures`` quick failures (>= 1)."""
        return float(min(self.first * 2 ** max(failures - 1, 0), self.longest))


@dataclass
class PartState:
    failures: int = 0
    restarts: int = 0
    restart_at: float | None = None


def describe_exit(returncode: int | None) -> str:
    """'exit status 1', 'killed by SIGKILL' ..."""
    if returncode is None:
        return "exited"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


@dataclass
class Supervisor:
    """Restarts the cluster's parts that died; see the module's documentation."""

    cluster: Supervised
    log: Callable[[str], object]
    backoff: Backoff = field(default_factory=Backoff)
    clock: Callable[[], float] = time.monotonic
    on_change: Callable[[], object] = lambda: None
    states: dict[str, PartState] = field(default_factory=dict)

    def check(self) -> None:
        """One pass: note the parts that died, restart those whose delay has passed."""
        now = self.clock()
        for name, process in self.cluster.parts().items():
            state = self.states.setdefault(name, PartState())
            if process.running():
                if state.failures and now - process.started_at >= self.backoff.stable_after:
                    state.failures = 0
                continue
            if state.restart_at is None:
                state.failures += 1
                delay = max(self.backoff.delay(state.failures),
                            self.cluster.restart_floor(name))
                state.restart_at = now + delay
                self.log(f"{name} (pid {process.pid}) {describe_exit(process.returncode)}; "
                         f"restarting in {delay:.0f} s (log: {process.log})")
            elif now >= state.restart_at:
                self._restart(name, state, now)

    def _restart(self, name: str, state: PartState, now: float) -> None:
        state.restart_at = None
        try:
            process = self.cluster.respawn(name)
        except OSError as error:
            # Counts as a quick failure: the next check schedules a later attempt.
            self.log(f"{name} could not be started again: {error}")
            return
        state.restarts += 1
        self.log(f"{name} started again (pid {process.pid}, restart {state.restarts})")
        self.on_change()
