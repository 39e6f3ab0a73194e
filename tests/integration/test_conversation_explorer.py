"""Conversation explorer: short messages typed in every state never lead to a dead end.

Against the real servers: for each state a person can be in (a fresh conversation, after an
answer, in the middle of the screening questions, after pausing them, in the middle of the
booking questions, after asking for a person), each short message gets one to four replies,
Rasa's circuit breaker never trips, and a question sent right after is answered.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from clinic.knowledge.kb import knowledge
from tests.support.tracker_copy import TrackerApi

pytestmark = pytest.mark.integration
K = knowledge()

# Every stop / go-on / yes / no word, the short forms people type, symbols, emoji, other
# scripts, one-letter runs and promotion codes.
MESSAGES = [
    "continue", "go on", "carry on", "resume", "next", "stop", "cancel", "quit", "end",
    "pause", "never mind", "go back", "back", "yes", "no", "sure", "ok", "yes please",
    "not now", "maybe", "?", "!!", "...", "👍", "😊", "你好", "안녕하세요", "Привет",
    "aaaaaa", "k", "asdfgh", "FACIAL50", "SAVE10", "hmm", "ty", "cya", "help", "what",
]
QUESTION = "what is microneedling?"
QUESTION_ANSWER = "collagen induction therapy"
CIRCUIT_BREAKER = "Circuit breaker tripped"

# How each state is reached: the messages sent before the explored one.
STATES: dict[str, list[str]] = {
    "fresh": [],
    "after_answer": ["can microneedling help acne scars?"],
    "mid_screening": ["am I a good candidate?", "no"],
    "paused": ["am I a good candidate?", "no", "pause"],
    # After hours this is the offer of a call back, whose answer is read for details.
    "after_asking_for_a_person": ["can I talk to someone?"],
    "mid_booking": (["I want to book"] + ["/deny"] * len(K.screening.contraindications)
                    + ["Ana Lee", "(415) 555-0132", "skip", "facial"]),
}


def _explore(servers, start: Callable[[], str], state: str, message: str) -> list[str]:
    """Problems found for one message in one state (empty when all is well); ``start`` gives
    a new conversation in the state."""
    who = start()
    problems = []
    replies = servers.chat(who, message)
    if not 1 <= len(replies) <= 4:
        problems.append(f"{state}: {message!r} got {len(replies)} replies: "
                        f"{[r.get('text', '')[:60] for r in replies]}")
    after = servers.chat(who, QUESTION)
    text = "\n".join(r.get("text", "") for r in after)
    if QUESTION_ANSWER not in text.lower() or len(after) > 4:
        problems.append(f"{state}: after {message!r}, {QUESTION!r} got {text[:200]!r}")
    return problems


@pytest.mark.parametrize("state", list(STATES))
def test_no_dead_end(assistant_servers, state) -> None:
    # The state is reached once by typing its messages; each explored message then gets a
    # copy of that conversation (tests/support/tracker_copy.py), not the whole way again.
    api = TrackerApi(assistant_servers)
    who = f"ex-{state}-{uuid.uuid4().hex[:8]}"
    for step in STATES[state]:
        assistant_servers.chat(who, step)
    events = api.record(who) if STATES[state] else []

    def start() -> str:
        return api.copy(events, f"ex-{state}") if events else f"ex-{state}-{uuid.uuid4().hex[:8]}"

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda m: _explore(assistant_servers, start, state, m), MESSAGES))
    problems = [p for found in results for p in found]
    log = (assistant_servers.workdir / "rasa.log").read_text(errors="replace")
    if CIRCUIT_BREAKER in log:
        problems.append("the circuit breaker tripped (see the Rasa server log)")
    assert not problems, "\n".join(problems)
