"""Staff accounts: creation, passwords (Argon2id), login with lock-out, disabling.

Passwords are hashed with argon2-cffi's ``PasswordHasher`` (Argon2id, its default
parameters) and never stored or logged. A login is refused for a locked, disabled or
unknown account with the same message and roughly the same time, so the form does not
tell which e-mail addresses have accounts. Guessing is slowed by the console's throttle
(``clinic.console.throttle``: per address and e-mail, per address, per e-mail); as a last
resort for a guess spread over many addresses and console restarts, ten times
``console_lockout_attempts`` wrong passwords in a row lock the account for
``console_lockout_minutes`` (counted with one atomic UPDATE per failure). A new password
or a disabled account ends every session of the account.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from clinic.config.settings import settings
from clinic.store.db import read_scope, session_scope
from clinic.store.models import AuditEntry, StaffAccount, StaffSession, Takeover, utcnow

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12
# Wrong passwords in a row, as a multiple of console_lockout_attempts, that lock an account.
ACCOUNT_LOCK_FACTOR = 10
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")
_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so both cases cost one Argon2 check.
_DUMMY_HASH = _hasher.hash("not a real password, only spends time")


class AccountError(ValueError):
    """An account cannot be created or changed (message is for the person)."""


@dataclass(frozen=True)
class Staff:
    """A logged-in (or listed) member of staff, detached from the database."""

    id: int
    email: str
    display_name: str
    active: bool = True
    locked_until: dt.datetime | None = None
    last_login_at: dt.datetime | None = None

    @property
    def label(self) -> str:
        """How the console names this person."""
        return self.display_name or self.email


def _staff(row: StaffAccount) -> Staff:
    return Staff(row.id, row.email, row.display_name or "", bool(row.active), row.locked_until,
                 row.last_login_at)


def normalise_email(email: str) -> str:
    """An e-mail address as stored: trimmed and lower case."""
    return (email or "").strip().lower()


def hash_password(password: str) -> str:
    """The Argon2id hash of a password (refuses short ones)."""
    check_password_strength(password)
    return _hasher.hash(password)


def check_password_strength(password: str) -> None:
    """Raise AccountError for a password too short to protect patients' conversations."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip() != password or len(set(password)) < 4:
        raise AccountError("the password must not start or end with spaces or repeat "
                           "a few characters")


def verify_password(password_hash: str, password: str) -> bool:
    """True if ``password`` matches ``password_hash``."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def add_staff(email: str, password: str, display_name: str = "") -> Staff:
    """Create an active staff account; AccountError if the e-mail is taken or invalid."""
    email = normalise_email(email)
    if not EMAIL.match(email):
        raise AccountError("that is not an e-mail address")
    password_hash = hash_password(password)
    with session_scope() as session:
        exists = session.execute(select(StaffAccount.id).where(StaffAccount.email == email)
                                 ).first()
        if exists:
            raise AccountError(f"there is already an account for {email}")
        row = StaffAccount(email=email, display_name=(display_name or "").strip()[:100],
                           password_hash=password_hash, active=True, failed_logins=0,
                           created_at=utcnow())
        session.add(row)
        session.flush()
        return _staff(row)


def list_staff() -> list[Staff]:
    """Every account, oldest first."""
    with read_scope() as session:
        rows = session.execute(select(StaffAccount).order_by(StaffAccount.id)).scalars()
        return [_staff(row) for row in rows]


def set_active(email: str, active: bool) -> Staff:
    """Disable (or enable again) an account. Disabling also ends its sessions."""
    email = normalise_email(email)
    with session_scope() as session:
        row = session.execute(select(StaffAccount).where(StaffAccount.email == email)
                              ).scalar_one_or_none()
        if row is None:
            raise AccountError(f"no account for {email}")
        row.active = active
        if not active:
            session.query(StaffSession).filter(StaffSession.staff_id == row.id).delete()
            held = session.execute(select(func.count()).select_from(Takeover)
                                   .where(Takeover.staff_id == row.id)).scalar_one()
            if held:
                log.warning("A disabled account still holds %d taken-over conversations; "
                            "another member of staff can hand them back.", held)
        if active:
            row.failed_logins = 0
            row.locked_until = None
        return _staff(row)


def set_password(email: str, password: str) -> None:
    """Give an account a new password (and unlock it)."""
    password_hash = hash_password(password)
    with session_scope() as session:
        row = session.execute(select(StaffAccount).where(
            StaffAccount.email == normalise_email(email))).scalar_one_or_none()
        if row is None:
            raise AccountError(f"no account for {normalise_email(email)}")
        row.password_hash = password_hash
        row.failed_logins = 0
        row.locked_until = None
        # Whoever knew the old password (or holds a stolen cookie) is logged out.
        session.execute(delete(StaffSession).where(StaffSession.staff_id == row.id))


@dataclass(frozen=True)
class LoginResult:
    """The outcome of one login attempt."""

    staff: Staff | None
    locked: bool = False  # the account is (now) locked out


def authenticate(email: str, password: str, now: dt.datetime | None = None) -> LoginResult:
    """Check an e-mail and password, counting failures and locking the account out.

    Every attempt is written to the audit log (without the password).
    """
    config = settings()
    now = now or utcnow()
    email = normalise_email(email)[:254]
    attempts = max(int(config.console_lockout_attempts), 1) * ACCOUNT_LOCK_FACTOR
    lock_for = dt.timedelta(minutes=config.console_lockout_minutes)
    with read_scope() as session:
        row = session.execute(select(StaffAccount).where(StaffAccount.email == email)
                              ).scalar_one_or_none()
        password_hash = row.password_hash if row is not None else _DUMMY_HASH
    # The slow hash check runs outside any write transaction (it must not hold SQLite's lock).
    matches = verify_password(password_hash, password or "")
    with session_scope() as session:
        row = session.execute(select(StaffAccount).where(StaffAccount.email == email)
                              ).scalar_one_or_none()
        if row is None:
            _audit(session, None, email, "login_failed", "unknown account", now)
            return LoginResult(None)
        if row.locked_until is not None and row.locked_until > now:
            _audit(session, row.id, email, "login_failed", "account locked", now)
            return LoginResult(None, locked=True)
        if not row.active:
            _audit(session, row.id, email, "login_failed", "account disabled", now)
            return LoginResult(None)
        if not matches:
            # One atomic increment: simultaneous failures are all counted.
            session.execute(update(StaffAccount).where(StaffAccount.id == row.id).values(
                failed_logins=func.coalesce(StaffAccount.failed_logins, 0) + 1)
                .execution_options(synchronize_session=False))
            failed = session.execute(select(StaffAccount.failed_logins).where(
                StaffAccount.id == row.id)).scalar_one()
            if failed >= attempts:
                session.execute(update(StaffAccount).where(StaffAccount.id == row.id).values(
                    locked_until=now + lock_for, failed_logins=0)
                    .execution_options(synchronize_session=False))
                _audit(session, row.id, email, "locked",
                       f"{attempts} wrong passwords in a row", now)
                log.warning("A staff account was locked after %d failed logins.", attempts)
                return LoginResult(None, locked=True)
            _audit(session, row.id, email, "login_failed", "wrong password", now)
            return LoginResult(None)
        row.failed_logins = 0
        row.locked_until = None
        row.last_login_at = now
        if _hasher.check_needs_rehash(row.password_hash):
            row.password_hash = _hasher.hash(password)
        _audit(session, row.id, email, "login", "", now)
        return LoginResult(_staff(row))


def _audit(session: Session, staff_id: int | None, email: str, action: str, detail: str,
           now: dt.datetime) -> None:
    session.add(AuditEntry(at=now, staff_id=staff_id, staff_email=email, action=action,
                           detail=detail))
