"""The local CalDAV server `make run` and the tests start: Radicale, in its own virtualenv.

Radicale is a separate program with its own dependencies, so it is installed into
``var/radicale-venv`` (``make calendar-server``, pins in ``tools/radicale.lock``) and never
into the assistant's ``.venv``. This module (run with the assistant's Python) prepares its
folder and starts it:

- ``<root>/config``: listens on 127.0.0.1 only, htpasswd log-in, each user sees only their
  own calendars, data in ``<root>/collections`` (it survives restarts);
- ``<root>/users``: one account, ``caldav_user`` from the settings, whose password is
  ``CLINIC_CALDAV_PASSWORD`` (``make run`` generates it into ``var/secrets.env``, mode 600,
  with ``--ensure-password``);
  the file holds a SHA-512 crypt hash of it, never the password itself, and is mode 600;
- on first start, the demo practitioner calendar (``caldav_url`` of the settings).

``python -m dev.calendar_server --port 5232`` runs it in the foreground (tools/run.sh).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from clinic.config.secrets import read_env_file, require_secret, weakness
from clinic.knowledge.kb import PROJECT_ROOT

RADICALE_VENV = PROJECT_ROOT / "var" / "radicale-venv"
DEFAULT_ROOT = PROJECT_ROOT / "var" / "radicale"
HASH_ROUNDS = 5000  # checked on every request; the secret is random, not a person's password


@dataclass(frozen=True)
class LocalServer:
    """Where a started local CalDAV server answers."""

    port: int
    user: str
    password: str
    calendar: str  # the calendar's path on the server, e.g. "clinic/practitioner"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def calendar_url(self) -> str:
        return f"{self.base_url}{self.calendar.strip('/')}/"


PASSWORD_NAME = "CLINIC_CALDAV_PASSWORD"


def ensure_password(path: Path, environ: dict[str, str] | None = None) -> bool:
    """Add a random ``CLINIC_CALDAV_PASSWORD`` to the secrets file ``path`` (mode 600) when it is
    set neither there nor in the environment; True if one was written. Never printed."""
    import secrets

    env = os.environ if environ is None else environ
    missing = weakness(env.get(PASSWORD_NAME, "")) and weakness(
        read_env_file(path).get(PASSWORD_NAME, ""))
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.touch(mode=0o600)
    os.chmod(path, 0o600)
    if missing:
        with path.open("a", encoding="utf-8") as out:
            out.write(f"{PASSWORD_NAME}={secrets.token_urlsafe(32)}\n")
    return bool(missing)


def radicale_python(venv: Path = RADICALE_VENV) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        raise RuntimeError(f"Radicale is not installed in {venv}: run `make calendar-server`")
    return python


def _hash(password: str, python: Path) -> str:
    """A SHA-512 crypt hash of ``password``, made by Radicale's own passlib (via stdin)."""
    code = ("import sys; from passlib.hash import sha512_crypt; "
            f"print(sha512_crypt.using(rounds={HASH_ROUNDS}).hash(sys.stdin.read()))")
    result = subprocess.run([str(python), "-c", code], input=password, capture_output=True,
                            text=True, check=True)
    return result.stdout.strip()


def prepare(root: Path, port: int, user: str, password: str, python: Path) -> Path:
    """Write Radicale's config and users file under ``root``; return the config's path."""
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    users = root / "users"
    users.touch(mode=0o600)
    os.chmod(users, 0o600)
    users.write_text(f"{user}:{_hash(password, python)}\n", encoding="utf-8")
    config = root / "config"
    config.write_text(
        "[server]\n"
        f"hosts = 127.0.0.1:{port}\n"
        "[auth]\n"
        "type = htpasswd\n"
        f"htpasswd_filename = {users}\n"
        "htpasswd_encryption = sha512\n"
        "[rights]\n"
        "type = owner_only\n"
        "[storage]\n"
        f"filesystem_folder = {root / 'collections'}\n"
        "[web]\n"
        "type = none\n"
        "[logging]\n"
        "level = warning\n"
        "mask_passwords = True\n",
        encoding="utf-8")
    return config


def wait_until_up(port: int, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None
                  ) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"Radicale stopped at start-up (exit code {process.returncode})")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/.web", timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers (401/404): up
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"Radicale did not answer on 127.0.0.1:{port} within {timeout:.0f} s")


def ensure_calendar(server: LocalServer, name: str = "Practitioner") -> None:
    """Create the demo calendar if it does not exist yet (MKCALENDAR)."""
    import caldav  # imported here: the assistant's Rasa processes never need it
    import requests

    with caldav.DAVClient(url=server.base_url, username=server.user, password=server.password,
                          auth=requests.auth.HTTPBasicAuth(server.user, server.password),
                          timeout=10) as client:
        try:
            client.calendar(url=server.calendar_url).get_display_name()
            return
        except caldav.lib.error.NotFoundError:
            pass
        principal = client.principal()
        cal_id = server.calendar.strip("/").split("/")[-1]
        principal.make_calendar(name=name, cal_id=cal_id)


def start(root: Path, port: int, user: str, password: str, calendar: str,
          venv: Path = RADICALE_VENV, preexec_fn: Callable[[], None] | None = None,
          ) -> tuple[subprocess.Popen[bytes], LocalServer]:
    """Start Radicale on 127.0.0.1:``port`` with its data under ``root``; wait until it answers.
    ``preexec_fn`` runs in the child before Radicale (the cluster launcher's parent-death signal)."""
    python = radicale_python(venv)
    config = prepare(root, port, user, password, python)
    process = subprocess.Popen([str(python), "-m", "radicale", "--config", str(config)],
                               stdin=subprocess.DEVNULL, preexec_fn=preexec_fn)
    server = LocalServer(port=port, user=user, password=password, calendar=calendar)
    try:
        wait_until_up(port, process=process)
        ensure_calendar(server)
    except Exception:
        process.terminate()
        process.wait(timeout=10)
        raise
    return process, server


def main(argv: list[str] | None = None) -> int:
    from urllib.parse import urlsplit

    from clinic.config.settings import settings

    parser = argparse.ArgumentParser(description="Run the local CalDAV server (Radicale).")
    parser.add_argument("--port", type=int, default=5232)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--ensure-password", type=Path, metavar="SECRETS_FILE",
                        help="only add CLINIC_CALDAV_PASSWORD to this file if it is missing")
    args = parser.parse_args(argv)
    if args.ensure_password:
        if ensure_password(args.ensure_password):
            print(f"Created {PASSWORD_NAME} in {args.ensure_password} (mode 600).", file=sys.stderr)
        return 0
    config = settings()
    password = require_secret(PASSWORD_NAME)
    calendar = urlsplit(config.caldav_url).path.strip("/") or "clinic/practitioner"
    process, server = start(args.root, args.port, config.caldav_user, password, calendar)
    print(f"Local CalDAV server: {server.calendar_url} (user {server.user})", file=sys.stderr)

    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # tools/run.sh stops its parts with SIGTERM

    signal.signal(signal.SIGTERM, stop)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()  # Radicale stops with us, never left holding the port
        return process.wait(timeout=10)


if __name__ == "__main__":
    raise SystemExit(main())
