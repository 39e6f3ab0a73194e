"""Where a message's time goes, per stage, in one process (part of ``make bench``).

The assistant's model is loaded in this process (ours with its action server started beside
it, as ``make run`` does; the stock assistant alone) and the benchmark's script is played
through Rasa's agent, one message after the other, new conversation at each round. Every
stage is timed where Rasa runs it:

* each node of Rasa's graphs (NLU components, policies, the prediction's selection), by name;
* the tracker store's load and save, and the lock store;
* each call to the action server: time, and the size of the JSON it was sent;
* per message: wall-clock and CPU milliseconds of this process, and CPU milliseconds of the
  action server's process.

The REST channel (and its ownership check) is not part of this: see the REST figures.

    python -m dev.bench.stages --assistant ours [--messages 60] [--stock-project DIR]

prints one JSON object; ``dev/bench/run.py`` runs it for both assistants and
``dev/bench/report.py`` shows the table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from dev.bench.load import OUR_SCRIPT, STOCK_SCRIPT
from dev.bench.servers import ROOT, base_env, free_port, stock_model

WARMUP = 10


class Timings:
    """Milliseconds and counts per stage name."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.payload_bytes: list[int] = []
        self.on = False

    def add(self, name: str, seconds: float) -> None:
        if self.on:
            self.ms[name] += seconds * 1000
            self.calls[name] += 1


def _instrument(timings: Timings, agent: Any, classes: bool = True) -> None:
    """Wrap the stores and (``classes``: in Rasa's classes, for the whole process) the graph
    nodes and the action calls with timers."""
    _instrument_stores(timings, agent)
    if classes:
        _instrument_classes(timings)


def _instrument_classes(timings: Timings) -> None:
    from rasa.engine.graph import GraphNode
    from rasa.utils.endpoints import EndpointConfig

    node_call = GraphNode.__call__

    def timed_node(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return node_call(self, *args, **kwargs)
        finally:
            timings.add(f"graph: {self._node_name}", time.perf_counter() - started)

    GraphNode.__call__ = timed_node  # type: ignore[method-assign]

    request = EndpointConfig.request

    async def timed_request(self: Any, *args: Any, **kwargs: Any) -> Any:
        if timings.on and "json" in kwargs:
            timings.payload_bytes.append(len(json.dumps(kwargs["json"])))
        started = time.perf_counter()
        try:
            return await request(self, *args, **kwargs)
        finally:
            timings.add("action server call", time.perf_counter() - started)

    EndpointConfig.request = timed_request  # type: ignore[method-assign]


def _instrument_stores(timings: Timings, agent: Any) -> None:
    def wrap(owner: Any, method: str, label: str) -> None:
        original = getattr(owner, method)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                timings.add(label, time.perf_counter() - started)

        setattr(owner, method, timed)

    wrap(agent.tracker_store, "retrieve", "tracker store: load")
    wrap(agent.tracker_store, "save", "tracker store: save")
    lock = agent.lock_store.lock

    @contextlib.asynccontextmanager
    async def timed_lock(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        started = time.perf_counter()
        async with lock(*args, **kwargs) as held:
            timings.add("lock store: acquire", time.perf_counter() - started)
            yield held

    agent.lock_store.lock = timed_lock


def _process_cpu_ms(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def _wait_ok(url: str, deadline_s: float = 120) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - a loopback URL
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer")


async def _play(agent: Any, script: tuple[str, ...], messages: int, timings: Timings,
                action_pid: int | None) -> dict[str, Any]:
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    wall: list[float] = []
    cpu: list[float] = []
    empty = 0
    action_cpu_before = _process_cpu_ms(action_pid) if action_pid else 0.0
    for index in range(WARMUP + messages):
        if index == WARMUP:
            timings.on = True
            action_cpu_before = _process_cpu_ms(action_pid) if action_pid else 0.0
        conversation, step = divmod(index, len(script))
        out = CollectingOutputChannel()
        started, started_cpu = time.perf_counter(), time.process_time()
        await agent.handle_message(UserMessage(script[step], out, f"stages-{conversation}",
                                               input_channel="rest"))
        if timings.on:
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
            empty += not out.messages
    action_cpu = (_process_cpu_ms(action_pid) - action_cpu_before) if action_pid else 0.0
    stages = {name: round(ms / messages, 2) for name, ms in
              sorted(timings.ms.items(), key=lambda item: -item[1])}
    return {
        "messages": messages, "empty_replies": empty,
        "wall_ms": round(sum(wall) / messages, 2), "cpu_ms": round(sum(cpu) / messages, 2),
        "action_server_cpu_ms": round(action_cpu / messages, 2),
        "action_calls": round(timings.calls.get("action server call", 0) / messages, 2),
        "payload_bytes": (round(sum(timings.payload_bytes) / len(timings.payload_bytes))
                          if timings.payload_bytes else 0),
        "stages_ms": stages,
    }


def measure(assistant: str, messages: int, stock_project: Path | None) -> dict[str, Any]:
    """Load the assistant in this process and time its stages over ``messages`` messages."""
    import logging

    from rasa.core.agent import load_agent
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.log_utils import configure_structlog

    from clinic.rasa.endpoints import write_endpoints

    logging.getLogger().setLevel(logging.WARNING)
    configure_structlog(logging.WARNING)
    action: subprocess.Popen[bytes] | None = None
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as tmp:
        work = Path(tmp)
        try:
            if assistant == "ours":
                port = free_port()
                action = subprocess.Popen(
                    [sys.executable, "-m", "clinic.rasa.action_server", "--port", str(port)],
                    cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL)
                _wait_ok(f"http://127.0.0.1:{port}/health")
                endpoints = AvailableEndpoints.read_endpoints(str(write_endpoints(
                    work / "endpoints.yml", f"http://127.0.0.1:{port}/webhook")))
                model, script = ROOT / "models" / "clinic.tar.gz", OUR_SCRIPT
            else:
                if stock_project is None:
                    raise SystemExit("--stock-project is needed for the stock assistant")
                endpoints = AvailableEndpoints()
                model, script = stock_model(stock_project), STOCK_SCRIPT

            async def main() -> dict[str, Any]:
                agent = await load_agent(model_path=str(model), endpoints=endpoints)
                timings = Timings()
                _instrument(timings, agent)
                return await _play(agent, script, messages, timings,
                                   action.pid if action else None)

            return asyncio.run(main())
        finally:
            if action is not None:
                action.terminate()
                action.wait(timeout=30)


def run_stages(assistant: str, messages: int, stock_project: Path | None,
               env: dict[str, str]) -> dict[str, Any]:
    """Run the measurement in a fresh process (``env``: the assistant's settings)."""
    argv = [sys.executable, "-m", "dev.bench.stages", "--assistant", assistant,
            "--messages", str(messages)]
    if stock_project is not None:
        argv += ["--stock-project", str(stock_project)]
    result = subprocess.run(argv, cwd=ROOT, env={**base_env(), **env}, capture_output=True,
                            text=True, timeout=900, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"stages of {assistant} failed:\n{result.stderr[-3000:]}")
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def ours_env(workdir: Path) -> dict[str, str]:
    """The clinic assistant's settings for an in-process measurement (databases in ``workdir``)."""
    return {
        "CLINIC_DATABASE_URL": f"sqlite:///{workdir / 'stages-clinic.db'}",
        "CLINIC_TRACKER_STORE_URL": f"sqlite:///{workdir / 'stages-tracker.db'}",
        "CLINIC_ACTIONS_TOKEN": secrets.token_urlsafe(32),
        "CLINIC_SESSION_SECRET": secrets.token_urlsafe(32),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.bench.stages", description=__doc__)
    parser.add_argument("--assistant", choices=["ours", "stock"], required=True)
    parser.add_argument("--messages", type=int, default=60)
    parser.add_argument("--stock-project", type=Path)
    args = parser.parse_args(argv)
    if args.assistant == "ours" and "CLINIC_TRACKER_STORE_URL" not in os.environ:
        os.environ.update(ours_env(Path(tempfile.mkdtemp(prefix="bench-stages-db-"))))
    print(json.dumps(measure(args.assistant, args.messages, args.stock_project)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
