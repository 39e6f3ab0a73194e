"""Rasa's SQL tracker store, configured by the one ``tracker_store_url`` setting.

``endpoints.yml`` names this class instead of repeating the database's address::

    tracker_store:
      type: clinic.rasa.tracker_store.ClinicSQLTrackerStore

so Rasa, the staff tool (``clinic erase``, ``clinic purge``) and the tests all read the same
``tracker_store_url`` (``settings.yml`` or ``CLINIC_TRACKER_STORE_URL``): a SQLite file by
default, PostgreSQL in production (``postgresql://user:password@host:5432/rasa``). On SQLite,
deleted rows are overwritten (``PRAGMA secure_delete``).

On SQLite, Rasa's engine opens a new connection for every query (SQLAlchemy 1.4's default
for files) and commits each save with a full fsync of a rollback journal. This store keeps
one pooled connection instead, in WAL mode with ``synchronous = NORMAL`` (a commit appends
to the log; a power cut may lose the last turns, never corrupt the file), as the clinic
database does (:mod:`clinic.store.db`). Erasure and purge empty the WAL file after deleting
(:func:`clinic.store.db.flush_deleted`), so erased messages do not linger in it.

**The last conversations loaded, kept in memory** (:class:`TrackerCache`). Turning a
conversation's rows back into a tracker (JSON, then every event rebuilt) is the part of a
turn that grows most with the conversation: about 45 ms at turn 300. The store keeps a
copy of the trackers it loaded or saved, with the conversation's *mark*: the highest
event id and the number of its rows in the database. ``retrieve`` always reads the mark
first (one indexed query) and hands out a copy of the kept tracker (made from its state,
no replay: ``clinic.rasa.tracker_copy``) only if the mark is unchanged, so a
message handled by another replica, a take-over, an erasure or a purge in between makes it
load from the database as before: a cache can never serve a stale conversation. A save
keeps its tracker only when no other writer added rows meanwhile (checked within the save's
transaction) and it did not start a new session (the database then returns the new session
alone).

**What a save appends.** Rasa's save counts the rows of the conversation's latest session
(a query that sorts them all, data included: about 0.9 ms at turn 300, and growing) to
know which of the tracker's events are new. The cache also keeps that count for its mark
(*stored*): a save whose mark is the cached one appends the events after it with no count
query; a save after a load from the database, or after anything else, counts as Rasa does.
"""


from __future__ import annotations

import itertools
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

from clinic.config.private_files import private_sqlite_files
from clinic.config.settings import settings
from clinic.store.db import SQLITE_BUSY_TIMEOUT_MS, set_wal


def store_arguments(url: str) -> dict[str, Any]:
    """``SQLTrackerStore`` keyword arguments for a SQLAlchemy URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return {"dialect": "sqlite", "db": parsed.database or ""}
    return {
        "dialect": parsed.drivername,
        "host": parsed.host,
        "port": parsed.port,
        "db": parsed.database,
        "username": parsed.username,
        "password": parsed.password,
        "query": dict(parsed.query) or None,
    }


# A conversation's mark in the database: (highest event id, number of rows).
Mark = tuple[int | None, int]


@dataclass(frozen=True)
class Kept:
    mark: Mark
    tracker: DialogueStateTracker  # the store's own copy: never handed out, never changed
    # The latest session's rows at ``mark`` as Rasa's save counts them (None: not known).
    stored: int | None = None


class TrackerCache:
    """The events of the last ``size`` conversations, each with its mark (thread-safe)."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._entries: OrderedDict[str, Kept] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, sender_id: str, mark: Mark) -> DialogueStateTracker | None:
        with self._lock:
            kept = self._entries.get(sender_id)
            if kept is None or kept.mark != mark:
                self.misses += 1
                return None
            self._entries.move_to_end(sender_id)
            self.hits += 1
            return kept.tracker

    def stored(self, sender_id: str, mark: Mark) -> int | None:
        """The latest session's stored rows at ``mark``, if known for that very mark."""
        with self._lock:
            kept = self._entries.get(sender_id)
            return kept.stored if kept is not None and kept.mark == mark else None

    def put(self, sender_id: str, mark: Mark, tracker: DialogueStateTracker,
            stored: int | None = None) -> None:
        """Keep a copy of ``tracker`` as the conversation at ``mark``."""
        kept = kept_copy(tracker)
        with self._lock:
            self._entries[sender_id] = Kept(mark, kept, stored)
            self._entries.move_to_end(sender_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def drop(self, sender_id: str) -> None:
        with self._lock:
            self._entries.pop(sender_id, None)


class ClinicSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` at ``settings().tracker_store_url`` (endpoint keys are ignored),
    with the checked cache of the module's documentation."""

    def __init__(self, domain: Any = None, host: Any = None, event_broker: Any = None,
                 **_: Any) -> None:
        arguments = store_arguments(settings().tracker_store_url)
        super().__init__(domain=domain, event_broker=event_broker, **arguments)
        stock: sa.engine.Engine = getattr(self, "engine")  # noqa: B009 - untyped in Rasa
        if arguments["dialect"] == "sqlite":
            stock.dispose()
            stock = sqlite_engine(stock.url)
            self.engine = stock
            self.sessionmaker = sessionmaker(bind=self.engine)
        # SQL errors name no parameters: they would be the event JSON, a patient's words.
        stock.hide_parameters = True
        self.cache = TrackerCache()

    def _mark(self, session: Any, sender_id: str) -> Mark:
        row = (session.query(sa.func.max(self.SQLEvent.id), sa.func.count(self.SQLEvent.id))
               .filter(self.SQLEvent.sender_id == sender_id).one())
        return (row[0], int(row[1]))

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The latest session's tracker: from memory if the database's mark is unchanged."""
        with self.session_scope() as session:
            mark = self._mark(session, sender_id)
        kept = self.cache.get(sender_id, mark)
        if kept is not None and self.domain:
            return kept_copy(kept)
        tracker = await super().retrieve(sender_id)
        if tracker is None:
            self.cache.drop(sender_id)
        else:
            # Rows added after the mark was read make the next mark differ: a miss, never
            # a stale hit.
            self.cache.put(sender_id, mark, tracker)
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Rasa's save (new events appended in one transaction), then the cache's update."""
        await self.stream_events(tracker)
        sender_id = tracker.sender_id
        keep = False
        with self.session_scope() as session:
            before = self._mark(session, sender_id)
            stored = self.cache.stored(sender_id, before)
            self.cache.drop(sender_id)
            if stored is None:  # as Rasa's _additional_events counts
                stored = self._event_query(session, sender_id,
                                           fetch_events_from_all_sessions=False).count()
            added = list(itertools.islice(tracker.events, stored, None))
            for event in added:
                session.add(self._row(sender_id, event))
            session.flush()
            after = self._mark(session, sender_id)
            session.commit()
            # Only our rows were added (no other writer in between), and the database's
            # latest session is still the tracker's (it started no session; it holds at most
            # one, as a tracker loaded by `retrieve` does).
            keep = (after[1] == before[1] + len(added)
                    and not any(isinstance(e, SessionStarted) for e in added)
                    and sum(isinstance(e, SessionStarted) for e in tracker.events) <= 1)
        if keep:
            # Rasa counts the rows from the session's start: the new rows count if they
            # are not older than the tracker's first event (a row of that session).
            first = tracker.events[0].timestamp if tracker.events else None
            counted = first is not None and all(
                e.timestamp is not None and e.timestamp >= first for e in added)
            self.cache.put(sender_id, after, tracker,
                           stored + len(added) if counted else None)

    def _row(self, sender_id: str, event: Event) -> Any:
        """Rasa's row for one event (as ``SQLTrackerStore.save`` writes it)."""
        data = event.as_dict()
        intent = data.get("parse_data", {}).get("intent", {}).get("name")
        return self.SQLEvent(sender_id=sender_id, type_name=event.type_name,
                             timestamp=data.get("timestamp"), intent_name=intent,
                             action_name=data.get("name"), data=json.dumps(data))


def kept_copy(tracker: DialogueStateTracker) -> DialogueStateTracker:
    """A copy of a tracker as Rasa rebuilds it from the database's events: the same events
    and state, with no model, assistant or sender source (``clinic.rasa.tracker_copy``:
    made from the tracker's state, with no replay of its events)."""
    duplicate = tracker.copy()
    duplicate.model_id = None
    duplicate.assistant_id = None
    duplicate.sender_source = None
    return duplicate


def sqlite_engine(url: Any) -> sa.engine.Engine:
    """A pooled engine for the SQLite tracker store (see the module's documentation).

    Rasa uses the store from its event loop's thread, one session at a time; the pool may
    still hand a connection to another thread (``check_same_thread`` off), never to two
    at once.
    """
    engine = sa.create_engine(url, poolclass=QueuePool, pool_size=1, max_overflow=4,
                              connect_args={"check_same_thread": False})
    event.listen(engine, "connect", configure_connection)
    return engine


def configure_connection(connection: Any, _: Any) -> None:
    cursor = connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA secure_delete = ON")
        set_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()
    private_sqlite_files(connection)  # the conversations: the service's user only
