"""Staff commands for visits in the clinic's calendar (``clinic visits ...``).

    clinic visits list [--day DATE | --week DATE]   visits with state, promotion, screening
    clinic visits confirm ID                        held -> confirmed (calendar CONFIRMED, SMS)
    clinic visits decline ID                        the time is freed, the patient is told
    clinic visits propose ID WHEN                   hold another time instead (e.g. 2031-03-07T14:00)
    clinic visits cancel ID                         the time is freed
    clinic visits no-show ID                        the person did not come
    clinic visits work [--loop SECONDS]             retry claims the calendar missed, expire holds

Registered by :func:`register` into ``clinic`` (clinic/cli/commands.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import time
from typing import Any

from clinic.cli.output import EXIT_FAILED, EXIT_OK, CommandError, clip, local_time, table
from clinic.config.settings import settings
from clinic.rules.availability import spoken_slot
from clinic.services import appointments
from clinic.store.caldav_calendar import CalendarUnavailable

log = logging.getLogger(__name__)


def _day(text: str | None) -> dt.date:
    if not text:
        return dt.datetime.now(settings().tz).date()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"not a date: {text!r} (write it like 2031-03-04)") from None


def _note(row: appointments.VisitRow) -> str:
    """Why staff must act, and what the patient did themselves (newest first)."""
    told = [f"{appointments.PATIENT_NOTES.get(kind, kind)} {local_time(at)}"
            for at, kind in row.patient_notes]
    return "; ".join(part for part in (row.flagged, *told) if part)


def cmd_list(args: argparse.Namespace) -> int:
    tz = settings().tz
    if args.week:
        first = _day(args.week)
        first -= dt.timedelta(days=first.weekday())
        days = 7
    else:
        first, days = _day(args.day), 1
    start = dt.datetime.combine(first, dt.time(0), tz)
    end = dt.datetime.combine(first + dt.timedelta(days=days), dt.time(0), tz)
    rows = appointments.visits(start, end)
    if not rows:
        print(f"No visits from {first} for {days} day(s).")
        return EXIT_OK
    print(table(("id", "when", "state", "reference", "name", "treatment", "promotion", "screening",
                 "note"),
                [(r.appointment_id, local_time(r.starts_at), r.state, r.reference, r.name,
                  r.treatment, r.promotion, clip(r.screening_summary, 40), _note(r))
                 for r in rows],
                max_widths={4: 24, 8: 40}))
    print(f"\n{len(rows)} visit(s).")
    return EXIT_OK


def _run(action: str, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except appointments.NotAllowed as error:
        raise CommandError(f"can't {action}: {error}") from None
    except CalendarUnavailable as error:
        raise CommandError(f"can't {action}: {error}; nothing was changed, try again") from None


def _audit(action: str, appointment_id: int, outcome: str) -> None:
    """The audit log names the command line and the system user, as the console names staff."""
    import getpass

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    appointments.audit_staff_action(action, appointment_id, None, f"cli:{user}"[:254], outcome)


def _tell(appointment_id: int, kind: str) -> None:
    """The widget tab that booked, if still open, hears it too (never fails the command)."""
    import asyncio

    from clinic.services.visit_notify import tell_in_widget

    try:
        asyncio.run(tell_in_widget(appointment_id, kind))
    except Exception as error:  # noqa: BLE001 - the staff action is done; the SMS text is queued
        log.info("Visit news not pushed to the widget: %s", type(error).__name__)


def cmd_confirm(args: argparse.Namespace) -> int:
    _run("confirm", appointments.confirm, appointments.default_scheduler(), args.id)
    _audit("confirm", args.id, "confirmed")
    _tell(args.id, "confirmed")
    print(f"Visit {args.id} confirmed; the patient is told by text if they agreed to texts.")
    return EXIT_OK


def cmd_decline(args: argparse.Namespace) -> int:
    _run("decline", appointments.release, appointments.default_scheduler(), args.id, "declined")
    _audit("decline", args.id, "declined")
    _tell(args.id, "declined")
    print(f"Visit {args.id} declined; its time is free again.")
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    _run("cancel", appointments.release, appointments.default_scheduler(), args.id, "cancelled")
    _audit("cancel", args.id, "cancelled")
    print(f"Visit {args.id} cancelled; its time is free again.")
    return EXIT_OK


def cmd_no_show(args: argparse.Namespace) -> int:
    _run("mark a no-show", appointments.mark_no_show, args.id)
    _audit("no_show", args.id, "no_show")
    print(f"Visit {args.id} marked as a no-show.")
    return EXIT_OK


def cmd_treated(args: argparse.Namespace) -> int:
    _run("mark treated", appointments.mark_treated, args.id)
    _audit("treated", args.id, "treated")
    print(f"Visit {args.id} marked as treated.")
    return EXIT_OK


def cmd_propose(args: argparse.Namespace) -> int:
    tz = settings().tz
    try:
        when = dt.datetime.fromisoformat(args.when)
    except ValueError:
        raise CommandError(f"not a time: {args.when!r} (write it like 2031-03-07T14:00)") from None
    when = when.replace(tzinfo=tz) if when.tzinfo is None else when
    result = _run("propose", appointments.reschedule, appointments.default_scheduler(), args.id,
                  when)
    _audit("propose", args.id, result.outcome)
    if result.outcome == appointments.HELD:
        print(f"Visit moved to {spoken_slot(result.start)} and held; confirm it when the patient "
              f"agrees (visit {result.appointment_id}).")
        return EXIT_OK
    if result.outcome == appointments.TAKEN:
        free = ", ".join(spoken_slot(s) for s in result.alternatives) or "none found"
        print(f"That time is taken. Free: {free}.")
        return EXIT_FAILED
    print("The calendar did not answer; nothing was changed.")
    return EXIT_FAILED


def cmd_work(args: argparse.Namespace) -> int:
    if args.loop is None:
        print(f"Appointments worker: {appointments.work_once(appointments.default_scheduler())}")
        return EXIT_OK
    while True:  # `make run`'s worker: a failed round is logged, the next one comes
        try:
            counts = appointments.work_once(appointments.default_scheduler())
            if any(counts.values()):
                log.info("Appointments worker: %s", counts)
        except Exception:  # the database may be restarting: the next round comes
            log.exception("Appointments worker round failed")
        time.sleep(args.loop)


def register(subparsers: Any) -> None:
    visits = subparsers.add_parser("visits", help="visits in the clinic's calendar")
    actions = visits.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    listing = actions.add_parser("list", help="a day's (default today) or a week's visits")
    when = listing.add_mutually_exclusive_group()
    when.add_argument("--day", metavar="DATE")
    when.add_argument("--week", metavar="DATE", help="the week (Monday to Sunday) of DATE")
    listing.set_defaults(func=cmd_list)
    for name, func, text in (("confirm", cmd_confirm, "confirm a held visit"),
                             ("decline", cmd_decline, "decline a held visit"),
                             ("cancel", cmd_cancel, "cancel a visit"),
                             ("no-show", cmd_no_show, "the person did not come"),
                             ("treated", cmd_treated, "the person came and was treated")):
        parser = actions.add_parser(name, help=text)
        parser.add_argument("id", type=int, metavar="ID")
        parser.set_defaults(func=func)
    propose = actions.add_parser("propose", help="hold another time for the visit instead")
    propose.add_argument("id", type=int, metavar="ID")
    propose.add_argument("when", metavar="WHEN", help="clinic time, e.g. 2031-03-07T14:00")
    propose.set_defaults(func=cmd_propose)
    work = actions.add_parser("work", help="retry calendar writes, release expired holds")
    work.add_argument("--loop", type=float, metavar="SECONDS", help="repeat every SECONDS")
    work.set_defaults(func=cmd_work)
