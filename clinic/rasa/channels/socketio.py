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

import asyncio
import base64
import hashlib
import hmac
import inspect
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from rasa.shared.core.events import BotUttered
from sanic import Blueprint
from sqlalchemy.exc import SQLAlchemyError

from clinic.config.secrets import require_secret
from clinic.config.settings import settings
from clinic.rasa.channels.blueprint import typed_text
from clinic.rules.delivery import replay, widget_messages
from clinic.services.inbox_store import record_presence, reset_presence
from clinic.store.sanitize import clean_json, clean_text

logger = logging.getLogger(__name__)

# What a widget may use as its session id (the conversation's sender id in Rasa).
SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
SESSION_SECRET_ENV = "CLINIC_SESSION_SECRET"
# One socket.io message (engine.io packet) at most; the widget sends at most 1,000 characters.
MAX_PACKET_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 2000
# A session token lets its widget rejoin for a week, as long as the widget keeps a quiet
# conversation (historyHours, widget/src/config.js), so a staff reply is still there the
# next days; every rejoin gets a fresh one, so a conversation in use never expires, and a
# token copied from a device stops working after it.
SESSION_TOKEN_SECONDS = 7 * 24 * 3600
REVOKED_KEY = "clinic:widget-revoked:"
# A rejoining page gets the stored messages from a little before the latest it has: staff
# messages are stamped by the console's clock, which may run behind the Rasa server's. The
# widget drops the ids it already has.
REPLAY_MARGIN_SECONDS = 600.0


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
    # Lazy: Sanic-CORS is Rasa's, loaded only once Rasa builds its server.
    from sanic_cors.core import SANIC_CORS_EVALUATED

    handle_request = eio.handle_request

    async def handle_request_with_own_cors(request: Any, *args: Any, **kwargs: Any) -> Any:
        setattr(request.ctx, SANIC_CORS_EVALUATED, "1")
        return await handle_request(request, *args, **kwargs)

    eio.handle_request = handle_request_with_own_cors


class ClinicSocketIOInput(SocketIOInput):
    """Rasa's ``socketio`` channel that refuses connections from pages of other sites.

    Use it in ``credentials.yml`` as ``clinic.rasa.channels.socketio.ClinicSocketIOInput:``
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
        self._on_new_message: Callable[[UserMessage], Awaitable[Any]] | None = None
        self._app: Any = None
        self.allowed_origins: list[str] | None = (
            None if allowed_origins is None else normalise_origins(allowed_origins)
        )

    def origin_policy(self) -> OriginPolicy:
        """The origin check this channel installs on its socket.io server."""
        if self.allowed_origins is not None:
            return OriginPolicy(self.allowed_origins)

        return OriginPolicy(settings().origins)

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        """Rasa's socket.io blueprint, with the origin check switched back on."""
        require_secret(SESSION_SECRET_ENV)  # refuse to start without it
        socketio_blueprint: Blueprint = super().blueprint(on_new_message)
        assert self.sio is not None  # set by SocketIOInput.blueprint
        self._on_new_message = on_new_message
        self.sio.eio.max_http_buffer_size = MAX_PACKET_BYTES
        policy = self.origin_policy()
        # Read by engine.io on every request: the handshake, each polling request and the
        # WebSocket upgrade. It also makes engine.io answer CORS for the allowed origins.
        self.sio.eio.cors_allowed_origins = policy
        _keep_rasa_cors_off_socketio(self.sio.eio)
        _share_across_replicas(self.sio)
        # Rasa's handlers take the conversation id from each message: replaced by ones that
        # bind it to the connection (see _session_request).
        self.sio.on("session_request", handler=self._session_request,
                    namespace=self.namespace)
        self.sio.on(self.user_message_evt, handler=self._user_message,
                    namespace=self.namespace)
        self.sio.on("session_end", handler=self._session_end, namespace=self.namespace)
        self.sio.on("disconnect", handler=self._disconnect, namespace=self.namespace)

        async def remember_app(app: Any, *_: Any) -> None:
            self._app = app  # its agent's tracker store holds the replies to replay
            if not settings().redis_url:  # one server: no page is connected at its start
                await _record(reset_presence)

        socketio_blueprint.listener("before_server_start")(remember_app)
        logger.info("Chat widget accepted from origins: %s",
                    ", ".join(policy.origins) or "(none)")
        return socketio_blueprint

    async def _session_request(self, sid: str, data: Any) -> None:
        """Put the connection in its conversation's room (replaces Rasa's handler).

        A conversation id is not a password: the widget may rejoin a conversation only with
        the session token the server gave it for that id (``session_token``, an HMAC of the
        id with ``CLINIC_SESSION_SECRET``). Without a valid token the connection gets a new
        conversation, with a new id and token, so knowing someone's id (from a log, a
        screenshot or the staff console) neither shows their replies nor lets anyone write
        in their name. The id is bound to the connection on the server; messages are
        accepted only for it.

        Rasa 3.6 also calls ``AsyncServer.enter_room`` without awaiting it, but in
        python-socketio 5.x it is a coroutine: the connection never joined the room and the
        assistant's replies, sent to the room, were lost.
        """
        assert self.sio is not None
        requested = data.get("session_id") if isinstance(data, dict) else None
        token = data.get("session_token") if isinstance(data, dict) else None
        if (isinstance(requested, str) and SESSION_ID.match(requested)
                and isinstance(token, str) and session_token_valid(requested, token)
                and not await REVOCATIONS.revoked(requested)):
            session_id = requested
        else:
            if requested:
                logger.info("A widget asked for a conversation without its valid session "
                            "token; it was given a new one.")
            session_id = uuid.uuid4().hex
        for room in self.sio.rooms(sid, namespace=self.namespace):
            if room not in (sid, session_id):
                await _maybe_await(self.sio.leave_room(sid, room, namespace=self.namespace))
        await _maybe_await(self.sio.enter_room(sid, session_id, namespace=self.namespace))
        previous = await self.sio.get_session(sid, namespace=self.namespace)
        if isinstance(previous, dict) and previous.get("counted"):
            await _record(record_presence, previous["session_id"], -1)
        await self.sio.save_session(sid, {"session_id": session_id, "counted": True},
                                    namespace=self.namespace)
        await _record(record_presence, session_id, +1)
        await self.sio.emit("session_confirm",
                            {"session_id": session_id,
                             "session_token": session_token(session_id)},
                            room=sid, namespace=self.namespace)
        logger.debug("A socket joined its conversation.")
        since = data.get("since") if isinstance(data, dict) else None
        if not isinstance(since, (int, float)) or isinstance(since, bool):
            since = None
        await self._catch_up(sid, session_id, since if session_id == requested else None,
                             rejoined=session_id == requested)

    async def _session_end(self, sid: str, data: Any) -> None:
        """"Start over" in the widget: the conversation's token stops working at once, on
        every replica (a copy of it on a shared computer reopens nothing), and the
        connection leaves the conversation."""
        assert self.sio is not None
        session = await self.sio.get_session(sid, namespace=self.namespace)
        session_id = session.get("session_id") if isinstance(session, dict) else None
        token = data.get("session_token") if isinstance(data, dict) else None
        if not session_id or not isinstance(token, str) or not session_token_valid(
                session_id, token):
            return
        await REVOCATIONS.revoke(session_id)
        await _maybe_await(self.sio.leave_room(sid, session_id, namespace=self.namespace))
        await self.sio.save_session(sid, {}, namespace=self.namespace)
        logger.info("A widget conversation was ended by its visitor (Start over).")

    async def _catch_up(self, sid: str, session_id: str, since: float | None,
                        rejoined: bool) -> None:
        """Tell a joining widget whether a person holds the conversation, and send it every
        stored bot message from ``since`` on (its latest known timestamp).

        Rasa's channel replays nothing: a staff reply written while the patient's tab was
        closed, or an answer that arrived during a reload, never reached the page. Each
        message goes with its id (:mod:`clinic.rules.delivery`); the widget drops those it has,
        so a message is shown once however often it is sent.
        """
        assert self.sio is not None
        tracker = await self._stored(session_id) if rejoined else None
        paused = bool(tracker is not None and tracker.is_paused())
        await self.sio.emit("session_state", {"paused": paused}, room=sid,
                            namespace=self.namespace)
        if tracker is None:
            return
        stored = [event.message() for event in tracker.events if isinstance(event, BotUttered)]
        payloads = replay(stored, None if since is None else since - REPLAY_MARGIN_SECONDS)
        for payload in payloads:
            await self.sio.emit(self.bot_message_evt, payload, room=sid,
                                namespace=self.namespace)
        if payloads:
            logger.info("Replayed %d message(s) to a widget that rejoined.", len(payloads))

    async def _stored(self, session_id: str) -> Any:
        """The whole stored conversation (every session of it), or None."""
        agent = getattr(getattr(self._app, "ctx", None), "agent", None)
        store = getattr(agent, "tracker_store", None)
        if store is None:
            return None
        try:
            return await store.retrieve_full_tracker(session_id)
        except Exception as error:  # noqa: BLE001 - the widget still works without it
            logger.warning("Could not read a conversation to replay it: %s",
                           type(error).__name__)
            return None

    def get_output_channel(self) -> OutputChannel | None:
        """What Rasa's HTTP API sends staff messages through (``output_channel=socketio``)."""
        assert self.sio is not None
        return ClinicSocketIOOutput(self.sio, self.bot_message_evt)

    async def _disconnect(self, sid: str, *_: Any) -> None:
        """A page left: the console shows when the patient was last seen."""
        assert self.sio is not None
        try:
            session = await self.sio.get_session(sid, namespace=self.namespace)
        except KeyError:
            return
        if isinstance(session, dict) and session.get("counted"):
            await _record(record_presence, session["session_id"], -1)

    async def _user_message(self, sid: str, data: Any) -> None:
        """A message of the widget, for the conversation bound to this connection only."""
        assert self.sio is not None and self._on_new_message is not None
        session = await self.sio.get_session(sid, namespace=self.namespace)
        session_id = session.get("session_id") if isinstance(session, dict) else None
        if not session_id:
            logger.info("Ignored a widget message sent before its session was confirmed.")
            return
        if not isinstance(data, dict):
            return
        claimed = data.get("session_id")
        if claimed is not None and claimed != session_id:
            logger.warning("Ignored a widget message for a conversation other than the "
                           "connection's own.")
            return
        text = data.get("message")
        if not isinstance(text, str):
            return
        metadata = data.get(self.metadata_key)

        message = UserMessage(typed_text(clean_text(text[:MAX_MESSAGE_CHARS])),
                              ClinicSocketIOOutput(self.sio, self.bot_message_evt), session_id,
                              input_channel=self.name(),
                              metadata=clean_json(metadata) if isinstance(metadata, dict)
                              else None)
        await self._on_new_message(message)


class ClinicSocketIOOutput(SocketIOOutput):
    """Rasa's socket.io output, sending each stored bot message with its id and timestamp
    (:func:`clinic.rules.delivery.widget_messages`), exactly as a replay sends it later."""

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        """Send one bot message (``BotUttered.message()``) to the conversation's room."""
        for payload in widget_messages(message):
            await self._send_message(recipient_id, payload)


def _token_mac(session_id: str, expires: int) -> str:
    secret = require_secret(SESSION_SECRET_ENV).encode("utf-8")
    digest = hmac.new(secret, f"widget-session:{session_id}:{expires}".encode(),
                      hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode("ascii").rstrip("=")


def session_token(session_id: str, now: float | None = None) -> str:
    """The token that lets a widget rejoin conversation ``session_id`` for the next
    ``SESSION_TOKEN_SECONDS``: ``<expiry, Unix seconds>.<HMAC of id and expiry>``."""
    expires = int((time.time() if now is None else now) + SESSION_TOKEN_SECONDS)
    return f"{expires}.{_token_mac(session_id, expires)}"


def session_token_valid(session_id: str, token: str, now: float | None = None) -> bool:
    """True if ``token`` is one this server gave for ``session_id`` and has not expired
    (revocation is checked separately: :data:`REVOCATIONS`)."""
    expires_text, _, mac = token.partition(".")
    if not expires_text.isdigit() or len(expires_text) > 12:
        return False
    expires = int(expires_text)
    if expires <= (time.time() if now is None else now):
        return False
    return hmac.compare_digest(_token_mac(session_id, expires).encode(), mac.encode("utf-8"))


class Revocations:
    """Conversations whose widget tokens were revoked ("Start over"), for as long as any of
    their tokens could still be valid: in this process, and in Redis (``redis_url``) so
    every replica knows. Without Redis a restart forgets them (tokens still expire)."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._redis: Any = None

    def _client(self) -> Any:
        url = settings().redis_url
        if url and self._redis is None:
            import redis.asyncio

            self._redis = redis.asyncio.from_url(url, socket_connect_timeout=2)
        return self._redis

    async def revoke(self, session_id: str) -> None:
        now = time.time()
        self._until = {k: v for k, v in self._until.items() if v > now}
        self._until[session_id] = now + SESSION_TOKEN_SECONDS
        client = self._client()
        if client is not None:
            try:
                await client.set(REVOKED_KEY + session_id, "1", ex=SESSION_TOKEN_SECONDS)
            except Exception as error:  # noqa: BLE001 - this replica still refuses it
                logger.warning("Could not share a widget revocation: %s", type(error).__name__)

    async def revoked(self, session_id: str) -> bool:
        if self._until.get(session_id, 0.0) > time.time():
            return True
        client = self._client()
        if client is None:
            return False
        try:
            return bool(await client.exists(REVOKED_KEY + session_id))
        except Exception as error:  # noqa: BLE001 - Redis down: the token still expires
            logger.warning("Could not check widget revocations: %s", type(error).__name__)
            return False


REVOCATIONS = Revocations()


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
        redis_url = settings().redis_url
    if not redis_url:
        return False
    # Lazy: only a cluster (redis_url set) shares rooms through Redis.
    from socketio import AsyncRedisManager

    manager = AsyncRedisManager(redis_url, channel="clinic-socketio",
                                redis_options={"socket_connect_timeout": 2})
    manager.set_server(sio)
    sio.manager = manager
    sio.manager_initialized = False
    logger.info("socket.io replies are shared with the other Rasa replicas through Redis.")
    return True


async def _record(function: Callable[..., None], *args: Any) -> None:
    """Write presence to the clinic database, off the event loop; a failure costs only the
    console's "connected now" line."""
    try:
        await asyncio.to_thread(function, *args)
    except SQLAlchemyError as error:
        logger.warning("Could not record whether a chat is connected: %s",
                       type(error).__name__)


async def _maybe_await(result: Any) -> None:
    # enter_room/leave_room are coroutines in recent python-socketio, plain calls before.
    if inspect.isawaitable(result):
        await result
