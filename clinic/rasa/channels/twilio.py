"""Rasa input channel for inbound SMS from Twilio, with every request's signature checked.

Rasa's built-in ``twilio`` channel accepts any POST: anyone who knows the URL could talk
to the assistant as any phone number, or opt a patient out. This channel verifies
``X-Twilio-Signature`` with Twilio's own ``RequestValidator`` and the account's auth
token against the public URL Twilio called; a missing, forged or tampered request gets
HTTP 403 and is not processed. With no auth token configured it refuses everything (fail
closed) and says why once in the log.

Configure it in ``credentials.yml`` by module path; the URL is then
``/webhooks/twilio/webhook``::

    clinic.rasa.channels.twilio.TwilioVerifiedInput:
      # optional: both default to the environment / settings.yml
      # auth_token: <only if not in TWILIO_AUTH_TOKEN>
      # public_url: https://clinic.example/webhooks/twilio/webhook

Without ``twilio_webhook_public_url`` (or ``public_url`` above) the channel refuses to
start, unless the server only listens on loopback (``CLINIC_BIND`` 127.0.0.1, the
default): then each request's own URL is checked, with a warning in the log.

The token is read from ``TWILIO_AUTH_TOKEN`` at each request unless credentials give one,
so the channel can be listed even where Twilio is not set up. Replies go back in the
webhook's TwiML response (no extra API call, and quiet hours do not apply to a direct
answer). Rasa imports this module only when ``credentials.yml`` names the channel, so
importing Rasa at module level is fine here.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request, RequestParameters
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from clinic.config.hosts import is_loopback_host
from clinic.config.settings import settings
from clinic.knowledge import messages as M
from clinic.knowledge.kb import knowledge
from clinic.rasa.channels.blueprint import PROXY_HEADERS as CHANNEL_PROXY_HEADERS
from clinic.rasa.channels.blueprint import channel_blueprint, stored_events, typed_text
from clinic.sms import inbound
from clinic.sms.format import button_for_reply, number_reply, sms_bodies
from clinic.sms.store import is_e164
from clinic.store.db import DatabaseUnavailable
from clinic.store.sanitize import clean_text

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
# A request with one of these came through a proxy (the REST channel's, and two more).
PROXY_HEADERS = (*CHANNEL_PROXY_HEADERS, "x-forwarded-host", "x-forwarded-proto")


def twilio_form(request: Request) -> RequestParameters | None:
    """The POSTed fields, blank ones included; None if the body is not a form.

    Twilio signs every field it sends, also empty ones (a picture without words comes
    with ``Body=``), but Sanic's ``request.form`` drops blank values, so the body is
    parsed here.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return None
    try:
        fields = parse_qs(request.body.decode("utf-8"), keep_blank_values=True,
                          strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return None
    return RequestParameters(fields)


def twiml(bodies: list[str]) -> HTTPResponse:
    """A TwiML response that answers with these texts (none: an empty <Response/>)."""
    reply = MessagingResponse()
    for body in bodies:
        reply.message(body)
    return response.text(str(reply), content_type="text/xml")


class PublicUrlMissing(RasaException):
    """The channel would refuse every real request: ``twilio_webhook_public_url`` is unset.

    A RasaException: ``rasa run`` (and ``clinic.rasa.server``) stop with this one message.
    """


def server_bind(argv: list[str] | None = None) -> str:
    """The interface the Rasa server listens on.

    ``-i/--interface`` on the command line of this process (``rasa run`` or
    ``python -m clinic.rasa.server``) wins, as it does for Rasa; else the ``bind`` setting
    (``CLINIC_BIND``, default 127.0.0.1).
    """
    peek = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    peek.add_argument("-i", "--interface", default=None)
    try:
        interface = peek.parse_known_args(sys.argv[1:] if argv is None else argv)[0].interface
    except SystemExit:  # "-i" without a value: not ours to judge
        interface = None
    return (interface or os.environ.get("CLINIC_BIND") or getattr(settings(), "bind", "")
            or "127.0.0.1").strip()


class TwilioVerifiedInput(InputChannel):
    """Inbound SMS from Twilio; only requests signed with the account's auth token."""

    @classmethod
    def name(cls) -> str:
        """Channel name: the URL is ``/webhooks/twilio/webhook``."""
        return "twilio"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """Build from ``credentials.yml``; every key is optional.

        Refuses (:class:`PublicUrlMissing`) to start without a public URL unless the
        server only listens on loopback (see :meth:`check_public_url`).
        """
        credentials = credentials or {}
        channel = cls(auth_token=credentials.get("auth_token") or None,
                      public_url=credentials.get("public_url") or None)
        channel.check_public_url()
        return channel

    def __init__(self, auth_token: str | None = None, public_url: str | None = None) -> None:
        self._auth_token = auth_token
        self._public_url = public_url
        self._said_no_token = False
        self._said_local = False
        self._said_proxy = False

    def public_url(self) -> str:
        """The configured public webhook URL (credentials, else settings), or ''."""
        return (self._public_url or settings().twilio_webhook_public_url or "").strip()

    def check_public_url(self) -> None:
        """Refuse to start without ``twilio_webhook_public_url`` outside loopback.

        Twilio signs the public URL it calls. Behind a proxy or load balancer the URL
        this server sees is another one, so without the setting every real request
        would fail the signature check. Only a server bound to loopback (``bind`` /
        ``CLINIC_BIND`` 127.0.0.1, localhost or ::1: local testing, e.g. through a
        tunnel) may do without it; it then checks against the request's own URL and
        says so in the log.
        """
        if self.public_url():
            return
        bind = server_bind()
        if not is_loopback_host(bind):
            message = (f"The Twilio SMS channel needs twilio_webhook_public_url (settings.yml "
                       f"or CLINIC_TWILIO_WEBHOOK_PUBLIC_URL): the server listens on {bind}, "
                       "and behind a proxy Twilio's signatures are made for the public URL, "
                       "so every inbound text would be refused. Set it to the URL Twilio "
                       "calls, e.g. https://clinic.example/webhooks/twilio/webhook.")
            logger.error(message)
            raise PublicUrlMissing(message)
        if not self._said_local:
            self._said_local = True
            logger.warning("twilio_webhook_public_url is not set: Twilio signatures are "
                           "checked against each request's own URL. Fine for local testing "
                           "on %s only; set it before going live.", bind)

    # ----------------------------------------------------------------- verification
    def auth_token(self) -> str:
        """The auth token to verify with: credentials, else ``TWILIO_AUTH_TOKEN``."""
        token = (self._auth_token or settings().twilio_auth_token or "").strip()
        # An unexpanded "${TWILIO_AUTH_TOKEN}" placeholder is no token.
        return "" if token.startswith("${") else token

    def signed_url(self, request: Request) -> str:
        """The URL Twilio signed: the configured public URL, else the request's URL."""
        public = self.public_url()
        if not public:
            return request.url
        query = request.query_string
        return f"{public}?{query}" if query and "?" not in public else public

    def is_verified(self, request: Request) -> bool:
        """True only if the request carries a valid Twilio signature."""
        token = self.auth_token()
        if not token:
            if not self._said_no_token:
                self._said_no_token = True
                logger.error("Refusing all Twilio webhook requests: no auth token is "
                             "configured (set TWILIO_AUTH_TOKEN) so signatures cannot be "
                             "checked.")
            return False
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not signature:
            return False
        if not self.public_url() and any(h in request.headers for h in PROXY_HEADERS):
            # Behind a proxy the request's own URL is not what Twilio signed.
            if not self._said_proxy:
                self._said_proxy = True
                logger.error("Refusing Twilio webhook requests that come through a proxy: "
                             "set twilio_webhook_public_url to the URL Twilio calls.")
            return False
        form = twilio_form(request)
        if form is None:
            return False
        return bool(RequestValidator(token).validate(self.signed_url(request), form, signature))

    # ----------------------------------------------------------------- blueprint
    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        """Routes: ``GET /`` (health) and ``POST /webhook`` (Twilio's inbound SMS)."""
        self.check_public_url()
        webhook = channel_blueprint("clinic_twilio_webhook")

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.is_verified(request):
                logger.warning("Refused an unsigned or wrongly signed Twilio webhook request.")
                return response.text("Forbidden", status=403)
            return await self._handle(request, on_new_message)

        return webhook

    async def _handle(self, request: Request,
                      on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        form = twilio_form(request) or RequestParameters()
        phone = (form.get("From") or "").strip()
        text = clean_text(form.get("Body") or "")
        message_sid = clean_text(form.get("MessageSid") or "", multiline=False)
        if not is_e164(phone):
            logger.warning("Ignored an inbound SMS whose sender is not an E.164 number.")
            return twiml([])
        try:
            decision = await asyncio.to_thread(inbound.receive, phone, text, message_sid)
        except DatabaseUnavailable:
            # Without the database the opt-out list cannot be checked: send nothing.
            return twiml([])
        if not decision.to_assistant:
            return twiml(decision.replies)

        payload = visit_payload(decision.visit_request) if decision.visit_request else \
            await self._button_payload(request, phone, text)
        collector = CollectingOutputChannel()
        try:
            await on_new_message(UserMessage(payload or typed_text(text), collector, phone,
                                             input_channel=self.name()))
        except Exception as error:  # the patient still gets an answer
            logger.error("The assistant failed on an inbound SMS: %s", type(error).__name__)
            logger.debug("Assistant failure", exc_info=True)
            collector.messages = [{"text": knowledge().say(M.SMS_ASSISTANT_FAILED)}]
        bodies = sms_bodies(collector.messages)
        try:
            bodies = await asyncio.to_thread(inbound.deliverable_replies, phone, bodies)
        except DatabaseUnavailable:
            return twiml([])
        return twiml(bodies)

    async def _button_payload(self, request: Request, phone: str, text: str) -> str | None:
        """The payload of the button a numbered reply picks, from the tracker store."""
        if number_reply(text) is None:
            return None  # only a bare number needs the conversation
        try:
            events = await stored_events(request, phone)
        except Exception as error:  # noqa: BLE001 - fall back to the plain text
            logger.warning("Could not read the conversation for a numbered reply: %s",
                           type(error).__name__)
            return None
        if events is None:
            return None
        return button_for_reply(text, last_turn_buttons(events))


def visit_payload(request: str) -> str:
    """A reply to the visit reminder as the manage_visit intent with what it asks."""
    from clinic.nlu.visit_request import INTENT

    return f'/{INTENT}{{"visit_request": "{request}"}}'


def last_turn_buttons(events: Any) -> list[dict[str, Any]]:
    """Buttons of the assistant's messages since the person's last message, in order."""
    turn: list[BotUttered] = []
    for event in reversed(list(events)):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            turn.append(event)
    buttons: list[dict[str, Any]] = []
    for event in reversed(turn):
        buttons.extend((event.data or {}).get("buttons") or [])
    return buttons
