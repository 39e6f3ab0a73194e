"""What the clinic's Rasa input channels share (REST: :mod:`clinic.channels.rest`, SMS:
:mod:`clinic.sms.channel`): their blueprint with its health route, the stored conversation
of a sender, and the headers that say a request came through a proxy."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

# A request with one of these (non-empty) came through a proxy.
PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


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
