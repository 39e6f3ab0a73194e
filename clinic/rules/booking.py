"""What a booking request may hold, decided without the database: a person's typed phone
number, email, name and preferred times read and checked, the draft the booking form fills, the
booking reference, and which status may follow which. :mod:`clinic.services.booking` saves it.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers

from clinic.knowledge.kb import Knowledge
from clinic.rules.screening import coerce_answer

log = logging.getLogger(__name__)

BOOKING_STATUSES = ("requested", "confirmed", "treated", "cancelled")
# Booking references: no 0/O, 1/I/L or U/V look-alikes, so they can be read over the phone.
REFERENCE_PREFIX = "MN-"
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"
REFERENCE_LENGTH = 6

_ACCEPTED_PHONE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE,
}
_MAX_PHONE_TEXT = 80
_EMAIL = re.compile(
    r"^(?P<local>[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@(?P<domain>(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})$"
)
_NAME_FORBIDDEN = re.compile(r"[<>{}\[\]\\|=;@#$%^*_~`\"]|https?:|www\.|&[a-z#0-9]+;", re.I)
MAX_NAME_LENGTH = 100
MAX_PREFERRED_TIMES = 10


class NotEligible(Exception):
    """save_booking was asked to book someone the screening does not find eligible."""

    def __init__(self, outcome: str) -> None:
        self.outcome = outcome
        super().__init__(f"screening outcome is {outcome!r}, not eligible: no booking saved")


class InvalidBooking(ValueError):
    """A booking draft field is missing or not valid (the form should have re-asked)."""


# --------------------------------------------------------------------------- validation


def normalize_phone(text: str, region: str = "US") -> str | None:
    """A valid mobile or fixed-line number in ``text`` as E.164 (``+14155552671``), else None.

    Accepts the usual ways of writing a number ("(415) 555-2671", "415.555.2671",
    "+44 7911 123456", "my number is ..."); national numbers are read for ``region``.
    Toll-free, premium-rate and other service numbers, and impossible numbers, give None.
    """
    if not text or len(text) > _MAX_PHONE_TEXT:
        return None
    # The matcher finds a number inside a sentence without reading letters as keypad
    # digits (phonenumbers.parse would turn "2671 thanks" into extra digits).
    matcher = phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
    for match in matcher:
        number = match.number
        if phonenumbers.number_type(number) in _ACCEPTED_PHONE_TYPES:
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return None
    return None


def phones_in_text(text: str, region: str = "US", limit: int = 20_000) -> set[str]:
    """Every number in ``text`` that :func:`normalize_phone` would accept, as E.164.

    For searching stored conversations (erasure): a person may have typed their number
    in any of the forms ``normalize_phone`` reads, anywhere in a longer message.
    """
    found: set[str] = set()
    if not text:
        return found
    matcher = phonenumbers.PhoneNumberMatcher(text[:limit], region,
                                              leniency=phonenumbers.Leniency.VALID)
    for match in matcher:
        if phonenumbers.number_type(match.number) in _ACCEPTED_PHONE_TYPES:
            found.add(phonenumbers.format_number(match.number,
                                                 phonenumbers.PhoneNumberFormat.E164))
    return found


def normalize_email(text: str) -> str | None:
    """A syntactically valid email address, lower-cased, else None (no DNS look-up)."""
    if not text:
        return None
    candidate = text.strip().strip("<>").strip()
    if candidate.lower().startswith("mailto:"):
        candidate = candidate[len("mailto:"):]
    candidate = candidate.lower()
    if len(candidate) > 254:
        return None
    match = _EMAIL.match(candidate)
    if not match or len(match["local"]) > 64:
        return None
    return candidate


def clean_name(text: str) -> str | None:
    """The person's name, trimmed with single spaces, or None if it can't be a name.

    Refuses empty text, text with no letters (e.g. digits only), more than 100
    characters, control characters and markup-like or URL-like text.
    """
    if not text:
        return None
    name = " ".join(text.split())
    if not name or len(name) > MAX_NAME_LENGTH:
        return None
    if any(unicodedata.category(char).startswith("C") for char in name):
        return None
    if not any(char.isalpha() for char in name):
        return None
    if _NAME_FORBIDDEN.search(name):
        return None
    return name


# Split "Tuesday 3pm, or Thursday morning" into parts that are parsed one by one.
_SPLIT = re.compile(r"\s*(?:[,;\n]|\band\b|\bor\b|\bbut\b|\s[/&+]\s)\s*", re.I)
_DAY_PARTS = {"morning": 9, "midday": 12, "noon": 12, "lunchtime": 12, "lunch": 12,
              "afternoon": 14, "evening": 17}
_DAY_PART = re.compile(r"\b(in the |this |tomorrow )?(" + "|".join(_DAY_PARTS) + r")s?\b",
                       re.I)
# Words dateparser reads as dates but that never name a preferred time here.
_NOT_A_TIME = {"now", "asap", "may", "march", "sun", "sat", "second", "anytime", "any time",
               "soon", "whenever"}
_FILLER = re.compile(r"^(?:either|on|maybe|perhaps|preferably|ideally|any|around|about|"
                     r"next|this|coming|the)\s+", re.I)


def _date_parser(now_local: dt.datetime) -> Any:  # dateparser has no public type
    # Imported when first needed, on purpose: dateparser takes a second to import, and
    # most processes that import this module (the CLI, the console) never parse times.
    from dateparser.date import DateDataParser

    return DateDataParser(
        languages=["en"],
        settings={"PREFER_DATES_FROM": "future", "RETURN_TIME_AS_PERIOD": True,
                  "DATE_ORDER": "MDY", "RELATIVE_BASE": now_local.replace(tzinfo=None)},
    )


def _parse_part(part: str, now_local: dt.datetime, parser: Any) -> dt.datetime | None:
    hour = None
    day_part = _DAY_PART.search(part)
    if day_part:
        hour = _DAY_PARTS[day_part.group(2).lower()]
        # "this afternoon" is today, "tomorrow morning" tomorrow; "mornings" alone no day.
        day = {"this ": "today", "tomorrow ": "tomorrow"}.get((day_part.group(1) or "").lower(), "")
        part = _DAY_PART.sub(day, part)
    part = part.strip(" .!?")
    while _FILLER.match(part):
        part = _FILLER.sub("", part, count=1)
    if not part or part.lower() in _NOT_A_TIME or len(part) < 3 and not part.isdigit():
        return None
    data = parser.get_date_data(part)
    if data.date_obj is None or data.period not in ("day", "time"):
        return None
    moment: dt.datetime = data.date_obj
    if data.period == "day":
        # Only a day was given: keep the day at the part of day asked for (or midnight).
        moment = moment.replace(hour=hour or 0, minute=0, second=0, microsecond=0)
    return moment.replace(tzinfo=now_local.tzinfo)


def parse_preferred_times(text: str, now: dt.datetime, tz: ZoneInfo) -> list[dt.datetime]:
    """Dates and times found in the person's free text, in the future, oldest first.

    Each part ("Tuesday at 3pm", "Thursday morning", "March 20") gives at most one
    timezone-aware datetime in ``tz``. A day without a time is midnight of that day, or
    9:00 / 12:00 / 14:00 / 17:00 for morning / noon / afternoon / evening. Days before
    today and times before ``now`` are dropped; vague text ("anytime", "weekends") gives
    an empty list: staff always see the text as typed, too.
    """
    if not text or not text.strip():
        return []
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now_local = now.astimezone(tz)
    parser = _date_parser(now_local)
    found: list[dt.datetime] = []
    for part in _SPLIT.split(text[:500]):
        moment = _parse_part(part, now_local, parser)
        if moment is None:
            continue
        midnight_only = moment.time() == dt.time(0)
        in_future = moment.date() >= now_local.date() if midnight_only else moment > now_local
        if in_future and moment not in found:
            found.append(moment)
    return sorted(found)[:MAX_PREFERRED_TIMES]


@dataclass
class BookingDraft:
    """Everything the booking form collected, ready to be saved."""

    name: str
    phone_e164: str
    treatment: str
    preferred_times_text: str
    sms_consent: bool
    sms_consent_wording: str
    conversation_id: str
    channel: str
    screening_answers: dict[str, str]
    email: str | None = None
    consent_at: dt.datetime | None = None
    promo_code: str | None = None


def new_reference() -> str:
    """A random booking reference such as ``MN-7K3Q9P``."""
    body = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
    return REFERENCE_PREFIX + body


def normalize_reference(text: str) -> str:
    """A reference as typed by staff ("mn 7k3q9p", "7K3Q9P") in its stored form."""
    body = re.sub(r"[^A-Za-z0-9]", "", text or "").upper()
    if body.startswith(REFERENCE_PREFIX[:-1]) and len(body) == REFERENCE_LENGTH + 2:
        body = body[2:]
    return REFERENCE_PREFIX + body


def validated_fields(draft: BookingDraft, kb: Knowledge) -> tuple[str, str, str | None]:
    name = clean_name(draft.name)
    if name is None:
        raise InvalidBooking("name is missing or not valid")
    phone = draft.phone_e164 and normalize_phone(draft.phone_e164)
    if not phone or phone != draft.phone_e164:
        raise InvalidBooking("phone_e164 must be a valid number in E.164 form")
    email = None
    if draft.email:
        email = normalize_email(draft.email)
        if email is None:
            raise InvalidBooking("email is not a valid address")
    try:
        kb.clinic.treatment(draft.treatment)
    except KeyError:
        raise InvalidBooking(f"unknown treatment {draft.treatment!r}") from None
    if not draft.conversation_id or not draft.channel:
        raise InvalidBooking("conversation_id and channel are required")
    if not draft.sms_consent_wording or not draft.sms_consent_wording.strip():
        raise InvalidBooking("the SMS consent wording shown to the person is required")
    if draft.consent_at is not None and draft.consent_at.tzinfo is None:
        raise InvalidBooking("consent_at must be timezone-aware")
    return name, phone, email


def stored_answers(draft: BookingDraft, kb: Knowledge) -> dict[str, str]:
    """Plain "yes" / "no" / "unsure" for every question, in the screening's order.

    An eligible screening has a readable answer to every question; an unreadable one is
    refused rather than stored as something it is not.
    """
    answers: dict[str, str] = {}
    for rule in kb.screening.contraindications:
        answer = coerce_answer(draft.screening_answers.get(rule.id))
        if answer is None:
            raise InvalidBooking(f"the screening answer to {rule.id!r} cannot be read")
        answers[rule.id] = answer.value
    return answers


# --------------------------------------------------------------------------- status

# Which status a booking may move to from which. "requested" is where every booking starts
# (save_booking); "treated" is final (the aftercare texts are scheduled from it).
STATUS_TRANSITIONS: Mapping[str, frozenset[str]] = MappingProxyType({
    "requested": frozenset({"confirmed", "treated", "cancelled"}),
    "confirmed": frozenset({"treated", "cancelled"}),
    "cancelled": frozenset({"confirmed", "treated"}),
    "treated": frozenset(),
})
# The statuses staff can mark a booking with, in the order they are offered.
MARKABLE_STATUSES: tuple[str, ...] = tuple(
    status for status in BOOKING_STATUSES
    if any(status in targets for targets in STATUS_TRANSITIONS.values()))


def status_change_refusal(current: str, wanted: str) -> str | None:
    """Why a booking whose status is ``current`` can't be marked ``wanted``; None if it can.

    The reason reads after the booking's reference, e.g. "MN-7K3Q9P is already treated".
    """
    if wanted == current:
        return f"is already {current}"
    if wanted not in STATUS_TRANSITIONS.get(current, frozenset()):
        return f"is {current}; it can't be marked {wanted}"
    return None
