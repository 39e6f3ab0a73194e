"""Rasa's socket.io channel, accepting the website chat widget only from configured origins.

Rasa 3.6 creates its ``socketio.AsyncServer`` with ``cors_allowed_origins=[]``, which turns
engine.io's origin check off: any web page, on any site, could open a conversation with the
assistant from a visitor's browser. This channel keeps everything else of Rasa's channel
(events, session persistence, JWT option) and only restores the check, using the origins in
``settings.yml`` (``allowed_origins``) unless ``credentials.yml`` lists its own.

A browser always sends ``Origin`` with a cross-site socket.io request, so a page on another
site is refused at the handshake (HTTP 400 for polling, and for the WebSocket upgrade).
Clients that are not browsers send no ``Origin``; engine.io lets them through, as an origin
check cannot stop them anyway.

Rasa imports this module only when ``credentials.yml`` names the channel, so importing Rasa
at module level is fine here.
"""

from __future__ import annotations

import inspect
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

logger = logging.getLogger(__name__)

# What a widget may use as its session id (the conversation's sender id in Rasa).
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def normalise_origins(origins: Iterable[str] | str) -> list[str]:
    """Origins as browsers send them: scheme://host[:port], no trailing slash, lower case.

    Accepts a list or a comma-separated string (the format of ``settings.yml``).
    """
    if isinstance(origins, str):
        origins = origins.split(",")
    result: list[str] = []
    for origin in origins:
        cleaned = str(origin).strip().rstrip("/").lower()
        if cleaned and cleaned not in result:
            result.append(cleaned)
    return result


class OriginPolicy:
    """Decides whether a browser origin may open a socket.io connection.

    Engine.io treats an empty list of origins as "no check at all", so the policy is always
    handed to it as a callable: with no origin configured, every browser origin is refused.
    ``*`` in the list allows every origin (meant only for local experiments).
    """

    def __init__(self, origins: Iterable[str] | str) -> None:
        self.origins = normalise_origins(origins)
        self.allow_any = "*" in self.origins
        self._reported: set[str] = set()

    def __call__(self, origin: str | None, environ: dict[str, Any] | None = None) -> bool:
        """True if a page at ``origin`` may connect (engine.io passes the WSGI environ)."""
        if not origin:
            # Engine.io also asks when building CORS headers for requests without Origin.
            return False
        if self.allow_any or origin.rstrip("/").lower() in self.origins:
            return True
        if origin not in self._reported and len(self._reported) < 100:
            # Said once per origin: a foreign page retrying must not flood the log.
            # Origins are site addresses, never personal data.
            self._reported.add(origin)
            logger.warning("Refused a chat widget connection from origin %r.", origin)
        return False


def _keep_rasa_cors_off_socketio(eio: Any) -> None:
    """Stop ``rasa run --cors`` from adding CORS headers to engine.io's responses.

    Engine.io now answers CORS itself. Rasa's Sanic-CORS middleware would add a second
    ``Access-Control-Allow-Origin`` header to the same response, and browsers reject a
    response with two. Sanic-CORS skips requests it marks as already handled, so engine.io's
    request handler marks each request before Sanic routes it there (``attach`` looks the
    handler up on the instance, after this replacement).
    """
    from sanic_cors.core import SANIC_CORS_EVALUATED

    handle_request = eio.handle_request

    async def handle_request_with_own_cors(request: Any, *args: Any, **kwargs: Any) -> Any:
        setattr(request.ctx, SANIC_CORS_EVALUATED, "1")
        return await handle_request(request, *args, **kwargs)

    eio.handle_request = handle_request_with_own_cors


class ClinicSocketIOInput(SocketIOInput):
    """Rasa's ``socketio`` channel that refuses connections from pages of other sites.

    Use it in ``credentials.yml`` as ``clinic.channels.socketio.ClinicSocketIOInput:``
    with the same keys as Rasa's ``socketio`` channel, plus an optional
    ``allowed_origins`` (list or comma-separated string) that replaces the origins of
    ``settings.yml``. The channel keeps the name ``socketio``.
    """

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """Build the channel from its ``credentials.yml`` entry."""
        credentials = credentials or {}
        channel = super().from_credentials(credentials)
        assert isinstance(channel, ClinicSocketIOInput)
        allowed = credentials.get("allowed_origins")
        if allowed is not None:
            channel.allowed_origins = normalise_origins(allowed)
        return channel

    def __init__(self, *args: Any, allowed_origins: Iterable[str] | str | None = None,
                 **kwargs: Any) -> None:
        """Same arguments as Rasa's ``SocketIOInput``; ``allowed_origins`` defaults to the
        ``allowed_origins`` setting, read when the server starts."""
        super().__init__(*args, **kwargs)
        self.allowed_origins: list[str] | None = (
            None if allowed_origins is None else normalise_origins(allowed_origins)
        )

    def origin_policy(self) -> OriginPolicy:
        """The origin check this channel installs on its socket.io server."""
        if self.allowed_origins is not None:
            return OriginPolicy(self.allowed_origins)
        from clinic.settings import settings

        return OriginPolicy(settings().origins)

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        """Rasa's socket.io blueprint, with the origin check switched back on."""
        socketio_blueprint = super().blueprint(on_new_message)
        assert self.sio is not None  # set by SocketIOInput.blueprint
        policy = self.origin_policy()
        # Read by engine.io on every request: the handshake, each polling request and the
        # WebSocket upgrade. It also makes engine.io answer CORS for the allowed origins.
        self.sio.eio.cors_allowed_origins = policy
        _keep_rasa_cors_off_socketio(self.sio.eio)
        _share_across_replicas(self.sio)
        if self.session_persistence:
            self.sio.on("session_request", handler=self._session_request,
                        namespace=self.namespace)
        logger.info("Chat widget accepted from origins: %s",
                    ", ".join(policy.origins) or "(none)")
        return socketio_blueprint

    async def _session_request(self, sid: str, data: Any) -> None:
        """Put the connection in its conversation's room (replaces Rasa's handler).

        Rasa 3.6 calls ``AsyncServer.enter_room`` without awaiting it, but in
        python-socketio 5.x it is a coroutine: the connection never joined the room and the
        assistant's replies, sent to the room, were lost. The id must look like an id (it
        becomes the conversation's sender id); otherwise a new one is given. A connection
        belongs to one conversation at a time.
        """
        assert self.sio is not None
        requested = data.get("session_id") if isinstance(data, dict) else None
        session_id = (requested if isinstance(requested, str) and SESSION_ID.match(requested)
                      else uuid.uuid4().hex)
        for room in self.sio.rooms(sid, namespace=self.namespace):
            if room not in (sid, session_id):
                await _maybe_await(self.sio.leave_room(sid, room, namespace=self.namespace))
        await _maybe_await(self.sio.enter_room(sid, session_id, namespace=self.namespace))
        await self.sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
        logger.debug("Socket %s joined its conversation.", sid)


def _share_across_replicas(sio: Any, redis_url: str | None = None) -> bool:
    """With a Redis URL (``redis_url`` setting), let replicas deliver each other's replies.

    Rasa 3.6's channel keeps its rooms in one process: a reply emitted by one Rasa replica
    reached only sockets connected to that replica. python-socketio's ``AsyncRedisManager``
    delivers to local sockets first and publishes the emit on Redis for the other replicas,
    so a browser tab connected to replica 2 gets the reply to a message that replica 1
    handled. If Redis is down, local delivery still works. Must run before the first
    connection (the manager is initialised then). True if installed.
    """
    if redis_url is None:
        from clinic.settings import settings

        redis_url = settings().redis_url
    if not redis_url:
        return False
    from socketio import AsyncRedisManager

    manager = AsyncRedisManager(redis_url, channel="clinic-socketio",
                                redis_options={"socket_connect_timeout": 2})
    manager.set_server(sio)
    sio.manager = manager
    sio.manager_initialized = False
    logger.info("socket.io replies are shared with the other Rasa replicas through Redis.")
    return True


async def _maybe_await(result: Any) -> None:
    # enter_room/leave_room are coroutines in recent python-socketio, plain calls before.
    if inspect.isawaitable(result):
        await result
