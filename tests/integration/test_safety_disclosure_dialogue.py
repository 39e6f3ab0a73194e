"""Issue 22 through the trained model and the real servers: a first-person disclosure of
every ruled-out contraindication at every position never ends eligible, booked as eligible
or with the promotion.

A covering sample of tests/unit/actions/test_safety_disclosure_everywhere.py (which runs every case at
the level of the clinic's own code): every contraindication x every position (before the
screening, at each question, at the booking summary), with the form (statement, question,
aside after an answer, hedged) rotated along the positions, so every contraindication x
form pair appears too. Each conversation starts from a recorded prefix (the questions
answered "no" up to the position, or up to the booking summary), copied into a new
conversation over Rasa's tracker API, so a case costs its own messages only.
"""

from __future__ import annotations

import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from clinic.knowledge import messages as M
from clinic.knowledge.kb import Outcome, knowledge
from clinic.rules.screening import ANSWERS_SLOT, Answer, coerce_answer, evaluate
from tests.support.disclosures import (
    BEFORE,
    FORM_NAMES,
    SUMMARY,
    Disclosure,
    one_disclosure,
    positions,
    ruled_out_by,
)
from tests.support.tracker_copy import TrackerApi

pytestmark = pytest.mark.integration
K = knowledge()
# The fixed words of the eligible outcome and of the answer to a general question.
SUITABLE = K.screening.outcomes[Outcome.ELIGIBLE].split(".")[1].strip()
IF_IT_APPLIES = K.say(M.SAFETY_MENTION_HYPOTHETICAL, explanation="").strip().split(";")[0]
QUESTION = re.compile(r"Question (\d+) of (\d+):")
# Conversations checked at once (tests: the session's servers, two cores).
CONCURRENT = 4
BOOKING_STEPS = ("Ana Lopez", "(415) 555-0132", "skip",
                 '/inform{"treatment": "facial_microneedling"}', "tuesday afternoons", "/affirm")


def answer_no_until_done(s: Any, who: str, last: str) -> str:
    said = [last]
    for _ in range(len(K.screening.contraindications) + 2):
        if not QUESTION.search(said[-1]):
            break
        said.append(s.texts(who, "no"))
    return "\n".join(said)


@pytest.fixture(scope="module")
def prefixes(assistant_servers) -> dict[str, list[dict]]:
    """The recorded events before each position: "am I a good candidate?" and "no" to the
    questions before it; the booking summary after all "no" and the booking details."""
    s, api = assistant_servers, TrackerApi(assistant_servers)
    recorded: dict[str, list[dict]] = {BEFORE: []}
    who = f"dd-prefix-{uuid.uuid4().hex[:8]}"
    text = s.texts(who, "am I a good candidate?")
    for number in range(1, len(K.screening.contraindications) + 1):
        assert f"Question {number} of" in text, text
        recorded[str(number)] = api.record(who)
        text = s.texts(who, "no")
    assert "looks suitable" in text
    text = s.texts(who, "yes")
    for step in BOOKING_STEPS:
        text = s.texts(who, step)
    assert "Ana Lopez" in text and K.promotions[0].code in text, text  # the summary
    recorded[SUMMARY] = api.record(who)
    return recorded


def cases() -> list[tuple[Disclosure, str]]:
    found = []
    for rule_index, rule in enumerate(ruled_out_by(K)):
        for position_index, where in enumerate(positions(K)):
            form = FORM_NAMES[(rule_index + position_index) % len(FORM_NAMES)]
            found.append((one_disclosure(rule, form, rule_index + position_index), str(where)))
    return found


def test_the_sample_covers_every_contraindication_position_and_form() -> None:
    sample = cases()
    rules = {rule.id for rule in ruled_out_by(K)}
    assert {(d.rule.id, where) for d, where in sample} == {
        (rule, str(where)) for rule in rules for where in positions(K)}
    assert {(d.rule.id, d.form) for d, _ in sample} == {
        (rule, form) for rule in rules for form in FORM_NAMES}


def test_a_disclosure_anywhere_never_ends_eligible_through_the_model(assistant_servers,
                                                                     prefixes) -> None:
    s, api = assistant_servers, TrackerApi(assistant_servers)
    started = time.monotonic()
    sample = cases()

    def check(case: tuple[Disclosure, str]) -> str | None:
        """The conversation of one case; what went wrong, or None."""
        disclosure, where = case
        who = api.copy(prefixes[where], "dd")
        said = s.texts(who, disclosure.text)
        if where == BEFORE:
            said += "\n" + answer_no_until_done(s, who, s.texts(who, "am I a good candidate?"))
        elif where != SUMMARY:
            said = answer_no_until_done(s, who, said)
        said += "\n" + s.texts(who, "book me in please")
        said += "\n" + s.texts(who, f"my code is {K.promotions[0].code}")
        tracker = api.tracker(who)
        slots = tracker["slots"]
        answers = slots.get(ANSWERS_SLOT) or {}
        problems = []
        if coerce_answer(answers.get(disclosure.rule.id)) not in (Answer.YES, Answer.UNSURE):
            problems.append(f"answer {answers.get(disclosure.rule.id)!r}")
        if evaluate(answers, K.screening).outcome is Outcome.ELIGIBLE:
            problems.append("eligible")
        if slots.get("promo_code"):
            problems.append("promotion held")
        if slots.get("booking_reference") or (tracker.get("active_loop") or {}).get("name"):
            problems.append("booking or a form still open")
        if IF_IT_APPLIES in said:
            problems.append("'if this applies to you' said")
        if SUITABLE in said:
            problems.append("told suitable after the disclosure")
        return f"{disclosure} at {where}: {problems}\n{said}" if problems else None

    # Independent conversations (each its own sender), a few at a time: while the Rasa server
    # waits for the action server, another conversation's message is understood.
    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        failures = [f for f in pool.map(check, sample) if f]
    elapsed = time.monotonic() - started
    assert not failures, "\n\n".join(failures[:5]) + f"\n({len(failures)} of {len(sample)})"
    print(f"{len(sample)} conversations in {elapsed:.0f} s")
