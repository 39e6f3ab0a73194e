"""The clinic's opening hours, read from the wording in ``knowledge/clinic.yml``.

``hours`` stays one sentence staff write for patients ("Monday to Friday 9 am to 6 pm,
Saturday 10 am to 2 pm"); this module reads the same sentence, so there is no second
copy to keep in step. Understood: day names (or three-letter abbreviations), day ranges
with "to", "-" or "through", lists with "," / "and", and times like "9 am", "9:30am",
"18:00", joined by "to" or "-". Parts it cannot read make :func:`parse_hours` raise
``ValueError`` (a test checks the clinic's own sentence).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_DAY = r"(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*\.?"
_TIME = r"(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?"
_SEGMENT = re.compile(
    rf"(?P<days>{_DAY}(?:\s*(?:to|through|-|–|,|and|&)\s*{_DAY})*)\s*:?\s*"
    rf"(?P<open>{_TIME})\s*(?:to|-|–|until)\s*(?P<close>{_TIME})", re.IGNORECASE)

Hours = dict[int, list[tuple[dt.time, dt.time]]]


def _day_index(word: str) -> int:
    prefix = word.lower()[:3]
    return next(i for i, name in enumerate(DAYS) if name.startswith(prefix))


def _time(text: str) -> dt.time:
    match = re.fullmatch(_TIME, text.strip(), re.IGNORECASE)
    if not match:
        raise ValueError(f"cannot read the time {text!r}")
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), (match.group(3) or "")
    half = half.lower().replace(".", "")
    if half == "pm" and hour < 12:
        hour += 12
    if half == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        raise ValueError(f"cannot read the time {text!r}")
    return dt.time(hour, minute)


def _days(text: str) -> list[int]:
    tokens = re.findall(rf"{_DAY}|to|through|-|–", text, re.IGNORECASE)
    result: list[int] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if re.fullmatch(_DAY, token, re.IGNORECASE):
            day = _day_index(token)
            if (index + 2 < len(tokens) and tokens[index + 1].lower() in ("to", "through", "-", "–")):
                last = _day_index(tokens[index + 2])
                span = range(day, last + 1) if last >= day else [*range(day, 7), *range(0, last + 1)]
                result.extend(span)
                index += 3
                continue
            result.append(day)
        index += 1
    return result


def parse_hours(text: str) -> Hours:
    """Opening times per weekday (0 = Monday) from the clinic's sentence."""
    hours: Hours = {}
    for match in _SEGMENT.finditer(text or ""):
        opens, closes = _time(match.group("open")), _time(match.group("close"))
        if closes <= opens:
            raise ValueError(f"closing time before opening time in {match.group(0)!r}")
        for day in _days(match.group("days")):
            hours.setdefault(day, []).append((opens, closes))
    if not hours:
        raise ValueError(f"no opening hours found in {text!r}; write them like "
                         "'Monday to Friday 9 am to 6 pm, Saturday 10 am to 2 pm'")
    return hours


@dataclass(frozen=True)
class Availability:
    """Whether staff are in now, and if not, when they next are."""

    open_now: bool
    next_opening: dt.datetime | None  # clinic-local time; None when open or unknown


def availability(hours_text: str, now: dt.datetime, tz: dt.tzinfo) -> Availability | None:
    """Open now? Next opening? None if the hours cannot be read."""
    try:
        hours = parse_hours(hours_text)
    except ValueError:
        return None
    local = now.astimezone(tz)
    for opens, closes in hours.get(local.weekday(), []):
        if opens <= local.time() < closes:
            return Availability(True, None)
    for ahead in range(0, 8):
        day = local.date() + dt.timedelta(days=ahead)
        for opens, _ in sorted(hours.get(day.weekday(), [])):
            moment = dt.datetime.combine(day, opens, tz)
            if moment > local:
                return Availability(False, moment)
    return Availability(False, None)


def spoken_time(moment: dt.datetime, now: dt.datetime) -> str:
    """'today at 9 am', 'tomorrow at 10:30 am', 'Monday at 9 am'."""
    local_now = now.astimezone(moment.tzinfo)
    if moment.date() == local_now.date():
        day = "today"
    elif moment.date() == local_now.date() + dt.timedelta(days=1):
        day = "tomorrow"
    else:
        day = DAYS[moment.weekday()].capitalize()
    hour = moment.hour % 12 or 12
    minute = f":{moment.minute:02d}" if moment.minute else ""
    return f"{day} at {hour}{minute} {'am' if moment.hour < 12 else 'pm'}"


def now() -> dt.datetime:
    """The current time (tests replace this)."""
    return dt.datetime.now(dt.timezone.utc)
