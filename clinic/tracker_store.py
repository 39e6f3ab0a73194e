"""Rasa's SQL tracker store, configured by the one ``tracker_store_url`` setting.

``endpoints.yml`` names this class instead of repeating the database's address::

    tracker_store:
      type: clinic.tracker_store.ClinicSQLTrackerStore

so Rasa, the staff tool (``clinic erase``, ``clinic purge``) and the tests all read the same
``tracker_store_url`` (``settings.yml`` or ``CLINIC_TRACKER_STORE_URL``): a SQLite file by
default, PostgreSQL in production (``postgresql://user:password@host:5432/rasa``). On SQLite,
deleted rows are overwritten (``PRAGMA secure_delete``).

On SQLite, Rasa's engine opens a new connection for every query (SQLAlchemy 1.4's default
for files) and commits each save with a full fsync of a rollback journal. This store keeps
one pooled connection instead, in WAL mode with ``synchronous = NORMAL`` (a commit appends
to the log; a power cut may lose the last turns, never corrupt the file), as the clinic
database does (:mod:`clinic.db`). Erasure and purge empty the WAL file after deleting
(:func:`clinic.db.flush_deleted`), so erased messages do not linger in it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

from clinic.db import SQLITE_BUSY_TIMEOUT_MS, set_wal
from clinic.settings import settings


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


class ClinicSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` at ``settings().tracker_store_url`` (endpoint keys are ignored)."""

    def __init__(self, domain: Any = None, host: Any = None, event_broker: Any = None,
                 **_: Any) -> None:
        arguments = store_arguments(settings().tracker_store_url)
        super().__init__(domain=domain, event_broker=event_broker, **arguments)
        if arguments["dialect"] == "sqlite":
            stock: sa.engine.Engine = getattr(self, "engine")  # noqa: B009 - untyped in Rasa
            stock.dispose()
            self.engine = sqlite_engine(stock.url)
            self.sessionmaker = sessionmaker(bind=self.engine)


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
