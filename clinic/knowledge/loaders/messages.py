"""knowledge/messages.yml, checked against the registry of clinic/knowledge/messages.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from clinic.knowledge.loaders.reading import Entry, read_yaml
from clinic.knowledge.messages import GROUPS, REGISTRY, RESPONSES_GROUP, STANDARD_PLACEHOLDERS
from clinic.knowledge.model import KnowledgeError, MessageText

_FIELD = re.compile(r"\{([^{}]*)\}")


def _message_text(data: Any, label: str, key: str) -> MessageText:
    """A message written as a string, or as ``{text: ..., buttons: [{title, payload}]}``."""
    if isinstance(data, str):
        data = {"text": data}
    entry = Entry(data, label, key)
    unknown = set(entry.data) - {"text", "buttons"}
    if unknown:
        raise entry.fail(f"unknown field(s) {sorted(unknown)}", "write only 'text' and 'buttons'")
    text = entry.data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise entry.fail("the text is missing, empty or not text", "write 'text: <sentence>'")
    text = text.strip()
    buttons = entry.data.get("buttons") or []
    if not isinstance(buttons, list):
        raise entry.fail("'buttons' is not a list", "write '- title: ...' / 'payload: ...' items")
    parsed = []
    for number, button in enumerate(buttons, start=1):
        item = Entry(button, label, f"{key} button {number}")
        parsed.append({"title": item.text("title"), "payload": item.text("payload")})
    return MessageText(text, tuple(parsed))


def load(directory: Path) -> tuple[dict[str, MessageText], dict[str, Any]]:
    """knowledge/messages.yml, checked against the registry of clinic/knowledge/messages.py."""
    data, label = read_yaml(directory, "messages.yml")
    unknown_groups = set(data) - set(GROUPS) - {RESPONSES_GROUP}
    if unknown_groups:
        raise KnowledgeError(label, ", ".join(sorted(unknown_groups)), "unknown group",
                             f"use the groups {', '.join(GROUPS + (RESPONSES_GROUP,))}")
    messages: dict[str, MessageText] = {}
    for group in GROUPS:
        entries = data.get(group) or {}
        if not isinstance(entries, dict):
            raise KnowledgeError(label, group, "the group is not a mapping",
                                 "write 'name: text' lines under the group")
        for name, value in entries.items():
            key = f"{group}.{name}"
            message = REGISTRY.get(key)
            if message is None:
                raise KnowledgeError(
                    label, key, "no code says this message (a misspelled or unused key)",
                    "use a key registered in clinic/knowledge/messages.py, or register it there")
            text = _message_text(value, label, key)
            allowed = message.placeholders | STANDARD_PLACEHOLDERS
            for placeholder in _FIELD.findall(text.text):
                if placeholder not in allowed:
                    raise KnowledgeError(
                        label, key, f"the code doesn't fill the placeholder '{{{placeholder}}}'",
                        "use only " + (", ".join("{" + p + "}" for p in sorted(allowed))))
            messages[key] = text
    missing = sorted(set(REGISTRY) - set(messages))
    if missing:
        raise KnowledgeError(label, missing[0], "the message is missing",
                             f"add '{missing[0].split('.', 1)[1]}:' under "
                             f"'{missing[0].split('.', 1)[0]}:' (the code says it)")
    responses = data.get(RESPONSES_GROUP) or {}
    if not isinstance(responses, dict):
        raise KnowledgeError(label, RESPONSES_GROUP, "the group is not a mapping",
                             "write 'utter_name:' entries, as in git history")
    for name, variants in responses.items():
        if not str(name).startswith("utter_"):
            raise KnowledgeError(label, f"{RESPONSES_GROUP}.{name}", "a response name must start "
                                 "with 'utter_'", "rename it utter_<name>")
        if not isinstance(variants, list) or not variants:
            raise KnowledgeError(label, f"{RESPONSES_GROUP}.{name}", "no variant is written",
                                 "write '- text: ...' (optionally with buttons)")
        for number, variant in enumerate(variants, start=1):
            _message_text(variant, label, f"{RESPONSES_GROUP}.{name} variant {number}")
    return messages, responses
