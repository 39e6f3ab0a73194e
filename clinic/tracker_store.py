"""Rasa's SQL tracker store, configured by the one ``tracker_store_url`` setting.

``endpoints.yml`` names this class instead of repeating the database's address::

    tracker_store:
      type: clinic.tracker_store.ClinicSQLTrackerStore

so Rasa, the staff tool (``clinic erase``, ``clinic purge``) and the tests all read the same
``tracker_store_url`` (``settings.yml`` or ``CLINIC_TRACKER_STORE_URL``): a SQLite file by
default, PostgreSQL in production (``postgresql://user:password@host:5432/rasa``). On SQLite,
deleted rows are overwritten (``PRAGMA secure_delete``).
"""

from __future__ import annotations

from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from sqlalchemy import event
from sqlalchemy.engine import make_url

from clinic.private import private_sqlite_files
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
        # SQL errors name no parameters: they would be the event JSON, a patient's words.
        self.engine.hide_parameters = True
        if arguments["dialect"] == "sqlite":
            event.listen(self.engine, "connect", _secure_delete)


def _secure_delete(connection: Any, _: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()
    private_sqlite_files(connection)  # the conversations: the service's user only
