"""The words of the clinic: a message's content words, and those of the knowledge files, that
the out-of-scope component (clinic.rasa.components.out_of_scope) learns and compares."""

from __future__ import annotations

import re
from typing import Any

OUT_OF_SCOPE_INTENT = "out_of_scope"
WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def content_words(text: str) -> set[str]:
    """The message's words that carry content: lower-cased, English stop words dropped,
    a plural "s" and a possessive "'s" taken off."""
    from spacy.lang.en.stop_words import STOP_WORDS

    words = set()
    for word in WORD.findall((text or "").lower().replace("\u2019", "'")):
        word = word.removesuffix("'s")
        if word in STOP_WORDS or len(word) < 2:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        words.add(word)
    return words


def knowledge_words() -> set[str]:
    """The content words of the clinic's own texts: every string in knowledge/*.yml (topics,
    patient questions, screening, vocabulary, messages), and the names of days and months."""
    import calendar

    import yaml

    from clinic.knowledge.kb import knowledge_dir

    def strings(value: Any) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, dict):
            return [t for v in value.values() for t in strings(v)]
        if isinstance(value, list):
            return [t for v in value for t in strings(v)]
        return []

    words: set[str] = set()
    for path in sorted(knowledge_dir().glob("*.yml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue  # the knowledge check reports a broken file; training goes on
        for text in strings(data):
            if "\\b" not in text:  # a regular expression, not prose
                words |= content_words(text)
    for name in list(calendar.day_name) + list(calendar.month_name):
        words |= content_words(name)
    return words


# Requests and openers a confident classifier guesses for anything phrased like one ("can
# you book me a flight", "best way to cook salmon" came out as book): when none of the
# message's content words is the clinic's, the vocabulary overrules the guess. Not the
# topics: "can I drink alcohol afterwards" uses no word of the training data either, and
# its aftercare answer (or "the clinic's information doesn't cover that") is the right
# one. Never an answer to the assistant's question or a safety intent.
OVERRULED_REQUESTS = frozenset({
    "book", "greet", "ask_contact", "human_handoff", "bot_challenge", "ask_promotion",
    "check_eligibility",
})
# The asking itself, not what is asked for: "can you book me a flight" names a flight.
# Typed shorthand ("i wanna book", "id like to schedule") is asking too.
REQUEST_WORDS = frozenset("""
    book booking booked reserve reservation schedule arrange appointment consult
    consultation get need want like help find make set order sign come visit slot spot
    wanna gonna gotta lemme id im ive pls plz
""".split())
