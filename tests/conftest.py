"""Shared pytest fixtures.

`assistant_servers` starts the real action server and Rasa server (REST, socket.io and
SMS channels) on free loopback ports, with their own databases in a temporary folder, for
integration and browser tests. It needs the trained model (`make train`).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from clinic.rasa import patches as rasa_patches
from clinic.rasa.endpoints import write_endpoints
from tests.support import sms_database  # noqa: F401 - a fixture, shared by every test
from tests.support.calendar import caldav_server, clinic_calendar  # noqa: F401 (fixtures)

# The venv read var/secrets.env (left by `make run`) into the environment at start-up: tests
# run without it, as on a clean machine (each test sets the secrets it needs).
for _name in rasa_patches.SECRETS_FROM_FILE:
    os.environ.pop(_name, None)
os.environ["CLINIC_SECRETS_FILE"] = "/nonexistent/secrets.env"

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
MODEL = ROOT / "models" / "clinic.tar.gz"
TEST_TWILIO_TOKEN = "test-auth-token-0123456789abcdef"
# The servers' shared secrets in tests (never the ones of var/secrets.env).
TEST_SECRETS = {
    "CLINIC_RASA_API_TOKEN": "test-rasa-api-token-5b7c0f9e2d4a",
    "CLINIC_ACTIONS_TOKEN": "test-actions-token-8e1d6a3c9b2f",
    "CLINIC_SESSION_SECRET": "test-session-secret-4f8a2c7e1b9d",
    "CLINIC_CONSOLE_JWT_SECRET": "test-console-jwt-secret-7c1e9a4b2d",
    "CLINIC_SECRETS_FILE": "/nonexistent/secrets.env",
}


def server_env(work: Path, **extra: str) -> dict[str, str]:
    """The environment the test servers run with: own databases, test secrets."""
    env = dict(os.environ)
    env.update(TEST_SECRETS)
    env.update({
        "CLINIC_DATABASE_URL": f"sqlite:///{work / 'clinic.db'}",
        "CLINIC_TRACKER_STORE_URL": f"sqlite:///{work / 'tracker.db'}",
        "CLINIC_BIND": "127.0.0.1",
        "TWILIO_AUTH_TOKEN": TEST_TWILIO_TOKEN,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONUNBUFFERED": "1",
    })
    env.pop("TWILIO_ACCOUNT_SID", None)
    env.pop("CLINIC_API_TOKEN", None)
    env.update(extra)
    return env


def actions_command(port: int) -> list[str]:
    """The action server as `make run` starts it."""
    return [str(VENV_BIN / "python"), "-m", "clinic.rasa.action_server", "--port", str(port)]


def rasa_command(port: int, work: Path) -> list[str]:
    """The Rasa server as `make run` starts it (endpoints and credentials copied to ``work``)."""
    return [str(VENV_BIN / "python"), "-m", "clinic.rasa.server", "--port", str(port),
            "--model", str(MODEL), "--credentials", str(work / "credentials.yml"),
            "--endpoints", str(work / "endpoints.yml")]


def status_url(rasa_url: str) -> str:
    """Rasa's /status, which needs the API token."""
    return f"{rasa_url}/status?token={TEST_SECRETS['CLINIC_RASA_API_TOKEN']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early; log:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout}s; log:\n{log.read_text()[-3000:]}")


@pytest.fixture()
def clinic_db(tmp_path, monkeypatch):
    """A fresh clinic database (SQLite file) for this test, through CLINIC_DATABASE_URL.

    The conversation store is a file of its own too, the clinic's time zone is fixed and no
    booking webhook is configured; a test that wants one sets it.
    """
    from clinic.config import settings as settings_module
    from clinic.store import db

    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    monkeypatch.setenv("CLINIC_DATABASE_URL", url)
    monkeypatch.setenv("CLINIC_TRACKER_STORE_URL", f"sqlite:///{tmp_path / 'tracker.db'}")
    monkeypatch.setenv("CLINIC_TIMEZONE", "America/Los_Angeles")
    monkeypatch.delenv("CLINIC_BOOKING_WEBHOOK_URL", raising=False)
    settings_module.settings.cache_clear()
    db.dispose_engines()
    yield url
    db.dispose_engines()
    settings_module.settings.cache_clear()


@pytest.fixture()
def tracker_store(clinic_db):
    """``clinic_db`` plus an empty Rasa tracker store where the settings say it is; its URL."""
    from clinic.config.settings import settings
    from tests.support import make_tracker_store

    url = settings().tracker_store_url
    make_tracker_store(url)
    return url


@dataclass
class Servers:
    rasa_url: str
    actions_url: str
    env: dict[str, str]
    workdir: Path
    processes: list[subprocess.Popen] = field(default_factory=list)
    # Each REST conversation's X-Conversation-Token, from its first reply.
    conversation_tokens: dict[str, str] = field(default_factory=dict)

    def chat(self, sender: str, message: str) -> list[dict]:
        """Send one message over REST and return the bot's messages."""
        body = json.dumps({"sender": sender, "message": message}).encode()
        headers = {"Content-Type": "application/json"}
        if sender in self.conversation_tokens:
            headers["X-Conversation-Token"] = self.conversation_tokens[sender]
        request = urllib.request.Request(f"{self.rasa_url}/webhooks/rest/webhook", data=body,
                                         headers=headers)
        with urllib.request.urlopen(request, timeout=60) as response:
            token = response.headers.get("X-Conversation-Token")
            if token:
                self.conversation_tokens[sender] = token
            return json.loads(response.read())

    def texts(self, sender: str, message: str) -> str:
        return "\n".join(m.get("text", "") for m in self.chat(sender, message))

    def run_cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(VENV_BIN / "clinic"), *args], env=self.env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120)


@contextmanager
def running_servers(work: Path, env: dict[str, str]) -> Iterator[Servers]:
    """The action server and the Rasa server as `make run` starts them, on free loopback
    ports with ``env`` (see :func:`server_env`), stopped when the block ends."""
    rasa_port, actions_port = free_port(), free_port()
    write_endpoints(work / "endpoints.yml", f"http://127.0.0.1:{actions_port}/webhook")
    shutil.copy(ROOT / "credentials.yml", work / "credentials.yml")
    servers = Servers(f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{actions_port}",
                      env, work)
    actions_log, rasa_log = work / "actions.log", work / "rasa.log"
    with actions_log.open("w") as out:
        servers.processes.append(subprocess.Popen(
            actions_command(actions_port), cwd=ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT))
    with rasa_log.open("w") as out:
        servers.processes.append(subprocess.Popen(
            rasa_command(rasa_port, work), cwd=ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT))
    try:
        wait_for(f"{servers.actions_url}/health", 120, servers.processes[0], actions_log)
        wait_for(status_url(servers.rasa_url), 480, servers.processes[1], rasa_log)
        yield servers
    finally:
        for process in servers.processes:
            process.terminate()
        for process in servers.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="session")
def assistant_servers(tmp_path_factory) -> Iterator[Servers]:
    if not MODEL.exists():
        pytest.fail("No trained model at models/clinic.tar.gz: run `make train` first.")
    work = tmp_path_factory.mktemp("servers")
    with running_servers(work, server_env(work)) as servers:
        yield servers


@pytest.fixture(scope="session")
def staff_console(assistant_servers):
    """The staff console (``python -m clinic.console``) beside ``assistant_servers``, as
    `make run` starts it, one for the session. Tests add the staff accounts they need
    (``staff_console.add_staff``); a test that needs a console configured otherwise starts
    its own with ``tests.support.console_server.start_console``."""
    from tests.support.console_server import start_console

    running = start_console(assistant_servers)
    try:
        yield running
    finally:
        running.stop()
