"""Taking a conversation over from the assistant, replying as staff, handing it back.

How the console reaches the patient (chosen for robustness; see README "Staff console"):

* Everything goes through Rasa's own HTTP API, ``POST /conversations/{id}/tracker/events``,
  authorised by a JWT made for that one conversation and one minute
  (``CLINIC_CONSOLE_JWT_SECRET``; the Rasa server lets such a token append events and do
  nothing else). Only without that secret does it fall back to
  ``?token=$CLINIC_RASA_API_TOKEN``. Taking over appends Rasa's
  ``pause`` event (``ConversationPaused``): Rasa still records the patient's messages but
  predicts nothing, so the assistant stays quiet. Handing back appends ``resume``.
  Rasa holds its lock store's lock for the conversation while appending, so an event never
  interleaves with a message the assistant is processing.
* Staff messages are ``bot`` events with ``metadata.clinic_staff``, so they are part of the
  conversation's history (the transcript, the audit, the next model's context).
* **Widget**: the same call with ``execute_side_effects=true&output_channel=socketio``
  makes Rasa send the ``bot`` events through the socket.io channel to the conversation's
  room, exactly as an assistant reply (no extra route, no second socket.io server).
  (With several Rasa replicas, socket.io needs a shared manager: see issue 10.)
* **SMS**: the events are appended without side effects and the text goes out through
  :mod:`clinic.sms.transport` (Twilio, or the local outbox) after the same checks as any
  text: the number must not have opted out (read again right before sending), and it must
  have texted the clinic in the last 24 hours (a reply in a conversation the patient
  started; anything later needs a phone call). Every text is logged in ``sms_messages``.
* Two staff members cannot hold the same conversation: the ``takeovers`` row has a unique
  sender id, so the second INSERT fails and that person is told who has it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import re
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import aiohttp
import yarl
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from clinic.config.settings import settings
from clinic.console.accounts import Staff
from clinic.console.inbox import HANDLED_KEY
from clinic.knowledge import messages as M
from clinic.knowledge.kb import knowledge
from clinic.rules.delivery import HANDOVER_KEY, STAFF_KEY, STAFF_PUBLIC_KEY
from clinic.services.inbox_store import close_callbacks_of
from clinic.store.db import read_scope, session_scope
from clinic.store.models import SmsMessage, StaffAccount, Takeover, utcnow

log = logging.getLogger(__name__)

WIDGET, SMS = "socketio", "twilio"
SMS_REPLY_WINDOW = dt.timedelta(hours=24)
MAX_REPLY_LENGTH = 1000
# Sender ids Rasa's API can be given in a URL path without escaping: widget session ids,
# E.164 phone numbers and ordinary REST ids.
ADDRESSABLE = re.compile(r"^[A-Za-z0-9+@:._~!$'()*,;=-]{1,255}$")


class TakeoverError(Exception):
    """The action cannot be done; the message is for the member of staff."""


@dataclass(frozen=True)
class Holder:
    """Who has a conversation taken over."""

    staff_id: int
    label: str
    channel: str
    started_at: dt.datetime


def rasa_token() -> str:
    """Rasa's HTTP API token (``CLINIC_RASA_API_TOKEN``, environment only)."""
    return os.environ.get("CLINIC_RASA_API_TOKEN", "")


CONSOLE_JWT_ENV = "CLINIC_CONSOLE_JWT_SECRET"
JWT_SECONDS = 60


def conversation_jwt(sender_id: str, secret: str, now: float | None = None) -> str:
    """A JWT that lets its holder append events to ``sender_id``'s conversation for a
    minute (Rasa's ``user`` role is limited to the conversation named ``username``)."""
    import jwt

    issued = int(time.time() if now is None else now)
    return str(jwt.encode({"user": {"username": sender_id, "role": "user"},
                           "username": sender_id, "iat": issued,
                           "exp": issued + JWT_SECONDS}, secret, algorithm="HS256"))


def holder(sender_id: str) -> Holder | None:
    """Who holds this conversation now (None: the assistant has it)."""
    with read_scope() as session:
        row = session.execute(select(Takeover, StaffAccount).join(
            StaffAccount, StaffAccount.id == Takeover.staff_id).where(
            Takeover.sender_id == sender_id)).first()
        if row is None:
            return None
        takeover, account = row
        return Holder(takeover.staff_id, account.display_name or account.email,
                      takeover.channel, takeover.started_at)


def taken_over() -> set[str]:
    """Sender ids of every conversation staff hold now."""
    with read_scope() as session:
        return set(session.execute(select(Takeover.sender_id)).scalars())


async def append_events(sender_id: str, events: list[dict[str, Any]], *, deliver_to: str | None,
                        rasa_url: str | None = None) -> None:
    """Append events through Rasa's HTTP API; with ``deliver_to`` (an input channel name),
    Rasa also sends the bot events through that channel."""
    base = (rasa_url or settings().rasa_url).rstrip("/")
    query: dict[str, str] = {}
    headers: dict[str, str] = {}
    jwt_secret = os.environ.get(CONSOLE_JWT_ENV, "")
    if jwt_secret:
        headers["Authorization"] = "Bearer " + conversation_jwt(sender_id, jwt_secret)
    elif rasa_token():
        query["token"] = rasa_token()
    if deliver_to:
        query.update(execute_side_effects="true", output_channel=deliver_to)
    if not ADDRESSABLE.match(sender_id):
        raise TakeoverError("this conversation's id cannot be given to Rasa's HTTP API")
    # Sanic does not percent-decode path parameters, so the id goes in as it is (the
    # pattern above only lets through characters that are literal in a URL path).
    url = yarl.URL(f"{base}/conversations/{sender_id}/tracker/events"
                   + ("?" + urllib.parse.urlencode(query) if query else ""), encoded=True)
    timeout = aiohttp.ClientTimeout(total=20)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as client:
            async with client.post(url, json=events, headers=headers) as response:
                if response.status != 200:
                    # Rasa's error body may echo the conversation id: not logged.
                    raise TakeoverError(f"the assistant refused the change (HTTP "
                                        f"{response.status}); check CLINIC_CONSOLE_JWT_SECRET")
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        raise TakeoverError(f"the assistant cannot be reached ({type(error).__name__}); "
                            "is it running?") from None


def public_name(staff: Staff) -> str:
    """How the patient sees a member of staff: the first word of their display name
    (never their e-mail address), else the team (``handover.staff_name``)."""
    words = (staff.display_name or "").split()
    return words[0] if words else _say(M.HANDOVER_STAFF_NAME)


def _bot(text: str, staff: Staff, handover: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {STAFF_KEY: staff.label, STAFF_PUBLIC_KEY: public_name(staff)}
    if handover:
        metadata[HANDOVER_KEY] = handover
    return {"event": "bot", "text": text, "timestamp": utcnow().timestamp(),
            "metadata": metadata}


def _say(message: M.Message) -> str:
    return knowledge().say(message)


async def take_over(staff: Staff, sender_id: str, channel: str) -> None:
    """Pause the assistant for this conversation and tell the patient staff joined."""
    if channel not in (WIDGET, SMS):
        # A REST caller only sees the replies to its own requests: staff messages would
        # never reach the patient.
        raise TakeoverError("only widget and SMS conversations can be taken over (the "
                            "patient could not receive your messages here)")
    try:
        with session_scope() as session:
            session.add(Takeover(sender_id=sender_id, staff_id=staff.id, channel=channel,
                                 started_at=utcnow()))
    except IntegrityError:
        current = holder(sender_id)
        who = current.label if current else "another member of staff"
        raise TakeoverError(f"{who} has already taken over this conversation") from None
    paused = False
    try:
        joined = _say(M.HANDOVER_STAFF_JOINED)
        pause = {"event": "pause", "timestamp": utcnow().timestamp()}
        if channel == SMS:
            problem = await asyncio.to_thread(sms_allowed, sender_id)
            if problem:
                raise TakeoverError(problem)
            await append_events(sender_id, [pause], deliver_to=None)
            paused = True
            await _send_sms_and_record(staff, sender_id, joined)
        else:
            await append_events(sender_id, [pause, _bot(joined, staff, "joined")],
                                deliver_to=_deliver(channel))
    except BaseException:
        if paused:  # the patient must not be left without the assistant
            try:
                await append_events(sender_id, [{"event": "resume",
                                                 "timestamp": utcnow().timestamp()}],
                                    deliver_to=None)
            except TakeoverError:
                log.error("A conversation stayed paused after a failed take-over.")
        _release(sender_id)
        raise


def _deliver(channel: str) -> str | None:
    # The widget gets messages pushed; REST callers only see them in the conversation.
    return WIDGET if channel == WIDGET else None


def _require_holder(staff: Staff, sender_id: str) -> Holder:
    current = holder(sender_id)
    if current is None:
        raise TakeoverError("take the conversation over first")
    if current.staff_id != staff.id:
        raise TakeoverError(f"{current.label} has this conversation")
    return current


async def reply(staff: Staff, sender_id: str, text: str) -> str:
    """Send a staff message to the patient; returns how it went ("sent", "outbox")."""
    text = " ".join((text or "").split()) if "\n" not in (text or "") else text.strip()
    if not text:
        raise TakeoverError("the message is empty")
    if len(text) > MAX_REPLY_LENGTH:
        raise TakeoverError(f"the message is longer than {MAX_REPLY_LENGTH} characters")
    current = _require_holder(staff, sender_id)
    if current.channel == SMS:
        return await _send_sms_and_record(staff, sender_id, text)
    await append_events(sender_id, [_bot(text, staff)], deliver_to=_deliver(current.channel))
    return "sent"


async def hand_back(staff: Staff, sender_id: str) -> None:
    """Resume the assistant and tell the patient. Any member of staff may hand back (a
    colleague may have gone home)."""
    current = holder(sender_id)
    if current is None:
        raise TakeoverError("the assistant already has this conversation")
    left = _say(M.HANDOVER_STAFF_LEFT)
    resume = {"event": "resume", "timestamp": utcnow().timestamp()}
    if current.channel == SMS:
        await append_events(sender_id, [resume], deliver_to=None)
        try:
            await _send_sms_and_record(staff, sender_id, left)
        except TakeoverError as error:
            log.info("Hand-back text not sent: %s", error)
    else:
        await append_events(sender_id, [resume, _bot(left, staff, "left")],
                            deliver_to=_deliver(current.channel))
    _release(sender_id)


async def mark_handled(staff: Staff, sender_id: str) -> None:
    """Take a conversation off the "needs a person" list without a word to the patient.

    Appends Rasa's ``resume`` event (the inbox counts reasons from the latest one; with no
    pause before it the assistant's behaviour does not change) marked with who did it, and
    closes the conversation's open callback requests. Not while someone holds it: handing
    back is what ends a take-over.
    """
    current = holder(sender_id)
    if current is not None:
        raise TakeoverError(f"{current.label} has taken this conversation over: hand it "
                            "back instead")
    await append_events(sender_id, [{"event": "resume", "timestamp": utcnow().timestamp(),
                                     "metadata": {HANDLED_KEY: staff.label}}],
                        deliver_to=None)
    await asyncio.to_thread(close_callbacks_of, sender_id, staff.id)


def _release(sender_id: str) -> None:
    with session_scope() as session:
        session.execute(delete(Takeover).where(Takeover.sender_id == sender_id))


# --------------------------------------------------------------------------- SMS

def sms_allowed(phone: str, now: dt.datetime | None = None) -> str | None:
    """Why a staff text to ``phone`` may not be sent now (None: it may)."""
    # Lazy on purpose: the SMS module is optional; the console works without it.
    from clinic.sms import store

    if not store.is_e164(phone):
        return "this conversation has no phone number"
    now = now or utcnow()
    with read_scope() as session:
        if store.is_opted_out(session, phone):
            return "the patient has opted out of texts (STOP)"
        last_inbound = session.execute(
            select(SmsMessage.created_at).where(SmsMessage.phone_e164 == phone,
                                                SmsMessage.direction == "inbound")
            .order_by(SmsMessage.created_at.desc()).limit(1)).scalar_one_or_none()
    if last_inbound is None or now - last_inbound > SMS_REPLY_WINDOW:
        return "the patient has not texted in the last 24 hours: please call them instead"
    return None


def send_staff_sms(phone: str, body: str) -> str:
    """Send one staff text after the opt-out and reply-window checks; log it.

    Returns "sent" (Twilio) or "outbox" (no Twilio credentials: recorded, not sent).
    """
    # Lazy on purpose: the SMS module is optional; the console works without it.
    from clinic.sms import store
    from clinic.sms.transport import LOCAL_OUTBOX, SendError, get_transport

    problem = sms_allowed(phone)
    if problem:
        raise TakeoverError(problem)
    transport = get_transport()
    try:
        result = transport.send(phone, body)
    except SendError as error:
        with session_scope() as session:
            store.record_message(session, direction="outbound", phone=phone, body=body,
                                 transport=transport.name, status="failed")
        raise TakeoverError(f"the text could not be sent: {error.reason}") from None
    with session_scope() as session:
        store.record_message(session, direction="outbound", phone=phone, body=body,
                             transport=result.transport, status=result.status,
                             provider_sid=result.provider_sid)
    return "outbox" if result.transport == LOCAL_OUTBOX else "sent"


async def _send_sms_and_record(staff: Staff, sender_id: str, text: str) -> str:
    outcome = await asyncio.to_thread(send_staff_sms, sender_id, text)
    event = _bot(text, staff)
    event["metadata"]["sms"] = outcome
    await append_events(sender_id, [event], deliver_to=None)
    return outcome
