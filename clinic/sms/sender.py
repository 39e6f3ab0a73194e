"""Send due aftercare texts exactly once: ``python -m clinic.sms.sender`` (started by make run).

Each pass (:func:`send_due`) works only from the ``followups`` table, so a restart loses
nothing and any number of senders can run at once:

1. **Claim** a due text with one conditional UPDATE (``status 'scheduled' -> 'sending'``,
   ``WHERE status = 'scheduled'``) and check the row count: of two senders racing for the
   same text, exactly one gets it. In the same transaction, right before sending, the
   number's opt-out state and the booking's SMS consent are checked again; a text that may
   no longer be sent becomes ``skipped``.
2. **Send** outside any transaction (a network call must not hold the database lock).
3. **Record** the outcome: ``sent`` (with Twilio's message sid, plus the text in
   ``sms_messages``, which is the local outbox when Twilio is not configured); a transient
   failure goes back to ``scheduled`` with exponential backoff (``attempts``,
   ``next_attempt_at``); a permanent one (Twilio 21610 unsubscribed, 21211 invalid number,
   other 4xx) becomes ``failed`` and is never retried. 21610 also records the opt-out.

A sender that dies between claim and record leaves the text in ``sending``: Twilio may or
may not have accepted it, and sending again could text the patient twice. So such a text
is never re-sent automatically: after :data:`CLAIM_TIMEOUT` the next pass marks it
``failed`` with "interrupted while sending; delivery unknown", which staff see in
``clinic followups list --status failed`` (and can check in Twilio's console). At most
once, never twice; every text that is not known to be delivered is visible.

The same rule holds for a send that fails in a way that leaves the outcome open: a read
timeout or a connection dropped after the request went out (Twilio may have accepted
it) marks the text ``failed`` with "delivery unknown", never retried. Only errors
before anything was sent (connection refused, DNS, connect timeout) and Twilio's
transient answers (429, 5xx) are retried.

In quiet hours nothing is sent: the clock is read again just before each text, and
once quiet hours begin, the text and every other due one get ``next_attempt_at`` at
the end of quiet hours. Texts more than :data:`SEND_LATE_LIMIT` late (the sender was
down for a long time) are ``skipped`` rather than sent out of context.

The sender also runs the retention purge (``clinic purge``): ten minutes after it starts,
then once a day.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass

from sqlalchemy import or_, update
from sqlalchemy.sql.expression import ColumnElement

from clinic.config.private_files import private_files
from clinic.config.settings import settings
from clinic.services import retention
from clinic.sms import store
from clinic.sms.schedule import after_quiet_hours, in_quiet_hours
from clinic.sms.transport import UNSUBSCRIBED, SendError, SendResult, Transport, get_transport
from clinic.store import outbox
from clinic.store.db import DatabaseUnavailable, read_scope, session_scope
from clinic.store.models import Followup, utcnow
from clinic.store.outbox import Failure, Outcome, RetryPolicy

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_BASE = dt.timedelta(minutes=1)
BACKOFF_MAX = dt.timedelta(hours=1)
# Longer than one send can take (Twilio client timeout: 30 s), so a live sender's claim
# is never mistaken for an interrupted one.
CLAIM_TIMEOUT = dt.timedelta(minutes=10)
SEND_LATE_LIMIT = dt.timedelta(hours=24)
RECORD_TRIES = 5
INTERRUPTED = "interrupted while sending; delivery unknown, not retried"
PURGE_EVERY_SECONDS = 24 * 60 * 60  # the retention purge runs once a day
PURGE_FIRST_DELAY_SECONDS = 10 * 60  # the first one a little after start-up
PURGE_RETRY_SECONDS = 60 * 60  # a purge that failed (or missed the tracker store) again


@dataclass
class SendCounts:
    """What one pass did."""

    sent: int = 0  # handed to Twilio, or written to the local outbox
    retried: int = 0  # transient failure, scheduled again with backoff
    failed: int = 0  # permanent failure or too many attempts
    skipped: int = 0  # opted out, no consent, or too late
    deferred: int = 0  # due in quiet hours, moved to the morning
    interrupted: int = 0  # stale claims of a crashed sender, marked failed

    def as_dict(self) -> dict[str, int]:
        """The counts as a plain dict."""
        return asdict(self)


def default_worker_id() -> str:
    """A name unique to this pass: host, process and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def policy() -> RetryPolicy:
    """The retry rule, read from the constants above when called (so they can be tuned)."""
    return RetryPolicy(BACKOFF_BASE, BACKOFF_MAX, MAX_ATTEMPTS)


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next try after ``attempts`` failed tries (1 min, 2, 4, ... 1 h)."""
    return policy().backoff(attempts)


def _claimable(now: dt.datetime) -> list[ColumnElement[bool]]:
    """A text waiting for its next try (the claim's condition)."""
    return [Followup.status == "scheduled",
            or_(Followup.next_attempt_at.is_(None), Followup.next_attempt_at <= now)]


def send_due(now: dt.datetime | None = None, transport: Transport | None = None,
             worker_id: str | None = None, limit: int = 100,
             clock: Callable[[], dt.datetime] | None = None) -> dict[str, int]:
    """One sender pass: send every due follow-up text once; return what happened.

    ``now`` picks the due texts; ``clock`` tells the time just before each text is
    sent, for the quiet-hours check (default: ``now`` if given, else the real time).
    """
    if clock is None:
        clock = utcnow if now is None else _stopped_clock(now)
    now = now or utcnow()
    transport = transport or get_transport()
    worker_id = worker_id or default_worker_id()
    counts = SendCounts()
    counts.interrupted = _fail_stale_claims(now)

    with read_scope() as session:
        due = outbox.due_ids(session, Followup, [*_claimable(now), Followup.due_at <= now],
                      [Followup.due_at, Followup.id], limit)
    if not due:
        return counts.as_dict()

    for index, followup_id in enumerate(due):
        # Checked for every text just before it goes: a long pass (slow Twilio, many
        # texts) must not carry on into the night.
        moment = clock()
        if in_quiet_hours(moment):
            _defer(due[index:], moment, counts)
            break
        _send_one(followup_id, moment, transport, worker_id, counts)
    log.info("Sender pass: %s", counts.as_dict())
    return counts.as_dict()


def _stopped_clock(moment: dt.datetime) -> Callable[[], dt.datetime]:
    """A clock that always says ``moment``."""
    return lambda: moment


def _defer(followup_ids: list[int], moment: dt.datetime, counts: SendCounts) -> None:
    """Quiet hours: these due texts wait until the morning."""
    morning = after_quiet_hours(moment)
    with session_scope() as session:
        result = session.execute(
            update(Followup).where(Followup.id.in_(followup_ids),
                                   Followup.status == "scheduled")
            .values(next_attempt_at=morning).execution_options(synchronize_session=False))
        counts.deferred += int(result.rowcount or 0)
    log.info("Quiet hours: %d due follow-up texts wait until %s.", counts.deferred,
             morning.isoformat())


def _fail_stale_claims(now: dt.datetime) -> int:
    with session_scope() as session:
        stale = outbox.fail_stale_claims(session, Followup, "sending", "failed", now - CLAIM_TIMEOUT,
                                  INTERRUPTED)
    if stale:
        log.warning("%d follow-up texts were interrupted while sending (a sender stopped); "
                    "marked failed, not re-sent.", stale)
    return stale


# The follow-up statuses of the outbox's outcomes.
_STATUSES = {"delivered": "sent", "waiting": "scheduled", "failed": "failed"}


@dataclass(frozen=True)
class _Claim:
    id: int
    message_id: str
    phone: str
    body: str
    attempts: int


def _claim(followup_id: int, now: dt.datetime, worker_id: str,
           counts: SendCounts) -> _Claim | None:
    """Atomically take a due text for this worker; None if another sender has it."""
    with session_scope() as session:
        # At most once: the text moves to "sending", which no other pass picks up.
        if not outbox.claim(session, Followup, followup_id, _claimable(now),
                     {"status": "sending", "claimed_by": worker_id, "claimed_at": now,
                      "attempts": Followup.attempts + 1}):
            return None  # another sender claimed it first (or staff cancelled it)
        row = session.get(Followup, followup_id)
        assert row is not None
        reason = None
        if now - row.due_at > SEND_LATE_LIMIT:
            reason = "too late to send (the sender was not running)"
        elif store.is_opted_out(session, row.phone_e164):
            reason = "the number opted out"
        elif not store.consent_given(session, row.booking_id, row.phone_e164):
            reason = "no SMS consent"
        if reason is not None:
            row.status, row.last_error = "skipped", reason
            counts.skipped += 1
            log.info("Follow-up %d (%s) skipped: %s.", row.id, row.message_id, reason)
            return None
        return _Claim(row.id, row.message_id, row.phone_e164, row.body, row.attempts)


def _send_one(followup_id: int, now: dt.datetime, transport: Transport, worker_id: str,
              counts: SendCounts) -> None:
    claim = _claim(followup_id, now, worker_id, counts)
    if claim is None:
        return
    try:
        result = transport.send(claim.phone, claim.body)
    except SendError as error:
        _persist(_record_failure, claim, error, now, worker_id, counts)
    except Exception as error:  # noqa: BLE001 - recorded, never lost
        # The transport may have handed the text over before failing: never send twice.
        _persist(_record_failure, claim,
                 SendError(f"unexpected error: {type(error).__name__}; delivery unknown, "
                           "not retried", delivery_unknown=True), now, worker_id, counts)
    else:
        _persist(_record_sent, claim, result, now, worker_id)
        counts.sent += 1


def _persist(record: Callable[..., None], *args: object) -> None:
    """Record an outcome, trying again briefly if the database is busy.

    The text has already left (or failed): losing its outcome would leave it in
    ``sending`` and, after the claim timeout, wrongly ``failed``.
    """
    for attempt in range(RECORD_TRIES):
        try:
            record(*args)
            return
        except DatabaseUnavailable:
            if attempt == RECORD_TRIES - 1:
                raise
            time.sleep(0.5 * (attempt + 1))


def _record_sent(claim: _Claim, result: SendResult, now: dt.datetime, worker_id: str) -> None:
    with session_scope() as session:
        row = session.get(Followup, claim.id)
        if row is not None and row.claimed_by == worker_id:
            # Also corrects a claim a slow send let go stale: it was delivered after all.
            outbox.mark(row, policy().decide(claim.attempts, now, None), **_STATUSES)
            row.sent_at, row.provider_sid = now, result.provider_sid
        store.record_message(session, direction="outbound", phone=claim.phone,
                             body=claim.body, transport=result.transport, status=result.status,
                             provider_sid=result.provider_sid, followup_id=claim.id,
                             created_at=now)
    log.info("Follow-up %d (%s) sent via %s.", claim.id, claim.message_id, result.transport)


def _record_failure(claim: _Claim, error: SendError, now: dt.datetime, worker_id: str,
                    counts: SendCounts) -> None:
    with session_scope() as session:
        row = session.get(Followup, claim.id)
        if row is None or row.claimed_by != worker_id:
            return
        if error.code == UNSUBSCRIBED:
            # The carrier says this number opted out: honour it for every later text too.
            store.set_opt_out(session, claim.phone, True, "twilio-21610", now)
        failure = Failure(error.reason, permanent=error.permanent,
                          unknown=error.delivery_unknown)
        decision = policy().decide(claim.attempts, now, failure)
        outbox.mark(row, decision, **_STATUSES,
             gave_up=f"gave up after {claim.attempts} attempts: {error.reason}")
        if decision.outcome is not Outcome.RETRY:
            counts.failed += 1
            log.warning("Follow-up %d (%s) failed: %s", claim.id, claim.message_id,
                        row.last_error)
        else:
            counts.retried += 1
            log.warning("Follow-up %d (%s) will be retried at %s: %s", claim.id,
                        claim.message_id, row.next_attempt_at.isoformat(), error.reason)


def purge_if_due(due: float, every: float = PURGE_EVERY_SECONDS) -> float:
    """Run the retention purge if ``due`` (a ``time.monotonic()`` moment) has come.

    Returns when the next purge is due: ``every`` seconds later after a complete purge,
    :data:`PURGE_RETRY_SECONDS` later if it failed or could not reach the tracker store
    (e.g. Rasa has not created it yet).
    """
    now = time.monotonic()
    if now < due:
        return due
    try:
        report = retention.purge()
    except DatabaseUnavailable:
        return now + PURGE_RETRY_SECONDS  # already logged by clinic.store.db
    except Exception:  # the purge must not stop the sender
        log.exception("Retention purge failed")
        return now + PURGE_RETRY_SECONDS
    tracker_error: object = getattr(report, "tracker_error", "")
    if report is not None and tracker_error:
        return now + PURGE_RETRY_SECONDS
    return now + every


def run_forever(poll_seconds: float | None = None, stop: threading.Event | None = None,
                purge_every: float | None = PURGE_EVERY_SECONDS) -> None:
    """Run a pass every ``poll_seconds`` until ``stop`` is set (SIGTERM/SIGINT set it).

    Also runs the retention purge (:func:`clinic.services.retention.purge`)
    :data:`PURGE_FIRST_DELAY_SECONDS` after start-up (Rasa has created its tracker store
    by then) and then every ``purge_every`` seconds (a day; None: never).
    """
    stop = stop or threading.Event()
    poll = poll_seconds if poll_seconds is not None else settings().sender_poll_seconds
    transport = get_transport()
    log.info("Follow-up sender started (%s, every %s s).", transport.name, poll)
    next_purge = time.monotonic() + PURGE_FIRST_DELAY_SECONDS
    while not stop.is_set():
        try:
            send_due(transport=transport)
        except DatabaseUnavailable:
            pass  # already logged by clinic.store.db; try again next time
        except Exception:  # one bad pass must not stop the sender
            log.exception("Sender pass failed")
        if purge_every is not None:
            next_purge = purge_if_due(next_purge, purge_every)
        stop.wait(poll)
    log.info("Follow-up sender stopped.")


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m clinic.sms.sender [--once]``."""
    parser = argparse.ArgumentParser(prog="python -m clinic.sms.sender",
                                     description="Send due aftercare texts.")
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    parser.add_argument("--poll-seconds", type=float, default=None,
                        help="seconds between passes (default: settings sender_poll_seconds)")
    args = parser.parse_args(argv)
    private_files()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    # The twilio package logs every request's URL and headers at INFO.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    if args.once:
        print(send_due())
        return 0
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    run_forever(args.poll_seconds, stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
