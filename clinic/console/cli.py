"""The ``clinic staff ...`` and ``clinic audit ...`` commands of the staff tool.

    clinic staff add --email E [--name N] [--password-stdin]   create an account
    clinic staff list                                          every account
    clinic staff disable --email E | enable --email E          (enabling also unlocks)
    clinic staff password --email E [--password-stdin]         set a new password
    clinic audit list [--limit N]                              the console's audit log
    clinic audit purge                                         drop entries past retention
                                                               (and refs of purged conversations)

The password is read from the terminal without echo (asked twice), or as the first line of
standard input with ``--password-stdin`` (or when stdin is not a terminal). It never
appears on the command line, in the shell history or in a log.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from clinic.cli.output import EXIT_OK, CommandError, local_time, table
from clinic.console.accounts import AccountError, add_staff, list_staff, set_active, set_password
from clinic.console.security import purge_audit, purge_orphan_refs, recent_audit
from clinic.store.models import utcnow


def _read_password(args: argparse.Namespace) -> str:

    if args.password_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    first = getpass.getpass("Password (at least 12 characters): ")
    second = getpass.getpass("The same password again: ")
    if first != second:
        raise CommandError("the two passwords differ; nothing was changed")
    return first


def cmd_add(args: argparse.Namespace) -> int:
    try:
        staff = add_staff(args.email, _read_password(args), args.name or "")
    except AccountError as error:
        raise CommandError(str(error)) from None
    print(f"Created the staff account {staff.email}. Log in at the console "
          "(http://127.0.0.1:8001/ by default).")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    now = utcnow()
    rows = [[s.email, s.display_name, "active" if s.active else "disabled",
             "locked" if s.locked_until and s.locked_until > now else "",
             local_time(s.last_login_at)] for s in list_staff()]
    if not rows:
        print("No staff accounts yet: clinic staff add --email you@clinic.example")
        return EXIT_OK
    print(table(["email", "name", "status", "locked", "last log-in"], rows))
    return EXIT_OK


def _set_active(args: argparse.Namespace, active: bool) -> int:
    try:
        staff = set_active(args.email, active)
    except AccountError as error:
        raise CommandError(str(error)) from None
    print(f"{staff.email} is now {'active' if active else 'disabled (logged out everywhere)'}.")
    return EXIT_OK


def cmd_password(args: argparse.Namespace) -> int:
    try:
        set_password(args.email, _read_password(args))
    except AccountError as error:
        raise CommandError(str(error)) from None
    print("Password changed.")
    return EXIT_OK


def cmd_audit_list(args: argparse.Namespace) -> int:
    rows = [[local_time(e.at, seconds=True, zone=True), e.staff_email, e.action, e.conversation_ref or "",
             e.detail] for e in recent_audit(args.limit)]
    print(table(["when", "who", "what", "conversation", "detail"], rows))
    return EXIT_OK


def cmd_audit_purge(args: argparse.Namespace) -> int:
    print(f"Removed {purge_audit()} audit entries past the retention period and "
          f"{purge_orphan_refs()} refs of conversations no longer stored.")
    return EXIT_OK


def register(subparsers: Any) -> None:
    """Add ``staff`` and ``audit`` to the staff tool's parser."""
    parser_class = subparsers._parser_class  # noqa: SLF001 - the staff tool's one-line errors
    staff = subparsers.add_parser("staff", help="staff console accounts")
    actions = staff.add_subparsers(dest="action", metavar="ACTION", parser_class=parser_class)
    actions.required = True
    add = actions.add_parser("add", help="create an account (password from the terminal)")
    add.add_argument("--email", required=True)
    add.add_argument("--name", help="how colleagues see you in the console")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    add.set_defaults(func=cmd_add)
    listing = actions.add_parser("list", help="every account")
    listing.set_defaults(func=cmd_list)
    for name, active in (("disable", False), ("enable", True)):
        sub = actions.add_parser(name, help=f"{name} an account")
        sub.add_argument("--email", required=True)
        sub.set_defaults(func=lambda args, active=active: _set_active(args, active))
    password = actions.add_parser("password", help="set a new password")
    password.add_argument("--email", required=True)
    password.add_argument("--password-stdin", action="store_true")
    password.set_defaults(func=cmd_password)

    audit = subparsers.add_parser("audit", help="the staff console's audit log")
    audit_actions = audit.add_subparsers(dest="action", metavar="ACTION",
                                         parser_class=parser_class)
    audit_actions.required = True
    audit_list = audit_actions.add_parser("list", help="newest entries first")
    audit_list.add_argument("--limit", type=int, default=100)
    audit_list.set_defaults(func=cmd_audit_list)
    audit_actions.add_parser("purge", help="remove entries past audit_retention_days"
                             ).set_defaults(func=cmd_audit_purge)
