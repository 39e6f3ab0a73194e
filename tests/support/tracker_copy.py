"""A conversation's state reached once, then copied for each case (integration tests).

Reaching a state (the screening half answered, the booking summary ...) costs its messages;
a test that explores many messages in one state records the state once and copies its events
into a new conversation over Rasa's tracker API, so each case costs its own messages only.
The copy is the same state: Rasa rebuilds slots, forms and the conversation's place from the
events. Use with the session's ``assistant_servers`` (tests/conftest.py).
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from typing import Any

from clinic.rasa.channels.rest import conversation_token


def slim(events: list[dict]) -> list[dict]:
    """The events without what the dialogue does not read (intent rankings, buttons), so a
    copy fits the server's 64 KB request limit."""
    kept = []
    for event in events:
        event = dict(event)
        if event.get("event") == "user":
            parse = event.get("parse_data") or {}
            event["parse_data"] = {"text": parse.get("text"), "intent": parse.get("intent"),
                                   "entities": parse.get("entities") or []}
        elif event.get("event") == "bot":
            event["data"] = {}
            event["metadata"] = {}
        kept.append(event)
    return kept


class TrackerApi:
    """Rasa's tracker API on the test servers (``assistant_servers``)."""

    def __init__(self, servers: Any) -> None:
        from tests.conftest import TEST_SECRETS

        self.s = servers
        self.token = TEST_SECRETS["CLINIC_RASA_API_TOKEN"]
        self.session_secret = TEST_SECRETS["CLINIC_SESSION_SECRET"]

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.s.rasa_url}{path}{'&' if '?' in path else '?'}token={self.token}",
            data=data, method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")

    def tracker(self, who: str) -> dict:
        return self._call("GET", f"/conversations/{who}/tracker?include_events=ALL")

    def record(self, who: str) -> list[dict]:
        """The conversation's events so far, ready to copy."""
        return slim(self.tracker(who)["events"])

    def copy(self, events: list[dict], prefix: str = "copy") -> str:
        """A new conversation with ``events``; its sender id."""
        who = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self._call("PUT", f"/conversations/{who}/tracker/events", events)
        # A REST conversation under way is its caller's: the copy's caller is this test, which
        # holds the token REST would have given it (rest.conversation_token).
        self.s.conversation_tokens[who] = conversation_token("loopback", who,
                                                             self.session_secret)
        return who
