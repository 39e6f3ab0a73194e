"""The clinic's calendar over CalDAV (``caldav`` and ``icalendar`` from PyPI).

What the assistant needs of a calendar, and nothing more:

- :meth:`CalDAVCalendar.busy`: busy intervals between two moments (every event that is not
  cancelled or marked free, recurring ones expanded);
- :meth:`CalDAVCalendar.hold`: a TENTATIVE event for one visit, written with
  ``If-None-Match: *`` under a name derived from the slot's start, so two writers of the same
  slot cannot both succeed (the second gets :class:`SlotTaken`); before writing, the busy times
  are read again, so an event staff put there by hand also wins;
- :meth:`CalDAVCalendar.set_status`: CONFIRMED (staff confirmed) or removal (declined,
  cancelled, expired).

An event carries the booking reference and the treatment only: no name, no phone number,
no health detail (the screening summary stays in the clinic database).

Any network failure or a calendar slower than ``timeout`` raises :class:`CalendarUnavailable`:
the caller falls back to a booking request and never promises a time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

import caldav
import icalendar
import requests

UTC = dt.timezone.utc
Interval = tuple[dt.datetime, dt.datetime]


class CalendarUnavailable(RuntimeError):
    """The calendar did not answer, answered too slowly, or refused the credentials."""


class SlotTaken(RuntimeError):
    """Someone else holds (or staff blocked) the slot."""


@dataclass(frozen=True)
class HeldEvent:
    uid: str
    href: str


def event_name(calendar_url: str, start: dt.datetime) -> str:
    """The event's resource name for a slot: the same start gives the same name."""
    key = f"{calendar_url}|{start.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return "clinic-" + hashlib.sha256(key.encode()).hexdigest()[:24]


def event_ics(uid: str, start: dt.datetime, end: dt.datetime, reference: str, treatment: str,
              status: str = "TENTATIVE", now: dt.datetime | None = None) -> bytes:
    """An iCalendar VEVENT with only the reference and the treatment (no health details)."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Clinic assistant//appointments//EN")
    cal.add("version", "2.0")
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", (now or dt.datetime.now(UTC)).astimezone(UTC))
    event.add("dtstart", start.astimezone(UTC))
    event.add("dtend", end.astimezone(UTC))
    event.add("summary", f"{treatment} ({reference})")
    event.add("description", f"Booking reference {reference}. Held by the clinic assistant.")
    event.add("status", status)
    event.add("transp", "OPAQUE")
    cal.add_component(event)
    return bytes(cal.to_ical())


def _aware(value: Any, tz: dt.tzinfo) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    # an all-day event: the whole day in the clinic's time zone
    return dt.datetime.combine(value, dt.time(0), tz)


class CalDAVCalendar:
    """One CalDAV calendar collection (its URL) with a user name and password."""

    def __init__(self, url: str, user: str, password: str, timeout: float = 5.0,
                 tz: dt.tzinfo = UTC) -> None:
        self.url = url if url.endswith("/") else url + "/"
        self.tz = tz
        # Basic log-in sent with the first request (not after a 401: servers slow those down)
        self._client = caldav.DAVClient(url=self.url, username=user, password=password,
                                        auth=requests.auth.HTTPBasicAuth(user, password),
                                        timeout=int(max(1, timeout)))
        self._calendar = self._client.calendar(url=self.url)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (SlotTaken, CalendarUnavailable):
            raise
        except (requests.RequestException, caldav.lib.error.DAVError, OSError) as error:
            raise CalendarUnavailable(f"the calendar could not {what}: {type(error).__name__}") \
                from error

    def busy(self, start: dt.datetime, end: dt.datetime) -> list[Interval]:
        """Busy intervals overlapping [start, end), sorted, as aware datetimes."""
        events = self._call("be read", self._calendar.search, start=start, end=end, event=True,
                            expand=True)
        result: list[Interval] = []
        for found in events:
            for component in found.icalendar_instance.walk("VEVENT"):
                status = str(component.get("status", "")).upper()
                if status == "CANCELLED" or str(component.get("transp", "")).upper() == "TRANSPARENT":
                    continue
                begin = _aware(component.decoded("dtstart"), self.tz)
                if component.get("dtend") is not None:
                    finish = _aware(component.decoded("dtend"), self.tz)
                elif component.get("duration") is not None:
                    finish = begin + component.decoded("duration")
                else:
                    finish = begin + (dt.timedelta(days=1)
                                      if not isinstance(component.decoded("dtstart"), dt.datetime)
                                      else dt.timedelta(0))
                if begin < end and finish > start:
                    result.append((begin, finish))
        return sorted(result)

    def hold(self, reference: str, treatment: str, start: dt.datetime, end: dt.datetime,
             uid: str | None = None) -> HeldEvent:
        """Write a TENTATIVE event for [start, end) unless anything overlaps it; SlotTaken if so."""
        if self.busy(start, end):
            raise SlotTaken(f"{start.isoformat()} is busy")
        name = event_name(self.url, start)
        uid = uid or f"{name}@clinic"
        href = f"{self.url}{name}.ics"
        body = event_ics(uid, start, end, reference, treatment)
        response = self._call("be written", self._client.put, href, body,
                              {"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"})
        if response.status == 412:
            raise SlotTaken(f"{start.isoformat()} was just taken")
        if response.status not in (200, 201, 204):
            raise CalendarUnavailable(f"the calendar refused the hold (HTTP {response.status})")
        return HeldEvent(uid=uid, href=href)

    def set_status(self, held: HeldEvent, reference: str, treatment: str, start: dt.datetime,
                   end: dt.datetime, status: str) -> None:
        """Rewrite the held event as CONFIRMED (or TENTATIVE)."""
        body = event_ics(held.uid, start, end, reference, treatment, status=status)
        response = self._call("be written", self._client.put, held.href, body,
                              {"Content-Type": "text/calendar; charset=utf-8"})
        if response.status not in (200, 201, 204):
            raise CalendarUnavailable(f"the calendar refused the change (HTTP {response.status})")

    def release(self, held: HeldEvent) -> None:
        """Remove the event (declined, cancelled, expired, moved): the slot is free again."""
        response = self._call("be written", self._client.delete, held.href)
        if response.status not in (200, 204, 404):
            raise CalendarUnavailable(f"the calendar refused the removal (HTTP {response.status})")

    def events(self) -> list[dict[str, str]]:
        """Every event's UID, STATUS and SUMMARY (staff views and tests)."""
        found = self._call("be read", self._calendar.events)
        result = []
        for item in found:
            for component in item.icalendar_instance.walk("VEVENT"):
                result.append({"uid": str(component.get("uid")),
                               "status": str(component.get("status", "")),
                               "summary": str(component.get("summary", "")),
                               "description": str(component.get("description", "")),
                               "start": component.decoded("dtstart").isoformat()})
        return result


def from_settings() -> CalDAVCalendar:
    """The calendar ``settings.yml`` / ``CLINIC_CALDAV_*`` point at."""
    from clinic.config.settings import settings

    config = settings()
    return CalDAVCalendar(config.caldav_url, config.caldav_user, config.caldav_password,
                          timeout=config.caldav_timeout_seconds, tz=config.tz)
