"""Start the staff console (``python -m clinic.console``) beside the real assistant servers
for integration and browser tests, and talk to it as a logged-in member of staff."""

from __future__ import annotations

import http.cookiejar
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
VENV_BIN = Path(sys.executable).parent
STAFF_PASSWORD = "console test password 42"


@dataclass
class Console:
    url: str
    env: dict[str, str]
    process: subprocess.Popen
    log: Path
    accounts: set[str] = field(default_factory=set)

    def add_staff(self, email: str, name: str) -> str:
        """Create an account with ``clinic staff add`` (password on stdin); returns email."""
        if email not in self.accounts:
            done = subprocess.run(
                [str(VENV_BIN / "clinic"), "staff", "add", "--email", email, "--name", name,
                 "--password-stdin"], input=STAFF_PASSWORD + "\n", env=self.env, cwd=ROOT,
                capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            self.accounts.add(email)
        return email

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_console(servers, extra_env: dict[str, str] | None = None) -> Console:
    """The console on a free loopback port, on the servers' databases and Rasa API."""
    from tests.conftest import free_port, wait_for

    port = free_port()
    env = {**servers.env, "CLINIC_RASA_URL": servers.rasa_url,
           "CLINIC_CONSOLE_PORT": str(port), "CLINIC_CONSOLE_BIND": "127.0.0.1",
           **(extra_env or {})}
    log = servers.workdir / f"console-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen([str(VENV_BIN / "python"), "-m", "clinic.console"], cwd=ROOT,
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    console = Console(f"http://127.0.0.1:{port}", env, process, log)
    try:
        wait_for(f"{console.url}/health", 60, process, log)
    except BaseException:
        console.stop()
        raise
    return console


class StaffClient:
    """A member of staff using the console over plain HTTP (cookies and CSRF tokens)."""

    def __init__(self, console: Console, email: str) -> None:
        self.console = console
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        page = self.get("/login")
        self.post("/login", {"email": email, "password": STAFF_PASSWORD,
                             "csrf_token": hidden(page, "csrf_token")})

    def get(self, path: str) -> str:
        with self.opener.open(self.console.url + path, timeout=60) as response:
            return response.read().decode()

    def post(self, path: str, fields: dict[str, str]) -> str:
        data = urllib.parse.urlencode(fields).encode()
        with self.opener.open(self.console.url + path, data=data, timeout=60) as response:
            return response.read().decode()

    def conversation_links(self, view: str = "needs") -> list[tuple[str, str]]:
        """(link, row text) of the inbox rows, newest first."""
        html = self.get(f"/?view={view}")
        # The conversations' table, not the call backs listed above it.
        html = html.split("<h2>Conversations</h2>", 1)[-1]
        return [(m.group(1), re.sub(r"<[^>]+>", " ", m.group(2)))
                for m in re.finditer(r'<a href="(/c/[0-9a-f]+)">(.*?)</tr>', html, re.S)]

    def act(self, link: str, action: str, **fields: str) -> str:
        """Press a conversation's button (take-over, reply, hand-back); returns the page."""
        page = self.get(link)
        form = {"csrf_token": hidden(page, "csrf_token"), **fields}
        if action == "reply":
            form["nonce"] = hidden(page, "nonce")
        return self.post(f"{link}/{action}", form)


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name}"
    return match.group(1)
