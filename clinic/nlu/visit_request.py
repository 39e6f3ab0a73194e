"""What a person wants done with their own visit, and what a reply means at each self-service
prompt. Pure (no I/O): clinic/services/visit_self_service.py acts on it, actions/manage_visit.py
adapts it to Rasa.

One intent (``manage_visit``) covers "when is my appointment?", "can I move it to Friday?",
"cancel my appointment", "what happens next?" and "I'm running late"; :func:`read_request`
reads which change is wanted from the words, so the classifier needs no intent per change.
:func:`about_own_visit` is the rule the conversation guard uses so that "how do I cancel my
appointment" never starts the screening and "what happens next?" never gets a definition.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from clinic.rules.availability import Window, choose, parse_window
from clinic.rules.booking import REFERENCE_ALPHABET, REFERENCE_LENGTH, normalize_phone

INTENT = "manage_visit"

# What is wanted (the value of the manage_visit payload's "visit_request" entity, too).
WHEN, MOVE, CANCEL, NEXT, LATE, CONFIRM = "when", "move", "cancel", "next", "late", "confirm"
REQUESTS = (WHEN, MOVE, CANCEL, NEXT, LATE, CONFIRM)

# What a short reply at a self-service prompt means.
YES, NO, STOP, HELP = "yes", "no", "stop", "help"

_VISIT = (r"(?:appointments?|appt|appts|visits?|bookings?|booked (?:time|slot)|reservations?|"
          r"session|slot|time ?slot)")
_MY = r"(?:my|our|the|this|that|her|his|mine)"
# "my appointment", "the booking", "my time", "my slot"
_OWN_VISIT = re.compile(rf"\b{_MY}\s+(?:\w+\s+)?{_VISIT}\b(?!\s+(?:questions?|forms?|process|"
                        r"steps?|details|page|link))|\bmy (?:time|slot)\b", re.I)
_LATE = re.compile(
    r"\b(?:running|run|be|being|am|i'?m|im|gonna be|going to be|will be|a bit|little)\s+"
    r"(?:a (?:bit|little) |(?:\d+|ten|five|fifteen|twenty|few) (?:min(?:ute)?s? )?)?late\b|"
    r"\b(?:stuck in|caught in) traffic\b|\b(?:delayed|late for my)\b|\bon my way\b|"
    r"\bbe there in \d+|\bminutes? late\b", re.I)
_CANCEL = re.compile(r"\b(?:cancel\w*|call (?:it )?off|drop (?:my|the) (?:appointment|visit))\b",
                     re.I)
_CANT_COME = re.compile(r"\b(?:can'?t|cannot|can not|won'?t|will not|unable to|not able to)"
                        r"\s+(?:be able to\s+)?(?:make(?: it)?|come|attend|go|be there)\b", re.I)
_MOVE = re.compile(
    r"\b(?:move|moving|reschedul\w*|re-?book|re-schedul\w*|change|changing|switch|push(?:ed)? "
    r"(?:it |back)|postpone|bring (?:it )?forward|another (?:day|time|date)|different "
    r"(?:day|time|date)|earlier|later (?:time|day|date)|instead)\b", re.I)
_NEXT = re.compile(
    r"^\s*(?:(?:ok(?:ay)?|so|and|great|thanks?|thank you|cool)[\s,!.]*)*"
    r"(?:what (?:happens|comes|do i do|should i do|now)(?: next| now)?|what'?s next|whats next|"
    r"now what|next steps?|what are the next steps|what (?:do|should) i do now)"
    r"(?:\s+(?:then|now))?[\s?.!]*$", re.I)
_WHEN = re.compile(
    r"\b(?:when|what (?:time|day|date)|which (?:day|time|date))\b.*\b(?:my|the|i)\b|"
    r"\b(?:do|did) i (?:have|get) (?:an? )?(?:appointment|visit|booking)\b|"
    r"\b(?:check|confirm|see|look up|find|remind me (?:of|about))\s+" + _MY + r"?\s*" + _VISIT,
    re.I)
# The words a reminder text offers as replies (knowledge/messages.yml, sms.visit_reminder).
# Bare CANCEL stays an opt-out word: carriers and Twilio reserve it (clinic.nlu.sms_keywords).
_REMINDER_CONFIRM = re.compile(r"^\s*(?:c|confirm(?:ed)?|i confirm|y|yes|yes please|"
                               r"i'?ll be there|see you then)[\s.!]*$", re.I)
_REMINDER_MOVE = re.compile(r"^\s*(?:r|reschedule|move|move it|change)[\s.!]*$", re.I)
_REMINDER_CANCEL = re.compile(r"^\s*(?:x|cancel (?:visit|appointment|it|my visit|my appointment)"
                              r"|cancel visit)[\s.!]*$", re.I)
# Words that need the reminder to be the last text to mean a reply to it ("yes" otherwise
# answers whatever the assistant asked).
_ONLY_AFTER_REMINDER = re.compile(r"^\s*(?:y|yes|yes please|i'?ll be there|see you then|move|"
                                  r"move it|change)[\s.!]*$", re.I)

_YES = re.compile(r"^\s*(?:y|yes|yeah|yep|yup|sure|ok|okay|k|correct|right|please do|"
                  r"go ahead|do it|confirm|yes please|please|that'?s right|absolutely)\b"
                  r"[\s.!]*(?:please|thanks?|thank you)?[\s.!]*$", re.I)
_NO = re.compile(r"^\s*(?:n|no|nope|nah|no thanks?|no thank you|don'?t|do not|keep it|"
                 r"leave it|never ?mind|not now|wait)\b[\s.!]*$", re.I)
_STOP = re.compile(r"^\s*(?:stop|quit|exit|forget it|leave it|cancel that|enough|"
                   r"i'?m done|done)\b[\s.!]*$", re.I)
_HELP = re.compile(r"^\s*(?:\?+|help|what\??|huh\??|i don'?t know|dunno|what do you mean\??|"
                   r"where is it\??|where do i find it\??|what reference\??|"
                   r"i don'?t have (?:it|one|a reference))[\s?.!]*$", re.I)
_REFERENCE = re.compile(
    rf"\b(?:MN[\s-]?)?([{REFERENCE_ALPHABET}{REFERENCE_ALPHABET.lower()}]{{{REFERENCE_LENGTH}}})\b")
_REFERENCE_WITH_PREFIX = re.compile(
    rf"\bMN[\s-]?([{REFERENCE_ALPHABET}]{{{REFERENCE_LENGTH}}})\b", re.I)


def read_request(text: str) -> str:
    """Which change a message about one's visit asks for (WHEN when nothing else is said)."""
    text = text or ""
    if _LATE.search(text):
        return LATE
    if _NEXT.match(text):
        return NEXT
    if _CANCEL.search(text) and not _MOVE.search(text):
        return CANCEL
    if _MOVE.search(text):
        return MOVE
    if _CANT_COME.search(text):
        return CANCEL
    return WHEN


_CHANGE_VERB = (r"(?:cancel\w*|move|change|switch|re-?schedul\w*|push|postpone|call off|"
                r"confirm|check|look up|find|see|reschedule)")
# the verb right before the visit: "cancel my appointment", "change my time", "move the
# facial booking"
_VERB_VISIT = re.compile(rf"\b{_CHANGE_VERB}\s+(?:{_MY}\s+)(?:\w+\s+)?(?:{_VISIT}|time)\b"
                         r"(?!\s+(?:questions?|forms?|process|steps?|details|page|link))", re.I)
# the visit, then what should happen to it: "my appointment needs to be cancelled"
_VISIT_VERB = re.compile(rf"\b{_MY}\s+(?:\w+\s+)?{_VISIT}\s+(?:\w+\s+){{0,3}}?"
                         r"(?:cancel\w*|moved|changed|re-?schedul\w*|confirmed|still on)\b", re.I)
_ASKS_WHEN = re.compile(
    rf"\b(?:when|what (?:time|day|date)|which (?:day|time|date))(?:'s| is| was| are)\s+"
    rf"(?:{_MY}\s+)(?:\w+\s+)?{_VISIT}|\b(?:do|did) i (?:still )?(?:have|get) (?:an? )?"
    r"(?:appointment|visit|booking)\b|\bre-?schedul\w*\b|"
    r"\b(?:when|what time|what day) (?:am i|was i|i'?m) (?:booked|booked in|coming in|due|"
    r"scheduled|seeing you)\b", re.I)


# Asking how to change a visit, with no visit named: "how do I cancel?", "is it possible to
# reschedule?", "what if I need to cancel". "How do I" asks for a procedure, which only a
# visit has; "reschedule" and "postpone" only apply to one. (A bare "cancel" or "can I
# cancel?" stays what it says at the moment: stopping what is under way.)
_HOW_TO_CHANGE = re.compile(
    r"^\W*(?:(?:so|and|but|um+|hi|hello|hey|ok(?:ay)?)[\s,]+)*"
    r"(?:(?:how|where) (?:do|can|could|would|should|will) (?:i|we|you)|how to|"
    r"(?:is it|is that) possible to|am i able to|(?:what if|what happens if|in case) i "
    r"(?:need|want|have|had) to)\s+(?:still\s+|easily\s+)?"
    r"(?:cancel|re-?schedule|re-?book|postpone|call off|move|change)"
    r"(?:\s+(?:it|an? (?:appointment|visit|booking|session)|later))?"
    r"(?:\s+(?:online|here|by text|by phone|if i need to))?[\s?.!]*$|"
    r"^\W*(?:can|could|may) (?:i|we) (?:still\s+)?(?:re-?schedule|postpone)\b"
    r"(?:\s+(?:it|an? (?:appointment|visit|booking|session)|later))?[\s?.!]*$", re.I)


def about_own_visit(text: str) -> bool:
    """Whether a message is about the person's own visit: the visit named with what should
    happen to it ("how do I cancel my appointment", "can I change my time to friday", "when is
    my appointment?"), "running late", or "what happens next?" on its own. "When can I go back
    to serum after my session" is not."""
    text = text or ""
    return bool(_NEXT.match(text) or _LATE.search(text) or _ASKS_WHEN.search(text)
                or _VERB_VISIT.search(text) or _VISIT_VERB.search(text)
                or _HOW_TO_CHANGE.match(text)
                or (_CANT_COME.search(text) and _OWN_VISIT.search(text)))


def reminder_reply(text: str, after_reminder: bool) -> str | None:
    """CONFIRM, MOVE or CANCEL for a reply to the reminder text ("C", "R", "X", "CONFIRM",
    "RESCHEDULE", "CANCEL VISIT"; "yes" only when the reminder was the last text)."""
    if not after_reminder and _ONLY_AFTER_REMINDER.match(text or ""):
        return None
    if _REMINDER_CONFIRM.match(text or ""):
        return CONFIRM
    if _REMINDER_MOVE.match(text or ""):
        return MOVE
    if _REMINDER_CANCEL.match(text or ""):
        return CANCEL
    return None


def short_reply(text: str) -> str | None:
    """YES, NO, STOP or HELP ("?") for a short reply at a self-service prompt; None else."""
    text = (text or "").replace("\u2019", "'")
    for pattern, meaning in ((_HELP, HELP), (_STOP, STOP), (_NO, NO), (_YES, YES)):
        if pattern.match(text):
            return meaning
    return None


@dataclass(frozen=True)
class Identity:
    """A booking reference and a mobile number typed together (either may be missing)."""

    reference: str | None
    phone: str | None


def read_identity(text: str, region: str = "US") -> Identity:
    """The reference ("MN-7K3Q9P", "7k3q9p") and the mobile number in one message."""
    text = text or ""
    match = _REFERENCE_WITH_PREFIX.search(text)
    reference = None
    if match:
        reference = "MN-" + match.group(1).upper()
        rest = text[:match.start()] + " " + text[match.end():]
    else:
        rest = text
        for candidate in _REFERENCE.finditer(text):
            word = candidate.group(1)
            # a reference mixes digits and letters; a plain word ("friday") is no reference
            if any(c.isdigit() for c in word) and any(c.isalpha() for c in word):
                reference = "MN-" + word.upper()
                rest = text[:candidate.start()] + " " + text[candidate.end():]
                break
    phone = None
    digits = re.sub(r"[^\d+()\s.-]", " ", rest)
    for chunk in re.findall(r"\+?[\d()][\d()\s.-]{6,}\d", digits):
        phone = normalize_phone(chunk.strip(), region)
        if phone:
            break
    return Identity(reference, phone)


# The prompts of the self-service dialogue (the manage_visit_form's steps).
VERIFY, CONFIRM_CANCEL, MOVE_WHEN, MOVE_PICK = "verify", "confirm_cancel", "move_when", "move_pick"
STEPS = (VERIFY, CONFIRM_CANCEL, MOVE_WHEN, MOVE_PICK)
# What a reply at a step comes to.
IDENTITY, PARTIAL_IDENTITY, WINDOW, CHOSEN, UNCLEAR = (
    "identity", "partial_identity", "window", "chosen", "unclear")

_BUTTON_MEANING = {"/affirm": YES, "/deny": NO, "/stop": STOP}


@dataclass(frozen=True)
class StepReply:
    """What a reply at a self-service prompt means: YES, NO, STOP, HELP, IDENTITY (with the
    reference and number), PARTIAL_IDENTITY, WINDOW (another day), CHOSEN (an offered time)
    or UNCLEAR."""

    meaning: str
    identity: Identity | None = None
    window: Window | None = None
    start: dt.datetime | None = None


def read_step_reply(step: str, text: str, offered: Sequence[dt.datetime], now: dt.datetime,
                    tz: dt.tzinfo, horizon_days: int = 28, region: str = "US") -> StepReply:
    """What ``text`` means at ``step`` (one of STEPS)."""
    text = (text or "").strip()
    button = _BUTTON_MEANING.get(text.split("{")[0].lower())
    if button is not None:
        return StepReply(button)
    if text.startswith(f"/{INTENT}"):
        # a reminder reply arriving at a prompt: "C"/"yes" agrees, "X" at the cancel
        # question agrees too; anything else asks again
        agrees = f'"{CONFIRM}"' in text or (step == CONFIRM_CANCEL and f'"{CANCEL}"' in text)
        return StepReply(YES if agrees and step == CONFIRM_CANCEL else UNCLEAR)
    if step == MOVE_PICK:
        picked = choose(text, offered)
        if picked is not None:
            return StepReply(CHOSEN, start=picked)
    short = short_reply(text)
    if step == VERIFY:
        identity = read_identity(text, region)
        if identity.reference and identity.phone:
            return StepReply(IDENTITY, identity=identity)
        if identity.reference or identity.phone:
            return StepReply(PARTIAL_IDENTITY, identity=identity)
        return StepReply(short or UNCLEAR)
    if short == YES and step == MOVE_PICK and len(offered) == 1:
        return StepReply(CHOSEN, start=offered[0])
    if short is not None:
        return StepReply(short)
    if step in (MOVE_WHEN, MOVE_PICK):
        window = parse_window(text, now, tz, horizon_days)
        if window is not None:
            return StepReply(WINDOW, window=window)
        if re.match(r"^\s*(?:none|neither|none of (?:them|those|these)|not those|"
                    r"(?:just |please )?call me)\b", text, re.I):
            return StepReply(NO)
    if step == CONFIRM_CANCEL and re.search(r"\bcancel\b", text, re.I) \
            and not re.search(r"\b(?:don'?t|do not|not)\b", text, re.I):
        return StepReply(YES)  # "yes cancel it", "cancel it please"
    return StepReply(UNCLEAR)
