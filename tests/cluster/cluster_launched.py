"""The launched cluster of the cluster tests (tests/cluster/conftest.py starts it): the
launcher's handle and a :class:`Cluster` view of what it runs. A module of its own, so that
tests can import its helpers (every conftest is named conftest)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cluster_http import post

from dev.cluster.services import Postgres, Redis, http_ok, port_open, tail
from dev.cluster.topology import Cluster, Ports, load_secrets


def wait_for(check, timeout: float, step: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return bool(check())


def alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class Launched:
    """``python -m dev.cluster`` running for the session."""

    process: subprocess.Popen[bytes]
    folder: Path
    log: Path

    def state(self) -> dict[str, Any]:
        return json.loads((self.folder / "cluster.json").read_text())

    def secret(self, name: str) -> str:
        return load_secrets(self.folder / "secrets.env")[name]

    def port(self, part: str) -> int:
        return int(self.state()["ports"][part])

    def say(self, who: str, text: str) -> str:
        """One REST message through the proxy; the bot's texts."""
        status, body = post(f"http://127.0.0.1:{self.port('proxy')}/webhooks/rest/webhook",
                            {"sender": who, "message": text},
                            {"Authorization": f"Bearer {self.secret('CLINIC_API_TOKEN')}"})
        if status != 200:
            # Shown by pytest under "Captured stdout" (an assertion message is cut short).
            print(self.logs())
            print(subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout)
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

    @contextmanager
    def store_down(self, cluster: Cluster, store: str) -> Iterator[None]:
        """PostgreSQL or Redis stopped for the block, then started again by the launcher.

        The launcher's watch loop is paused (SIGSTOP) while the store is down, so the block
        sees a store that stays down however busy the machine is (the supervisor would
        otherwise start it again after about a second). After the block the loop goes on
        and must bring the store back; this waits until it accepts connections.
        """
        old_pid = self.state()["pids"][store]
        port = self.port(store)
        self.process.send_signal(signal.SIGSTOP)
        try:
            # SIGINT is PostgreSQL's fast shutdown, SIGTERM Redis's.
            os.kill(old_pid, signal.SIGINT if store == "postgres" else signal.SIGTERM)
            assert wait_for(lambda: not port_open(port), 30, step=0.1), f"{store} still up"
            yield
        finally:
            self.process.send_signal(signal.SIGCONT)
        service = cluster.postgres if store == "postgres" else cluster.redis
        accepts = service._accepts if isinstance(service, Postgres) else (  # noqa: SLF001
            lambda: port_open(port))
        back = wait_for(lambda: self.state()["pids"].get(store) not in (None, old_pid)
                        and accepts(), 60)
        assert back, f"the launcher did not start {store} again:\n{self.logs()}"


def view_of(launched: Launched) -> Cluster:
    """A :class:`Cluster` with the launched cluster's addresses, secrets and environment;
    it owns no process (``processes`` is empty)."""
    state = launched.state()
    ports = {k: tuple(v) if isinstance(v, list) else v for k, v in state["ports"].items()}
    view = Cluster(launched.folder, Ports(**ports))
    view.secrets = load_secrets(launched.folder / "secrets.env")
    view.postgres = Postgres(launched.folder / "postgres", view.ports.postgres,
                             view.secrets["CLINIC_POSTGRES_PASSWORD"])
    view.redis = Redis(launched.folder / "redis", view.ports.redis,
                       view.secrets["CLINIC_REDIS_PASSWORD"])
    # What the launcher gives its parts (dev/cluster/topology.py), for the `clinic` CLI.
    view.env = {**os.environ, **view.secrets,
                "CLINIC_DATABASE_URL": view.postgres.url("clinic", "postgresql+psycopg2"),
                "CLINIC_TRACKER_STORE_URL": view.postgres.url("rasa"),
                "CLINIC_REDIS_URL": view.redis.url,
                "CLINIC_SECRETS_FILE": str(launched.folder / "secrets.env")}
    return view


def tracker_events(cluster, who: str) -> list[dict]:
    """The conversation's events as PostgreSQL holds them, in order."""
    import psycopg2

    connection = psycopg2.connect(cluster.postgres.url("rasa"))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT data FROM events WHERE sender_id = %s ORDER BY id", (who,))
            return [json.loads(row[0]) for row in cursor.fetchall()]
    finally:
        connection.close()


def user_texts(events: list[dict]) -> list[str]:
    return [e.get("text") for e in events if e["event"] == "user"]


def turns_are_whole(events: list[dict]) -> bool:
    """Each user message comes after the previous turn ended (action_listen)."""
    last_action = "action_listen"
    for event in events:
        if event["event"] == "user" and last_action != "action_listen":
            return False
        if event["event"] == "action":
            last_action = event.get("name")
    return True
