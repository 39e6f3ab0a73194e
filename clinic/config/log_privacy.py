"""Keep personal and health data out of every log line, Rasa's own included.

Our code logs no personal data. Rasa does in a few places, at WARNING and ERROR level:

* ``Circuit breaker tripped. Stopped predicting more actions for sender '<id>'``: for SMS the
  sender id is the patient's phone number;
* structlog events such as ``rest.message.received.timeout text=<the whole message>``;
* debug lines naming the conversation id (``Could not find tracker for conversation ID ...``).

Two layers, installed by :func:`install_log_scrubbing` (the servers call it at start-up; the
project's venv also calls it through ``clinic.rasa.patches``):

1. Rasa's structlog pipeline already has an anonymiser step for message-bearing keys (``text``,
   ``user_text``, ``slot_values``, ...), which does nothing without Rasa Pro. It is replaced
   by one that redacts those keys and the conversation id keys.
2. A log-record factory rewrites every stdlib record's final text: quoted conversation ids and
   messages after the words Rasa uses for them, phone numbers, email addresses and
   ``token=`` query values become ``<redacted>``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "<redacted>"

# Keys of Rasa's structlog events that carry what a person said or who they are.
SENSITIVE_KEYS = frozenset({
    "text", "response_text", "user_text", "slot_values", "parse_data_text",
    "parse_data_entities", "prediction_events", "tracker_latest_message", "prefilled_slots",
    "message", "response", "slot_candidates", "rasa_event", "rasa_events", "tracker_states",
    "current_states", "old_states", "successes", "current_entity", "next_entity", "states",
    "entity", "token_text", "user_message", "json_message", "sender_id", "sender",
    "conversation_id", "slots", "value", "metadata", "events", "tracker",
})

_KEYS = "|".join(sorted(SENSITIVE_KEYS | {"name", "email", "phone", "booking_name",
                                           "booking_phone", "booking_email", "body", "From",
                                           "Body", "message_text", "user_uttered"},
                         key=len, reverse=True))

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # A message inside JSON or a Python dict, escaped or not: "text": "I take warfarin",
    # 'text': '...', \"text\": \"...\", text=...
    (re.compile(rf"""(\\?["']?\b(?:{_KEYS})\\?["']?\s*[:=]\s*)(\\?["'])((?:\\.|(?!\2).)*?)\2""",
                re.IGNORECASE), rf"\1\2{REDACTED}\2"),
    # Conversation ids in URL paths: /conversations/+14155550132/tracker
    (re.compile(r"(/conversations/)[^/?#\s'\"]+"), rf"\1{REDACTED}"),
    # "... for sender '+14155550132'", "conversation ID 'abc'", "user message 'hi'"
    (re.compile(r"((?:sender(?:[ _]id)?|conversation(?: id)?|user(?: message)?|message|text)"
                r"(?:\s*[=:]\s*|\s+))(['\"])(.*?)\2", re.IGNORECASE), rf"\1\2{REDACTED}\2"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), REDACTED),
    (re.compile(r"(?<![\w.:/])\+\d[\d ().-]{6,18}\d(?![\w.:/])"), REDACTED),
    (re.compile(r"(?<![\w.:/+-])(?:1[ .-]?)?\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}(?![\w.:/-])"),
     REDACTED),
    (re.compile(r"((?:token|auth_token|api_token)=)[^&\s'\"]+", re.IGNORECASE),
     rf"\1{REDACTED}"),
]


def scrub(text: str) -> str:
    """``text`` with conversation ids, messages, phones, emails and tokens redacted."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redacted_traceback(exc_info: Any) -> str:
    """A traceback that names where it failed but not what the exception said (its message
    may quote a patient's words), scrubbed like any log text."""
    import traceback

    etype, value, tb = exc_info
    if value is None:
        return ""
    report = traceback.TracebackException(etype, value, tb)
    seen: set[int] = set()
    part: traceback.TracebackException | None = report
    stack = [report]
    while stack:
        part = stack.pop()
        if part is None or id(part) in seen:
            continue
        seen.add(id(part))
        part._str = REDACTED  # type: ignore[attr-defined]  # noqa: SLF001 - frames kept, text not
        stack += [part.__cause__, part.__context__]  # type: ignore[list-item]
    return scrub("".join(report.format()).rstrip("\n"))


def structlog_anonymizer(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Stand-in for Rasa's structlog anonymiser: drops the values of sensitive keys."""
    for key in SENSITIVE_KEYS.intersection(event_dict):
        event_dict[key] = REDACTED
    return event_dict


_installed = False


def install_log_scrubbing() -> None:
    """Scrub every log record made in this process from now on (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    original = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = original(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string stays as it was
            return record
        # An empty tuple, not None: some handlers (pip's) assert the args are a tuple.
        record.msg, record.args = scrub(message), ()
        if record.exc_info and record.exc_info[1] is not None:
            # Formatters print exc_text when it is set, instead of formatting exc_info.
            record.exc_text = redacted_traceback(record.exc_info)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return record

    logging.setLogRecordFactory(factory)


def patch_rasa_log_utils(module: Any) -> None:
    """Replace the anonymiser step of ``rasa.utils.log_utils`` before Rasa configures it."""
    module._anonymizer = structlog_anonymizer  # noqa: SLF001 - the patch replaces Rasa's own step
