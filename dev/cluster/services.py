"""The processes of the production topology, started as plain child processes.

PostgreSQL and Redis run from Debian's binaries with their data in a folder of the project
(``var/cluster/`` for ``make cluster``, a temporary folder for the tests), on loopback
ports of their own: not the system services, no systemd, no containers. Every process
writes its output to ``<folder>/logs/<name>.log``.
"""

from __future__ import annotations

import ctypes
import glob
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

POSTGRES_USER = "clinic"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

# Resolved once in the parent: a child between fork and exec should not load libraries.
try:
    _PRCTL: Callable[..., int] | None = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: children may then outlive a killed launcher
    _PRCTL = None


def die_with_parent(death_signal: int) -> Callable[[], None]:
    """A ``preexec_fn`` that makes the child receive ``death_signal`` when the launcher dies.

    Linux's ``PR_SET_PDEATHSIG``: the kernel signals the child when the thread that started
    it exits, however it exits (``kill -9`` included), so no part of the cluster keeps
    running and holding its port after the launcher is gone. Set after Popen has switched
    to the service user (a change of user clears the setting). If the launcher died between
    fork and prctl, the child signals itself.
    """
    parent = os.getpid()

    def preexec() -> None:
        if _PRCTL is None:
            return
        _PRCTL(PR_SET_PDEATHSIG, death_signal, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), death_signal)

    return preexec


class ClusterError(RuntimeError):
    """A part of the cluster could not be started; the message says which and why."""


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """True if ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our loopback URLs
            return bool(response.status == 200)
    except OSError:
        return False


def tail(path: Path, chars: int = 3000) -> str:
    """The end of a log file (for error messages)."""
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


@dataclass
class Process:
    """One child process with its log file."""

    name: str
    command: list[str]
    log: Path
    env: dict[str, str] | None = field(default=None, repr=False)
    cwd: Path | None = None
    user: str | None = None
    # What the kernel sends this process when the launcher dies (see die_with_parent):
    # SIGKILL unless the program shuts down cleanly and quickly on another signal.
    death_signal: int = signal.SIGKILL
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    started_at: float = 0.0

    def start(self) -> Process:
        """Start the program (again, after it stopped: same command, environment, log)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        extra: dict[str, Any] = {}
        if self.user is not None:
            extra = {"user": self.user, "group": self.user, "extra_groups": []}
        with self.log.open("ab") as out:
            # A session (and process group) of its own: Ctrl-C in the terminal reaches the
            # launcher only, which then stops every part in order. If the launcher itself is
            # killed, the kernel stops the child (die_with_parent).
            self.popen = subprocess.Popen(self.command, env=self.env, cwd=self.cwd, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True,
                                          preexec_fn=die_with_parent(self.death_signal),
                                          **extra)
        self.started_at = time.monotonic()
        return self

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode if self.popen else None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        """Ask the process to stop; kill it if it has not stopped within ``timeout``."""
        if not self.running():
            return
        assert self.popen is not None
        self.popen.send_signal(sig)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)

    def kill(self) -> None:
        """``kill -9``: no clean-up, as when a machine or a process dies."""
        if self.running():
            assert self.popen is not None
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=10)

    def wait_until(self, check: Callable[[], object], timeout: float, what: str) -> None:
        """Wait until ``check()`` is true; fail early if the process exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise ClusterError(f"{self.name} exited while starting ({what}); "
                                   f"log {self.log}:\n{tail(self.log)}")
            if check():
                return
            time.sleep(0.5)
        raise ClusterError(f"{self.name}: {what} not within {timeout:.0f} s; "
                           f"log {self.log}:\n{tail(self.log)}")


def postgres_bin_dir() -> Path:
    """Debian's PostgreSQL binaries (initdb, postgres), newest version first."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(Path(p).parent.parent.name)
                   if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("postgres")
    if on_path:
        return Path(on_path).parent
    raise ClusterError("PostgreSQL is not installed: `make cluster` installs Debian's "
                       "postgresql package (apt-get install postgresql).")


def _service_user() -> str | None:
    """PostgreSQL refuses to run as root: as root, run it as Debian's ``postgres`` user."""
    return "postgres" if os.geteuid() == 0 else None


@dataclass
class Postgres:
    """A PostgreSQL server of our own: data in ``data_dir``, TCP on 127.0.0.1 only."""

    data_dir: Path
    port: int
    password: str = field(repr=False)
    log: Path = Path("postgres.log")

    process: Process | None = None

    def url(self, database: str, driver: str = "postgresql") -> str:
        return f"{driver}://{POSTGRES_USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        """``initdb`` once: superuser ``clinic`` with a password, password auth only."""
        if (self.data_dir / "PG_VERSION").is_file():
            return
        user = _service_user()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        pwfile = self.data_dir.parent / ".pgpass-init"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        if user:
            shutil.chown(self.data_dir, user, user)
            shutil.chown(pwfile, user, user)
        as_user: dict[str, Any] = {"user": user, "group": user, "extra_groups": []} if user else {}
        try:
            result = subprocess.run(
                [str(postgres_bin_dir() / "initdb"), "-D", str(self.data_dir), "-U", POSTGRES_USER,
                 f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8", "--no-locale"],
                capture_output=True, text=True, timeout=180, **as_user)
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise ClusterError(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    def start(self, timeout: float = 60) -> None:
        self.init()
        stale = self.data_dir / "postmaster.pid"
        if stale.exists() and not port_open(self.port):
            stale.unlink()  # left by a killed run; PostgreSQL would refuse to start
        self.process = Process("postgres", [
            str(postgres_bin_dir() / "postgres"), "-D", str(self.data_dir),
            "-c", "listen_addresses=127.0.0.1", "-p", str(self.port),
            "-c", "unix_socket_directories=", "-c", "max_connections=200",
            "-c", "log_min_messages=warning",
        # SIGQUIT is PostgreSQL's immediate shutdown: it stops its backends too.
        ], self.log, user=_service_user(), death_signal=signal.SIGQUIT).start()
        self.process.wait_until(self._accepts, timeout, "accepting connections")

    def _accepts(self) -> bool:
        try:
            # Lazy: only the cluster talks to PostgreSQL directly.
            import psycopg2

            psycopg2.connect(self.url("postgres"), connect_timeout=2).close()
            return True
        except Exception:  # noqa: BLE001 - not up yet, whatever the reason
            return False

    def create_database(self, name: str) -> None:
        # Lazy: only the cluster talks to PostgreSQL directly.
        import psycopg2

        connection = psycopg2.connect(self.url("postgres"), connect_timeout=5)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cursor.fetchone() is None:
                    cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()

    def stop(self) -> None:
        # SIGINT is PostgreSQL's "fast" shutdown: ends sessions, writes a checkpoint.
        if self.process:
            self.process.stop(signal.SIGINT, timeout=30)

    def restart(self) -> None:
        self.stop()
        self.start()

    def respawn(self) -> Process:
        """Start the server again after it died, without waiting (the supervisor's restart)."""
        assert self.process is not None
        stale = self.data_dir / "postmaster.pid"
        if stale.exists() and not port_open(self.port):
            stale.unlink(missing_ok=True)
        return self.process.start()


@dataclass
class Redis:
    """A Redis server of our own: loopback only, password, nothing written to disk."""

    data_dir: Path
    port: int
    password: str = field(repr=False)
    log: Path = Path("redis.log")

    process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30) -> None:
        server = shutil.which("redis-server")
        if not server:
            raise ClusterError("Redis is not installed: `make cluster` installs Debian's "
                               "redis-server package.")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "redis.conf"
        # The password lives in a file only we can read, not on the command line.
        config.write_text("\n".join([
            "bind 127.0.0.1", f"port {self.port}", f"dir {self.data_dir}",
            f'requirepass "{self.password}"', "protected-mode yes", 'save ""',
            "appendonly no", "daemonize no", "loglevel warning", "",
        ]))
        config.chmod(0o600)
        self.process = Process("redis", [server, str(config)], self.log).start()
        self.process.wait_until(lambda: port_open(self.port), timeout, "accepting connections")

    def stop(self) -> None:
        if self.process:
            self.process.stop(signal.SIGTERM, timeout=20)

    def restart(self) -> None:
        self.stop()
        self.start()
