"""What the clinic's Rasa input channels share (REST: :mod:`clinic.rasa.channels.rest`, SMS:
:mod:`clinic.rasa.channels.twilio`, the widget: :mod:`clinic.rasa.channels.socketio`): their blueprint with
its health route, the stored conversation of a sender, the headers that say a request came
through a proxy, and what a typed message may not be."""

from __future__ import annotations

import re
from typing import Any

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

# A request with one of these (non-empty) came through a proxy.
PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")
# Rasa's own control intents. Typed as payloads, "/restart" wipes the conversation (and
# un-pauses one a member of staff has taken over: Rasa lets a restart through a pause),
# "/back" and "/session_start" silently rewind or restart it; each gets no reply. No button
# of the assistant sends them, so a person's typed one is read as the word.
_CONTROL_PAYLOAD = re.compile(r"^(\s*)/(restart|session_start|back)(?![A-Za-z0-9_])",
                              re.IGNORECASE)


def typed_text(text: str) -> str:
    """A person's message as the assistant may read it: never one of Rasa's control
    payloads ("/restart" becomes "restart")."""
    return _CONTROL_PAYLOAD.sub(lambda m: m.group(1) + m.group(2).replace("_", " "), text,
                                count=1)


def channel_blueprint(name: str) -> Blueprint:
    """A channel's blueprint with ``GET /`` answering ``{"status": "ok"}``, as Rasa's do."""
    webhook = Blueprint(name, __name__)

    @webhook.route("/", methods=["GET"])
    async def health(_: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    return webhook


async def stored_events(request: Request, sender: str) -> list[Any] | None:
    """The events of ``sender``'s conversation in the running agent's tracker store.

    None when the server has no tracker store or the conversation does not exist; whatever
    the store raises (e.g. it is down) is the caller's to handle.
    """
    agent = getattr(request.app.ctx, "agent", None)
    store = getattr(agent, "tracker_store", None)
    if store is None:
        return None
    tracker = await store.retrieve(sender)
    return None if tracker is None else list(tracker.events)
