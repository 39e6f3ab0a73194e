"""The production topology on one machine: what ``make cluster`` and the cluster tests run.

::

    proxy (HAProxy, deploy/haproxy.cfg) :8080 ── /, /socket.io/ (sticky), /webhooks/...
      ├─▶ Rasa replica 1, Rasa replica 2 ──▶ actions listener of the proxy ──▶ action server 1, 2
      │        │ tracker store, clinic database ──▶ PostgreSQL (own data folder, own port)
      │        └ lock store, socket.io manager ──▶ Redis (own port)
      └─▶ demo website (dev.web.serve)
    SMS sender (one per host)

Everything listens on 127.0.0.1 only. :class:`Cluster` starts the parts in order, waits
until each answers, and stops them in the reverse order; tests use its handles to kill or
restart single parts.
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, cast

import yaml

from clinic.config.settings import settings
from clinic.knowledge.kb import PROJECT_ROOT
from dev.cluster.services import (
    ClusterError,
    Postgres,
    Process,
    Redis,
    die_with_parent,
    free_port,
    http_ok,
    port_open,
)

VENV_BIN = Path(sys.executable).parent
MODEL = PROJECT_ROOT / "models" / "clinic.tar.gz"
HAPROXY_CONFIG = PROJECT_ROOT / "deploy" / "haproxy.cfg"
CLUSTER_ENDPOINTS = PROJECT_ROOT / "deploy" / "endpoints.yml"
# deploy/haproxy.cfg checks every 2 s and takes a server out after 2 failed checks: a dead
# server is out within 4 s (plus a check's own time). A dead part behind the proxy starts
# again after this many seconds, once the proxy no longer sends it anything.
PROXY_SEES_DOWN_S = 6.0
# Secrets every part must share; generated once per cluster folder when not in the env.
SHARED_SECRETS = ("CLINIC_RASA_API_TOKEN", "CLINIC_ACTIONS_TOKEN", "CLINIC_SESSION_SECRET",
                  "CLINIC_CONSOLE_JWT_SECRET",
                  "CLINIC_API_TOKEN", "CLINIC_POSTGRES_PASSWORD", "CLINIC_REDIS_PASSWORD",
                  "CLINIC_CALDAV_PASSWORD")


@dataclass
class Ports:
    """Where each part listens (all on 127.0.0.1)."""

    proxy: int = 8080
    proxy_stats: int = 6081
    postgres: int = 6432
    # Not Redis's usual 6379: Debian's redis-server package may run the system one there.
    redis: int = 6380
    rasa: tuple[int, ...] = (6005, 6006)
    actions_listener: int = 6054
    actions: tuple[int, ...] = (6055, 6056)
    web: int = 6080
    # The local CalDAV server (Radicale), when no clinic calendar is configured.
    calendar: int = 6232

    @classmethod
    def free(cls, replicas: int = 2) -> Ports:
        """Free ports for every part (tests: nothing collides with a running cluster)."""
        return cls(proxy=free_port(), proxy_stats=free_port(), postgres=free_port(),
                   redis=free_port(), rasa=tuple(free_port() for _ in range(replicas)),
                   actions_listener=free_port(),
                   actions=tuple(free_port() for _ in range(2)), web=free_port(),
                   calendar=free_port())


def load_secrets(path: Path) -> dict[str, str]:
    """The cluster's shared secrets: environment first, then ``path``; missing ones are
    generated and written to ``path`` (mode 600). Values are never printed."""
    stored: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and not key.startswith("#"):
                stored[key.strip()] = value.strip()
    result: dict[str, str] = {}
    changed = False
    for name in SHARED_SECRETS:
        value = os.environ.get(name) or stored.get(name) or ""
        if not value:
            value = secrets.token_urlsafe(32)
            stored[name] = value
            changed = True
        result[name] = value
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{k}={v}\n" for k, v in stored.items()), encoding="utf-8")
        path.chmod(0o600)
    return result


def cluster_endpoints_text(actions_url: str = "${CLINIC_ACTIONS_URL}") -> str:
    """deploy/endpoints.yml: the project's endpoints.yml, changed only where a cluster differs.

    Actions go through the proxy's actions listener; the lock store is the race-safe Redis
    one; conversations are kept in PostgreSQL (``CLINIC_TRACKER_STORE_URL``). Secrets stay
    ``${...}`` references that Rasa fills in from the environment.
    """
    endpoints = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    endpoints["action_endpoint"]["url"] = actions_url
    tracker = endpoints.get("tracker_store") or {}
    if tracker.get("type") == "SQL":
        # Rasa's own SQL store takes a complete SQLAlchemy URL in `url`.
        endpoints["tracker_store"] = {"type": "SQL", "dialect": "postgresql",
                                      "url": "${CLINIC_TRACKER_STORE_URL}", "db": "rasa"}
    endpoints["lock_store"] = {"type": "clinic.rasa.lock_store.AtomicRedisLockStore",
                               "url": "${CLINIC_REDIS_URL}"}
    return ("# Generated from endpoints.yml by `python -m dev.cluster --write-endpoints`:\n"
            "# several Rasa replicas (make cluster, a VM, Kubernetes). Values come from the\n"
            "# environment (deploy/clinic.env.example).\n"
            + yaml.safe_dump(endpoints, sort_keys=False))


def rasa_command(port: int, endpoints: Path, credentials: Path, cors: str) -> list[str]:
    """One Rasa replica, started as `make run` starts the single server (clinic.rasa.server:
    API token from CLINIC_RASA_API_TOKEN, body limits, secret checks)."""
    return [str(VENV_BIN / "python"), "-m", "clinic.rasa.server", "--port", str(port),
            "--interface", "127.0.0.1", "--model", str(MODEL), "--credentials", str(credentials),
            "--endpoints", str(endpoints), "--cors", cors]


def actions_command(port: int) -> list[str]:
    """One action server, as `make run` starts it (checks the shared secret header)."""
    return [str(VENV_BIN / "python"), "-m", "clinic.rasa.action_server", "--port", str(port)]


def _prepare_tracker_table(env: dict[str, str], log: Path) -> None:
    """Create Rasa's ``events`` table once, before the replicas start together."""
    code = ("from dev.cluster.topology import create_tracker_table; create_tracker_table()")
    with log.open("ab") as out:
        result = subprocess.run([str(VENV_BIN / "python"), "-c", code], env=env,
                                cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT,
                                timeout=180)
    if result.returncode != 0:
        raise ClusterError(f"could not create the tracker table; see {log}")


def create_tracker_table() -> None:
    """Rasa's SQL tracker store creates its table when it is first built."""
    # Lazy: importing Rasa takes seconds; only this step needs it.
    from rasa.core.tracker_store import SQLTrackerStore


    SQLTrackerStore(dialect="postgresql", host=settings().tracker_store_url, db="rasa")


@dataclass
class Cluster:
    """The whole topology in ``folder`` (data, logs, generated config)."""

    folder: Path
    ports: Ports = field(default_factory=Ports)
    with_sender: bool = True
    extra_env: dict[str, str] = field(default_factory=dict, repr=False)

    processes: dict[str, Process] = field(default_factory=dict)
    postgres: Postgres | None = None
    redis: Redis | None = None
    env: dict[str, str] = field(default_factory=dict, repr=False)
    secrets: dict[str, str] = field(default_factory=dict, repr=False)

    # ---- addresses -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports.proxy}"

    def replica_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports.rasa[index]}"

    @property
    def logs(self) -> Path:
        return self.folder / "logs"

    def status_url(self, index: int) -> str:
        return f"{self.replica_url(index)}/status?token={self.secrets['CLINIC_RASA_API_TOKEN']}"

    # ---- start and stop --------------------------------------------------------------------

    def start(self, report: Callable[[str], object] = print) -> Cluster:
        if not MODEL.is_file():
            raise ClusterError("No trained model at models/clinic.tar.gz: run `make train`.")
        for tool in ("haproxy", "redis-server"):
            if not shutil.which(tool):
                raise ClusterError(f"{tool} is not installed: `make cluster` installs it "
                                   "with apt-get.")
        self.folder.mkdir(parents=True, exist_ok=True)
        # PostgreSQL runs as its own user and must reach its data folder.
        self.folder.chmod(0o711)
        self.secrets = load_secrets(self.folder / "secrets.env")
        try:
            self._start(report)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_calendar(self, report: Callable[[str], object]) -> None:
        """Both replicas need the clinic's calendar (issue 20): without a CLINIC_CALDAV_URL in
        the environment, the local CalDAV server (Radicale, `make calendar-server`) runs with
        its data in the cluster folder, as `make run` does in var/."""
        if self.env.get("CLINIC_CALDAV_URL") or self.extra_env.get("CLINIC_CALDAV_URL"):
            return
        from dev import calendar_server

        if not (calendar_server.RADICALE_VENV / "bin" / "python").exists():
            report("No clinic calendar: `make calendar-server` installs the local one "
                   "(booking requests are saved without times until then).")
            return
        report("Starting the local CalDAV calendar ...")
        user, password = "clinic", self.secrets["CLINIC_CALDAV_PASSWORD"]
        # Like every part, it dies with a launcher that was killed (die_with_parent).
        process, server = calendar_server.start(self.folder / "radicale", self.ports.calendar,
                                                user, password, "clinic/practitioner",
                                                preexec_fn=die_with_parent(signal.SIGTERM))
        # Supervised like every part: started again with the same command and data if it
        # dies (its first run logs to the launcher's output, a restart to logs/calendar.log).
        self.processes["calendar"] = Process(
            "calendar", [str(arg) for arg in cast("list[Any]", process.args)],
            self.logs / "calendar.log",
            death_signal=signal.SIGTERM, popen=process, started_at=time.monotonic())
        self.env.update({"CLINIC_CALDAV_URL": server.calendar_url, "CLINIC_CALDAV_USER": user,
                         "CLINIC_CALDAV_PASSWORD": password})

    def _check_ports_free(self) -> None:
        p = self.ports
        named = [("proxy", p.proxy), ("proxy status page", p.proxy_stats),
                 ("PostgreSQL", p.postgres), ("Redis", p.redis),
                 ("actions listener", p.actions_listener), ("demo website", p.web),
                 ("local calendar", p.calendar)]
        named += [(f"Rasa replica {i + 1}", port) for i, port in enumerate(p.rasa)]
        named += [(f"action server {i + 1}", port) for i, port in enumerate(p.actions)]
        busy = [f"{port} ({name})" for name, port in named if port_open(port)]
        if busy:
            raise ClusterError("ports already in use on 127.0.0.1: " + ", ".join(busy)
                               + ". Is another `make cluster` running? Stop it first.")

    def _start(self, report: Callable[[str], object]) -> None:
        ports = self.ports
        self._check_ports_free()
        self.postgres = Postgres(self.folder / "postgres", ports.postgres,
                                 self.secrets["CLINIC_POSTGRES_PASSWORD"],
                                 self.logs / "postgres.log")
        self.redis = Redis(self.folder / "redis", ports.redis,
                           self.secrets["CLINIC_REDIS_PASSWORD"], self.logs / "redis.log")
        report("Starting PostgreSQL and Redis ...")
        self.postgres.start()
        self.redis.start()
        for name in ("clinic", "rasa"):
            self.postgres.create_database(name)

        origins = [f"http://127.0.0.1:{ports.proxy}", f"http://localhost:{ports.proxy}"]
        self.env = dict(os.environ)
        self.env.update(self.secrets)
        self.env.update({
            "CLINIC_DATABASE_URL": self.postgres.url("clinic", "postgresql+psycopg2"),
            "CLINIC_TRACKER_STORE_URL": self.postgres.url("rasa"),
            "CLINIC_REDIS_URL": self.redis.url,
            "CLINIC_ACTIONS_URL": f"http://127.0.0.1:{ports.actions_listener}/webhook",
            "CLINIC_ALLOWED_ORIGINS": ",".join(origins),
            "CLINIC_BIND": "127.0.0.1",
            "CLINIC_SECRETS_FILE": str(self.folder / "secrets.env"),
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "PYTHONUNBUFFERED": "1",
            "RASA_TELEMETRY_ENABLED": "false",
            # The replicas share one PostgreSQL: a small pool each is plenty.
            "SQL_POOL_SIZE": "10",
            "SQL_MAX_OVERFLOW": "20",
        })
        # Twilio signs the public URL it calls; here that is the proxy's.
        self.env.setdefault("CLINIC_TWILIO_WEBHOOK_PUBLIC_URL",
                            f"{self.url}/webhooks/twilio/webhook")
        self.env.update(self.extra_env)
        self._start_calendar(report)

        report("Applying the clinic database's migrations ...")
        migrate = subprocess.run([str(VENV_BIN / "python"), "-c",
                                  "from clinic.store.db import migrate; migrate()"], env=self.env,
                                 cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180)
        if migrate.returncode != 0:
            raise ClusterError(f"migrations failed:\n{migrate.stdout}\n{migrate.stderr}")
        _prepare_tracker_table(self.env, self.logs / "tracker-table.log")

        if CLUSTER_ENDPOINTS.read_text(encoding="utf-8") != cluster_endpoints_text():
            raise ClusterError("deploy/endpoints.yml is out of date with endpoints.yml: run "
                               "`.venv/bin/python -m dev.cluster --write-endpoints`.")
        endpoints = CLUSTER_ENDPOINTS
        credentials = self.folder / "credentials.yml"
        shutil.copy(PROJECT_ROOT / "credentials.yml", credentials)

        report("Starting the proxy, 2 action servers and the demo website ...")
        self._start_proxy()
        for index, port in enumerate(ports.actions, start=1):
            self._spawn(f"actions{index}", actions_command(port))
        self._spawn("web", [str(VENV_BIN / "python"), "-m", "dev.web.serve",
                            "--port", str(ports.web), "--rasa-url", self.url])

        report(f"Starting {len(ports.rasa)} Rasa replicas (loading the model takes a while) ...")
        self._replica_args = (endpoints, credentials, " ".join(origins))
        for index in range(len(ports.rasa)):
            self.start_replica(index, wait=False)
        for index, port in enumerate(ports.actions, start=1):
            self.processes[f"actions{index}"].wait_until(
                partial(http_ok, f"http://127.0.0.1:{port}/health"), 180, "/health")
        for index in range(len(ports.rasa)):
            self.wait_replica(index)
        self.processes["web"].wait_until(lambda: port_open(ports.web), 30, "listening")
        if self.with_sender:
            self._spawn("sender", [str(VENV_BIN / "python"), "-m", "clinic.sms.sender"])
        # Every server of every backend: the REST and the socket.io backends check the same
        # replicas independently, so one can still be down when the other is up (the widget
        # then got 503 from a cluster said to be ready).
        self.wait_proxy_sees()

    def _spawn(self, name: str, command: list[str]) -> Process:
        process = Process(name, command, self.logs / f"{name}.log", env=self.env,
                          cwd=PROJECT_ROOT).start()
        self.processes[name] = process
        return process

    def _start_proxy(self) -> None:
        ports = self.ports
        proxy_env = dict(self.env)
        proxy_env.update({
            "CLINIC_PROXY_BIND": f"127.0.0.1:{ports.proxy}",
            "CLINIC_PROXY_STATS_BIND": f"127.0.0.1:{ports.proxy_stats}",
            "CLINIC_RASA_1": f"127.0.0.1:{ports.rasa[0]}",
            "CLINIC_RASA_2": f"127.0.0.1:{ports.rasa[-1]}",
            "CLINIC_WEB": f"127.0.0.1:{ports.web}",
            "CLINIC_ACTIONS_BIND": f"127.0.0.1:{ports.actions_listener}",
            "CLINIC_ACTIONS_1": f"127.0.0.1:{ports.actions[0]}",
            "CLINIC_ACTIONS_2": f"127.0.0.1:{ports.actions[-1]}",
        })
        check = subprocess.run(["haproxy", "-c", "-q", "-f", str(HAPROXY_CONFIG)],
                               env=proxy_env, capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            raise ClusterError(f"deploy/haproxy.cfg is invalid:\n{check.stdout}{check.stderr}")
        # SIGTERM when the launcher dies: HAProxy's master then stops its worker too.
        process = Process("proxy", ["haproxy", "-W", "-db", "-f", str(HAPROXY_CONFIG)],
                          self.logs / "proxy.log", env=proxy_env, cwd=PROJECT_ROOT,
                          death_signal=signal.SIGTERM).start()
        self.processes["proxy"] = process
        process.wait_until(lambda: port_open(ports.proxy), 30, "listening")

    def start_replica(self, index: int, wait: bool = True) -> Process:
        endpoints, credentials, cors = self._replica_args
        command = rasa_command(self.ports.rasa[index], endpoints, credentials, cors)
        process = self._spawn(f"rasa{index + 1}", command)
        if wait:
            self.wait_replica(index)
        return process

    def wait_replica(self, index: int, timeout: float = 420) -> None:
        self.processes[f"rasa{index + 1}"].wait_until(
            lambda: http_ok(self.status_url(index), timeout=5), timeout, "/status")

    def proxy_state(self) -> dict[str, str]:
        """``backend/server`` -> UP/DOWN/... as the proxy's health checks see it."""
        url = f"http://127.0.0.1:{self.ports.proxy_stats}/stats;csv"
        with urllib.request.urlopen(url, timeout=5) as response:
            rows = csv.DictReader(io.StringIO(response.read().decode().lstrip("# ")))
            return {f"{row['pxname']}/{row['svname']}": row["status"] for row in rows
                    if row["svname"] not in ("FRONTEND", "BACKEND")}

    def wait_proxy_sees(self, timeout: float = 60, up: bool = True,
                        servers: tuple[str, ...] | None = None) -> None:
        """Wait until the proxy's health checks see the given ``backend/server``s up (or
        down); by default every server of every backend."""
        deadline = time.monotonic() + timeout
        state: dict[str, str] = {}
        while time.monotonic() < deadline:
            try:
                state = self.proxy_state()
            except OSError:
                state = {}
            if state and all(state.get(s, "").startswith("UP") == up
                             for s in servers or state):
                return
            time.sleep(0.5)
        raise ClusterError(f"the proxy does not see {servers or 'every server'} "
                           f"{'up' if up else 'down'}: {state}")

    def parts(self) -> dict[str, Process]:
        """Every process of the cluster by name, the stores included."""
        found: dict[str, Process] = {}
        for name, service in (("postgres", self.postgres), ("redis", self.redis)):
            if service is not None and service.process is not None:
                found[name] = service.process
        found.update(self.processes)
        return found

    def restart_floor(self, name: str) -> float:
        """Seconds before a dead part may start again: a part behind the proxy's health
        checks waits until the proxy has taken it out (see dev/cluster/supervise.py)."""
        behind_proxy = name.startswith(("rasa", "actions")) or name == "web"
        return PROXY_SEES_DOWN_S if behind_proxy else 0.0

    def respawn(self, name: str) -> Process:
        """Start a part that died again, as it was started, without waiting for it to answer
        (the proxy's health checks take a replica back into rotation once it does)."""
        if name == "postgres" and self.postgres is not None:
            return self.postgres.respawn()
        return self.parts()[name].start()

    def state(self) -> dict[str, object]:
        """Where each part listens and its current process id (``<folder>/cluster.json``)."""
        return {"ports": asdict(self.ports), "launcher": os.getpid(),
                "pids": {name: p.pid for name, p in self.parts().items() if p.running()}}

    def write_state(self) -> None:
        path = self.folder / "cluster.json"
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(self.state(), indent=2), encoding="utf-8")
        temporary.replace(path)

    def stop(self) -> None:
        """Stop everything, the entry points first, the databases last."""
        order = ["proxy", "sender", "web"] + [n for n in self.processes if n.startswith("rasa")]
        order += [n for n in self.processes if n.startswith("actions")] + ["calendar"]
        for name in order:
            process = self.processes.get(name)
            if process:
                process.stop(signal.SIGTERM, timeout=20)
        if self.redis:
            self.redis.stop()
        if self.postgres:
            self.postgres.stop()

    def summary(self) -> str:
        """What runs where (printed by `make cluster`)."""
        p = self.ports
        rows = [
            ("proxy (HAProxy): website, widget, Twilio, REST with token", self.url),
            ("proxy health-check status page", f"http://127.0.0.1:{p.proxy_stats}/stats"),
        ]
        rows += [(f"Rasa replica {i + 1}", self.replica_url(i)) for i in range(len(p.rasa))]
        rows += [("action servers, behind the proxy's actions listener",
                  f"http://127.0.0.1:{p.actions_listener} -> "
                  + ", ".join(str(a) for a in p.actions))]
        rows += [("demo website (behind the proxy)", f"http://127.0.0.1:{p.web}"),
                 ("PostgreSQL (clinic + rasa databases)", f"127.0.0.1:{p.postgres}"),
                 ("Redis (lock store, socket.io)", f"127.0.0.1:{p.redis}")]
        if self.with_sender:
            rows.append(("SMS follow-up sender", "background process"))
        width = max(len(r[0]) for r in rows)
        lines = [f"  {name.ljust(width)}  {where}" for name, where in rows]
        pids = ", ".join(f"{n} {p.pid}" for n, p in self.processes.items() if p.pid)
        return "\n".join(lines + [f"  processes: {pids}", f"  logs: {self.logs}/"])
