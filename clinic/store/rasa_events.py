"""Read-only access to Rasa's SQL tracker store (table ``events``), on SQLite and PostgreSQL.

Rasa's ``SQLTrackerStore`` writes one row per event: ``id``, ``sender_id`` (indexed),
``type_name`` ("user", "bot", "action", "slot", "active_loop", "pause", "resume", ...),
``timestamp`` (seconds since the epoch), ``intent_name`` (user events), ``action_name``
(the event's ``name``: the action for "action" events, the slot for "slot" events, the form
for "active_loop" events) and ``data`` (the event as JSON). The console reads it as it is:
it never writes there (changes go through Rasa's HTTP API) and adds no index of its own.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Engine

from clinic.config.settings import resolve_sqlite_url, settings

log = logging.getLogger(__name__)

_metadata = MetaData()
EVENTS = Table(
    "events", _metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)

_lock = threading.Lock()
_engines: dict[str, Engine] = {}


def tracker_url(url: str | None = None) -> str:
    """The tracker store's SQLAlchemy URL (``tracker_store_url`` setting by default)."""
    return resolve_sqlite_url(url) if url else settings().tracker_store_url


def engine(url: str | None = None) -> Engine:
    """A pooled engine for the tracker store (created once per URL)."""
    url = tracker_url(url)
    with _lock:
        found = _engines.get(url)
        if found is None:
            connect_args = {"timeout": 15} if url.startswith("sqlite") else {}
            found = create_engine(url, future=True, hide_parameters=True,
                                  connect_args=connect_args, pool_pre_ping=True)
            _engines[url] = found
        return found


def dispose() -> None:
    """Forget every engine (tests)."""
    with _lock:
        for item in _engines.values():
            item.dispose()
        _engines.clear()


def has_events_table(url: str | None = None) -> bool:
    """False until Rasa has stored its first conversation."""
    try:
        return bool(sa_inspect(engine(url)).has_table("events"))
    except Exception as error:  # noqa: BLE001 - an unreachable store shows as empty
        log.warning("Tracker store unavailable: %s", type(error).__name__)
        return False


@dataclass
class Event:
    """One tracker event as the console needs it."""

    id: int
    sender_id: str
    type: str
    timestamp: float
    intent: str | None
    name: str | None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The message text of a user or bot event."""
        return str(self.data.get("text") or "")

    @property
    def metadata(self) -> dict[str, Any]:
        """The event's metadata (staff messages carry ``clinic_staff``)."""
        value = self.data.get("metadata")
        return value if isinstance(value, dict) else {}

    @property
    def input_channel(self) -> str:
        """The channel of a user message ("socketio", "twilio", "rest", ...)."""
        return str(self.data.get("input_channel") or "")

    @property
    def slot_value(self) -> Any:
        """The value of a slot event."""
        return self.data.get("value")


def _event(row: Any) -> Event:
    try:
        data = json.loads(row.data) if row.data else {}
    except (TypeError, ValueError):
        data = {}
    return Event(row.id, row.sender_id, row.type_name, float(row.timestamp or 0.0),
                 row.intent_name, row.action_name, data if isinstance(data, dict) else {})


def load_events(sender_ids: Iterable[str], after_id: int = 0,
                url: str | None = None) -> dict[str, list[Event]]:
    """Every event of these conversations (after event ``after_id``), oldest first."""
    wanted = list(dict.fromkeys(sender_ids))
    result: dict[str, list[Event]] = {s: [] for s in wanted}
    if not wanted or not has_events_table(url):
        return result
    with engine(url).connect() as connection:
        for start in range(0, len(wanted), 400):
            chunk = wanted[start:start + 400]
            query = (select(EVENTS).where(EVENTS.c.sender_id.in_(chunk), EVENTS.c.id > after_id)
                     .order_by(EVENTS.c.id))
            for row in connection.execute(query):
                result[row.sender_id].append(_event(row))
    return result
