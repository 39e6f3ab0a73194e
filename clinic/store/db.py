"""The clinic database: engine, transactional sessions and automatic schema migration.

The URL comes from ``settings().database_url`` (a SQLite file by default, PostgreSQL by
changing the URL). The schema is managed by Alembic (``clinic/store/migrations``) and brought
to the newest revision automatically the first time a process uses a database, so a fresh
clone needs no set-up step. :func:`migrate` is safe to run repeatedly and from several
processes at once.

SQLite notes. Python's ``sqlite3`` driver starts transactions lazily and only before
writes, which breaks SAVEPOINTs and lets a read-then-write transaction fail with
"database is locked" as soon as another writer commits in between. So the driver's own
transaction handling is switched off and this module emits ``BEGIN`` itself: ``BEGIN
IMMEDIATE`` for :func:`session_scope` (writers queue up on the busy timeout instead of
failing) and a plain deferred ``BEGIN`` for :func:`read_scope`. Keep write scopes short:
no network calls inside them, because they hold SQLite's single write lock.

Switching a new SQLite file to WAL takes an exclusive lock without waiting on the busy
timeout: two processes opening a fresh file at once (a first start of several workers)
can have one fail at once with "database is locked". :func:`set_wal` retries it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from clinic.config.private_files import private_files, private_sqlite_files
from clinic.config.settings import resolve_sqlite_url, settings

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any fixed number works: it only has to be the same in every process that migrates.
_PG_MIGRATION_LOCK_KEY = 7_340_211_905

_lock = threading.RLock()
_engines: dict[str, Engine] = {}
_migrated: set[str] = set()


class DatabaseUnavailable(Exception):
    """The clinic database cannot be reached (or is locked for too long).

    The message never contains SQL parameters, so it is safe to log; callers tell the
    person how to book by phone instead.
    """


def database_url(url: str | None = None) -> str:
    """The URL to use: ``url`` if given, else the configured ``database_url``.

    A relative SQLite path is taken from the project root, as in settings.yml.
    """
    return resolve_sqlite_url(url) if url else settings().database_url


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def configure_sqlite_connection(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # Take transaction control away from the driver (see the module docstring).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        # Deleted rows are overwritten with zeros, not left readable in free pages.
        cursor.execute("PRAGMA secure_delete = ON")
        # WAL lets staff read while the assistant writes. In-memory databases ignore it.
        set_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()
    private_sqlite_files(dbapi_connection)


def set_wal(cursor: sqlite3.Cursor,
            patience_s: float = SQLITE_BUSY_TIMEOUT_MS / 1000) -> None:
    """``PRAGMA journal_mode = WAL``, retried while another connection holds the lock.

    The change from the rollback journal to WAL does not wait on the busy timeout; when
    another process converts or reads the same new file at that moment, SQLite answers
    "database is locked" at once. Once a file is in WAL mode the pragma is a plain read.
    """
    deadline = time.monotonic() + patience_s
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL").fetchone()
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _on_other_sqlite_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA secure_delete = ON")
    finally:
        cursor.close()
    private_sqlite_files(dbapi_connection)


def external_engine(url: str) -> Engine:
    """A new engine for another database the clinic deletes from (Rasa's tracker store).

    On SQLite every connection runs ``PRAGMA secure_delete = ON``, as the clinic
    database's do. The caller disposes of it.
    """
    engine = create_engine(url, future=True, hide_parameters=True)
    if _is_sqlite(url):
        event.listen(engine, "connect", _on_other_sqlite_connect)
    return engine


def flush_deleted(engine: Engine) -> None:
    """After deleting personal data from SQLite: checkpoint and empty the WAL file.

    secure_delete zeroes the freed space in the database file; the write-ahead log can
    still hold older copies of the changed pages until it is checkpointed and
    truncated. No-op on other databases and on SQLite files not in WAL mode.
    """
    if not _is_sqlite(str(engine.url)):
        return
    raw = engine.raw_connection()
    try:
        raw.isolation_level = None  # autocommit: a checkpoint can't run in a transaction
        cursor = raw.cursor()
        try:
            busy = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            cursor.close()
    finally:
        raw.close()
    if busy and busy[0]:
        log.warning("SQLite WAL checkpoint incomplete (a reader is active); deleted data "
                    "leaves the WAL file at the next checkpoint.")


def _on_sqlite_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    connection.exec_driver_sql(f"BEGIN {mode}".strip())


def _engine(url: str) -> Engine:
    """The process-wide engine for ``url`` (created once, not migrated)."""
    with _lock:
        engine = _engines.get(url)
        if engine is not None:
            return engine
        if _is_sqlite(url):
            engine = create_engine(
                url,
                future=True,
                hide_parameters=True,  # personal data never reaches error messages or logs
                connect_args={
                    "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                    "check_same_thread": False,
                },
            )
            event.listen(engine, "connect", configure_sqlite_connection)
            event.listen(engine, "begin", _on_sqlite_begin)
        else:
            engine = create_engine(url, future=True, hide_parameters=True, pool_pre_ping=True)
        _engines[url] = engine
        return engine


def _describe(error: BaseException) -> str:
    """A short, parameter-free description of a database error."""
    original = getattr(error, "orig", None) or error
    first_line = str(original).strip().splitlines()[0] if str(original).strip() else ""
    return f"{type(original).__name__}: {first_line}" if first_line else type(original).__name__


def _unavailable(error: exc.DBAPIError) -> DatabaseUnavailable:
    problem = DatabaseUnavailable(f"the clinic database is unavailable ({_describe(error)})")
    log.error("Clinic database unavailable: %s", _describe(error))
    return problem


def _is_connection_problem(error: exc.DBAPIError) -> bool:
    return isinstance(error, (exc.OperationalError, exc.InterfaceError)) or bool(
        getattr(error, "connection_invalidated", False)
    )


def migrate(url: str | None = None) -> None:
    """Bring the database schema to the newest revision (Alembic ``upgrade head``).

    Runs in one transaction under a lock (SQLite's write lock, a PostgreSQL advisory
    lock), so concurrent callers wait for each other and then find nothing to do.
    Raises :class:`DatabaseUnavailable` if the database cannot be reached.
    """
    # Lazy: Alembic is needed only when the schema is migrated.
    from alembic import command
    from alembic.config import Config

    url = database_url(url)
    engine = _engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # env.py picks up this connection instead of building its own engine.
    try:
        with engine.connect() as connection:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.exec_driver_sql(
                        f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK_KEY})"
                    )
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
    except exc.DBAPIError as error:
        if _is_connection_problem(error):
            raise _unavailable(error) from None
        raise
    with _lock:
        _migrated.add(url)


def get_engine(url: str | None = None) -> Engine:
    """The engine for ``url`` (default: configured), with the schema migrated on first use."""
    url = database_url(url)
    if url not in _migrated:
        with _lock:
            if url not in _migrated:
                migrate(url)
    return _engine(url)


def dispose_engines() -> None:
    """Close every pooled connection and forget engines (tests, forked workers)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _migrated.clear()


@contextmanager
def _scope(url: str | None, *, write: bool) -> Iterator[Session]:
    engine = get_engine(url)
    if not write:
        engine = engine.execution_options(sqlite_begin="")
    session = sessionmaker(bind=engine, future=True, expire_on_commit=False)()
    try:
        yield session
        if write:
            session.commit()
        # A read scope just closes: that ends the transaction without expiring the
        # loaded objects (a rollback would), so callers can use them afterwards.
    except exc.DBAPIError as error:
        session.rollback()
        if _is_connection_problem(error):
            raise _unavailable(error) from None
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session in one write transaction: committed on success, rolled back on error.

    Raises :class:`DatabaseUnavailable` when the database cannot be reached or stays
    locked past the busy timeout. Objects stay usable after the block (no expiry).
    """
    with _scope(url, write=True) as session:
        yield session


@contextmanager
def read_scope(url: str | None = None) -> Iterator[Session]:
    """A read-only session (a consistent snapshot on SQLite); never commits anything."""
    with _scope(url, write=False) as session:
        yield session


if __name__ == "__main__":
    # `python -m clinic.store.db` (run by `make run`): create or upgrade the clinic database.
    private_files()
    migrate()
