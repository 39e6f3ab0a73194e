"""What patients ask and how conversations go: the queries behind the insights page.

Each function reads the tracker store and the clinic database as they are (SQLite or
PostgreSQL) for a date range in the clinic's time zone and returns plain rows, which the
page draws (:mod:`clinic.console.charts`) and exports as CSV. Work is done in SQL where
it is counting; only the unanswered questions (whose text is inside the JSON ``data``)
are read row by row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Integer, and_, cast, func, or_, select

from clinic.config.settings import settings
from clinic.console.inbox import (
    FALLBACK_ACTIONS,
    OUT_OF_SCOPE_ACTIONS,
)
from clinic.knowledge.kb import knowledge
from clinic.nlu.callback import ASK_KEY as CALLBACK_KEY
from clinic.nlu.callback import RECORDED as CALLBACK_RECORDED
from clinic.rules.booking import BOOKING_STATUSES
from clinic.store.db import read_scope
from clinic.store.models import BookingRequest, Followup, PromotionRedemption, SmsOptOut
from clinic.store.rasa_events import EVENTS, _event, engine, has_events_table

DAY = 86_400
# Little words that do not make two questions different ("do you do X" ~ "can you do X").
STOPWORDS = frozenset(
    "a an the is are was be do does did can could would will you your i my me we us it "
    "this that to of for in on at and or please hi hello hey there so just any some what "
    "whats how much many".split())
OUTCOMES = ("eligible", "not_suitable_now", "practitioner_review")


EARLIEST_DAY = dt.date(1900, 1, 1)
LATEST_DAY = dt.date(9000, 12, 31)


@dataclass(frozen=True)
class DateRange:
    """Whole days ``start`` to ``end`` (inclusive) in the clinic's time zone."""

    start: dt.date
    end: dt.date

    @classmethod
    def parse(cls, start: str | None, end: str | None, today: dt.date | None = None,
              default_days: int = 30) -> DateRange:
        """From ``YYYY-MM-DD`` strings; bad or missing values give the last 30 days."""
        today = today or _today()

        def day(value: str | None) -> dt.date | None:
            try:
                parsed = dt.date.fromisoformat(value) if value else None
            except ValueError:
                return None
            # Far from the calendar's ends: a day before, a day after and the time zone
            # shift of "0001-01-01" or "9999-12-31" overflowed (a 500 on every page).
            return parsed if parsed is None or EARLIEST_DAY <= parsed <= LATEST_DAY else None

        end_day = day(end) or today
        start_day = day(start) or end_day - dt.timedelta(days=default_days - 1)
        if start_day > end_day:
            start_day, end_day = end_day, start_day
        if (end_day - start_day).days > 366:
            start_day = end_day - dt.timedelta(days=366)
        return cls(start_day, end_day)

    @property
    def days(self) -> list[dt.date]:
        """Every day of the range."""
        return [self.start + dt.timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """The range as aware UTC datetimes [from, to)."""
        tz = settings().tz
        start = dt.datetime.combine(self.start, dt.time(), tz).astimezone(dt.timezone.utc)
        end = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(),
                                  tz).astimezone(dt.timezone.utc)
        return start, end

    def epoch_bounds(self) -> tuple[float, float]:
        """The range as epoch seconds [from, to)."""
        start, end = self.bounds()
        return start.timestamp(), end.timestamp()


def _today() -> dt.date:
    return dt.datetime.now(settings().tz).date()


def _offset_seconds(when: dt.date) -> int:
    moment = dt.datetime.combine(when, dt.time(12), settings().tz)
    return int(moment.utcoffset().total_seconds())  # type: ignore[union-attr]


# --------------------------------------------------------------------------- per day

@dataclass
class DayRow:
    day: dt.date
    conversations: int
    messages: int


def per_day(period: DateRange, url: str | None = None) -> list[DayRow]:
    """Conversations (with at least one patient message) and patient messages per day."""
    counts = {d: DayRow(d, 0, 0) for d in period.days}
    if not has_events_table(url):
        return list(counts.values())
    start, end = period.epoch_bounds()
    # One UTC offset for the whole range (the clinic's at its start): a day boundary may
    # be an hour off across a daylight-saving change, which a daily chart can live with.
    offset = _offset_seconds(period.start)
    day_number = ((cast(EVENTS.c.timestamp, Integer) + offset) / DAY).label("day")
    query = (select(day_number, func.count(func.distinct(EVENTS.c.sender_id)), func.count())
             .where(EVENTS.c.type_name == "user", EVENTS.c.timestamp >= start,
                    EVENTS.c.timestamp < end)
             .group_by(day_number))
    with engine(url).connect() as connection:
        for number, conversations, messages in connection.execute(query):
            day = dt.date(1970, 1, 1) + dt.timedelta(days=int(number))
            if day in counts:
                counts[day].conversations += int(conversations)
                counts[day].messages += int(messages)
    return list(counts.values())


# --------------------------------------------------------------------------- questions

@dataclass
class QuestionGroup:
    """Patient messages the assistant could not answer, grouped by their words."""

    key: str
    example: str
    count: int
    kind: str  # "not understood", "out of scope" or both
    sender_ids: list[str] = field(default_factory=list)
    phrasings: Counter[str] = field(default_factory=Counter)

    @property
    def id(self) -> str:
        """An opaque id of the group for URLs (patients' words never go in a URL)."""
        return hashlib.sha256(self.key.encode("utf-8")).hexdigest()[:16]


def question_key(text: str) -> str:
    """What makes two questions "the same": their words, minus little ones, in order,
    lower case, without punctuation or plural s."""
    words = re.findall(r"[a-z0-9']+", text.lower().replace("’", "'"))
    kept = [w.rstrip("'s") if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
            for w in words if w not in STOPWORDS]
    return " ".join(kept) or " ".join(words)


def unanswered(period: DateRange, url: str | None = None, limit: int = 500
               ) -> list[QuestionGroup]:
    """The patient messages followed by a fallback or an out-of-scope answer, grouped,
    most frequent first.

    What the assistant did decides, not the classifier's guess: a message the classifier
    was unsure of but a form took as its answer ("nah ill be inside" to a screening
    question, "its jess, jessica tran" for a name) was understood, and so was one that
    answered the offer of a call back (its reply is marked ``clinic_callback: recorded``).
    """
    if not has_events_table(url):
        return []
    start, end = period.epoch_bounds()
    in_range = and_(EVENTS.c.timestamp >= start, EVENTS.c.timestamp < end)
    answer_actions = FALLBACK_ACTIONS + OUT_OF_SCOPE_ACTIONS
    kinds: dict[int, set[str]] = defaultdict(set)
    with engine(url).connect() as connection:
        # Only conversations with a fallback or out-of-scope answer in the range are walked,
        # event by event (ids only), to find the patient message each answer followed.
        fell_back = select(EVENTS.c.sender_id).where(
            EVENTS.c.type_name == "action", EVENTS.c.action_name.in_(answer_actions), in_range)
        recorded = and_(EVENTS.c.type_name == "bot",
                        EVENTS.c.data.like(f'%"{CALLBACK_KEY}": "{CALLBACK_RECORDED}"%'))
        walk = (select(EVENTS.c.id, EVENTS.c.sender_id, EVENTS.c.type_name,
                       EVENTS.c.action_name)
                .where(EVENTS.c.sender_id.in_(fell_back), in_range,
                       or_(EVENTS.c.type_name.in_(("user", "action")), recorded))
                .order_by(EVENTS.c.sender_id, EVENTS.c.id))
        last_user: dict[str, int] = {}
        for event_id, sender, kind, action in connection.execute(walk):
            if kind == "user":
                last_user[sender] = int(event_id)
            elif kind == "bot" and sender in last_user:
                kinds.pop(last_user[sender], None)  # the details of a call back request
            elif action in answer_actions and sender in last_user:
                kinds[last_user[sender]].add("out of scope" if action in OUT_OF_SCOPE_ACTIONS
                                             else "not understood")
        rows = []
        ids = sorted(kinds)
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start:chunk_start + 500]
            rows += list(connection.execute(select(EVENTS).where(EVENTS.c.id.in_(chunk),
                                                                 in_range)))
    groups: dict[str, QuestionGroup] = {}
    for row in rows:
        event = _event(row)
        text = " ".join(event.text.split())
        if not text or text.startswith("/"):
            continue  # button payloads are not questions
        key = question_key(text)
        group = groups.get(key)
        if group is None:
            group = groups[key] = QuestionGroup(key, text, 0, "")
        group.count += 1
        group.phrasings[text[:200]] += 1
        if event.sender_id not in group.sender_ids:
            group.sender_ids.append(event.sender_id)
        found = set(group.kind.split(" and ")) - {""} | kinds[event.id]
        group.kind = " and ".join(sorted(found))
    for group in groups.values():
        group.example = group.phrasings.most_common(1)[0][0]
    ordered = sorted(groups.values(), key=lambda g: (-g.count, g.example.lower()))
    return ordered[:limit]


# --------------------------------------------------------------------------- funnel

@dataclass
class Funnel:
    started: int = 0
    completed: int = 0
    eligible: int = 0
    not_suitable_now: int = 0
    practitioner_review: int = 0

    def rows(self) -> list[tuple[str, int]]:
        return [("Screening started", self.started), ("Completed", self.completed),
                ("Eligible", self.eligible), ("Not now", self.not_suitable_now),
                ("Practitioner review", self.practitioner_review)]


def funnel(period: DateRange, url: str | None = None) -> Funnel:
    """Conversations that started the screening questions, finished them, and how."""
    result = Funnel()
    if not has_events_table(url):
        return result
    start, end = period.epoch_bounds()
    in_range = and_(EVENTS.c.timestamp >= start, EVENTS.c.timestamp < end)
    with engine(url).connect() as connection:
        result.started = int(connection.execute(
            select(func.count(func.distinct(EVENTS.c.sender_id))).where(
                EVENTS.c.type_name == "active_loop", EVENTS.c.action_name == "screening_form",
                in_range)).scalar_one())
        for outcome in OUTCOMES:
            count = connection.execute(
                select(func.count(func.distinct(EVENTS.c.sender_id))).where(
                    EVENTS.c.type_name == "slot", EVENTS.c.action_name == "screening_outcome",
                    EVENTS.c.data.like(f'%"value": "{outcome}"%'), in_range)).scalar_one()
            setattr(result, outcome, int(count))
    result.completed = result.eligible + result.not_suitable_now + result.practitioner_review
    return result


# --------------------------------------------------------------------------- clinic database

def bookings(period: DateRange) -> list[tuple[str, int]]:
    """Booking requests in the range, by status, and promotion redemptions by code."""
    start, end = period.bounds()
    with read_scope() as session:
        by_status = dict(session.execute(
            select(BookingRequest.status, func.count()).where(
                BookingRequest.created_at >= start, BookingRequest.created_at < end)
            .group_by(BookingRequest.status)).all())
        redeemed = dict(session.execute(
            select(PromotionRedemption.code, func.count()).where(
                PromotionRedemption.redeemed_at >= start, PromotionRedemption.redeemed_at < end)
            .group_by(PromotionRedemption.code)).all())
    rows = [("Booking requests", sum(by_status.values()))]
    rows += [(f"… {status}", int(by_status.get(status, 0))) for status in BOOKING_STATUSES]

    codes = [p.code for p in knowledge().promotions] or ["FACIAL50"]
    rows += [(f"{code} redemptions", int(redeemed.get(code, 0))) for code in codes]
    return rows


def sms_followups(period: DateRange) -> list[tuple[str, int]]:
    """Aftercare texts sent and failed, and numbers that opted out, in the range."""
    start, end = period.bounds()
    with read_scope() as session:
        sent = session.execute(select(func.count()).select_from(Followup).where(
            Followup.status == "sent", Followup.sent_at >= start, Followup.sent_at < end)
        ).scalar_one()
        failed = session.execute(select(func.count()).select_from(Followup).where(
            Followup.status == "failed", Followup.due_at >= start, Followup.due_at < end)
        ).scalar_one()
        opted_out = session.execute(select(func.count()).select_from(SmsOptOut).where(
            SmsOptOut.opted_out.is_(True), SmsOptOut.changed_at >= start,
            SmsOptOut.changed_at < end)).scalar_one()
    return [("Follow-ups sent", int(sent)), ("Follow-ups failed", int(failed)),
            ("Numbers opted out", int(opted_out))]


def conversations_of_group(period: DateRange, group_id: str, url: str | None = None
                           ) -> QuestionGroup | None:
    """The question group with this opaque id, if it has messages in the range."""
    for group in unanswered(period, url):
        if group.id == group_id:
            return group
    return None

