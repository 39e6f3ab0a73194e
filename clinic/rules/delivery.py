"""What the chat widget receives for one stored bot message, live or replayed.

Rasa's socket.io channel sends a bot message as it is and forgets it: a page that was away
(a reload, a closed tab, a dropped connection) never got it. Here every message carries an
id and its stored timestamp, computed from the stored ``BotUttered`` event alone, so the
same message sent live and replayed later is the same item, and a widget that keeps the ids
it has shown never shows one twice. Pure: no Rasa, no I/O (the channel and its replay in
:mod:`clinic.rasa.channels.socketio` use it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

# Metadata the staff console puts on its bot events (clinic.console.takeover).
STAFF_KEY = "clinic_staff"  # the member of staff, as the console names them
STAFF_PUBLIC_KEY = "clinic_staff_public"  # how the patient sees them ("Mia", "the team")
HANDOVER_KEY = "clinic_handover"  # "joined" or "left"
MAX_BUTTONS = 10


def message_id(timestamp: float, text: str, part: int) -> str:
    """A stable id for part ``part`` of the bot message stored with ``timestamp``."""
    digest = hashlib.sha256(f"{timestamp!r}\x1f{text}".encode()).hexdigest()[:20]
    return f"{digest}.{part}"


def _buttons(message: dict[str, Any]) -> list[dict[str, str]]:
    raw = message.get("buttons") or message.get("quick_replies") or []
    found: list[dict[str, str]] = []
    for button in raw if isinstance(raw, list) else []:
        if isinstance(button, dict) and button.get("title"):
            title = str(button["title"])
            found.append({"title": title, "payload": str(button.get("payload") or title)})
    return found[:MAX_BUTTONS]


def widget_messages(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The widget payloads of one bot message (``BotUttered.message()``).

    One payload per paragraph, as Rasa's channel splits text at blank lines; the buttons go
    with the last one. Each has ``id``, ``ts`` (the stored timestamp) and, for a member of
    staff, ``staff`` (the name the patient sees) and ``handover`` ("joined", "left").
    """
    timestamp = float(message.get("timestamp") or 0.0)
    text = str(message.get("text") or "")
    parts = [p for p in text.strip().split("\n\n") if p.strip()] or [""]
    buttons = _buttons(message)
    attachment = message.get("attachment") or (
        {"type": "image", "payload": {"src": message["image"]}} if message.get("image")
        else None)
    common: dict[str, Any] = {"ts": timestamp}
    staff = message.get(STAFF_KEY)
    if staff:
        common["staff"] = str(message.get(STAFF_PUBLIC_KEY) or "")
        handover = message.get(HANDOVER_KEY)
        if handover in ("joined", "left"):
            common["handover"] = handover
    payloads: list[dict[str, Any]] = []
    for index, part in enumerate(parts):
        payload: dict[str, Any] = {"id": message_id(timestamp, text, index), **common}
        if part:
            payload["text"] = part
        if index == len(parts) - 1:
            if buttons:
                payload["quick_replies"] = buttons
            if isinstance(attachment, dict):
                payload["attachment"] = attachment
        if len(payload) > len(common) + 1:  # something to show besides id and ts
            payloads.append(payload)
    return payloads


def replay(messages: Iterable[dict[str, Any]], since: float | None) -> list[dict[str, Any]]:
    """The payloads of the stored bot messages (oldest first) from ``since`` on.

    Inclusive: two messages can share a timestamp, and the widget drops the ids it has.
    ``None``: all of them (a page with no message of this conversation yet).
    """
    payloads: list[dict[str, Any]] = []
    for message in messages:
        timestamp = float(message.get("timestamp") or 0.0)
        if since is None or timestamp >= since:
            payloads.extend(widget_messages(message))
    return payloads

