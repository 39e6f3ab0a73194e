"""What the inbox keeps besides Rasa's events: callback requests, who looks after which
conversation, and whether a patient's widget is connected. Each function is one transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update

from clinic.nlu.callback import Contact
from clinic.store.db import read_scope, session_scope
from clinic.store.models import Callback, InboxAssignment, StaffAccount, WidgetPresence, utcnow


@dataclass(frozen=True)
class CallbackItem:
    """An open (or handled) callback request, as the inbox shows it."""

    id: int
    sender_id: str
    channel: str
    name: str
    phone_e164: str
    email: str
    created_at: dt.datetime
    call_from: dt.datetime | None
    assigned_to: str
    handled: bool


@dataclass(frozen=True)
class Presence:
    """A widget conversation's pages: connected now, and when last seen."""

    connected: bool
    last_seen: dt.datetime


def add_callback(sender_id: str, channel: str, contact: Contact,
                 call_from: dt.datetime | None) -> int:
    """Record a callback request; a repeat of an open one for the same conversation and the
    same number or address updates it instead. Returns its id."""
    with session_scope() as session:
        existing = session.execute(
            select(Callback).where(Callback.sender_id == sender_id,
                                   Callback.handled_at.is_(None))
            .order_by(Callback.id.desc())).scalars().first()
        if existing is not None and (existing.phone_e164 == contact.phone_e164
                                     or (contact.email and existing.email == contact.email)):
            existing.name = contact.name or existing.name
            existing.phone_e164 = contact.phone_e164 or existing.phone_e164
            existing.email = contact.email or existing.email
            existing.call_from = call_from
            return int(existing.id)
        row = Callback(sender_id=sender_id, channel=channel, name=contact.name,
                       phone_e164=contact.phone_e164, email=contact.email,
                       created_at=utcnow(), call_from=call_from)
        session.add(row)
        session.flush()
        return int(row.id)


def _label(account: StaffAccount | None) -> str:
    return "" if account is None else (account.display_name or account.email)


def callbacks(sender_id: str | None = None, open_only: bool = True, limit: int = 100,
              sender_ids: list[str] | None = None) -> list[CallbackItem]:
    """Callback requests, oldest first (the first to call); of one conversation, or of
    some, if given."""
    with read_scope() as session:
        query = select(Callback, StaffAccount).outerjoin(
            StaffAccount, StaffAccount.id == Callback.assigned_staff_id)
        if open_only:
            query = query.where(Callback.handled_at.is_(None))
        if sender_id is not None:
            query = query.where(Callback.sender_id == sender_id)
        if sender_ids is not None:
            query = query.where(Callback.sender_id.in_(sender_ids))
        rows = session.execute(query.order_by(Callback.created_at, Callback.id).limit(limit))
        return [CallbackItem(row.id, row.sender_id, row.channel, row.name or "",
                             row.phone_e164 or "", row.email or "", row.created_at,
                             row.call_from, _label(account), row.handled_at is not None)
                for row, account in rows]


def callback_sender(callback_id: int) -> str | None:
    """The conversation a callback request came from."""
    with read_scope() as session:
        found = session.get(Callback, callback_id)
        return None if found is None else str(found.sender_id)


def close_callbacks_of(sender_id: str, staff_id: int) -> int:
    """Close every open callback request of a conversation (it was handled); how many."""
    with session_scope() as session:
        done = session.execute(
            update(Callback).where(Callback.sender_id == sender_id,
                                   Callback.handled_at.is_(None))
            .values(handled_at=utcnow(), handled_by=staff_id))
        return int(done.rowcount or 0)


def mark_callback_handled(callback_id: int, staff_id: int) -> bool:
    """Close a callback request (the call was made); False if it was already closed."""
    with session_scope() as session:
        done = session.execute(
            update(Callback).where(Callback.id == callback_id, Callback.handled_at.is_(None))
            .values(handled_at=utcnow(), handled_by=staff_id))
        return bool(done.rowcount)


def assign_callback(callback_id: int, staff_id: int | None) -> bool:
    """Give a callback request to a member of staff (None: to nobody)."""
    with session_scope() as session:
        done = session.execute(update(Callback).where(Callback.id == callback_id)
                               .values(assigned_staff_id=staff_id))
        return bool(done.rowcount)


def assign(sender_id: str, staff_id: int | None) -> None:
    """Give a conversation to a member of staff (None: to nobody)."""
    with session_scope() as session:
        found = session.get(InboxAssignment, sender_id)
        if staff_id is None:
            if found is not None:
                session.delete(found)
        elif found is None:
            session.add(InboxAssignment(sender_id=sender_id, staff_id=staff_id,
                                        assigned_at=utcnow()))
        else:
            found.staff_id = staff_id
            found.assigned_at = utcnow()


def assignments(sender_ids: list[str]) -> dict[str, str]:
    """Who looks after each of these conversations (only those assigned)."""
    if not sender_ids:
        return {}
    with read_scope() as session:
        rows = session.execute(select(InboxAssignment.sender_id, StaffAccount).join(
            StaffAccount, StaffAccount.id == InboxAssignment.staff_id).where(
            InboxAssignment.sender_id.in_(sender_ids)))
        return {sender: _label(account) for sender, account in rows}


def record_presence(sender_id: str, change: int, now: dt.datetime | None = None) -> None:
    """A page of this widget conversation connected (+1), left (-1) or was active (0)."""
    now = now or utcnow()
    with session_scope() as session:
        found = session.get(WidgetPresence, sender_id)
        if found is None:
            session.add(WidgetPresence(sender_id=sender_id, connected=max(change, 0),
                                       last_seen=now))
            return
        found.connected = max(int(found.connected) + change, 0)
        found.last_seen = now


def presence(sender_ids: list[str]) -> dict[str, Presence]:
    """Connected now and last seen, for the widget conversations among these."""
    if not sender_ids:
        return {}
    with read_scope() as session:
        rows = session.execute(select(WidgetPresence).where(
            WidgetPresence.sender_id.in_(sender_ids))).scalars()
        return {row.sender_id: Presence(int(row.connected) > 0, row.last_seen)
                for row in rows}


def reset_presence() -> None:
    """No page is connected (a Rasa server starting: connections of before are gone)."""
    with session_scope() as session:
        session.execute(update(WidgetPresence).where(WidgetPresence.connected > 0)
                        .values(connected=0))
