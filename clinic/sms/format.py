"""Turn the assistant's replies into plain SMS text, and numbered replies back into buttons.

A text message has no buttons. The assistant's quick replies become numbered options
("Reply 1 for Yes, 2 for No."), numbered across all messages of one bot turn, and a
reply that is just that number picks the button (the wording: ``knowledge/messages.yml``,
group ``sms``). Plain Python: tested without Rasa.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from clinic.knowledge import messages as M
from clinic.knowledge.kb import knowledge

_MD_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
_NUMBER_REPLY = re.compile(r"^\s*#?\s*(\d{1,2})\s*[.)!]?\s*$")


def plain_text(text: str) -> str:
    """Markdown the web chat understands, made readable in a text message."""
    text = _MD_LINK.sub(lambda m: f"{m.group(1)}: {m.group(2)}", text)
    return _MD_EMPHASIS.sub(lambda m: m.group(2), text).strip()


def numbered_options(buttons: Sequence[Mapping[str, Any]], start: int = 1) -> str:
    """'Reply 1 for Yes, 2 for No.' for a list of Rasa buttons."""
    if not buttons:
        return ""
    k = knowledge()
    options = [k.say(M.SMS_NUMBERED_OPTION, number=start + index,
                     title=plain_text(str(button.get("title", ""))))
               for index, button in enumerate(buttons)]
    return k.say(M.SMS_NUMBERED_OPTIONS, options=", ".join(options))


def sms_bodies(messages: Iterable[Mapping[str, Any]]) -> list[str]:
    """One SMS body per bot message (as collected by Rasa's CollectingOutputChannel).

    Buttons are numbered across the whole turn, in the order they appear, so that
    :func:`button_for_reply` maps a number back using the same order.
    """
    bodies: list[str] = []
    counter = 1
    for message in messages:
        parts: list[str] = []
        if message.get("text"):
            parts.append(plain_text(str(message["text"])))
        if message.get("image"):
            parts.append(str(message["image"]))
        if message.get("attachment"):
            parts.append(str(message["attachment"]))
        buttons = list(message.get("buttons") or [])
        if buttons:
            parts.append(numbered_options(buttons, counter))
            counter += len(buttons)
        body = "\n".join(part for part in parts if part)
        if body:
            bodies.append(body)
    return bodies


def number_reply(text: str) -> int | None:
    """The number of a reply like '2', '#2' or '2.' (None for anything else)."""
    match = _NUMBER_REPLY.match(text or "")
    return int(match.group(1)) if match else None


def button_for_reply(text: str, turn_buttons: Sequence[Mapping[str, Any]]) -> str | None:
    """The payload of the button a reply like '2' picks, or None if it picks none.

    ``turn_buttons`` are the buttons of the assistant's last turn, in order.
    """
    number = number_reply(text)
    if number is None:
        return None
    index = number - 1
    if 0 <= index < len(turn_buttons):
        payload = turn_buttons[index].get("payload")
        return str(payload) if payload else None
    return None
