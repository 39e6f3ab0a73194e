"""Staff command-line tool: ``clinic ...`` (or ``python -m clinic.cli.commands ...``).

    clinic bookings list [--status S] [--limit N]      newest first, as a table
    clinic bookings show REF                          every field, screening summary, consent
    clinic bookings export [--out FILE]               CSV (stdout without --out)
    clinic bookings mark REF confirmed|treated|cancelled [--at ISO]
    clinic erase --phone P | --email E [--yes]        remove one person's data
    clinic purge [--dry-run]                          remove data older than retention_days
    clinic webhook deliver [--retry-failed]           send pending booking webhooks now
    clinic staff add|list|disable|enable|password      staff console accounts
    clinic audit list|purge                           the staff console's audit log
    clinic visits list|confirm|decline|propose|cancel  visits in the calendar (clinic.cli.visits)

The SMS follow-up commands (``clinic followups ...``, ``clinic outbox ...``) come from
``clinic.sms.cli.register``. Exit codes: 0 done, 1 not found / invalid / unavailable,
2 usage error. Errors are one line on stderr. Everything printed passes through
:func:`clinic.store.sanitize.clean_output`: text a patient typed cannot send control
sequences (ESC ...) to the staff terminal.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import sys
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.cli.output import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    local_time,
    spreadsheet_safe,
    table,
)
from clinic.config.private_files import private_files
from clinic.config.settings import settings
from clinic.console.cli import register as register_console
from clinic.rules.booking import BOOKING_STATUSES, MARKABLE_STATUSES, normalize_email, status_change_refusal
from clinic.services import retention
from clinic.services.booking import find_booking
from clinic.services.erase import (
    TrackerStoreMissing,
    count_conversations,
    erase_person,
    find_person,
    phone_for_erasure,
    sms_numbers_of,
)
from clinic.services.webhook import deliver_pending, retry_failed
from clinic.store.db import DatabaseUnavailable, read_scope, session_scope
from clinic.store.models import BookingRequest, Followup, SmsConsent, WebhookDelivery, utcnow
from clinic.store.sanitize import SafeStream

# Which status may follow which is decided in clinic.services.booking (STATUS_TRANSITIONS).
MARKABLE = MARKABLE_STATUSES
EXPORT_FIELDS = (
    "reference", "created_at", "status", "status_changed_at", "treated_at", "name",
    "phone_e164", "email", "treatment", "preferred_times_text", "preferred_times_parsed",
    "screening_outcome", "screening_answers", "screening_summary", "promotion_code",
    "promotion_amount_usd", "sms_consent", "sms_consent_at", "channel", "conversation_id",
)

# Typed by the person: a spreadsheet must not run them as formulas. (The phone number is
# validated E.164 and keeps its "+".)
FREE_TEXT_FIELDS = ("name", "email", "preferred_times_text", "conversation_id", "channel")


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# --------------------------------------------------------------------------- formatting


def _promotion(booking: BookingRequest) -> str:
    if not booking.promotion_code:
        return ""
    return f"{booking.promotion_code} (${booking.promotion_amount_usd})"


# --------------------------------------------------------------------------- commands


def _find(session: Session, reference: str) -> BookingRequest:
    booking = find_booking(session, reference)
    if booking is None:
        raise CommandError(f"no booking request with reference {reference!r}")
    return booking


def cmd_list(args: argparse.Namespace) -> int:
    """Booking requests, newest first."""
    if args.limit < 1:
        raise CommandError("--limit must be 1 or more")
    with read_scope() as session:
        query = select(BookingRequest).order_by(BookingRequest.created_at.desc(),
                                                BookingRequest.id.desc())
        if args.status:
            query = query.where(BookingRequest.status == args.status)
        bookings = list(session.execute(query.limit(args.limit)).scalars())
    if not bookings:
        print("No booking requests" + (f" with status {args.status}." if args.status else "."))
        return EXIT_OK
    rows = [(b.reference, local_time(b.created_at), b.name, b.treatment, b.screening_outcome,
             _promotion(b), b.status) for b in bookings]
    print(table(("reference", "created", "name", "treatment", "outcome", "promotion", "status"),
                rows, max_widths={2: 28}))
    print(f"\n{len(bookings)} booking request(s), newest first.")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    """One booking request with its screening summary and consent."""
    with read_scope() as session:
        booking = _find(session, args.reference)
        consents = list(session.execute(select(SmsConsent).where(
            SmsConsent.booking_id == booking.id).order_by(SmsConsent.id)).scalars())
        deliveries = list(session.execute(select(WebhookDelivery).where(
            WebhookDelivery.booking_id == booking.id)).scalars())
        followups = list(session.execute(select(Followup).where(
            Followup.booking_id == booking.id).order_by(Followup.due_at)).scalars())
    times = ", ".join(local_time(dt.datetime.fromisoformat(t)) for t in booking.preferred_times_parsed)
    fields = [
        ("Reference", booking.reference),
        ("Status", f"{booking.status} (since {local_time(booking.status_changed_at)})"),
        ("Created", local_time(booking.created_at, seconds=True, zone=True)),
        ("Treated at", local_time(booking.treated_at) or "-"),
        ("Name", booking.name),
        ("Mobile", booking.phone_e164),
        ("Email", booking.email or "-"),
        ("Treatment", booking.treatment),
        ("Preferred times", booking.preferred_times_text or "-"),
        ("  understood as", times or "(no specific date recognised)"),
        ("Promotion", _promotion(booking) or "none"),
        ("Channel", booking.channel),
        ("Conversation", booking.conversation_id),
        ("Screening", booking.screening_outcome),
    ]
    width = max(len(label) for label, _ in fields)
    for label, value in fields:
        print(f"{label.ljust(width)}  {value}")
    print("\nScreening summary:")
    for line in (booking.screening_summary or "(none)").splitlines():
        print(f"  {line}")
    print("\nSMS consent:")
    if not consents:
        print("  (no answer recorded)")
    for consent in consents:
        answer = "GIVEN" if consent.given else "NOT given"
        print(f"  {answer} at {local_time(consent.given_at, seconds=True, zone=True)} via {consent.channel}")
        print(f"  Wording shown: \"{consent.wording}\"")
    if followups:
        print("\nAftercare texts:")
        for followup in followups:
            print(f"  {local_time(followup.due_at)}  {followup.message_id}  {followup.status}")
    if deliveries:
        print("\nWebhook:")
        for delivery in deliveries:
            detail = (local_time(delivery.delivered_at) if delivery.status == "delivered"
                      else f"{delivery.attempts} attempt(s) {delivery.last_error or ''}".strip())
            print(f"  {delivery.status}  {detail}")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """Every booking request as CSV, oldest first."""
    with read_scope() as session:
        bookings = list(session.execute(select(BookingRequest).order_by(
            BookingRequest.created_at, BookingRequest.id)).scalars())
        consents: dict[int, SmsConsent] = {}
        for consent in session.execute(select(SmsConsent).order_by(SmsConsent.id)).scalars():
            consents[consent.booking_id] = consent  # the latest answer wins
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_FIELDS)
    for booking in bookings:
        consent = consents.get(booking.id)
        values = {
            **{name: getattr(booking, name, None) for name in EXPORT_FIELDS},
            "created_at": booking.created_at.isoformat(),
            "status_changed_at": booking.status_changed_at.isoformat(),
            "treated_at": booking.treated_at.isoformat() if booking.treated_at else "",
            "preferred_times_parsed": " ".join(booking.preferred_times_parsed or []),
            "screening_answers": json.dumps(booking.screening_answers, sort_keys=True),
            "sms_consent": "" if consent is None else ("yes" if consent.given else "no"),
            "sms_consent_at": consent.given_at.isoformat() if consent else "",
        }
        writer.writerow([spreadsheet_safe(values[name]) if name in FREE_TEXT_FIELDS
                         else values[name] for name in EXPORT_FIELDS])
    if args.out:
        try:
            with open(args.out, "w", encoding="utf-8", newline="") as handle:
                handle.write(buffer.getvalue())
        except OSError as error:
            raise CommandError(f"cannot write {args.out}: {error.strerror}") from None
        print(f"Exported {len(bookings)} booking request(s) to {args.out}")
    else:
        sys.stdout.write(buffer.getvalue())
    return EXIT_OK


def _parse_at(text: str | None) -> dt.datetime:
    if not text:
        return utcnow()

    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(
            f"--at {text!r} is not an ISO date-time like 2026-03-10T14:30") from None
    if moment.tzinfo is None:  # staff type clinic-local times
        moment = moment.replace(tzinfo=settings().tz)
    return moment.astimezone(dt.timezone.utc)


def _scheduler() -> Callable[[Session, BookingRequest, dt.datetime], list[Followup]] | None:
    try:
        # Lazy on purpose: the SMS module is optional; the staff tool works without it.
        from clinic.sms.schedule import schedule_aftercare
    except ModuleNotFoundError as error:
        if error.name not in ("clinic.sms", "clinic.sms.schedule"):
            raise
        return None
    return schedule_aftercare


def cmd_mark(args: argparse.Namespace) -> int:
    """Move a booking to confirmed / treated / cancelled."""
    at = _parse_at(args.at)
    if args.status == "treated" and at > utcnow() + dt.timedelta(minutes=5):
        raise CommandError("a treatment can't be marked done in the future")
    scheduled = None
    with session_scope() as session:
        booking = _find(session, args.reference)
        refusal = status_change_refusal(booking.status, args.status)
        if refusal is not None:
            raise CommandError(f"{booking.reference} {refusal}")
        booking.status, booking.status_changed_at = args.status, at
        if args.status == "treated":
            booking.treated_at = at
            schedule = _scheduler()
            if schedule is not None:
                scheduled = schedule(session, booking, at)
        reference = booking.reference
    print(f"{reference} marked {args.status} at {local_time(at)}.")
    if args.status == "treated":
        if scheduled is None:
            print("Aftercare texts: the SMS module is not installed, none scheduled.")
        else:
            count = sum(1 for row in scheduled if getattr(row, "status", "") == "scheduled")
            print(f"Aftercare texts scheduled: {count}"
                  + ("" if count else " (no SMS consent, opted out, or already scheduled)")
                  + ". See 'clinic followups list'.")
    return EXIT_OK


def cmd_erase(args: argparse.Namespace) -> int:
    """Erase one person's data (asks for confirmation unless --yes)."""
    phone = email = None
    if args.phone:
        phone = phone_for_erasure(args.phone)
        if phone is None:
            raise CommandError(f"{args.phone!r} is not a valid phone number")
    if args.email:
        email = normalize_email(args.email)
        if email is None:
            raise CommandError(f"{args.email!r} is not a valid email address")
    who = " / ".join(x for x in (phone, email) if x)
    with read_scope() as session:
        found = find_person(session, phone=phone, email=email)
    try:
        conversations, _events = count_conversations(settings().tracker_store_url, found)
    except TrackerStoreMissing as error:
        raise CommandError(f"{error}; nothing was erased (the conversations could not be "
                           "searched)") from None
    with read_scope() as session:  # SMS conversations found by content count too
        found = find_person(session, phone=phone, email=email,
                            extra_phones=sms_numbers_of(found.conversation_ids))
    if found.empty and not conversations:
        raise CommandError(f"nothing stored for {who}")
    if not args.yes:
        print(f"This removes, for {who}: {len(found.booking_ids)} booking request(s) "
              f"{' '.join(found.references)}, {len(found.consent_ids)} SMS consent(s), "
              f"{len(found.redemption_ids)} promotion use(s), {len(found.followup_ids)} "
              f"follow-up(s), {len(found.sms_message_ids)} SMS message(s), "
              f"{len(found.webhook_delivery_ids)} webhook deliveries, "
              f"{len(found.opt_out_phones)} opt-out entr(ies), {conversations} conversation(s).")
        try:
            answer = input("Type 'erase' to confirm: ")
        except EOFError:
            print()
            answer = ""
        if answer.strip().lower() != "erase":
            raise CommandError("not confirmed; nothing was erased (use --yes to skip the question)")
    try:
        report = erase_person(phone=phone, email=email)
    except TrackerStoreMissing as error:
        raise CommandError(f"{error}; nothing was erased") from None
    print(f"Erased the data of {who}:")
    for line in report.lines():
        print(f"  {line}")
    return EXIT_OK


def cmd_purge(args: argparse.Namespace) -> int:
    """Remove conversations, SMS logs and delivered webhook payloads past the retention."""
    days = settings().retention_days
    report = retention.purge(dry_run=args.dry_run)
    print(f"Retention {days} days" + (" (dry run, nothing removed)" if args.dry_run else "")
          + ":")
    for line in report.lines():
        print(f"  {line}")
    if report.tracker_error:
        raise CommandError(f"conversations were not purged: {report.tracker_error}")
    return EXIT_OK


def cmd_webhook_deliver(args: argparse.Namespace) -> int:
    """Send pending booking webhooks now, ignoring their back-off."""
    if args.retry_failed:
        print(f"Deliveries given up on, back in the queue: {retry_failed()}")
    report = deliver_pending(force=True)
    print(f"Webhook: {report}.")
    return EXIT_OK if report.retrying == 0 and report.failed == 0 else EXIT_FAILED


# --------------------------------------------------------------------------- parser


def _register_sms(subparsers: argparse._SubParsersAction[_Parser]) -> None:
    try:
        # Lazy on purpose: the SMS module is optional; the staff tool works without it.
        import clinic.sms.cli as sms_cli
    except ModuleNotFoundError as error:
        if error.name not in ("clinic.sms", "clinic.sms.cli"):
            raise  # a real bug inside the SMS module must not be hidden
        return
    sms_cli.register(subparsers)


def build_parser() -> argparse.ArgumentParser:
    """The ``clinic`` argument parser (other modules add commands with ``register``)."""
    parser = _Parser(prog="clinic", description="Staff tool of the clinic assistant.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    bookings = commands.add_parser("bookings", help="booking requests")
    actions = bookings.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    listing = actions.add_parser("list", help="list booking requests, newest first")
    listing.add_argument("--status", choices=BOOKING_STATUSES)
    listing.add_argument("--limit", type=int, default=50, help="at most N rows (default 50)")
    listing.set_defaults(func=cmd_list)
    show = actions.add_parser("show", help="one booking request with its screening summary")
    show.add_argument("reference", metavar="REF")
    show.set_defaults(func=cmd_show)
    export = actions.add_parser("export", help="all booking requests as CSV")
    export.add_argument("--out", metavar="FILE", help="write to FILE instead of the screen")
    export.set_defaults(func=cmd_export)
    mark = actions.add_parser("mark", help="mark a booking confirmed, treated or cancelled")
    mark.add_argument("reference", metavar="REF")
    mark.add_argument("status", choices=MARKABLE)
    mark.add_argument("--at", metavar="ISO",
                      help="when it happened, e.g. 2026-03-10T14:30 (clinic time; default now)")
    mark.set_defaults(func=cmd_mark)

    erase = commands.add_parser("erase", help="erase one person's data on request")
    who = erase.add_argument_group("the person (one or both)")
    who.add_argument("--phone", metavar="P")
    who.add_argument("--email", metavar="E")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    erase.set_defaults(func=cmd_erase)

    purge = commands.add_parser(
        "purge", help="remove conversations, SMS logs and delivered webhook payloads older "
                      "than retention_days (bookings stay)")
    purge.add_argument("--dry-run", action="store_true",
                       help="only count what would be removed")
    purge.set_defaults(func=cmd_purge)

    webhook = commands.add_parser("webhook", help="booking webhook deliveries")
    webhook_actions = webhook.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    webhook_actions.required = True
    deliver = webhook_actions.add_parser("deliver", help="send pending deliveries now")
    deliver.add_argument("--retry-failed", action="store_true",
                         help="also retry deliveries that were given up on")
    deliver.set_defaults(func=cmd_webhook_deliver)

    _register_sms(commands)

    register_console(commands)
    from clinic.cli.visits import register as register_visits

    register_visits(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one staff command; returns the exit code."""
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = SafeStream(stdout), SafeStream(stderr)
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = stdout, stderr


def _main(argv: Sequence[str] | None) -> int:
    private_files()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "erase" and not (args.phone or args.email):
        parser.exit(EXIT_USAGE, "clinic erase: error: give --phone P or --email E\n")
    try:
        code: int = args.func(args)
        return code
    except CommandError as error:
        print(f"clinic: {error}", file=sys.stderr)
        return EXIT_FAILED
    except DatabaseUnavailable as error:
        print(f"clinic: {error}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:  # e.g. `clinic bookings export | head`
        return EXIT_OK
    except Exception as error:  # staff get one line, not a traceback
        if os.environ.get("CLINIC_DEBUG"):
            raise
        print(f"clinic: unexpected error ({type(error).__name__}: {error}); "
              "run again with CLINIC_DEBUG=1 for details", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
