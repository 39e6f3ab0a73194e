"""Scripted conversations sent over REST with aiohttp, with per-message timing.

Each worker plays one conversation after another, each conversation with its own sender
id, and waits for a reply before sending its next message, as a person chatting would.
The number of messages per setting is fixed, so every run ends by itself.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp

# Realistic mixes for each assistant: ours gets FAQ questions and the first screening
# answers; the stock one gets its own intents (greet, mood_unhappy, affirm, mood_great...).
OUR_SCRIPT = (
    "hi",
    "what is microneedling?",
    "can it help acne scars?",
    "how long is recovery?",
    "tell me about plum blossom needles",
    "am i a good candidate?",
    "no",
    "no",
    "no",
)
STOCK_SCRIPT = (
    "hi",
    "I am sad",
    "yes",
    "great",
    "bye",
)

REQUEST_TIMEOUT_S = 60


@dataclass
class LoadSample:
    """Raw timings of one load run: latencies of answered messages and failures."""

    latencies_s: list[float]
    wall_s: float
    errors: int
    empty_replies: int


@dataclass
class Turn:
    """One timed message of a conversation."""

    text: str
    latency_s: float | None
    replies: list[str]
    error: str | None = None


# The clinic's REST channel gives each conversation a token that later messages send back.
CONVERSATION_TOKENS: dict[str, str] = {}


async def _send(session: aiohttp.ClientSession, url: str, sender: str, text: str,
                headers: dict[str, str] | None = None) -> Turn:
    started = time.perf_counter()
    sent = dict(headers or {})
    if sender in CONVERSATION_TOKENS:
        sent["X-Conversation-Token"] = CONVERSATION_TOKENS[sender]
    try:
        async with session.post(url, json={"sender": sender, "message": text},
                                headers=sent) as response:
            if response.status != 200:
                return Turn(text, None, [], f"HTTP {response.status}")
            if "X-Conversation-Token" in response.headers:
                CONVERSATION_TOKENS[sender] = response.headers["X-Conversation-Token"]
            body = await response.json(content_type=None)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
        return Turn(text, None, [], type(error).__name__)
    latency = time.perf_counter() - started
    replies = [str(message.get("text", "")) for message in body if isinstance(message, dict)]
    return Turn(text, latency, replies)


def _session(concurrency: int) -> aiohttp.ClientSession:
    # One keep-alive connection per conversation, as browsers and the widget would have.
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    return aiohttp.ClientSession(connector=connector, timeout=timeout)


async def _load(url: str, script: tuple[str, ...], concurrency: int, total: int,
                sender_prefix: str, think_s: float,
                headers: dict[str, str] | None = None) -> LoadSample:
    latencies: list[float] = []
    counts = {"issued": 0, "errors": 0, "empty": 0}

    async def worker(index: int, session: aiohttp.ClientSession) -> None:
        conversation, turn = 0, 0
        # Single-threaded event loop: checking and bumping the counter cannot interleave.
        while counts["issued"] < total:
            counts["issued"] += 1
            sender = f"{sender_prefix}-w{index}-{conversation}"
            result = await _send(session, url, sender, script[turn], headers)
            if result.latency_s is None:
                counts["errors"] += 1
            else:
                latencies.append(result.latency_s)
                counts["empty"] += not result.replies
            turn += 1
            if turn == len(script):
                conversation, turn = conversation + 1, 0
            if think_s:
                await asyncio.sleep(think_s)

    async with _session(concurrency) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(index, session) for index in range(concurrency)))
        wall = time.perf_counter() - started
    return LoadSample(latencies, wall, counts["errors"], counts["empty"])


def run_load(url: str, script: tuple[str, ...], concurrency: int, total: int,
             sender_prefix: str, think_s: float = 0.0,
             headers: dict[str, str] | None = None) -> LoadSample:
    """Send ``total`` messages of ``script`` from ``concurrency`` simultaneous conversations.

    Each conversation sends its next message as soon as the reply arrives, or ``think_s``
    seconds later. Returns every answered message's latency and the wall-clock time; failed
    requests are counted, not timed. ``headers`` go with every request (the proxy's token).
    """
    if concurrency < 1 or total < 1 or think_s < 0:
        raise ValueError("concurrency and total must be at least 1, think time at least 0")
    return asyncio.run(_load(url, script, concurrency, total, sender_prefix, think_s, headers))


async def _conversation(url: str, script: tuple[str, ...], sender: str) -> list[Turn]:
    async with _session(1) as session:
        return [await _send(session, url, sender, text) for text in script]


def run_conversation(url: str, script: tuple[str, ...], sender: str) -> list[Turn]:
    """Play ``script`` once as one conversation and return every turn (to check replies)."""
    return asyncio.run(_conversation(url, script, sender))
