"""The one retry/claim worker for outbound deliveries: booking webhooks and aftercare texts.

An outbox is a table of rows to deliver (``webhook_deliveries``, ``followups``), each with
``id``, ``status``, ``attempts``, ``next_attempt_at`` and ``last_error``. A pass:

1. lists the due rows (:func:`due_ids`);
2. **claims** each one with one conditional UPDATE whose row count says whether this worker
   got it (:func:`claim`), so any number of workers can run at once; no transaction is held
   open while delivering;
3. delivers it, and turns what happened (nothing, or a :class:`Failure`) into a
   :class:`Decision` (:meth:`RetryPolicy.decide`: delivered, retry at a backoff time,
   failed, or delivery unknown);
4. **marks** the row accordingly (:func:`mark`).

Two claim styles, one per guarantee:

- *at least once* (the webhook; the receiver ignores a repeat): the claim pushes
  ``next_attempt_at`` a lease ahead and leaves the row waiting; a worker that dies simply
  lets the lease run out and the row is tried again;
- *at most once* (texts; a patient must never get one twice): the claim moves the row to a
  ``sending`` status; a row left there by a worker that died is never sent again but marked
  failed as "delivery unknown" (:func:`fail_stale_claims`), for staff to check.

The decisions (:class:`RetryPolicy`) are pure; the SQL helpers take the model class, so the
two outboxes share them without sharing a table.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement


class Outcome(enum.Enum):
    """What became of one delivery attempt."""

    DELIVERED = "delivered"
    RETRY = "retry"  # try again at Decision.next_attempt_at
    FAILED = "failed"  # a permanent error, or the attempt limit reached: given up
    UNKNOWN = "unknown"  # it may have arrived: never retried (at most once), marked failed


@dataclass(frozen=True)
class Failure:
    """Why an attempt did not deliver.

    ``permanent``: trying again cannot help. ``unknown``: the delivery may have happened
    (e.g. a timeout after the request went out); retrying could deliver it twice.
    """

    reason: str
    permanent: bool = False
    unknown: bool = False


@dataclass(frozen=True)
class Decision:
    """What to do with a row after an attempt."""

    outcome: Outcome
    next_attempt_at: dt.datetime | None = None
    reason: str | None = None  # the failure's reason (None when delivered)
    exhausted: bool = False  # FAILED because the attempt limit was reached


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff from ``base_delay``, capped at ``max_delay``; ``max_attempts`` tries."""

    base_delay: dt.timedelta
    max_delay: dt.timedelta
    max_attempts: int

    def backoff(self, attempts: int) -> dt.timedelta:
        """The wait after ``attempts`` failed tries: base, 2x base, 4x base, ... up to the cap."""
        exponent = max(attempts - 1, 0)
        if exponent >= 64:  # far past any cap; spares computing a huge number
            return self.max_delay
        try:
            delay: dt.timedelta = self.base_delay * (2 ** exponent)
            return min(delay, self.max_delay)
        except OverflowError:  # more than timedelta can hold
            return self.max_delay

    def decide(self, attempts: int, now: dt.datetime, failure: Failure | None) -> Decision:
        """The decision after the ``attempts``-th try (counting this one) ended in ``failure``.

        ``failure`` None means delivered.
        """
        if failure is None:
            return Decision(Outcome.DELIVERED)
        if failure.unknown:
            return Decision(Outcome.UNKNOWN, reason=failure.reason)
        if failure.permanent:
            return Decision(Outcome.FAILED, reason=failure.reason)
        if attempts >= self.max_attempts:
            return Decision(Outcome.FAILED, reason=failure.reason, exhausted=True)
        return Decision(Outcome.RETRY, now + self.backoff(attempts), failure.reason)


# --------------------------------------------------------------------------- the table


def due_ids(session: Session, model: Any, conditions: Sequence[ColumnElement[bool]],
            order_by: Sequence[Any], limit: int) -> list[int]:
    """Ids of ``model`` rows matching every condition, in ``order_by`` order, ``limit`` at most."""
    query = select(model.id).where(*conditions).order_by(*order_by).limit(limit)
    return list(session.execute(query).scalars())


def claim(session: Session, model: Any, row_id: int,
          conditions: Sequence[ColumnElement[bool]], values: dict[str, Any]) -> bool:
    """Take one row for this worker: set ``values`` on it if it still meets ``conditions``.

    True if this worker got it. One UPDATE, so of two workers racing for a row exactly one
    does (the other's WHERE no longer matches).
    """
    result = session.execute(
        update(model).where(model.id == row_id, *conditions).values(**values)
        .execution_options(synchronize_session=False))
    return int(result.rowcount or 0) == 1


def lease_values(now: dt.datetime, lease: dt.timedelta) -> dict[str, Any]:
    """The at-least-once claim: other workers leave the row alone until the lease runs out."""
    return {"next_attempt_at": now + lease}


def fail_stale_claims(session: Session, model: Any, sending: str, failed: str,
                      older_than: dt.datetime, reason: str) -> int:
    """The at-most-once claims older than ``older_than`` (their worker died): mark them
    ``failed`` with ``reason``, never to be sent again. Returns how many."""
    result = session.execute(
        update(model).where(model.status == sending, model.claimed_at < older_than)
        .values(status=failed, last_error=reason)
        .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)


def mark(row: Any, decision: Decision, *, delivered: str, waiting: str, failed: str,
         gave_up: str | None = None) -> None:
    """Record ``decision`` on ``row`` (a model instance in the caller's session).

    ``delivered``, ``waiting`` and ``failed`` are the outbox's status names. ``gave_up``
    is the ``last_error`` when the attempt limit was reached (default: the last reason).
    Delivered clears ``last_error``; the delivery time is the caller's to set.
    """
    if decision.outcome is Outcome.DELIVERED:
        row.status, row.last_error = delivered, None
    elif decision.outcome is Outcome.RETRY:
        row.status, row.last_error = waiting, decision.reason
        row.next_attempt_at = decision.next_attempt_at
    else:
        row.status = failed
        row.last_error = gave_up if decision.exhausted and gave_up is not None \
            else decision.reason
        row.next_attempt_at = None
