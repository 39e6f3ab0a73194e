"""Recognise the SMS keywords every texting programme must honour: STOP, START, HELP.

Carrier rules (and Twilio's own filtering) treat the single words STOP, STOPALL,
UNSUBSCRIBE, CANCEL, END and QUIT as an opt-out, START, UNSTOP and YES as an opt-in, and
HELP and INFO as a request for help. Patients also write in plain words ("please stop
texting me"), and those must count too. What must *not* count is a question that merely
contains one of the words ("can I stop using my serum?", "cancel my appointment"): that
is a question for the assistant, and treating it as an opt-out would silently cut the
patient off from their aftercare texts.

The rule is therefore deliberately narrow: a bare keyword (with politeness words around
it), or a sentence whose object is *our texts/messages* or which asks to be removed from
a list. This module is plain Python, so it is tested without Rasa. The replies' wording is
in ``knowledge/messages.yml`` (group ``sms``).
"""

from __future__ import annotations

import re
from enum import Enum

from clinic.knowledge import messages as M
from clinic.knowledge.kb import Knowledge, knowledge


class Keyword(str, Enum):
    """What an inbound text asks of the texting programme itself."""

    STOP = "stop"
    START = "start"
    YES = "yes"  # opts back in only for a number that is opted out
    HELP = "help"
    NONE = "none"  # an ordinary message for the assistant


STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit",
                        "optout", "revoke"})
START_WORDS = frozenset({"start", "unstop"})
YES_WORDS = frozenset({"yes"})
HELP_WORDS = frozenset({"help", "info"})

# Words that may surround a bare keyword without changing what it means.
_FILLER = frozenset({"please", "pls", "plz", "now", "thanks", "thank", "you", "ok", "okay",
                     "all"})

_TEXTS = r"(?:texts?|text\s+messages?|txts?|messages?|msgs?|sms(?:es)?|reminders?|alerts?)"
_PLAIN_STOP = [
    # "stop texting me", "quit sending me these", "stop messaging"
    re.compile(r"\b(?:stop|quit|cease|end)\s+(?:texting|txting|messaging|contacting|sending)\b"),
    # "stop the texts", "no more messages", "end these reminders"
    re.compile(r"\b(?:stop|end|no\s+more)\s+(?:(?:the|these|those|your|all|any|of)\s+)*"
               + _TEXTS + r"\b"),
    # "don't text me", "do not message me again", "never contact me"
    re.compile(r"\b(?:don'?t|dont|do\s+not|never)\s+(?:text|txt|message|contact|sms)\s+me\b"),
    # "I don't want these texts any more"
    re.compile(r"\b(?:don'?t|dont|do\s+not)\s+want\s+(?:(?:any|more|these|those|your|the)\s+)*"
               + _TEXTS + r"\b"),
    # "unsubscribe me", "opt me out", "opt-out"
    re.compile(r"\bunsubscribe\b"),
    re.compile(r"\bopt(?:\s+me)?[\s-]*out\b"),
    # "remove me from your list", "take me off the list"
    re.compile(r"\b(?:remove|take)\s+me\s+(?:off|from|out)\b"),
    re.compile(r"\bleave\s+me\s+alone\b"),
    # "stop it", "please stop this": the whole message is the request
    re.compile(r"^(?:please\s+)?(?:stop|quit)\s+(?:it|this|that|them)(?:\s+please)?$"),
]
# "don't stop the reminders, they help": a negated stop is not an opt-out.
_NEGATED_STOP = re.compile(r"\b(?:don'?t|dont|do\s+not|never|not)\s+(?:stop|end|quit|cancel)\b")


def normalise(text: str) -> str:
    """Lower-case, straighten quotes and collapse spaces and punctuation around words."""
    text = (text or "").replace("\u2019", "'").replace("\u2018", "'").lower()
    text = re.sub(r"[^a-z0-9' -]+", " ", text)
    return " ".join(text.split())


def bare_keyword(text: str) -> str | None:
    """The one word left of a message like 'STOP', 'Stop please!' or 'stop all', if any."""
    words = [w.strip("'-") for w in normalise(text).split()]
    words = [w for w in words if w]
    core = [w for w in words if w not in _FILLER]
    # "stop all" reduces to "stop"; "all" alone (or "thank you") is no keyword.
    return core[0] if len(core) == 1 else None


def classify(text: str, opted_out: bool = False) -> Keyword:
    """Say whether an inbound text is an opt-out, an opt-in, a help request or neither.

    ``opted_out`` tells whether the sender is currently opted out: a plain "yes" opts a
    number back in only then; otherwise it is an answer meant for the assistant.
    """
    word = bare_keyword(text)
    if word in STOP_WORDS:
        return Keyword.STOP
    if word in START_WORDS:
        return Keyword.START
    if word in YES_WORDS:
        return Keyword.YES if opted_out else Keyword.NONE
    if word in HELP_WORDS:
        return Keyword.HELP
    return Keyword.STOP if is_plain_stop_request(text) else Keyword.NONE


def is_plain_stop_request(text: str) -> bool:
    """True for plain-language requests to stop the texts ("please stop texting me")."""
    flat = normalise(text)
    if _NEGATED_STOP.search(flat):
        return False
    return any(pattern.search(flat) for pattern in _PLAIN_STOP)


def opt_out_confirmation(kb: Knowledge | None = None) -> str:
    """The one text a number gets after it opts out."""
    return (kb or knowledge()).say(M.SMS_OPT_OUT_CONFIRMATION)


def opt_in_confirmation(kb: Knowledge | None = None) -> str:
    """The reply to START/UNSTOP (and YES from an opted-out number)."""
    return (kb or knowledge()).say(M.SMS_OPT_IN_CONFIRMATION)


def help_text(kb: Knowledge | None = None) -> str:
    """The reply to HELP/INFO: who we are, how to reach us, how to stop."""
    return (kb or knowledge()).say(M.SMS_HELP)


def media_only_reply(kb: Knowledge | None = None) -> str:
    """The reply to a text without words (e.g. only a photo): we read text only."""
    return (kb or knowledge()).say(M.SMS_MEDIA_ONLY)
