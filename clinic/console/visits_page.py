"""The console's visits page: a day's or a week's visits with their state, the booking's
promotion and screening summary, and confirm / decline / propose / cancel (issue 20).

Thin over :mod:`clinic.services.appointments`; the console's middleware checks the log-in, the
origin and the CSRF token of every form. Viewing the page is written to the audit log.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from functools import partial
from typing import Any

from aiohttp import web

from clinic.config.settings import settings
from clinic.console import security
from clinic.services import appointments
from clinic.store.caldav_calendar import CalendarUnavailable

NOTICES = {
    "confirmed": "Confirmed. The patient gets a text if they agreed to texts.",
    "declined": "Declined; the time is free again. The patient gets a text if they agreed.",
    "cancelled": "Cancelled; the time is free again.",
    "proposed": "The new time is held; confirm it when the patient agrees.",
    "taken": "Not done: that time is not free.",
    "calendar": "Not done: the clinic's calendar did not answer. Nothing was changed.",
    "refused": "Not done: the visit is no longer in a state that allows this.",
    "bad_time": "Not done: write the time like 2031-03-07T14:00.",
    "no_show": "Marked as a no-show.",
    "treated": "Marked as treated.",
}
PATIENT_NOTES = appointments.PATIENT_NOTES


def _first_day(request: web.Request) -> tuple[dt.date, int]:
    tz = settings().tz
    try:
        day = dt.date.fromisoformat(request.query.get("day", ""))
    except ValueError:
        day = dt.datetime.now(tz).date()
    if request.query.get("span") == "week":
        return day - dt.timedelta(days=day.weekday()), 7
    return day, 1


Render = Callable[..., web.Response]


async def visits_view(request: web.Request, render: Render) -> web.Response:
    logged_in: security.LoggedIn = request["logged_in"]
    first, days = _first_day(request)
    tz = settings().tz
    start = dt.datetime.combine(first, dt.time(0), tz)
    end = dt.datetime.combine(first + dt.timedelta(days=days), dt.time(0), tz)
    rows = await asyncio.to_thread(appointments.visits, start, end)
    await asyncio.to_thread(security.audit, logged_in.staff, "view", None,
                            f"visits from {first} for {days} day(s)")
    return render(request, "visits.html", rows=rows, first=first, days=days,
                  span="week" if days == 7 else "day",
                  previous=first - dt.timedelta(days=days), following=first + dt.timedelta(days=days),
                  notice=NOTICES.get(request.query.get("notice", ""), ""),
                  patient_notes=PATIENT_NOTES)


async def visit_action(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    action = request.match_info["action"]
    try:
        appointment_id = int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    try:
        day = dt.date.fromisoformat(str(form.get("day", ""))).isoformat()
    except ValueError:
        day = ""
    span = "week" if str(form.get("span", "")) == "week" else "day"
    back = f"/visits?day={day}&span={span}"
    notice = await asyncio.to_thread(_act, action, appointment_id, str(form.get("when", "")))
    logged_in: security.LoggedIn = request["logged_in"]
    await asyncio.to_thread(appointments.audit_staff_action, action, appointment_id,
                            logged_in.staff.id, logged_in.staff.email, notice)
    if notice in ("confirmed", "declined"):  # an open widget tab hears it at once
        from clinic.services.visit_notify import tell_in_widget

        await tell_in_widget(appointment_id, notice)
    raise web.HTTPSeeOther(f"{back}&notice={notice}")


def _act(action: str, appointment_id: int, when: str) -> str:
    scheduler = appointments.default_scheduler()
    try:
        if action == "confirm":
            appointments.confirm(scheduler, appointment_id)
            return "confirmed"
        if action in ("decline", "cancel"):
            appointments.release(scheduler, appointment_id,
                                 "declined" if action == "decline" else "cancelled")
            return "declined" if action == "decline" else "cancelled"
        if action == "no-show":
            appointments.mark_no_show(appointment_id)
            return "no_show"
        if action == "treated":
            appointments.mark_treated(appointment_id)
            return "treated"
        if action == "propose":
            try:
                start = dt.datetime.fromisoformat(when)
            except ValueError:
                return "bad_time"
            start = start.replace(tzinfo=settings().tz) if start.tzinfo is None else start
            result = appointments.reschedule(scheduler, appointment_id, start)
            return {"held": "proposed", "taken": "taken"}.get(result.outcome, "calendar")
    except appointments.NotAllowed:
        return "refused"
    except CalendarUnavailable:
        return "calendar"
    raise web.HTTPNotFound()


def register(app: web.Application, render: Render) -> None:
    """Add the page to the console; ``render`` is the console's page renderer."""
    app.router.add_get("/visits", partial(visits_view, render=render))
    app.router.add_post(
        r"/visits/{id:\d+}/{action:confirm|decline|cancel|propose|no-show|treated}", visit_action)


__all__: list[Any] = ["register"]
