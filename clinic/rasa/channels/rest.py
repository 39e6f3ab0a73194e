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
* **the body is checked**: not JSON, not an object, a missing or non-string ``sender`` or
  ``message`` get 400 with a clear error (Rasa answered 500, or folded a missing sender into
  one shared ``default`` conversation). The client cannot choose the ``input_channel``;
* **nothing personal is logged**: Rasa logged the whole message when handling timed out.

Rasa imports this module only when ``credentials.yml`` names the channel.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import re
from asyncio import CancelledError
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from clinic.rasa.channels.blueprint import PROXY_HEADERS, channel_blueprint, stored_events, typed_text
from clinic.rasa.resilience import is_connection_problem, unavailable_message
from clinic.store.sanitize import clean_json, clean_text

logger = logging.getLogger(__name__)

API_TOKEN_ENV = "CLINIC_API_TOKEN"
# What a REST sender id may look like: no spaces, no phone numbers (checked separately).
SENDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$")
PHONE_LIKE = re.compile(r"^\+?[\d\s().-]{7,20}$")
MAX_MESSAGE_CHARS = 5000
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


def parse_body(request: Request) -> tuple[str, str, dict[str, Any] | None]:
    """(sender, message, metadata) of a request; Refusal(400) with the reason otherwise."""
    try:
        body = json.loads(request.body or b"")
    except (UnicodeDecodeError, ValueError):
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


def channel_of(events: Any) -> str | None:
    """The channel the conversation's first message came in through (None: no message yet)."""
    for event in events:
        if isinstance(event, UserUttered) and event.input_channel:
            return str(event.input_channel)
    return None


class ClinicRestInput(InputChannel):
    """The REST channel (``/webhooks/rest/webhook``) with the checks described above."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls()

    async def check_sender(self, request: Request, sender: str) -> None:
        """Refusal if ``sender`` belongs to another channel."""
        if PHONE_LIKE.match(sender):
            raise Refusal(403, OTHER_CHANNEL)
        events = await stored_events(request, sender)
        owner = channel_of(events) if events is not None else None
        if owner not in (None, self.name()):
            raise Refusal(403, OTHER_CHANNEL)

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        webhook = channel_blueprint("clinic_rest_webhook")

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                check_caller(request)
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
            return response.json(collector.messages)

        return webhook
