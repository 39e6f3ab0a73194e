"""The clinic database: migrations, SQLite settings, UTC timestamps, transactions."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.exc import IntegrityError

from clinic.config.settings import settings
from clinic.store import db
from clinic.store.models import Base, BookingRequest, PromotionRedemption, SmsOptOut
from tests.support import race

UTC = dt.timezone.utc
TABLES = {"booking_requests", "sms_consents", "promotion_redemptions", "sms_opt_outs",
          "followups", "sms_messages", "webhook_deliveries"}


@pytest.fixture
def db_url(clinic_db):
    return clinic_db


def booking(reference: str = "MN-TEST22", **changes) -> BookingRequest:
    values = dict(reference=reference, conversation_id="c", channel="rest", name="Ada",
                  phone_e164="+14155552671", treatment="facial_microneedling",
                  screening_outcome="eligible", screening_summary="", status="requested")
    values.update(changes)
    return BookingRequest(**values)


def test_first_use_creates_every_table(db_url):
    engine = db.get_engine()  # the configured URL
    assert str(engine.url) == db_url
    assert TABLES <= set(inspect(engine).get_table_names())


def test_migrations_run_twice_safely_and_keep_data(db_url):
    db.migrate(db_url)
    with db.session_scope(db_url) as session:
        session.add(booking())
    db.dispose_engines()
    db.migrate(db_url)
    db.migrate(db_url)
    with db.read_scope(db_url) as session:
        assert session.execute(select(BookingRequest.reference)).scalars().all() == ["MN-TEST22"]
        versions = session.execute(text("SELECT version_num FROM alembic_version")).all()
    assert [row[0] for row in versions] == [head_revision()]


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def test_models_and_migrations_agree(db_url):
    engine = db.get_engine(db_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def _migrate_in_process(url: str, barrier, queue) -> None:
    from clinic.store import db as clinic_db

    barrier.wait()
    try:
        clinic_db.migrate(url)
        queue.put("ok")
    except Exception as error:  # noqa: BLE001 - the parent asserts on it
        queue.put(repr(error))


def _at_once(target, argument: str, workers: int, start: str, timeout: float) -> list[str]:
    """Run ``target(argument, barrier, queue)`` in ``workers`` processes released together;
    what each put on the queue."""
    context = multiprocessing.get_context(start)
    barrier, queue = context.Barrier(workers), context.Queue()
    processes = [context.Process(target=target, args=(argument, barrier, queue))
                 for _ in range(workers)]
    for process in processes:
        process.start()
    outcomes = [queue.get(timeout=timeout) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    return outcomes


def test_concurrent_first_migrations_from_several_processes(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert _at_once(_migrate_in_process, url, 3, "spawn", 120) == ["ok"] * 3
    engine = create_engine(url)
    try:
        assert TABLES <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _open_new_file_at_once(path: str, barrier, queue) -> None:
    import sqlite3

    from clinic.store import db as clinic_db

    barrier.wait()
    try:
        connection = sqlite3.connect(path, timeout=30)
        clinic_db.configure_sqlite_connection(connection, None)
        queue.put(connection.execute("PRAGMA journal_mode").fetchone()[0])
        connection.close()
    except Exception as error:  # noqa: BLE001 - the parent asserts on it
        queue.put(repr(error))


def test_processes_opening_a_new_file_at_once_all_get_wal(tmp_path):
    # Switching a new file to WAL does not wait on the busy timeout: without the retry
    # about a quarter of these rounds had one process fail with "database is locked".
    for round_number in range(40):
        path = str(tmp_path / f"new-{round_number}.db")
        outcomes = _at_once(_open_new_file_at_once, path, 6, "fork", 60)
        assert outcomes == ["wal"] * 6, f"round {round_number}"


class _LockedCursor:
    def __init__(self, failures: int, message: str = "database is locked") -> None:
        self.failures, self.message, self.calls = failures, message, 0

    def execute(self, sql: str):
        import sqlite3

        self.calls += 1
        if self.calls <= self.failures:
            raise sqlite3.OperationalError(self.message)
        return self

    def fetchone(self):
        return ("wal",)


def test_the_wal_switch_is_retried_while_locked_and_other_errors_are_not():
    import sqlite3

    cursor = _LockedCursor(failures=3)
    db.set_wal(cursor, patience_s=5)
    assert cursor.calls == 4
    other = _LockedCursor(failures=1, message="disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        db.set_wal(other, patience_s=5)
    assert other.calls == 1
    forever = _LockedCursor(failures=10**6)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        db.set_wal(forever, patience_s=0.05)


def test_sqlite_runs_with_foreign_keys_wal_and_a_busy_timeout(db_url):
    with db.get_engine(db_url).connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    with pytest.raises(IntegrityError):
        with db.session_scope(db_url) as session:
            session.add(PromotionRedemption(code="FACIAL50", phone_e164="+14155552671",
                                            booking_id=999, redeemed_at=db_now()))


def db_now() -> dt.datetime:
    return dt.datetime.now(UTC)


def test_timestamps_are_stored_in_utc_and_come_back_aware(db_url):
    local = dt.datetime(2026, 7, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=-7)))
    with db.session_scope(db_url) as session:
        session.add(booking(created_at=local, status_changed_at=local))
    with db.read_scope(db_url) as session:
        stored = session.execute(text("SELECT created_at FROM booking_requests")).scalar_one()
        loaded = session.execute(select(BookingRequest)).scalar_one()
    assert str(stored).startswith("2026-07-01 16:30:00")  # UTC on disk
    assert loaded.created_at == local and loaded.created_at.utcoffset() == dt.timedelta(0)


def test_naive_timestamps_are_refused(db_url):
    with pytest.raises(Exception, match="timezone-aware"):
        with db.session_scope(db_url) as session:
            session.add(SmsOptOut(phone_e164="+14155552671", opted_out=True, keyword="STOP",
                                  changed_at=dt.datetime(2026, 7, 1, 9, 30)))


def test_session_scope_commits_or_rolls_back(db_url):
    with pytest.raises(RuntimeError):
        with db.session_scope(db_url) as session:
            session.add(booking("MN-ROLL22"))
            session.flush()
            raise RuntimeError("boom")
    with db.session_scope(db_url) as session:
        session.add(booking("MN-KEEP22"))
    with db.read_scope(db_url) as session:
        assert session.execute(select(BookingRequest.reference)).scalars().all() == ["MN-KEEP22"]


def test_read_scope_never_writes(db_url):
    with db.read_scope(db_url) as session:
        session.add(booking("MN-READ22"))
        session.flush()
    with db.read_scope(db_url) as session:
        assert session.execute(select(BookingRequest)).first() is None


def test_unreachable_database_is_reported_without_a_crash(tmp_path, caplog):
    url = f"sqlite:///{tmp_path / 'no-such-folder' / 'clinic.db'}"
    with pytest.raises(db.DatabaseUnavailable) as raised:
        with db.session_scope(url):
            pass
    assert "unavailable" in str(raised.value)
    assert any("unavailable" in record.getMessage() for record in caplog.records)


def test_errors_never_carry_personal_data(db_url):
    """SQL parameters (names, phones) stay out of error messages, hence out of logs."""
    with db.session_scope(db_url) as session:
        session.add(booking("MN-DUPE22", name="Grace Hopper"))
    with pytest.raises(IntegrityError) as raised:
        with db.session_scope(db_url) as session:
            session.add(booking("MN-DUPE22", name="Grace Hopper", phone_e164="+12065550100"))
    assert "Grace" not in str(raised.value) and "+1206" not in str(raised.value)


POSTGRES_URL = os.environ.get("CLINIC_TEST_POSTGRES_URL", "")
needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="set CLINIC_TEST_POSTGRES_URL to a scratch PostgreSQL database "
    "(e.g. postgresql://user@127.0.0.1:5432/scratch) to run the PostgreSQL checks")


@pytest.fixture
def pg_url(monkeypatch):
    """A throw-away schema in the scratch PostgreSQL database, dropped afterwards."""
    schema = f"clinic_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}options=-csearch_path%3D{schema}"
    monkeypatch.setenv("CLINIC_DATABASE_URL", url)
    monkeypatch.delenv("CLINIC_BOOKING_WEBHOOK_URL", raising=False)
    settings.cache_clear()
    try:
        yield url
    finally:
        db.dispose_engines()
        settings.cache_clear()
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@needs_postgres
def test_postgresql_migrates_and_enforces_once_per_person(pg_url):
    db.migrate(pg_url)
    db.migrate(pg_url)
    with db.session_scope(pg_url) as session:
        first = booking("MN-PGPG22")
        session.add(first)
        session.flush()
        session.add(PromotionRedemption(code="FACIAL50", phone_e164="+14155552671",
                                        booking_id=first.id, redeemed_at=db_now()))
    with pytest.raises(IntegrityError):
        with db.session_scope(pg_url) as session:
            session.add(PromotionRedemption(code="FACIAL50", phone_e164="+14155552671",
                                            booking_id=first.id, redeemed_at=db_now()))
    with db.read_scope(pg_url) as session:
        loaded = session.execute(select(BookingRequest)).scalar_one()
    assert loaded.created_at.tzinfo is not None


@needs_postgres
def test_postgresql_concurrent_saves_redeem_once(pg_url):
    """On PostgreSQL the read-only checks really do race: the constraint decides."""
    from clinic.knowledge.kb import knowledge
    from clinic.rules.booking import BookingDraft
    from clinic.services.booking import save_booking

    kb = knowledge()
    db.get_engine(pg_url)
    workers = 6

    def draft(index: int) -> BookingDraft:
        return BookingDraft(
            name="Ada Lovelace", phone_e164="+14155552671", email="ada@example.com",
            treatment="facial_microneedling", preferred_times_text="", sms_consent=False,
            sms_consent_wording=kb.clinic.sms_consent_wording, conversation_id=f"pg-{index}",
            channel="rest", screening_answers={r.id: "no" for r in kb.screening.contraindications})

    results, errors = race(workers, draft, lambda d: save_booking(d, kb, today=dt.date(2026, 3, 10)))
    assert errors == []
    reasons = [result.promo_decision.reason for result in results]
    assert sorted(reasons) == ["already_used"] * (workers - 1) + ["applied"]
    with db.read_scope(pg_url) as session:
        assert len(session.execute(select(PromotionRedemption)).all()) == 1
        assert len(session.execute(select(BookingRequest)).all()) == workers


def test_visit_history_migration_writes_the_known_history_and_allows_visit_audits(tmp_path):
    """0006_visit_events on a database with visits: each gets its hold and current state as
    history; the audit log accepts the staff's visit actions; and it downgrades cleanly."""
    from alembic import command
    from alembic.config import Config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)

    def to(revision: str, down: bool = False) -> None:
        config = Config()
        config.set_main_option("script_location", str(db.MIGRATIONS_DIR))
        with engine.connect() as connection, connection.begin():
            config.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(config, revision)

    to("0005_appointments")
    from sqlalchemy.orm import Session

    from clinic.store.models import Appointment

    now = "2031-03-03 16:00:00"
    when = dt.datetime(2031, 3, 3, 16, tzinfo=UTC)
    with Session(engine) as session, session.begin():  # the tables 0005 made, unchanged since
        session.add(booking("MN-OLD222", id=1))
        for visit_id, state in ((1, "confirmed"), (2, "held"), (3, "failed")):
            session.add(Appointment(id=visit_id, booking_id=1, calendar_url=f"cal{visit_id}",
                                    treatment="facial_microneedling", starts_at=when,
                                    ends_at=when, buffer_minutes=15, state=state,
                                    created_at=when, state_changed_at=when,
                                    calendar_attempts=0))
    to("head")
    with engine.begin() as connection:
        history = connection.execute(text(
            "SELECT appointment_id, kind FROM visit_events ORDER BY appointment_id, id")).all()
        connection.execute(text(
            "INSERT INTO audit_log (at, staff_email, action, detail) "
            "VALUES (:now, 'a@clinic.example', 'visit_confirm', 'visit 1: confirmed')"),
            {"now": now})
    assert [tuple(row) for row in history] == [(1, "held"), (1, "confirmed"), (2, "held"),
                                              (3, "failed")]
    to("0005_appointments", down=True)
    assert "visit_events" not in inspect(engine).get_table_names()
    with engine.begin() as connection, pytest.raises(IntegrityError):
        connection.execute(text(
            "INSERT INTO audit_log (at, staff_email, action, detail) "
            "VALUES (:now, '', 'visit_confirm', '')"), {"now": now})
