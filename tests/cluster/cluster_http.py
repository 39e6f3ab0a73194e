"""HTTP helpers of the cluster tests (a module of its own: every conftest is named conftest)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

# Twilio's auth token in the cluster tests (signatures are computed with it).
TWILIO_TOKEN = "cluster-test-twilio-token-5a1e9c"


# The REST channel's token of each conversation this test process started.
CONVERSATION_TOKENS: dict[str, str] = {}


def post(url: str, body: dict, headers: dict | None = None, timeout: float = 90) -> tuple[int, str]:
    """POST JSON; (status, body text), also for error statuses."""
    sender = str(body.get("sender", ""))
    own = ({"X-Conversation-Token": CONVERSATION_TOKENS[sender]}
           if sender in CONVERSATION_TOKENS else {})
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              **own, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if response.headers.get("X-Conversation-Token"):
                CONVERSATION_TOKENS[sender] = response.headers["X-Conversation-Token"]
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def get(url: str, timeout: float = 30) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
