"""Console log-in sessions, CSRF tokens and the audit log.

* A session is a random token in an HttpOnly, SameSite=Strict cookie (Secure unless the
  console is bound to loopback and has no https public URL). The database keeps only its
  SHA-256, with an idle and an absolute expiry, so a copy of the database logs nobody in.
* Every form carries a CSRF token: the session's own token after log-in, and a
  double-submit cookie on the log-in form. POSTs without the right token are refused.
* Every view of a conversation, take-over, reply, hand-back, export and log-in is written to
  ``audit_log``; entries older than ``audit_retention_days`` are purged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from clinic.config.settings import settings
from clinic.console.accounts import Staff
from clinic.store.db import read_scope, session_scope
from clinic.store.models import AuditEntry, ConversationRef, StaffAccount, StaffSession, Takeover, utcnow
from clinic.store.rasa_events import EVENTS, engine, has_events_table

SESSION_COOKIE = "clinic_console_session"
LOGIN_CSRF_COOKIE = "clinic_console_login_csrf"
IDLE_TIMEOUT = dt.timedelta(minutes=60)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def tokens_match(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of two tokens; False if either is missing."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def secure_cookies() -> bool:
    """Cookies get the Secure flag unless the console is only reachable on loopback."""
    config = settings()
    return (not is_loopback(config.console_bind)
            or config.console_public_url.lower().startswith("https://"))


@dataclass(frozen=True)
class LoggedIn:
    """The member of staff behind a request, and the session's CSRF token."""

    staff: Staff
    csrf_token: str
    token_hash: str


def start_session(staff: Staff, now: dt.datetime | None = None) -> tuple[str, LoggedIn]:
    """Create a session; returns the cookie value and the session."""
    now = now or utcnow()
    token, csrf = new_token(), new_token()
    lifetime = dt.timedelta(hours=settings().console_session_hours)
    with session_scope() as session:
        # Sessions that ended long ago are cleared on the way.
        session.execute(delete(StaffSession).where(StaffSession.expires_at < now))
        session.add(StaffSession(token_hash=_digest(token), staff_id=staff.id, csrf_token=csrf,
                                 created_at=now, last_seen_at=now, expires_at=now + lifetime))
    return token, LoggedIn(staff, csrf, _digest(token))


def load_session(token: str | None, now: dt.datetime | None = None) -> LoggedIn | None:
    """The session of a cookie value, or None (expired, idle too long, disabled account).

    Read-only on most requests (the live transcript polls every few seconds): the session
    is written only to note activity once a minute, or to delete it when it has ended.
    """
    if not token or len(token) > 200:
        return None
    now = now or utcnow()
    digest = _digest(token)
    with read_scope() as session:
        row = session.get(StaffSession, digest)
        if row is None:
            return None
        account = session.get(StaffAccount, row.staff_id)
        ended = (row.expires_at <= now or row.last_seen_at + IDLE_TIMEOUT <= now
                 or account is None or not account.active)
        stale = now - row.last_seen_at > dt.timedelta(minutes=1)
        csrf = row.csrf_token
        staff = (Staff(account.id, account.email, account.display_name or "", True)
                 if account is not None else None)
    if ended or staff is None:
        end_session(digest)
        return None
    if stale:
        with session_scope() as session:
            session.execute(update(StaffSession).where(StaffSession.token_hash == digest)
                            .values(last_seen_at=now))
    return LoggedIn(staff, csrf, digest)


def end_session(token_hash: str) -> None:
    """Log out: the session row is deleted."""
    with session_scope() as session:
        session.execute(delete(StaffSession).where(StaffSession.token_hash == token_hash))


# --------------------------------------------------------------------------- audit log

def audit(staff: Staff | None, action: str, conversation_ref: str | None = None,
          detail: str = "", now: dt.datetime | None = None) -> None:
    """Write one audit entry (never a patient's message or contact details)."""
    with session_scope() as session:
        session.add(AuditEntry(at=now or utcnow(), staff_id=staff.id if staff else None,
                               staff_email=staff.email if staff else "", action=action,
                               conversation_ref=conversation_ref, detail=detail[:500]))


def recent_audit(limit: int = 200, conversation_ref: str | None = None) -> list[AuditEntry]:
    """The newest audit entries (of one conversation, if given)."""
    with read_scope() as session:
        query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        if conversation_ref:
            query = query.where(AuditEntry.conversation_ref == conversation_ref)
        return list(session.execute(query.limit(limit)).scalars())


def purge_audit(now: dt.datetime | None = None) -> int:
    """Delete audit entries older than ``audit_retention_days``; returns how many."""
    cutoff = (now or utcnow()) - dt.timedelta(days=settings().audit_retention_days)
    with session_scope() as session:
        result = session.execute(delete(AuditEntry).where(AuditEntry.at < cutoff))
        return int(result.rowcount or 0)


# --------------------------------------------------------------------------- opaque ids

def refs_for(sender_ids: list[str]) -> dict[str, str]:
    """The console's opaque id of each conversation, created the first time it is needed."""
    wanted = list(dict.fromkeys(s for s in sender_ids if s))
    if not wanted:
        return {}
    found: dict[str, str] = {}
    with read_scope() as session:
        for chunk in _chunks(wanted, 500):
            for ref, sender in session.execute(select(ConversationRef.ref,
                                                      ConversationRef.sender_id)
                                               .where(ConversationRef.sender_id.in_(chunk))):
                found[sender] = ref
    missing = [s for s in wanted if s not in found]
    if missing:
        try:
            with session_scope() as session:
                for sender in missing:
                    ref = secrets.token_hex(10)
                    session.add(ConversationRef(ref=ref, sender_id=sender, created_at=utcnow()))
                    found[sender] = ref
        except IntegrityError:
            # Another console process created some at the same time: read them all again.
            return refs_for(wanted) if len(wanted) < 10_000 else found
    return found


def sender_for(ref: str) -> str | None:
    """The sender id behind an opaque id, or None."""
    if not ref or len(ref) > 32:
        return None
    with read_scope() as session:
        row = session.get(ConversationRef, ref)
        return row.sender_id if row else None


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def purge_orphan_refs(now: dt.datetime | None = None, url: str | None = None) -> int:
    """Forget the refs of conversations no longer in the tracker store (erased, or past
    ``retention_days`` and purged), so no sender id outlives its conversation here.

    Refs younger than a day stay: Rasa may not have saved a brand-new conversation yet.
    """
    if not has_events_table(url):
        return 0
    cutoff = (now or utcnow()) - dt.timedelta(days=1)
    with read_scope() as session:
        candidates = list(session.execute(
            select(ConversationRef.sender_id).where(ConversationRef.created_at < cutoff)
        ).scalars())
        held = set(session.execute(select(Takeover.sender_id)).scalars())
    gone: list[str] = []
    with engine(url).connect() as connection:
        for chunk in _chunks(candidates, 500):
            present = set(connection.execute(select(EVENTS.c.sender_id).distinct().where(
                EVENTS.c.sender_id.in_(chunk))).scalars())
            gone += [s for s in chunk if s not in present and s not in held]
    removed = 0
    for chunk in _chunks(gone, 500):
        with session_scope() as session:
            result = session.execute(delete(ConversationRef).where(
                ConversationRef.sender_id.in_(chunk)))
            removed += int(result.rowcount or 0)
    return removed
