"""Where a message's time goes (dev/bench/stages.py): the store timers and the report's table."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from dev.bench.report import STAGE_ROWS, stages_table
from dev.bench.stages import Timings, _instrument


class Store:
    async def retrieve(self, sender: str) -> str:
        await asyncio.sleep(0.01)
        return sender

    async def save(self, tracker: Any) -> None:
        return None

    @contextlib.asynccontextmanager
    async def lock(self, sender: str) -> AsyncIterator[str]:
        yield sender


class Agent:
    tracker_store = Store()
    lock_store = Store()


def test_the_stores_are_timed_only_while_measuring() -> None:
    timings = Timings()
    agent = Agent()
    _instrument(timings, agent, classes=False)  # Rasa's classes stay as they are
    assert asyncio.run(agent.tracker_store.retrieve("a")) == "a"  # warm-up: not counted
    timings.on = True
    asyncio.run(agent.tracker_store.retrieve("b"))
    asyncio.run(agent.tracker_store.save(None))

    async def locked() -> str:
        async with agent.lock_store.lock("c") as held:
            return str(held)

    assert asyncio.run(locked()) == "c"
    assert timings.calls["lock store: acquire"] == 1
    assert timings.calls["tracker store: load"] == 1 and timings.calls["tracker store: save"] == 1
    assert timings.ms["tracker store: load"] >= 9


def test_the_table_shows_the_costliest_stages_and_sums_the_rest() -> None:
    stages = {f"graph: node{n}": float(100 - n) for n in range(STAGE_ROWS + 3)}
    table = stages_table({"ours": {
        "wall_ms": 40.0, "cpu_ms": 35.0, "action_server_cpu_ms": 3.0, "action_calls": 0.5,
        "payload_bytes": 2100, "empty_replies": 0, "messages": 60, "stages_ms": stages}})
    assert "40.0 ms per message" in table and "2100 bytes sent per call" in table
    assert f"| graph: node{STAGE_ROWS - 1} | {100 - STAGE_ROWS + 1:.2f} |" in table
    assert f"graph: node{STAGE_ROWS} |" not in table
    rest = sum(100 - n for n in range(STAGE_ROWS, STAGE_ROWS + 3))
    assert f"| 3 other stages | {rest:.2f} |" in table
