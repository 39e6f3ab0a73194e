"""A long conversation: does a turn cost more as the conversation grows?

One sender asks ``turns`` questions over REST, one after the other (ours: FAQ questions;
stock: its own intents), on each assistant in the same run, ``ROUND`` turns of one then
``ROUND`` of the other, so load from elsewhere on the machine falls on both alike. Every
reply is checked (a "please try again" or an empty reply is a failure, not a fast turn).
Reported per block of ``block`` turns: the median latency; and the growth, the median of the
last block over the first (goal: at most 1.3 for ours).

Why rounds and not single turns: a turn costs more after the server has been idle longer
(measured on ours alone at one conversation length: 21 ms after no pause, 22-25 ms after
40 ms, 23-26 ms after 200 ms, 25 ms after 400 ms). Turn by turn, each assistant waited
for the other's reply, and stock's grows from 40 to 200 ms and more: ours' turns then grew
with stock's conversation, not its own (1.29x to 1.47x, where ours alone measured 0.97x over
1,200 turns). In rounds, nine turns in ten follow the assistant's own reply, and a block's
median is theirs.

``python -m dev.bench.long_run [--turns 300] [--only ours] [--stock-project DIR]`` prints the table;
``make bench`` runs it as part of the whole benchmark (dev/bench/run.py).
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from statistics import median
from typing import Any

from dev.bench.load import CONVERSATION_TOKENS
from dev.bench.servers import (
    Assistant,
)

OUR_QUESTIONS = (
    "what is microneedling?",
    "can it help acne scars?",
    "how long is recovery?",
    "is it better than laser?",
    "show me your sources",
    "does it hurt?",
)
STOCK_MESSAGES = ("hi", "I am sad", "yes", "great")
GOAL_GROWTH = 1.3
ROUND = 10  # turns of one assistant before the other's


def post(url: str, sender: str, text: str, timeout_s: float = 120) -> tuple[float, list[str]]:
    """Send one message; (latency in seconds, reply texts).

    The clinic's REST channel gives a conversation a token with its first reply, which
    later messages send back (``X-Conversation-Token``), as the widget does.
    """
    body = json.dumps({"sender": sender, "message": text}).encode()
    headers = {"Content-Type": "application/json"}
    if sender in CONVERSATION_TOKENS:
        headers["X-Conversation-Token"] = CONVERSATION_TOKENS[sender]
    request = urllib.request.Request(url, data=body,  # noqa: S310 - a loopback URL
                                     headers=headers)
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
        token = response.headers.get("X-Conversation-Token")
        if token:
            CONVERSATION_TOKENS[sender] = token
        replies = json.loads(response.read())
    latency = time.perf_counter() - started
    return latency, [str(r.get("text", "")) for r in replies if isinstance(r, dict)]


def reply_ok(replies: list[str]) -> bool:
    """A real answer: some text, and not the clinic's "please try again"."""
    from clinic.rasa.resilience import unavailable_message

    text = "\n".join(replies).strip()
    return bool(text) and unavailable_message() not in text


def blocks(latencies_s: list[float], block: int) -> list[float]:
    """Median latency in ms of each whole block of ``block`` turns."""
    return [round(median(latencies_s[start:start + block]) * 1000, 1)
            for start in range(0, len(latencies_s) - block + 1, block)]


def growth(block_medians: list[float]) -> float | None:
    """The last block's median over the first's."""
    if len(block_medians) < 2 or block_medians[0] <= 0:
        return None
    return round(block_medians[-1] / block_medians[0], 2)


def play_order(names: list[str], turns: int, rounds_of: int = ROUND) -> list[tuple[str, int]]:
    """(assistant, turn) in playing order: ``rounds_of`` turns of each in turn, the first
    assistant of a round alternating (ABBA), until each has played ``turns``."""
    order: list[tuple[str, int]] = []
    for index, start in enumerate(range(0, turns, rounds_of)):
        for name in (names if index % 2 == 0 else list(reversed(names))):
            order += [(name, turn) for turn in range(start, min(start + rounds_of, turns))]
    return order


def measure_long(assistants: dict[str, Assistant], turns: int = 300, block: int = 50,
                 run_id: str = "") -> dict[str, dict[str, Any]]:
    """Play one long conversation on each assistant, in alternating rounds of turns."""
    run_id = run_id or uuid.uuid4().hex[:8]
    scripts = {"ours": OUR_QUESTIONS, "stock": STOCK_MESSAGES}
    latencies: dict[str, list[float]] = {name: [] for name in assistants}
    failures: dict[str, int] = {name: 0 for name in assistants}
    for name, turn in play_order(list(assistants), turns):
        script = scripts.get(name, STOCK_MESSAGES)
        latency, replies = post(assistants[name].webhook, f"bench-{run_id}-long-{name}",
                                script[turn % len(script)])
        latencies[name].append(latency)
        failures[name] += not reply_ok(replies)
    results: dict[str, dict[str, Any]] = {}
    for name, values in latencies.items():
        medians = blocks(values, block)
        results[name] = {"turns": turns, "block": block, "block_median_ms": medians,
                         "growth": growth(medians), "failed_replies": failures[name]}
    return results


def markdown(results: dict[str, dict[str, Any]]) -> str:
    """The long-conversation table."""
    any_result = next(iter(results.values()))
    block, count = any_result["block"], len(any_result["block_median_ms"])
    head = [f"{i * block}-{(i + 1) * block}" for i in range(count)]
    lines = ["| assistant | " + " | ".join(head) + " | last/first | failed replies |",
             "|---|" + "---:|" * (count + 2)]
    for name, result in results.items():
        cells = [f"{m:.0f} ms" for m in result["block_median_ms"]]
        lines.append(f"| {name} | " + " | ".join(cells)
                     + f" | {result['growth']}x | {result['failed_replies']} |")
    return "\n".join(lines)
