"""Free appointment times, and what a person means by "thursday after 3": pure decisions.

No I/O here: the caller passes the calendar's busy intervals, the opening hours
(:func:`clinic.rules.hours.parse_hours` of knowledge/clinic.yml), the visit's length and buffer
(knowledge/appointments.yml), the clinic's time zone and the current time.

Times are generated as wall-clock times of the clinic's day and converted with ``zoneinfo``,
so a visit at 9 am stays at 9 am across a daylight-saving change; a wall time that does not
exist (the spring-forward gap) is never offered, and a visit must fit in real elapsed time
before closing (a 60-minute visit across the autumn fall-back hour is 60 real minutes).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dateparser

from clinic.rules.hours import DAYS, Hours

UTC = dt.timezone.utc
Interval = tuple[dt.datetime, dt.datetime]

MORNING = (dt.time(0), dt.time(12))
# A visit at 12 noon is nobody's "afternoon": afternoons start with the next slot (12:30).
AFTERNOON = (dt.time(12, 1), dt.time(17))
EVENING = (dt.time(17), dt.time(23, 59))


@dataclass(frozen=True)
class Window:
    """When the person would like to come: dates, weekdays and a time-of-day range."""

    first_day: dt.date
    last_day: dt.date
    weekdays: frozenset[int] | None = None  # 0 = Monday; None: any day
    earliest: dt.time | None = None  # the visit starts at or after this wall time
    latest: dt.time | None = None  # ... and before this one

    def admits(self, start: dt.datetime) -> bool:
        day, time = start.date(), start.time().replace(tzinfo=None)
        if not self.first_day <= day <= self.last_day:
            return False
        if self.weekdays is not None and day.weekday() not in self.weekdays:
            return False
        if self.earliest is not None and time < self.earliest:
            return False
        return not (self.latest is not None and time >= self.latest)


def _exists(local: dt.datetime, tz: dt.tzinfo) -> bool:
    """False for a wall time in the spring-forward gap (it round-trips to another time)."""
    back = local.astimezone(UTC).astimezone(tz)
    return back.replace(tzinfo=None) == local.replace(tzinfo=None)


def _overlaps(start: dt.datetime, end: dt.datetime, busy: Iterable[Interval]) -> bool:
    return any(b_start < end and b_end > start for b_start, b_end in busy)


def free_slots(*, hours: Hours, busy: Sequence[Interval], window: Window, duration: dt.timedelta,
               buffer: dt.timedelta, step: dt.timedelta, tz: dt.tzinfo, now: dt.datetime,
               notice: dt.timedelta = dt.timedelta(0), limit: int | None = None
               ) -> list[dt.datetime]:
    """Start times (aware, in ``tz``) of visits that fit: open, free with the buffer on both
    sides, inside ``window``, at least ``notice`` after ``now``; the earliest first."""
    earliest_start = now + notice
    busy_sorted = sorted((s.astimezone(UTC), e.astimezone(UTC)) for s, e in busy)
    result: list[dt.datetime] = []
    day = window.first_day
    while day <= window.last_day:
        for opens, closes in sorted(hours.get(day.weekday(), [])):
            closing = dt.datetime.combine(day, closes, tz)
            wall = dt.datetime.combine(day, opens)
            while wall.time() < closes and wall.date() == day:
                local = wall.replace(tzinfo=tz)
                wall += step
                if not _exists(local, tz) or not window.admits(local):
                    continue
                start = local.astimezone(UTC)
                end = start + duration
                if start < earliest_start or end > closing.astimezone(UTC):
                    continue
                if _overlaps(start - buffer, end + buffer, busy_sorted):
                    continue
                result.append(start.astimezone(tz))
                if limit is not None and len(result) >= limit:
                    return result
        day += dt.timedelta(days=1)
    return result


def spread(slots: Sequence[dt.datetime], count: int) -> list[dt.datetime]:
    """``count`` offers from ``slots``: the earliest, then one per following day where possible,
    so "next week" does not offer 9:00, 9:30 and 10:00 of Monday only."""
    chosen: list[dt.datetime] = []
    seen_days: set[dt.date] = set()
    for slot in slots:
        if slot.date() not in seen_days:
            chosen.append(slot)
            seen_days.add(slot.date())
        if len(chosen) == count:
            return chosen
    for slot in slots:
        if slot not in chosen:
            chosen.append(slot)
        if len(chosen) == count:
            break
    return sorted(chosen)


# ------------------------------------------------------------------ what the person said
_DAY_WORD = re.compile(r"\b(mon|tue|tues|wed|weds|thu|thur|thurs|fri|sat|sun)"
                       r"(?:day|nesday|rsday|urday|sday)?s?\b", re.IGNORECASE)
_AFTER = re.compile(r"\b(?:after|from|later than)\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)?", re.IGNORECASE)
_BEFORE = re.compile(r"\b(?:before|by|until|no later than)\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)?",
                     re.IGNORECASE)
_ASAP = re.compile(r"\b(asap|a\.s\.a\.p|as soon as|soonest|earliest|first available|next available|"
                   r"any ?time|whenever|anything)\b", re.IGNORECASE)


def _clock(hour: int, minute: int, half: str | None) -> dt.time | None:
    """A spoken hour as a wall time: "3" is 3 pm at a clinic (1 to 7 without am/pm)."""
    if hour > 23 or minute > 59:
        return None
    half = (half or "").lower()
    if half == "pm" and hour < 12:
        hour += 12
    elif half == "am" and hour == 12:
        hour = 0
    elif not half and 1 <= hour <= 7:
        hour += 12
    return dt.time(hour, minute)


def parse_window(text: str, now: dt.datetime, tz: dt.tzinfo, horizon_days: int = 28) -> Window | None:
    """The window "thursday after 3", "next week mornings", "asap", "tuesday or thursday
    afternoons", "march 12", "tomorrow" describe, seen from ``now``; None if none of it is
    about a time."""
    local_now = now.astimezone(tz)
    today = local_now.date()
    lowered = (text or "").lower()
    first, last = today, today + dt.timedelta(days=horizon_days)
    understood = False

    weekdays = {DAYS.index(next(d for d in DAYS if d.startswith(m.group(1).lower()[:3])))
                for m in _DAY_WORD.finditer(lowered)}
    if weekdays:
        understood = True

    if re.search(r"\bnext week\b", lowered):
        monday = today + dt.timedelta(days=7 - today.weekday())
        first, last, understood = monday, monday + dt.timedelta(days=6), True
    elif re.search(r"\bthis week\b", lowered):
        last, understood = today + dt.timedelta(days=6 - today.weekday()), True
    elif re.search(r"\b(this )?weekend\b", lowered):
        weekdays |= {5, 6}
        understood = True
    elif re.search(r"\btomorrow\b", lowered):
        first = last = today + dt.timedelta(days=1)
        understood = True
    elif re.search(r"\btoday\b", lowered):
        first = last = today
        understood = True
    elif re.search(r"\bnext month\b", lowered):
        first = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        understood = True
    elif re.search(r"\b(in )?(a |two |2 )?(couple of )?weeks?\b|\bfortnight\b", lowered) and \
            not weekdays:
        first, understood = today + dt.timedelta(days=7), True
    elif not weekdays and re.search(r"\d|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec", lowered):
        stripped = _AFTER.sub(" ", _BEFORE.sub(" ", lowered))
        stripped = re.sub(r"\b(mornings?|afternoons?|evenings?|on|the|please|at)\b", " ", stripped)
        found = dateparser.parse(
            stripped.strip(),
            settings={"PREFER_DATES_FROM": "future", "RELATIVE_BASE": local_now.replace(tzinfo=None),
                      "REQUIRE_PARTS": ["day"], "PREFER_DAY_OF_MONTH": "first"},
            languages=["en"]) if stripped.strip() else None
        if found is not None and today <= found.date() <= today + dt.timedelta(days=366):
            first = last = found.date()
            understood = True

    earliest: dt.time | None = None
    latest: dt.time | None = None
    parts = [span for pattern, span in ((r"\bmornings?\b", MORNING), (r"\bafternoons?\b", AFTERNOON),
                                         (r"\bevenings?\b|\bafter work\b", EVENING))
             if re.search(pattern, lowered)]
    if parts:
        earliest, latest = min(p[0] for p in parts), max(p[1] for p in parts)
    after = _AFTER.search(lowered)
    if after:
        earliest = _clock(int(after.group(1)), int(after.group(2) or 0), after.group(3))
    before = _BEFORE.search(lowered)
    if before:
        latest = _clock(int(before.group(1)), int(before.group(2) or 0), before.group(3))
    if earliest is not None or latest is not None:
        understood = True
    if _ASAP.search(lowered):
        understood = True
    if not understood:
        return None
    return Window(first, last, frozenset(weekdays) or None, earliest, latest)


# ------------------------------------------------------------------ which offered time
_ORDINALS = {"first": 1, "1st": 1, "one": 1, "second": 2, "2nd": 2, "two": 2, "third": 3, "3rd": 3,
             "three": 3, "fourth": 4, "4th": 4, "four": 4, "fifth": 5, "5th": 5, "five": 5}
_TIME_SAID = re.compile(r"\b(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?(?!\S*\d)", re.IGNORECASE)


def choose(text: str, offered: Sequence[dt.datetime]) -> dt.datetime | None:
    """The offered time ``text`` picks: "the second one", "2", "last", "4:30", "thursday 10am",
    or the time itself as a button sends it (ISO format). None if it picks none or several."""
    said = (text or "").strip().lower()
    if not offered or not said:
        return None
    for slot in offered:
        if said == slot.isoformat().lower():
            return slot
    if re.search(r"\b(last|latest)\b", said) and not re.search(r"\d", said):
        return offered[-1]
    ordinal = re.fullmatch(r"(?:the |option |number |no\.? |#)?(\w+)(?: one| option| time| slot)?"
                           r"(?: please)?[.!]?", said)
    if ordinal and ordinal.group(1) in _ORDINALS:
        index = _ORDINALS[ordinal.group(1)]
        return offered[index - 1] if index <= len(offered) else None
    if ordinal and ordinal.group(1).isdigit() and int(ordinal.group(1)) <= len(offered) \
            and len(offered) < 8 and not re.search(r"am|pm|:", said):
        return offered[int(ordinal.group(1)) - 1]
    candidates = list(offered)
    days = {DAYS.index(next(d for d in DAYS if d.startswith(m.group(1).lower()[:3])))
            for m in _DAY_WORD.finditer(said)}
    if days:
        candidates = [slot for slot in candidates if slot.weekday() in days]
    time = _TIME_SAID.search(said)
    if time:
        hour, minute = int(time.group(1)), int(time.group(2) or 0)
        half = (time.group(3) or "").replace(".", "")
        candidates = [slot for slot in candidates
                      if slot.minute == minute and (
                          slot.hour == hour if half == "am" or (not half and hour > 12)
                          else slot.hour == hour + 12 if half == "pm" and hour < 12
                          else slot.hour % 12 == hour % 12)]
    elif not days:
        return None
    return candidates[0] if len(candidates) == 1 else None


def spoken_slot(start: dt.datetime) -> str:
    """'Thursday 12 March 2031 at 4:30 pm': the date spelled out, in the slot's own zone."""
    hour = start.hour % 12 or 12
    minute = f":{start.minute:02d}" if start.minute else ""
    return (f"{DAYS[start.weekday()].capitalize()} {start.day} {start:%B %Y} at "
            f"{hour}{minute} {'am' if start.hour < 12 else 'pm'}")
