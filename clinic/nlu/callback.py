"""A call back from the clinic: who to call and how, read from what a person typed.

Outside opening hours nobody can answer in the chat, and a patient may not come back to a
chat window; a promise to "reply here" could not be kept. Instead the assistant offers a
call back: the person types a name and a phone number or e-mail address the way people do
("I'm Sam, my number is 415 555 0123 if someone can call me tomorrow"), and the console's
inbox gets a callback item. Pure: the reading and the reply here, the storing in
:func:`clinic.services.inbox_store.add_callback`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers

from clinic.knowledge import messages as M
from clinic.knowledge.kb import Knowledge
from clinic.rules import hours
from clinic.rules.booking import clean_name, normalize_email

# How a person says who they are: "I'm Sam", "my name is Sam Lee", "this is Sam", "it's
# Sam", "Sam here", "Sam, 415 ...".
_NAME_INTRO = re.compile(
    r"(?:\b(?:i'?m|i am|my name is|my name's|name is|name:|this is|it'?s)\s+)"
    r"(?P<name>[A-Za-z][A-Za-z'\-]*(?:\s+[A-Z][A-Za-z'\-]*)?)", re.IGNORECASE)
_NAME_HERE = re.compile(r"^\s*(?P<name>[A-Z][A-Za-z'\-]*(?:\s+[A-Z][A-Za-z'\-]*)?)\s+here\b")
_LEADING_NAME = re.compile(r"^\s*(?P<name>[A-Za-z][A-Za-z'\-]*(?:\s+[A-Za-z][A-Za-z'\-]*)?)"
                           r"(?:\s*[,:\-]\s*|\s+)(?=[+(\d]|[^\s@]+@)")
_EMAIL_IN_TEXT = re.compile(r"[^\s<>,;:()\"']+@[^\s<>,;:()\"']+\.[A-Za-z]{2,63}")
# Words that follow "I'm" / "it's" without being a name ("I'm free", "it's urgent").
_NOT_NAMES = frozenset("""
a an the free available around at home here not sorry so very really just looking
wondering hoping trying asking calling about urgent fine ok okay good busy out away back
interested after available please my number phone email mobile cell call text reach me
you someone somebody anyone hi hello hey thanks thank yes no sure can could would will
tomorrow today tonight morning afternoon evening on in from and or
""".split())
# A request for a call or a message back: with contact details it is a callback request.
# A request to be called: "call me back", "can someone ring me", "give me a call". Not a way
# to be reached given as an answer ("you can text me at ...", "email me at ...": the booking
# form asks for those, and they are read as its answer).
_CALL_ME = re.compile(
    r"(?<!you can )(?<!you could )(?<!you may )"
    r"\b(?:call|ring|phone|contact|get back to)\s+(?:me|us)\b|"
    r"\bcall\s*back\b|\bcallback\b|\bgive me a (?:call|ring)\b",
    re.IGNORECASE)
MAX_TEXT = 400
SMS_CHANNEL = "twilio"
# Metadata of the assistant's message that offered a call back (ASKED) or confirmed one it
# recorded (RECORDED): the next message may hold the details; the insights do not count
# the details as a message the assistant did not understand.
ASK_KEY, ASKED, RECORDED = "clinic_callback", "ask", "recorded"


@dataclass(frozen=True)
class Contact:
    """How to reach a person: a name if they gave one, and a phone number or e-mail."""

    name: str | None
    phone_e164: str | None
    email: str | None

    @property
    def reachable(self) -> bool:
        """There is a number or an address to use."""
        return bool(self.phone_e164 or self.email)


def _phone(text: str, region: str) -> str | None:
    matcher = phonenumbers.PhoneNumberMatcher(text, region,
                                              leniency=phonenumbers.Leniency.VALID)
    for match in matcher:
        if phonenumbers.number_type(match.number) in (
                phonenumbers.PhoneNumberType.MOBILE,
                phonenumbers.PhoneNumberType.FIXED_LINE,
                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
            return phonenumbers.format_number(match.number,
                                              phonenumbers.PhoneNumberFormat.E164)
    return None


def _email(text: str) -> str | None:
    for candidate in _EMAIL_IN_TEXT.findall(text):
        found = normalize_email(candidate.rstrip("."))
        if found:
            return found
    return None


def _name(text: str) -> str | None:
    for pattern in (_NAME_HERE, _NAME_INTRO, _LEADING_NAME):
        for match in pattern.finditer(text):
            words = match["name"].split()
            # "I'm Sam Lee" keeps the surname; "I'm Sam, my number ..." stops at the comma.
            kept = [w for w in words if w.lower() not in _NOT_NAMES]
            if not kept or kept[0] != words[0]:
                continue
            name = clean_name(" ".join(w[:1].upper() + w[1:] for w in kept))
            if name:
                return name
    return None


def read_contact(text: str, region: str = "US") -> Contact:
    """The name, phone number (E.164, national numbers read for ``region``) and e-mail
    address in a message; each None when it has none."""
    text = (text or "")[:MAX_TEXT]
    return Contact(_name(text), _phone(text, region), _email(text))


def asks_for_callback(text: str, region: str = "US") -> bool:
    """A message that gives a way to be reached and asks to be contacted ("call me back on
    415 555 0123", "email me at ..."). Only a number ("my number is ...") is not a request:
    the booking form asks for one."""
    return bool(_CALL_ME.search(text or "")) and read_contact(text, region).reachable


def gives_contact(text: str, region: str = "US") -> bool:
    """A short message that is mostly contact details ("Sam, 415 555 0123", "sam@x.org")."""
    if not text or len(text.split()) > 14 or "?" in text:
        return False
    return read_contact(text, region).reachable


@dataclass(frozen=True)
class HandoffReply:
    """What the assistant says to a request for a person, and what it records.

    ``callback``: the request to store (with ``call_from``, when the clinic opens next);
    ``asks``: the reply offers a call back, so the next message may hold the details.
    """

    text: str
    callback: Contact | None = None
    call_from: dt.datetime | None = None
    asks: bool = False


def asked_for_contact(events: Iterable[Mapping[str, Any]]) -> bool:
    """The assistant's last message before the person's latest one offered a call back."""
    seen_user = False
    for event in reversed(list(events)):
        kind = event.get("event")
        if kind == "user":
            if seen_user:
                return False
            seen_user = True
        elif kind == "bot" and seen_user:
            return (event.get("metadata") or {}).get(ASK_KEY) == ASKED
    return False


def spoken_contact(contact: Contact, region: str) -> str:
    """A phone number as people write it in ``region`` ("(415) 555-0123"), else the
    international form."""
    if not contact.phone_e164:
        return contact.email or ""
    number = phonenumbers.parse(contact.phone_e164, region)
    same = phonenumbers.region_code_for_number(number) == region
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL if same
                                      else phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _when(k: Knowledge, state: hours.Availability | None, now: dt.datetime) -> str:
    if state is not None and state.open_now:
        return k.say(M.HANDOVER_WHEN_OPEN)
    if state is not None and state.next_opening is not None:
        return k.say(M.HANDOVER_WHEN_LATER, time=hours.spoken_time(state.next_opening, now))
    return k.say(M.HANDOVER_WHEN_UNKNOWN)


def confirm(k: Knowledge, contact: Contact, state: hours.Availability | None,
            now: dt.datetime, region: str) -> str:
    """The confirmation of a recorded callback request: who will be called how, and when."""
    name = f", {contact.name}" if contact.name else ""
    when = _when(k, state, now)
    if contact.phone_e164:
        return k.say(M.HANDOVER_CALLBACK_PHONE, name=name, when=when,
                     phone=spoken_contact(contact, region))
    return k.say(M.HANDOVER_CALLBACK_EMAIL, name=name, when=when, email=contact.email or "")


def handoff_reply(k: Knowledge, text: str, *, channel: str, sender_id: str,
                  now: dt.datetime, tz: dt.tzinfo, region: str = "US",
                  asked: bool = False) -> HandoffReply:
    """The reply to a person who wants a person (or answers the offer of a call back).

    - They gave a number or an address with the request, or in answer to the offer:
      a callback request, confirmed with when to expect it, whatever the hours.
    - Open now: staff can answer in the chat (the console's inbox shows the conversation);
      a number or address typed next is still taken as a callback request.
    - Closed, by text message: the number is known; a callback request, confirmed.
    - Closed (or hours unreadable) in the widget: the offer of a call back; never a promise
      to "reply here", in a chat the person may have left by then.
    """
    state = hours.availability(k.clinic.hours, now, tz)
    call_from = state.next_opening if state is not None else None
    contact = read_contact(text, region)
    if contact.reachable and (asked or asks_for_callback(text, region)
                              or channel != SMS_CHANNEL):
        return HandoffReply(confirm(k, contact, state, now, region), contact, call_from)
    if state is not None and state.open_now:
        # Staff will answer here; a number typed next is taken as a call back request too.
        return HandoffReply(k.say(M.COMMON_HANDOFF_OPEN), asks=channel != SMS_CHANNEL)
    if channel == SMS_CHANNEL:
        known = Contact(contact.name, sender_id, None)
        return HandoffReply(k.say(M.HANDOVER_CALLBACK_SMS, when=_when(k, state, now)),
                            known, call_from)
    if state is not None and state.next_opening is not None:
        when = hours.spoken_time(state.next_opening, now)
        return HandoffReply(k.say(M.COMMON_HANDOFF_CLOSED, when=when), asks=True)
    return HandoffReply(k.say(M.COMMON_HANDOFF_UNKNOWN), asks=True)


def followup_reply(k: Knowledge, text: str, *, now: dt.datetime, tz: dt.tzinfo,
                   region: str = "US") -> HandoffReply:
    """The answer to the offer of a call back that the assistant did not otherwise
    understand: the request recorded, or said what is missing (and offered again)."""
    contact = read_contact(text, region)
    if not contact.reachable:
        return HandoffReply(k.say(M.HANDOVER_CALLBACK_NO_CONTACT), asks=True)
    state = hours.availability(k.clinic.hours, now, tz)
    return HandoffReply(confirm(k, contact, state, now, region), contact,
                        state.next_opening if state is not None else None)
