"""Staff console benchmark: seed a tracker store with many conversations, time the pages.

``python -m dev.bench.console [--conversations 10000] [--runs 5]`` (``make bench-console``):

1. writes ``--conversations`` made-up conversations (questions, screenings, hand-off
   requests, fallbacks, urgent signs; SMS and widget) spread over the last 30 days into a
   fresh SQLite tracker store, in Rasa's own row format (:mod:`dev.bench.console_seed`);
2. starts the real console (``python -m clinic.console``) on a free loopback port on it,
   creates a staff account and logs in over HTTP;
3. loads each page ``--runs`` times and reports the median and slowest load time.

Results: printed, and written to ``results/console_bench.md`` / ``.json``. Everything lives
in a temporary folder that is removed afterwards.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "benchmark password 1234"
PAGES = [
    ("Inbox: needs a person", "/?view=needs"),
    ("Inbox: all recent", "/?view=recent"),
    ("Inbox: SMS", "/?view=sms"),
    ("Insights (last 30 days)", "/insights"),
    ("Unanswered questions CSV", "/insights/export/questions.csv"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the console exited early")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - a loopback URL
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("the console did not start")


def run(conversations: int, runs: int) -> dict:
    """Seed, start, log in, measure; returns the figures."""
    with tempfile.TemporaryDirectory(prefix="console-bench-") as folder:
        work = Path(folder)
        env = {**os.environ, "CLINIC_DATABASE_URL": f"sqlite:///{work / 'clinic.db'}",
               "CLINIC_TRACKER_STORE_URL": f"sqlite:///{work / 'tracker.db'}"}
        from dev.bench.console_seed import synthetic, write

        started = time.perf_counter()
        now = time.time()
        rows = write(env["CLINIC_TRACKER_STORE_URL"],
                     synthetic(conversations, now - 30 * 86_400, days=30))
        seed_seconds = time.perf_counter() - started
        add = subprocess.run([sys.executable, "-m", "clinic.cli.commands", "staff", "add", "--email",
                              "bench@clinic.example", "--password-stdin"], input=PASSWORD + "\n",
                             env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        if add.returncode:
            raise RuntimeError(add.stderr)
        port = _free_port()
        env["CLINIC_CONSOLE_PORT"] = str(port)
        base = f"http://127.0.0.1:{port}"
        process = subprocess.Popen([sys.executable, "-m", "clinic.console"], cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait(base + "/health", process)
            opener = urllib.request.build_opener(
                urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
            login = opener.open(base + "/login", timeout=30).read().decode()
            token = re.search(r'name="csrf_token" value="([^"]*)"', login).group(1)
            opener.open(base + "/login", data=urllib.parse.urlencode({
                "email": "bench@clinic.example", "password": PASSWORD,
                "csrf_token": token}).encode(), timeout=30).read()
            results = []
            for label, path in PAGES:
                times, size = [], 0
                for _ in range(runs):
                    t0 = time.perf_counter()
                    with opener.open(base + path, timeout=120) as response:
                        body = response.read()
                        if response.status != 200:
                            raise RuntimeError(f"{path}: HTTP {response.status}")
                    times.append(time.perf_counter() - t0)
                    size = len(body)
                results.append({"page": label, "path": path, "median_ms": round(
                    statistics.median(times) * 1000), "max_ms": round(max(times) * 1000),
                    "bytes": size})
        finally:
            process.terminate()
            process.wait(timeout=15)
    return {"conversations": conversations, "events": rows, "seed_seconds": round(seed_seconds, 1),
            "runs": runs, "pages": results, "when": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                  time.gmtime()),
            "load_average": os.getloadavg()[0]}


def report(figures: dict) -> str:
    """The figures as a Markdown table."""
    lines = [f"Staff console with {figures['conversations']:,} conversations "
             f"({figures['events']:,} tracker events, SQLite), {figures['runs']} loads each, "
             f"{figures['when']}, load average {figures['load_average']:.1f}:", "",
             "| Page | Median | Slowest | Size |", "|---|---:|---:|---:|"]
    for page in figures["pages"]:
        lines.append(f"| {page['page']} | {page['median_ms']} ms | {page['max_ms']} ms | "
                     f"{page['bytes'] // 1024} KB |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dev.bench.console")
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    figures = run(min(args.conversations, 200_000), max(1, min(args.runs, 50)))
    text = report(figures)
    print(text)
    out = ROOT / "results"
    out.mkdir(exist_ok=True)
    (out / "console_bench.md").write_text(text)
    (out / "console_bench.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
