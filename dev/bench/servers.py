"""Start, time and stop the assistants under test, on free loopback ports.

Both assistants run from the project's virtualenv with the same environment. Ours is started
the way tests/conftest.py starts it (action server plus Rasa server, databases in a temporary
folder, never the developer's var/); the stock one is a `rasa init` project trained in a
temporary folder and started with `rasa run --enable-api` (it has no action server).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from clinic.rasa.endpoints import write_endpoints
from dev.cluster.services import tail

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
RASA = str(VENV_BIN / "rasa")
PYTHON = str(VENV_BIN / "python")
POLL_S = 0.1


class BenchError(RuntimeError):
    """The benchmark cannot go on (a server did not start, a training failed...)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env() -> dict[str, str]:
    """The environment both assistants run with (quiet TensorFlow, unbuffered logs)."""
    env = dict(os.environ)
    env.update({"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"})
    # Never reach a real SMS provider from a benchmark.
    for key in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        env.pop(key, None)
    return env


@dataclass
class Startup:
    """Seconds from process start until each milestone."""

    status_s: float
    first_reply_s: float
    first_message_ms: float

    def as_dict(self) -> dict[str, float]:
        """Plain dict for JSON output."""
        return {"status_s": self.status_s, "first_reply_s": self.first_reply_s,
                "first_message_ms": self.first_message_ms}


@dataclass
class Assistant:
    """A running assistant: its processes, logs and REST address."""

    name: str
    rasa_url: str
    health_urls: list[str]
    started_at: float = 0.0
    # Appended to /status: the clinic's Rasa API needs its token (the stock one has none).
    status_query: str = ""
    processes: list[subprocess.Popen] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    @property
    def webhook(self) -> str:
        """The REST channel's endpoint."""
        return f"{self.rasa_url}/webhooks/rest/webhook"

    @property
    def pids(self) -> list[int]:
        """Process ids of the servers (for CPU accounting)."""
        return [process.pid for process in self.processes]

    def launch(self, commands: list[tuple[list[str], Path]], env: dict[str, str],
               logdir: Path) -> None:
        """Start every command (argv, working directory) and note the start time."""
        self.started_at = time.monotonic()
        for index, (argv, cwd) in enumerate(commands):
            log = logdir / f"{self.name}-{index}.log"
            self.logs.append(log)
            with log.open("w") as out:
                self.processes.append(subprocess.Popen(
                    argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT))

    def log_tails(self) -> str:
        """The end of every server log, for error messages."""
        return "\n".join(f"--- {log.name}\n{tail(log)}" for log in self.logs)

    def _check_alive(self) -> None:
        for process in self.processes:
            if process.poll() is not None:
                raise BenchError(f"{self.name}: a server exited early (code "
                                 f"{process.returncode}).\n{self.log_tails()}")

    def _wait_ok(self, url: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - a loopback URL
                    if response.status == 200:
                        return
            except (OSError, urllib.error.HTTPError):
                pass
            time.sleep(POLL_S)
        raise BenchError(f"{self.name}: {url} did not answer in time.\n{self.log_tails()}")

    def measure_startup(self, first_message: str, timeout_s: float = 300) -> Startup:
        """Wait until the servers answer and the first REST message is replied to.

        ``status_s``: Rasa's /status answers 200 (it answers 409 until the model is loaded).
        ``first_reply_s``: the first message, sent once /status and every health URL answer,
        has its reply. The first message is slower than later ones (lazy initialisation),
        so its own latency is reported too.
        """
        deadline = self.started_at + timeout_s
        self._wait_ok(f"{self.rasa_url}/status{self.status_query}", deadline)
        status_s = time.monotonic() - self.started_at
        for url in self.health_urls:
            self._wait_ok(url, deadline)
        sent = time.monotonic()
        replies = post_message(self.webhook, "bench-startup", first_message, timeout_s=120)
        done = time.monotonic()
        if not replies:
            raise BenchError(f"{self.name}: no reply to {first_message!r}.\n{self.log_tails()}")
        return Startup(status_s=status_s, first_reply_s=done - self.started_at,
                       first_message_ms=(done - sent) * 1000)

    def stop(self) -> None:
        """Terminate the servers this benchmark started and wait for them."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


# The clinic's REST channel gives each conversation a token that later messages send back.
CONVERSATION_TOKENS: dict[str, str] = {}


def post_message(url: str, sender: str, text: str, timeout_s: float = 60) -> list[dict]:
    """Send one message over REST (blocking) and return the bot's messages."""
    body = json.dumps({"sender": sender, "message": text}).encode()
    headers = {"Content-Type": "application/json"}
    if sender in CONVERSATION_TOKENS:
        headers["X-Conversation-Token"] = CONVERSATION_TOKENS[sender]
    request = urllib.request.Request(url, data=body,  # noqa: S310 - a loopback URL
                                     headers=headers)
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
        if response.headers.get("X-Conversation-Token"):
            CONVERSATION_TOKENS[sender] = response.headers["X-Conversation-Token"]
        return json.loads(response.read())


def rasa_run_argv(port: int, model: Path, credentials: Path, endpoints: Path) -> list[str]:
    """`rasa run` with the REST API on a loopback port."""
    return [RASA, "run", "--enable-api", "--interface", "127.0.0.1", "--port", str(port),
            "--model", str(model), "--credentials", str(credentials),
            "--endpoints", str(endpoints)]


def prepare_ours(model: Path, workdir: Path) -> tuple[Assistant, list[tuple[list[str], Path]],
                                                     dict[str, str]]:
    """The clinic assistant's commands and environment, with its databases in ``workdir``."""
    rasa_port, actions_port = free_port(), free_port()
    env = base_env()
    api_token = secrets.token_urlsafe(32)
    env.update({
        "CLINIC_DATABASE_URL": f"sqlite:///{workdir / 'clinic.db'}",
        "CLINIC_TRACKER_STORE_URL": f"sqlite:///{workdir / 'tracker.db'}",
        "CLINIC_RASA_API_TOKEN": api_token,
        "CLINIC_ACTIONS_TOKEN": secrets.token_urlsafe(32),
        "CLINIC_SESSION_SECRET": secrets.token_urlsafe(32),
        "CLINIC_BIND": "127.0.0.1",
    })
    endpoints = write_endpoints(workdir / "endpoints.yml",
                                f"http://127.0.0.1:{actions_port}/webhook")
    credentials = workdir / "credentials.yml"
    shutil.copy(ROOT / "credentials.yml", credentials)
    assistant = Assistant("ours", f"http://127.0.0.1:{rasa_port}",
                          [f"http://127.0.0.1:{actions_port}/health"],
                          status_query=f"?token={api_token}")
    # As `make run` starts them: the clinic's launchers with their security checks.
    commands = [
        ([PYTHON, "-m", "clinic.rasa.action_server", "--port", str(actions_port)], ROOT),
        ([PYTHON, "-m", "clinic.rasa.server", "--port", str(rasa_port), "--model", str(model),
          "--credentials", str(credentials), "--endpoints", str(endpoints)], ROOT),
    ]
    return assistant, commands, env


def train_stock(workdir: Path, timeout_s: float = 900) -> tuple[Path, float]:
    """Create and train the stock `rasa init` project in ``workdir``/stock.

    Returns the project folder and the training time in seconds. Runs from ``workdir`` so
    Rasa's training cache stays out of the project.
    """
    project = workdir / "stock"
    project.mkdir()
    log = workdir / "stock-init.log"
    started = time.monotonic()
    with log.open("w") as out:
        try:
            result = subprocess.run(
                [RASA, "init", "--no-prompt", "--init-dir", str(project)], cwd=workdir,
                env=base_env(), stdout=out, stderr=subprocess.STDOUT, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise BenchError(f"`rasa init` did not finish in {timeout_s:.0f}s.\n"
                             f"{tail(log)}") from None
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise BenchError(f"`rasa init` failed (code {result.returncode}).\n{tail(log)}")
    stock_model(project)
    return project, elapsed


def stock_model(project: Path) -> Path:
    """The newest trained model of a `rasa init` project."""
    models = sorted((project / "models").glob("*.tar.gz"), key=lambda path: path.stat().st_mtime)
    if not models:
        raise BenchError(f"no trained model in {project / 'models'}")
    return models[-1]


def prepare_stock(project: Path) -> tuple[Assistant, list[tuple[list[str], Path]],
                                          dict[str, str]]:
    """The stock assistant's command and environment, run from its own project folder."""
    port = free_port()
    assistant = Assistant("stock", f"http://127.0.0.1:{port}", [])
    argv = rasa_run_argv(port, stock_model(project), project / "credentials.yml",
                         project / "endpoints.yml")
    return assistant, [(argv, project)], base_env()
