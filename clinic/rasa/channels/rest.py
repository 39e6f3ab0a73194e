"""Rasa's REST channel, refusing callers and conversation ids that are not theirs to use.

``POST /webhooks/rest/webhook`` with ``{"sender": "...", "message": "..."}``, as Rasa's ``rest``
channel (same name, same URL, same reply), except that:

* **a bearer token is needed beyond loopback**: with ``CLINIC_API_TOKEN`` set, every request
  needs ``Authorization: Bearer <token>`` (401 otherwise). Without it the channel answers
  loopback callers only, and refuses (403) anything that came through a proxy
  (``X-Forwarded-For``/``Forwarded``), since behind a proxy every caller looks local;
* **a conversation id is not a password**: a sender id that is a phone number (the SMS
  channel's ids) is refused, and so is the id of any conversation whose messages came in
  through another channel (an SMS number, a widget session): 403, nothing processed;
* **a conversation belongs to whoever started it**: the reply carries an
  ``X-Conversation-Token`` header (an HMAC of the caller's credential and the sender id with
  ``CLINIC_SESSION_SECRET``). Every later message of that conversation must send it back;
  another caller using the same sender id (another local user, another holder of the API
  token) gets 403 and never the conversation's replies;
* **browsers are refused**: the body must be ``application/json`` (a page can post forms and
  plain text to any address without asking, JSON it cannot), and a request from a page
  (``Origin``) of a site not in ``allowed_origins`` gets 403. Unknown ``Host`` headers are
  refused for the whole server (``clinic.rasa.channels.blueprint.guard_hosts``);
* **the body is checked**: not JSON, not an object, a missing or non-string ``sender`` or
  ``message`` get 400 with a clear error (Rasa answered 500, or folded a missing sender into
  one shared ``default`` conversation). The client cannot choose the ``input_channel``;
* **nothing personal is logged**: Rasa logged the whole message when handling timed out.

Rasa imports this module only when ``credentials.yml`` names the channel.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import re
import secrets
from asyncio import CancelledError
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from clinic.rasa.channels.blueprint import (
    PROXY_HEADERS,
    channel_blueprint,
    conversation_channel,
    first_channel,
    typed_text,
)
from clinic.rasa.resilience import is_connection_problem, unavailable_message
from clinic.store.sanitize import clean_json, clean_text

logger = logging.getLogger(__name__)

API_TOKEN_ENV = "CLINIC_API_TOKEN"
# What a REST sender id may look like: no spaces, no phone numbers (checked separately).
SENDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$")
PHONE_LIKE = re.compile(r"^\+?[\d\s().-]{7,20}$")
MAX_MESSAGE_CHARS = 5000
TOKEN_HEADER = "X-Conversation-Token"
SESSION_SECRET_ENV = "CLINIC_SESSION_SECRET"
NOT_YOURS = ("this conversation was started by another caller: send its X-Conversation-Token "
             "header (from the first reply), or choose a new sender id")
# Used only when no session secret is set (e.g. a bare `rasa run`): tokens last one process.
_FALLBACK_SECRET = secrets.token_bytes(32)
OTHER_CHANNEL = ("this conversation id belongs to another channel (an SMS number or a widget "
                 "session): choose an id of your own")


class Refusal(Exception):
    """A request the channel refuses, with its HTTP status and a short reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback addresses."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))


def check_caller(request: Request, api_token: str | None = None) -> None:
    """Refusal unless the caller may use the REST channel at all."""
    token = os.environ.get(API_TOKEN_ENV, "") if api_token is None else api_token
    if token:
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                value.strip().encode("utf-8"), token.encode("utf-8")):
            raise Refusal(401, "a valid 'Authorization: Bearer <CLINIC_API_TOKEN>' header is "
                               "required")
        return
    if any(request.headers.get(name) for name in PROXY_HEADERS) or not is_loopback(
            request.ip):
        raise Refusal(403, "the REST channel answers only this machine unless "
                           "CLINIC_API_TOKEN is set")


def check_browser(request: Request, origins: list[str] | None = None) -> None:
    """Refusal for what a web page could send to this machine without CORS: a form or
    plain-text body, or any request from a page of another site."""
    kind = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if kind != "application/json":
        raise Refusal(415, "the body must be sent as 'Content-Type: application/json'")
    origin = request.headers.get("origin")
    if origin is not None:
        if origins is None:
            from clinic.config.settings import settings

            origins = settings().origins
        if origin.rstrip("/").lower() not in {o.rstrip("/").lower() for o in origins}:
            raise Refusal(403, "requests from web pages of other sites are refused")


def credential_of(request: Request, api_token: str | None = None) -> str:
    """Who is calling, as far as REST can tell: the API token's digest, or this machine."""
    token = os.environ.get(API_TOKEN_ENV, "") if api_token is None else api_token
    if token:
        return "bearer:" + hashlib.sha256(token.encode("utf-8")).hexdigest()
    return "loopback"


def conversation_token(credential: str, sender: str, secret: str | None = None) -> str:
    """The token that proves a caller started ``sender``'s conversation."""
    key = (secret if secret is not None else os.environ.get(SESSION_SECRET_ENV, "")).encode()
    digest = hmac.new(key or _FALLBACK_SECRET, f"rest\0{credential}\0{sender}".encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode("ascii")


def check_owner(request: Request, sender: str, started: bool) -> None:
    """Refusal(403) unless the conversation is new or the caller sent its token."""
    if not started:
        return
    expected = conversation_token(credential_of(request), sender)
    given = request.headers.get(TOKEN_HEADER.lower(), "")
    if not hmac.compare_digest(given.strip().encode("utf-8"), expected.encode("utf-8")):
        raise Refusal(403, NOT_YOURS)


def parse_body(request: Request) -> tuple[str, str, dict[str, Any] | None]:
    """(sender, message, metadata) of a request; Refusal(400) with the reason otherwise."""
    try:
        body = json.loads(request.body or b"")
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Refusal(400, "the body must be JSON: {\"sender\": \"...\", \"message\": \"...\"}"
                      ) from None
    if not isinstance(body, dict):
        raise Refusal(400, "the body must be a JSON object with 'sender' and 'message'")
    sender, message = body.get("sender"), body.get("message")
    if not isinstance(sender, str) or not sender.strip():
        raise Refusal(400, "'sender' is required: a conversation id of your own (a string)")
    if PHONE_LIKE.match(sender):
        raise Refusal(403, OTHER_CHANNEL)
    if not SENDER_ID.match(sender):
        raise Refusal(400, "'sender' must be 1 to 64 letters, digits or _ . : @ -")
    if not isinstance(message, str):
        raise Refusal(400, "'message' is required and must be a string")
    metadata = body.get("metadata")
    # Control characters never reach the tracker store (NUL breaks PostgreSQL, ESC the
    # staff terminal).
    return (sender, typed_text(clean_text(message[:MAX_MESSAGE_CHARS])),
            clean_json(metadata) if isinstance(metadata, dict) else None)


# The channel a conversation's first message came in through (kept under its old name).
channel_of = first_channel


class ClinicRestInput(InputChannel):
    """The REST channel (``/webhooks/rest/webhook``) with the checks described above."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls()

    async def check_sender(self, request: Request, sender: str) -> None:
        """Refusal if ``sender`` belongs to another channel or another caller."""
        if PHONE_LIKE.match(sender):
            raise Refusal(403, OTHER_CHANNEL)
        owner = await conversation_channel(request, sender)
        if owner not in (None, self.name()):
            raise Refusal(403, OTHER_CHANNEL)
        # The channel is known once the conversation has a first message.
        check_owner(request, sender, started=owner is not None)

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        webhook = channel_blueprint("clinic_rest_webhook")

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                check_caller(request)
                check_browser(request)
                sender, text, metadata = parse_body(request)
                await self.check_sender(request, sender)
            except Refusal as refusal:
                if refusal.status != 400:
                    logger.warning("Refused a REST request: %s.", refusal.reason)
                return response.json({"error": refusal.reason}, status=refusal.status)
            except Exception as error:
                if not is_connection_problem(error):
                    raise
                # The conversation store is down (e.g. PostgreSQL restarting): the sender
                # cannot be checked, so nothing is processed; the person is asked to retry.
                logger.error("REST message not handled: conversation store unavailable.")
                return response.json([{"recipient_id": sender, "text": unavailable_message()}])
            collector = CollectingOutputChannel()
            try:
                await on_new_message(UserMessage(text, collector, sender,
                                                 input_channel=self.name(),
                                                 metadata=metadata))
            except CancelledError:
                logger.error("Handling a REST message timed out.")
            except Exception as error:  # noqa: BLE001 - the caller still gets an answer
                logger.error("Handling a REST message failed: %s", type(error).__name__)
            return response.json(collector.messages, headers={
                TOKEN_HEADER: conversation_token(credential_of(request), sender)})

        return webhook
