"""What the clinic's Rasa input channels share (REST: :mod:`clinic.rasa.channels.rest`, SMS:
:mod:`clinic.rasa.channels.twilio`, the widget: :mod:`clinic.rasa.channels.socketio`): their blueprint with
its health route, the stored conversation of a sender, the headers that say a request came
through a proxy, and what a typed message may not be."""

from __future__ import annotations

import hmac
import json
import os
import re
from typing import Any

from rasa.shared.core.events import UserUttered
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


# The one route a console JWT may use: appending events to one conversation.
_EVENTS_ROUTE = re.compile(r"^/conversations/[^/]+/tracker/events/?$")
_CHANNEL_PATHS = ("/webhooks/", "/socket.io")


def jwt_request_allowed(method: str, path: str, headers: Any, query_token: str | None) -> bool:
    """A request to Rasa's HTTP API that carries a JWT (the staff console's credential) may
    only ``POST /conversations/<id>/tracker/events``; Rasa itself then checks that the
    token's ``username`` is that conversation. The API token (``?token=``) and the
    channels' own ``Authorization`` headers (REST's bearer token) are not concerned."""
    if query_token or path.startswith(_CHANNEL_PATHS):
        return True
    if not (headers.get("authorization") or "").lower().startswith("bearer "):
        return True
    return method == "POST" and _EVENTS_ROUTE.match(path) is not None


_NEEDS: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    (re.compile(r"^/model/parse/?$"), ("text",)),
    (re.compile(r"^/conversations/[^/]+/messages/?$"), ("text", "sender")),
    (re.compile(r"^/conversations/[^/]+/(execute|trigger_intent)/?$"), ("name",)),
]


def api_body_problem(path: str, body: bytes) -> str | None:
    """Why a JSON body sent to Rasa's HTTP API would crash its handler (a 500 with Rasa's
    own message), or None: not JSON, nested too deep, or fields of the wrong type."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return "the body must be valid JSON (UTF-8)"
    if _EVENTS_ROUTE.match(path):
        items = data if isinstance(data, list) else [data]
        # An empty list is no event at all (a conversation emptied on purpose), not a crash.
        if not all(isinstance(i, dict) and isinstance(i.get("event"), str) for i in items):
            return "events must be objects with an 'event' name"
        return None
    for pattern, fields in _NEEDS:
        if pattern.match(path):
            if not isinstance(data, dict) or not all(isinstance(data.get(f), str)
                                                     for f in fields):
                return f"the body must be an object with string fields {', '.join(fields)}"
    return None


def _api_call_authorised(request: Request) -> bool:
    """The caller holds the API token, or a JWT (checked by Rasa afterwards)."""
    given = request.args.get("token") or ""
    expected = os.environ.get("CLINIC_RASA_API_TOKEN", "")
    if expected and hmac.compare_digest(given.encode(), expected.encode()):
        return True
    return (request.headers.get("authorization") or "").lower().startswith("bearer ")


def guard_hosts(app: Any) -> None:
    """Every request to the Rasa server (channels, socket.io, HTTP API) whose ``Host`` header
    is not this machine's or a configured name gets 421 before any route runs: a page on a
    domain that an attacker points at 127.0.0.1 (DNS rebinding) reaches nothing. A JWT
    reaches only the route that appends events (:func:`jwt_request_allowed`), and an
    authorised API call with a JSON body its handler would crash on gets 400
    (:func:`api_body_problem`)."""
    from clinic.config.hosts import host_allowed
    from clinic.config.settings import settings

    allowed = settings().host_names

    async def check_host(request: Request) -> HTTPResponse | None:
        if not host_allowed(request.headers.get("host"), allowed):
            return response.json({"error": "unknown Host: add it to allowed_hosts"},
                                 status=421)
        if not jwt_request_allowed(request.method, request.path, request.headers,
                                   request.args.get("token")):
            return response.json({"error": "this token may only append events"}, status=403)
        kind = (request.headers.get("content-type") or "application/json").lower()
        if (request.method in ("POST", "PUT") and request.body and "json" in kind
                and not request.path.startswith(_CHANNEL_PATHS)
                and _api_call_authorised(request)):
            problem = api_body_problem(request.path, request.body)
            if problem:
                return response.json({"error": problem}, status=400)
        return None

    app.register_middleware(check_host, "request")


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


def _sql_store(store: Any) -> Any:
    """Rasa's SQL tracker store inside the wrappers Rasa puts around it, or None."""
    from rasa.core.tracker_store import SQLTrackerStore

    for _ in range(4):
        if isinstance(store, SQLTrackerStore):
            return store
        store = getattr(store, "_tracker_store", None)
    return None


def first_channel(events: Any) -> str | None:
    """The channel the conversation's first message came in through (None: no message yet)."""
    for event in events:
        if isinstance(event, UserUttered) and event.input_channel:
            return str(event.input_channel)
    return None


async def conversation_channel(request: Request, sender: str) -> str | None:
    """The channel ``sender``'s conversation began on (None: no message yet, or no store).

    On Rasa's SQL store this reads one row, the conversation's first message, not the whole
    conversation (a second tracker load per message, which grew with the conversation).
    Whatever the store raises (e.g. it is down) is the caller's to handle.
    """
    agent = getattr(request.app.ctx, "agent", None)
    store = getattr(agent, "tracker_store", None)
    sql = _sql_store(store)
    if sql is not None:
        with sql.session_scope() as session:
            row = (session.query(sql.SQLEvent.data)
                   .filter(sql.SQLEvent.sender_id == sender,
                           sql.SQLEvent.type_name == UserUttered.type_name)
                   .order_by(sql.SQLEvent.id).limit(1).first())
        if row is None:
            return None
        channel = json.loads(row[0]).get("input_channel")
        if channel:
            return str(channel)
        # A first message without a channel (written by a script): read them all.
    events = await stored_events(request, sender)
    return None if events is None else first_channel(events)
