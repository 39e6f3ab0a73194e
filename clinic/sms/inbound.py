"""What happens to a verified inbound text before (and after) the assistant sees it.

STOP and friends opt the number out and get exactly one confirmation; START/UNSTOP (and
YES from an opted-out number) opt back in; HELP/INFO get the clinic's details. An
opted-out number gets nothing else at all. Everything else goes to the assistant, whose
replies are logged here and dropped if the number opted out in the meantime.

Each inbound Twilio MessageSid is handled once, also by racing replicas: the SMS log has a
unique index on it, and the request whose insert fails gets an empty reply.

Plain Python over the clinic database: the Rasa channel (:mod:`clinic.rasa.channels.twilio`) is a
thin layer over these two functions.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clinic.nlu import sms_keywords as keywords
from clinic.nlu.sms_keywords import Keyword
from clinic.nlu.visit_request import reminder_reply
from clinic.sms import store
from clinic.store.db import session_scope
from clinic.store.models import TRANSPORT_TWILIO, Followup, utcnow

log = logging.getLogger(__name__)

RECEIVED = "received"
DUPLICATE = "duplicate"
REPLIED = "replied"  # answered in the webhook's TwiML response


@dataclass
class InboundDecision:
    """What to do with one inbound text."""

    keyword: Keyword
    replies: list[str] = field(default_factory=list)  # keyword replies, already logged
    to_assistant: bool = False
    # A reply to the visit reminder ("C", "R", "X"): confirm, move or cancel
    # (clinic.nlu.visit_request.reminder_reply); the channel hands it on as the
    # manage_visit intent with this request.
    visit_request: str | None = None


def receive(phone: str, text: str, message_sid: str = "",
            now: dt.datetime | None = None) -> InboundDecision:
    """Log an inbound text and apply STOP/START/HELP; say whether the assistant gets it."""
    now = now or utcnow()
    with session_scope() as session:
        if store.inbound_seen(session, message_sid):
            # Twilio may deliver a webhook twice; the first delivery was answered.
            log.info("Inbound SMS ignored: already handled.")
            return InboundDecision(Keyword.NONE)
        try:
            with session.begin_nested():
                store.record_message(session, direction="inbound", phone=phone, body=text,
                                     transport=TRANSPORT_TWILIO, status=RECEIVED,
                                     provider_sid=message_sid or None, created_at=now)
        except IntegrityError:
            # Another replica logged this MessageSid first (the unique index on inbound
            # provider_sid): it handles the message, this request does nothing.
            log.info("Inbound SMS ignored: being handled by another server.")
            return InboundDecision(Keyword.NONE)
        opted_out = store.is_opted_out(session, phone)
        kind = keywords.classify(text, opted_out=opted_out)
        decision = InboundDecision(kind)
        if kind is Keyword.STOP:
            word = keywords.bare_keyword(text)
            keyword = word if word in keywords.STOP_WORDS else "plain-language"
            if store.set_opt_out(session, phone, True, keyword, now):
                # One confirmation only: a second STOP from an opted-out number gets nothing.
                decision.replies.append(keywords.opt_out_confirmation())
        elif kind in (Keyword.START, Keyword.YES):
            store.set_opt_out(session, phone, False, kind.value, now)
            decision.replies.append(keywords.opt_in_confirmation())
        elif opted_out:
            pass  # nothing at all goes to an opted-out number, not even HELP
        elif kind is Keyword.HELP:
            decision.replies.append(keywords.help_text())
        elif not text.strip():
            # A photo or other media without words: the assistant reads text only.
            decision.replies.append(keywords.media_only_reply())
        else:
            decision.to_assistant = True
            decision.visit_request = reminder_reply(text, reminded_recently(session, phone, now))
        for reply in decision.replies:
            store.record_message(session, direction="outbound", phone=phone, body=reply,
                                 transport=TRANSPORT_TWILIO, status=REPLIED, created_at=now)
    log.info("Inbound SMS handled: %s%s", kind.value,
             " (to the assistant)" if decision.to_assistant else "")
    return decision


# A reminder counts as the text being answered for this long after it was sent.
REMINDER_REPLY_WINDOW = dt.timedelta(hours=48)


def reminded_recently(session: Session, phone: str, now: dt.datetime) -> bool:
    """Whether a visit reminder went to ``phone`` within REMINDER_REPLY_WINDOW."""
    return session.execute(select(Followup.id).where(
        Followup.phone_e164 == phone, Followup.message_id.like("visit-%-reminder"),
        Followup.status == "sent", Followup.sent_at >= now - REMINDER_REPLY_WINDOW)
        .limit(1)).first() is not None


def deliverable_replies(phone: str, bodies: list[str],
                        now: dt.datetime | None = None) -> list[str]:
    """Log the assistant's replies and return those that may be sent.

    The opt-out state is read again: a STOP that arrived while the assistant was
    thinking wins, and nothing is sent.
    """
    if not bodies:
        return []
    now = now or utcnow()
    with session_scope() as session:
        if store.is_opted_out(session, phone):
            log.info("Assistant reply dropped: the number opted out.")
            return []
        for body in bodies:
            store.record_message(session, direction="outbound", phone=phone, body=body,
                                 transport=TRANSPORT_TWILIO, status=REPLIED, created_at=now)
    return bodies
