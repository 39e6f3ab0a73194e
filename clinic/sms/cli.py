"""Staff commands for aftercare texts, added to the ``clinic`` tool by :func:`register`.

- ``clinic followups list [--status S] [--phone P] [--booking REF]``: scheduled, sent,
  failed ... texts, soonest first, as a table.
- ``clinic followups cancel --phone P | --booking REF``: cancel what is still scheduled.
- ``clinic outbox list [--all]``: texts written to the local outbox (NOT sent), or with
  ``--all`` the whole SMS log (inbound and outbound).
- ``clinic sms send-due``: one sender pass now.

Every command returns a process exit code (0 done; 1 not found, invalid input or database
unavailable), as the rest of the staff tool does. Times are shown in the clinic's time zone.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sqlalchemy import select

from clinic.cli.output import table
from clinic.config.settings import settings
from clinic.rules.booking import normalize_phone, normalize_reference
from clinic.services.booking import find_booking
from clinic.sms.schedule import cancel_followups
from clinic.sms.sender import send_due
from clinic.store.db import DatabaseUnavailable, read_scope, session_scope
from clinic.store.models import (
    FOLLOWUP_STATUSES,
    TRANSPORT_LOCAL_OUTBOX,
    BookingRequest,
    Followup,
    SmsMessage,
)


def register(subparsers: Any) -> None:
    """Add the ``followups``, ``outbox`` and ``sms`` commands to the staff tool's parser.

    ``subparsers`` is what ``ArgumentParser.add_subparsers()`` returned. Each command sets
    ``func`` (taking the parsed arguments, returning an exit code) on its namespace.
    """
    followups = subparsers.add_parser("followups", help="aftercare texts: list or cancel")
    commands = followups.add_subparsers(dest="followups_command", metavar="{list,cancel}")
    commands.required = True
    listing = commands.add_parser("list", help="list follow-up texts as a table")
    listing.add_argument("--status", choices=FOLLOWUP_STATUSES, help="only this status")
    listing.add_argument("--phone", help="only this phone number")
    listing.add_argument("--booking", metavar="REF", help="only this booking reference")
    listing.set_defaults(func=followups_list)
    cancel = commands.add_parser("cancel", help="cancel a patient's scheduled texts")
    who = cancel.add_mutually_exclusive_group(required=True)
    who.add_argument("--phone", help="every scheduled text to this number")
    who.add_argument("--booking", metavar="REF", help="every scheduled text of this booking")
    cancel.set_defaults(func=followups_cancel)

    outbox = subparsers.add_parser("outbox", help="the local SMS outbox (texts NOT sent)")
    outbox_commands = outbox.add_subparsers(dest="outbox_command", metavar="{list}")
    outbox_commands.required = True
    outbox_list = outbox_commands.add_parser("list", help="list texts in the local outbox")
    outbox_list.add_argument("--all", action="store_true",
                             help="the whole SMS log, inbound and outbound, any transport")
    outbox_list.add_argument("--limit", type=int, default=50, help="newest N (default 50)")
    outbox_list.set_defaults(func=outbox_list_command)

    sms = subparsers.add_parser("sms", help="send due aftercare texts now")
    sms_commands = sms.add_subparsers(dest="sms_command", metavar="{send-due}")
    sms_commands.required = True
    send = sms_commands.add_parser("send-due", help="one sender pass (what the sender runs)")
    send.set_defaults(func=sms_send_due)


# --------------------------------------------------------------------------- helpers


def phone_argument(text: str) -> str | None:
    """A phone number typed by staff, in E.164 form (None if it is not one)."""
    text = text.strip()
    if text.startswith("+") and text[1:].isdigit():
        return text
    return normalize_phone(text)


def _error(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


# --------------------------------------------------------------------------- commands


def followups_list(args: argparse.Namespace) -> int:
    """``clinic followups list``: follow-up texts, soonest due first."""
    try:
        with read_scope() as session:
            query = (select(Followup, BookingRequest.reference)
                     .join(BookingRequest, BookingRequest.id == Followup.booking_id)
                     .order_by(Followup.due_at, Followup.id))
            if args.status:
                query = query.where(Followup.status == args.status)
            if args.phone:
                phone = phone_argument(args.phone)
                if phone is None:
                    return _error(f"Not a phone number: {args.phone}")
                query = query.where(Followup.phone_e164 == phone)
            if args.booking:
                query = query.where(BookingRequest.reference == normalize_reference(args.booking))
            rows = session.execute(query).all()
            outbox_ids = set(session.execute(
                select(SmsMessage.followup_id).where(
                    SmsMessage.transport == TRANSPORT_LOCAL_OUTBOX,
                    SmsMessage.followup_id.is_not(None))).scalars())
            session.expunge_all()  # read_scope rolls back, which would expire the rows
    except DatabaseUnavailable as error:
        print(error, file=sys.stderr)
        return 1
    if not rows:
        print("No follow-up texts match.")
        return 0
    print(table(["ID", "BOOKING", "PHONE", "MESSAGE", "DUE", "STATUS", "TRIES", "NEXT TRY",
           "SENT", "NOTE"],
          [[f.id, ref, f.phone_e164, f.message_id, f.due_at, _status(f, outbox_ids),
            f.attempts, f.next_attempt_at if f.status == "scheduled" else None, f.sent_at,
            f.last_error] for f, ref in rows], cut="..."))
    print(f"\n{len(rows)} follow-up text(s). Times in {settings().timezone}.")
    return 0


def _status(followup: Followup, outbox_ids: set[int]) -> str:
    if followup.status == "sent" and followup.id in outbox_ids:
        return "sent (local outbox: NOT delivered)"
    return str(followup.status)


def followups_cancel(args: argparse.Namespace) -> int:
    """``clinic followups cancel``: cancel a patient's (or a booking's) scheduled texts."""
    try:
        with session_scope() as session:
            if args.phone:
                phone = phone_argument(args.phone)
                if phone is None:
                    return _error(f"Not a phone number: {args.phone}")
                count = cancel_followups(session, phone=phone)
            else:
                booking = find_booking(session, args.booking)
                if booking is None:
                    return _error(f"No booking with reference {args.booking}")
                count = cancel_followups(session, booking_id=booking.id)
    except DatabaseUnavailable as error:
        print(error, file=sys.stderr)
        return 1
    print(f"Cancelled {count} scheduled follow-up text(s).")
    return 0


def outbox_list_command(args: argparse.Namespace) -> int:
    """``clinic outbox list``: texts kept in the local outbox (never sent), newest first."""
    try:
        with read_scope() as session:
            query = select(SmsMessage).order_by(SmsMessage.created_at.desc(),
                                                SmsMessage.id.desc()).limit(max(args.limit, 1))
            if not args.all:
                query = query.where(SmsMessage.transport == TRANSPORT_LOCAL_OUTBOX)
            messages = list(session.execute(query).scalars())
            session.expunge_all()
    except DatabaseUnavailable as error:
        print(error, file=sys.stderr)
        return 1
    if not messages:
        print("The local outbox is empty." if not args.all else "No texts yet.")
        return 0
    if not args.all:
        print("Local outbox: these texts were NOT sent to anyone (Twilio is not configured).\n")
    print(table(["ID", "TIME", "DIRECTION", "PHONE", "TRANSPORT", "STATUS", "FOLLOW-UP", "TEXT"],
          [[m.id, m.created_at, m.direction, m.phone_e164, m.transport, m.status,
            m.followup_id, m.body] for m in messages], width=200, cut="..."))
    return 0


def sms_send_due(args: argparse.Namespace) -> int:
    """``clinic sms send-due``: one sender pass now; prints what it did."""
    try:
        counts = send_due()
    except DatabaseUnavailable as error:
        print(error, file=sys.stderr)
        return 1
    print(", ".join(f"{name}: {value}" for name, value in counts.items()))
    return 0
