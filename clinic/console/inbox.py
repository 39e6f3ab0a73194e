"""The inbox: which conversations need a person, and what staff see of each.

A conversation needs a person when, since staff last handed it back to the assistant:

* the patient asked for a person (intent ``human_handoff`` or the hand-off action ran);
* the assistant did not understand two messages in a row (NLU fallback or the fallback
  action after each of two consecutive patient messages);
* the screening ended in practitioner review (slot ``screening_outcome``);
* an urgent warning sign was reported (``report_urgent_symptoms`` / ``action_urgent_care``);
* the patient said a contraindication applies to them, or may ("I'm expecting", "I might
  be on accutane"), and the screening answers did not end with it as "yes" or "not sure"
  (:func:`unrecorded_disclosures`): the safety net behind the screening (issue 22);

and always while a member of staff has it taken over. :func:`reasons` is the rule, as
plain Python over the events; the SQL in :func:`list_conversations` only narrows down
which conversations to look at.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import phonenumbers
from sqlalchemy import and_, func, or_, select
from sqlalchemy.sql.expression import ColumnElement

from clinic.knowledge.kb import knowledge
from clinic.rules.screening import Answer, answers_from_slots, coerce_answer, evaluate
from clinic.services.inbox_store import Presence, assignments, callbacks, presence
from clinic.store.db import read_scope
from clinic.store.models import BookingRequest
from clinic.store.rasa_events import EVENTS, Event, engine, has_events_table, load_events

ASKED = "asked for a person"
NOT_UNDERSTOOD = "not understood twice in a row"
REVIEW = "screening: practitioner review"
URGENT = "urgent warning sign"
TAKEN_OVER = "taken over by staff"
DISCLOSURE = "said a contraindication the screening answers do not show"
CONTRAINDICATION_ENTITY = "contraindication"
DISCLOSED_ROLES = ("affirmed", "uncertain")  # clinic.nlu.safety_mention.RECORDED_ANSWERS
CALLBACK = "call back requested"
HANDLED_KEY = "clinic_handled"  # metadata of the resume event "mark handled" appends

HANDOFF_INTENTS = ("human_handoff",)
HANDOFF_ACTIONS = ("action_handoff",)
URGENT_INTENTS = ("report_urgent_symptoms",)
URGENT_ACTIONS = ("action_urgent_care",)
FALLBACK_INTENTS = ("nlu_fallback",)
FALLBACK_ACTIONS = ("action_fallback", "action_default_fallback")
OUT_OF_SCOPE_INTENTS = ("out_of_scope",)
OUT_OF_SCOPE_ACTIONS = ("action_out_of_scope",)
CHANNELS = {"socketio": "Widget", "twilio": "SMS", "rest": "REST"}
FILTERS = ("needs", "recent", "widget", "sms")
FILTER_CHANNEL = {"widget": "socketio", "sms": "twilio"}


@dataclass
class Turn:
    """One patient message and what the assistant did about it."""

    user: Event
    actions: list[str] = field(default_factory=list)

    @property
    def not_understood(self) -> bool:
        """The assistant fell back on this message (what it did decides: a message the
        classifier was unsure of but a form took as its answer was understood)."""
        return any(a in FALLBACK_ACTIONS for a in self.actions)

    @property
    def out_of_scope(self) -> bool:
        """The assistant said it cannot help with this here."""
        return (self.user.intent in OUT_OF_SCOPE_INTENTS
                or any(a in OUT_OF_SCOPE_ACTIONS for a in self.actions))


def turns(events: list[Event]) -> list[Turn]:
    """The patient's messages, each with the actions that followed it."""
    result: list[Turn] = []
    for event in events:
        if event.type == "user":
            result.append(Turn(event))
        elif event.type == "action" and result and event.name:
            result[-1].actions.append(event.name)
    return result


def since_hand_back(events: list[Event]) -> list[Event]:
    """The events after staff last handed the conversation back (all, if never)."""
    for index in range(len(events) - 1, -1, -1):
        if events[index].type == "resume":
            return events[index + 1:]
    return events


def is_paused(events: list[Event]) -> bool:
    """True if the latest pause/resume event is a pause."""
    for event in reversed(events):
        if event.type == "resume" or event.type == "restart" or event.type == "session_started":
            return False
        if event.type == "pause":
            return True
    return False


def reasons(events: list[Event]) -> list[str]:
    """Why this conversation needs a person (empty: it does not), in a fixed order."""
    recent = since_hand_back(events)
    found: list[str] = []
    if any(e.type == "user" and e.intent in URGENT_INTENTS for e in recent) or any(
            e.type == "action" and e.name in URGENT_ACTIONS for e in recent):
        found.append(URGENT)
    if any(e.type == "user" and e.intent in HANDOFF_INTENTS for e in recent) or any(
            e.type == "action" and e.name in HANDOFF_ACTIONS for e in recent):
        found.append(ASKED)
    in_a_row = 0
    for turn in turns(recent):
        in_a_row = in_a_row + 1 if turn.not_understood else 0
        if in_a_row >= 2:
            found.append(NOT_UNDERSTOOD)
            break
    outcome = None
    for event in recent:
        if event.type == "slot" and event.name == "screening_outcome":
            outcome = event.slot_value
    if outcome == "practitioner_review":
        found.append(REVIEW)
    if unrecorded_disclosures(events):
        found.append(DISCLOSURE)
    return found


def unrecorded_disclosures(events: list[Event]) -> list[str]:
    """Contraindication ids the patient disclosed (the safety component's entities with
    the role affirmed or uncertain) that the latest screening answers hold as neither
    "yes" nor "not sure": what a booking's screening summary would wrongly leave out.

    Over the whole conversation, not since hand-back: a disclosure never expires.
    """
    disclosed: list[str] = []
    slots: dict[str, object] = {}
    for event in events:
        if event.type == "slot" and event.name:
            slots[event.name] = event.slot_value
        elif event.type == "user":
            parse = event.data.get("parse_data") or {}
            for entity in parse.get("entities") or []:
                if (isinstance(entity, dict)
                        and entity.get("entity") == CONTRAINDICATION_ENTITY
                        and entity.get("role") in DISCLOSED_ROLES
                        and isinstance(entity.get("value"), str)
                        and entity["value"] not in disclosed):
                    disclosed.append(entity["value"])
    if not disclosed:
        return []
    k = knowledge()
    answers = answers_from_slots(slots, k.screening)
    known = {rule.id for rule in k.screening.contraindications}
    return [rule_id for rule_id in disclosed if rule_id in known
            and coerce_answer(answers.get(rule_id)) not in (Answer.YES, Answer.UNSURE)]


def channel_of(events: list[Event]) -> str:
    """The channel of the latest patient message ("socketio", "twilio", ...)."""
    for event in reversed(events):
        if event.type == "user" and event.input_channel:
            return event.input_channel
    return ""


def channel_label(channel: str) -> str:
    """How the console names a channel."""
    return CHANNELS.get(channel, channel or "unknown")


@dataclass
class Summary:
    """One row of the inbox."""

    sender_id: str
    last_at: dt.datetime
    channel: str
    reasons: list[str]
    messages: int
    preview: str
    paused: bool
    patient: str = ""  # name and number when known
    assigned: str = ""  # the member of staff looking after it
    presence: Presence | None = None  # widget conversations: connected now, last seen

    @property
    def channel_label(self) -> str:
        """"Widget", "SMS", ..."""
        return channel_label(self.channel)


def summarise(sender_id: str, events: list[Event]) -> Summary:
    """The inbox row of one conversation."""
    user_events = [e for e in events if e.type == "user"]
    last = max((e.timestamp for e in events), default=0.0)
    preview = user_events[-1].text if user_events else ""
    return Summary(sender_id, dt.datetime.fromtimestamp(last, dt.timezone.utc),
                   channel_of(events), reasons(events), len(user_events), preview[:140],
                   is_paused(events))


def _candidates_needing_person() -> ColumnElement[bool]:
    return or_(
        and_(EVENTS.c.type_name == "user",
             EVENTS.c.intent_name.in_(HANDOFF_INTENTS + URGENT_INTENTS + FALLBACK_INTENTS)),
        and_(EVENTS.c.type_name == "action",
             EVENTS.c.action_name.in_(HANDOFF_ACTIONS + URGENT_ACTIONS + FALLBACK_ACTIONS)),
        and_(EVENTS.c.type_name == "slot", EVENTS.c.action_name == "screening_outcome",
             EVENTS.c.data.like("%practitioner_review%")),
        # a disclosure: reasons() keeps the conversation only if the answers left it out
        and_(EVENTS.c.type_name == "user",
             EVENTS.c.data.like(f'%"entity": "{CONTRAINDICATION_ENTITY}"%')),
    )


def list_conversations(view: str = "needs", limit: int = 50, days: int = 30,
                       taken_over: set[str] | None = None,
                       now: dt.datetime | None = None,
                       url: str | None = None) -> list[Summary]:
    """Inbox rows, newest first: ``needs`` a person, all ``recent``, or by channel
    (``widget``, ``sms``), over the last ``days`` days."""
    if view not in FILTERS:
        view = "needs"
    taken_over = taken_over or set()
    if not has_events_table(url):
        return []
    now = now or dt.datetime.now(dt.timezone.utc)
    since = (now - dt.timedelta(days=days)).timestamp()
    last = func.max(EVENTS.c.timestamp).label("last")
    query = select(EVENTS.c.sender_id, last).where(EVENTS.c.timestamp >= since)
    if view == "needs":
        flagged = select(EVENTS.c.sender_id).where(EVENTS.c.timestamp >= since,
                                                    _candidates_needing_person())
        candidates = EVENTS.c.sender_id.in_(flagged)
        if taken_over:
            candidates = or_(candidates, EVENTS.c.sender_id.in_(sorted(taken_over)))
        query = query.where(candidates)
    elif view in FILTER_CHANNEL:
        channel = FILTER_CHANNEL[view]
        with_channel = select(EVENTS.c.sender_id).where(
            EVENTS.c.type_name == "user", EVENTS.c.timestamp >= since,
            EVENTS.c.data.like(f'%"input_channel": "{channel}"%'))
        query = query.where(EVENTS.c.sender_id.in_(with_channel))
    query = query.group_by(EVENTS.c.sender_id).order_by(last.desc())
    rows: list[Summary] = []
    offset, batch = 0, max(limit, 50)
    with engine(url).connect() as connection:
        while len(rows) < limit:
            senders = [r.sender_id for r in connection.execute(query.limit(batch).offset(offset))]
            if not senders:
                break
            offset += len(senders)
            events = load_events(senders, url=url)
            for sender in senders:
                summary = summarise(sender, events[sender])
                if sender in taken_over:
                    summary.reasons.insert(0, TAKEN_OVER)
                if view == "needs" and not summary.reasons:
                    continue
                if view in FILTER_CHANNEL and summary.channel != FILTER_CHANNEL[view]:
                    continue
                if summary.messages == 0 and sender not in taken_over:
                    continue  # a session start without a word from the patient
                rows.append(summary)
                if len(rows) >= limit:
                    break
    return rows


@dataclass
class Line:
    """One line of a transcript."""

    id: int
    who: str  # "patient", "assistant", "staff", "note"
    text: str
    at: dt.datetime
    staff_name: str = ""
    buttons: list[str] = field(default_factory=list)


def transcript(events: list[Event]) -> list[Line]:
    """The conversation as staff read it: patient, assistant and staff messages, and
    when staff took over or handed back."""
    lines: list[Line] = []
    for event in events:
        at = dt.datetime.fromtimestamp(event.timestamp, dt.timezone.utc)
        if event.type == "user":
            text = event.text
            if text.startswith("/"):
                text = f"(clicked a button: {text[1:]})"
            lines.append(Line(event.id, "patient", text, at))
        elif event.type == "bot":
            staff = event.metadata.get("clinic_staff")
            buttons = [str(b.get("title", "")) for b in
                       ((event.data.get("data") or {}).get("buttons") or [])
                       if isinstance(b, dict)]
            if staff:
                lines.append(Line(event.id, "staff", event.text, at, str(staff)))
            else:
                lines.append(Line(event.id, "assistant", event.text, at, buttons=buttons))
        elif event.type == "pause":
            lines.append(Line(event.id, "note", "Staff took over: the assistant is paused.", at))
        elif event.type == "resume" and event.metadata.get(HANDLED_KEY):
            lines.append(Line(event.id, "note", f"Marked handled by "
                              f"{event.metadata[HANDLED_KEY]} (nothing was sent to the "
                              "patient).", at))
        elif event.type == "resume":
            lines.append(Line(event.id, "note", "Handed back to the assistant.", at))
    return lines


def screening_summary(events: list[Event]) -> str:
    """The screening answers so far and the outcome, as the booking summary words them
    (empty if the screening never started)."""
    slots: dict[str, object] = {}
    for event in events:
        if event.type == "slot" and event.name:
            slots[event.name] = event.slot_value
        elif event.type in ("restart", "session_started"):
            slots = {}
    k = knowledge()
    answers = answers_from_slots(slots, k.screening)
    if not any(value is not None for value in answers.values()):
        return ""
    return evaluate(answers, k.screening).staff_summary(k, answers)


def bookings_of(sender_id: str) -> list[BookingRequest]:
    """Booking requests made in this conversation, newest first."""
    with read_scope() as session:
        return list(session.execute(
            select(BookingRequest).where(BookingRequest.conversation_id == sender_id)
            .order_by(BookingRequest.created_at.desc())).scalars())


def spoken_number(e164: str) -> str:
    """A phone number as staff dial it ("+1 415-555-0123"); the text itself if it is none."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def patients(rows: list[Summary]) -> dict[str, str]:
    """Who each conversation is with, as far as it is known: the name and number or address
    of a callback request or a booking request, else an SMS conversation's number."""
    ids = [row.sender_id for row in rows]
    found: dict[str, tuple[str, str]] = {}
    with read_scope() as session:
        for booking in session.execute(select(BookingRequest).where(
                BookingRequest.conversation_id.in_(ids)).order_by(
                BookingRequest.created_at)).scalars():
            found[booking.conversation_id] = (booking.name or "", booking.phone_e164 or "")
    for item in callbacks(open_only=False, sender_ids=ids):
        name, number = found.get(item.sender_id, ("", ""))
        found[item.sender_id] = (item.name or name,
                                 item.phone_e164 or item.email or number)
    labels: dict[str, str] = {}
    for row in rows:
        name, number = found.get(row.sender_id, ("", ""))
        if not number and row.channel == "twilio":
            number = row.sender_id
        if number.startswith("+"):
            number = spoken_number(number)
        labels[row.sender_id] = " · ".join(part for part in (name, number) if part)
    return labels


def annotate(rows: list[Summary]) -> None:
    """Fill in each row's patient, assignment and presence, and the reason "call back
    requested" where a callback request is open."""
    ids = [row.sender_id for row in rows]
    names, assigned, seen = patients(rows), assignments(ids), presence(ids)
    open_callbacks = {item.sender_id for item in callbacks(sender_ids=ids)}
    for row in rows:
        row.patient = names.get(row.sender_id, "")
        row.assigned = assigned.get(row.sender_id, "")
        row.presence = seen.get(row.sender_id)
        if row.sender_id in open_callbacks and CALLBACK not in row.reasons:
            row.reasons.insert(0, CALLBACK)
