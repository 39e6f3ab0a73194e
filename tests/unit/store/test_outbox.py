"""The shared retry/claim worker (clinic/store/outbox.py): its decisions and its SQL helpers."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from sqlalchemy import Column, DateTime, Integer, String, create_engine
from sqlalchemy.orm import Session, declarative_base

from clinic.store.outbox import (
    Decision,
    Failure,
    Outcome,
    RetryPolicy,
    claim,
    due_ids,
    fail_stale_claims,
    lease_values,
    mark,
)

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
MINUTE = dt.timedelta(minutes=1)
POLICY = RetryPolicy(base_delay=MINUTE, max_delay=dt.timedelta(hours=1), max_attempts=5)
STATUSES = {"delivered": "sent", "waiting": "scheduled", "failed": "failed"}


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    assert [POLICY.backoff(n) for n in (0, 1, 2, 3, 4)] == [MINUTE, MINUTE, 2 * MINUTE,
                                                           4 * MINUTE, 8 * MINUTE]
    assert POLICY.backoff(7) == dt.timedelta(hours=1)
    assert POLICY.backoff(60) == POLICY.backoff(10**6) == dt.timedelta(hours=1)
    huge = RetryPolicy(dt.timedelta(days=10**5), dt.timedelta(days=10**6), 3)
    assert huge.backoff(40) == dt.timedelta(days=10**6)  # past what timedelta holds


def test_a_transient_failure_is_retried_until_the_attempt_limit() -> None:
    retry = POLICY.decide(2, NOW, Failure("HTTP 500"))
    assert retry == Decision(Outcome.RETRY, NOW + 2 * MINUTE, "HTTP 500")
    last = POLICY.decide(5, NOW, Failure("HTTP 500"))
    assert (last.outcome, last.next_attempt_at, last.exhausted) == (Outcome.FAILED, None, True)


def test_permanent_unknown_and_delivered() -> None:
    assert POLICY.decide(1, NOW, Failure("invalid number", permanent=True)) == Decision(
        Outcome.FAILED, reason="invalid number")
    # Unknown wins over permanent: it may have been delivered, never try again.
    assert POLICY.decide(1, NOW, Failure("timeout", permanent=True, unknown=True)).outcome \
        is Outcome.UNKNOWN
    assert POLICY.decide(9, NOW, None) == Decision(Outcome.DELIVERED)


@pytest.mark.parametrize(("decision", "expected"), [
    (Decision(Outcome.DELIVERED), ("sent", None, NOW)),
    (Decision(Outcome.RETRY, NOW + MINUTE, "busy"), ("scheduled", "busy", NOW + MINUTE)),
    (Decision(Outcome.FAILED, reason="bad"), ("failed", "bad", None)),
    (Decision(Outcome.UNKNOWN, reason="timeout"), ("failed", "timeout", None)),
    (Decision(Outcome.FAILED, reason="busy", exhausted=True), ("failed", "gave up", None)),
])
def test_mark_records_the_decision(decision: Decision, expected: tuple) -> None:
    row = SimpleNamespace(status="sending", last_error="old", next_attempt_at=NOW)
    mark(row, decision, **STATUSES, gave_up="gave up")
    assert (row.status, row.last_error, row.next_attempt_at) == expected


def test_without_a_gave_up_text_the_last_reason_stays() -> None:
    row = SimpleNamespace(status="pending", last_error=None, next_attempt_at=NOW)
    mark(row, Decision(Outcome.FAILED, reason="HTTP 500", exhausted=True),
         delivered="delivered", waiting="pending", failed="failed")
    assert (row.status, row.last_error) == ("failed", "HTTP 500")


Base = declarative_base()


class Row(Base):
    __tablename__ = "rows"
    id = Column(Integer, primary_key=True)
    status = Column(String, nullable=False)
    next_attempt_at = Column(DateTime)
    claimed_at = Column(DateTime)
    last_error = Column(String)


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    naive = NOW.replace(tzinfo=None)
    with Session(engine) as session:
        session.add_all([
            Row(id=1, status="pending", next_attempt_at=naive),
            Row(id=2, status="pending", next_attempt_at=naive + MINUTE),
            Row(id=3, status="sending", claimed_at=naive - 20 * MINUTE),
            Row(id=4, status="sending", claimed_at=naive - MINUTE),
        ])
        session.commit()
        yield session


def test_due_rows_and_a_claim_only_one_worker_gets(session: Session) -> None:
    now = NOW.replace(tzinfo=None)
    waiting = [Row.status == "pending", Row.next_attempt_at <= now]
    assert due_ids(session, Row, waiting, [Row.id], 10) == [1]
    assert claim(session, Row, 1, waiting, lease_values(now, MINUTE)) is True
    assert claim(session, Row, 1, waiting, lease_values(now, MINUTE)) is False  # leased
    assert due_ids(session, Row, waiting, [Row.id], 10) == []
    assert claim(session, Row, 2, [Row.status == "pending"], {"status": "sending"}) is True


def test_stale_claims_are_failed_never_resent(session: Session) -> None:
    now = NOW.replace(tzinfo=None)
    assert fail_stale_claims(session, Row, "sending", "failed", now - 10 * MINUTE,
                             "delivery unknown") == 1
    session.expire_all()
    assert [(r.id, r.status, r.last_error) for r in session.query(Row).order_by(Row.id)][2:] \
        == [(3, "failed", "delivery unknown"), (4, "sending", None)]
